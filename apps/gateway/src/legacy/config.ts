import { z } from 'zod';
import { envBoolean, envOptionalString } from '@rosetta/platform';
import { corsPolicy, type CorsPolicy } from './cors';

/** Every method a dialect route answers; what rs/cors lets through by default. */
const COMMON_METHODS = ['HEAD', 'GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

/** The environment variables of the dialects' CORS and of the legacy dialects (documented in the README). */
export const LegacyConfigSchema = z.object({
  /** Scopes a Kopano kvs JWT must carry in kc.authorizedScopes, space-separated; empty keeps the default. */
  KOPANO_KVS_REQUIRED_SCOPES: envOptionalString(),
  /** `1` answers CORS on the Kopano routes as the original's rs/cors AllowAll does. */
  KOPANO_KVS_ALLOW_CORS: envBoolean(false),
  KOPANO_KVS_CORS_ORIGINS: envOptionalString(),
  KOPANO_KVS_CORS_METHODS: envOptionalString(),
  KOPANO_KVS_CORS_HEADERS: envOptionalString(),
  /** CORS of the native API (/v1): off unless switched on. */
  V1_ALLOW_CORS: envBoolean(false),
  V1_CORS_ORIGINS: envOptionalString(),
  V1_CORS_METHODS: envOptionalString(),
  V1_CORS_HEADERS: envOptionalString(),
  /** Rivet has no CORS; switch it on here. */
  RIVET_ALLOW_CORS: envBoolean(false),
  RIVET_CORS_ORIGINS: envOptionalString(),
  RIVET_CORS_METHODS: envOptionalString(),
  RIVET_CORS_HEADERS: envOptionalString(),
  /** The Prosody host the data-access routes speak for (the Basic realm's host). */
  PROSODY_HOST: z.string().trim().min(1).default('localhost'),
  /** Base of the Location URLs (Prosody's http_external_url); unset: from the request's Host. */
  PROSODY_EXTERNAL_URL: envOptionalString().pipe(z.url().optional()),
  /** Prosody's mod_http answers CORS by default; `0` switches it off. */
  PROSODY_ALLOW_CORS: envBoolean(true),
  PROSODY_CORS_ORIGINS: envOptionalString(),
  PROSODY_CORS_METHODS: envOptionalString(),
  PROSODY_CORS_HEADERS: envOptionalString(),
  /** Largest Prosody request body (Prosody's http_max_content_size). */
  PROSODY_MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(10 * 1024 * 1024),
  /** Lightning's quirk: `_` in an OpenFn key pattern matches any one character. `0` makes it literal. */
  OPENFN_UNDERSCORE_WILDCARD: envBoolean(true),
  /** Largest OpenFn request body (Lightning's JSON parser limit). */
  OPENFN_MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(10 * 1024 * 1024),
  /** The space whose repos the DVID routes serve; unset: each caller's personal space. */
  DVID_SPACE: envOptionalString(),
  /**
   * An API token that DVID requests without credentials act as (DVID clients send none). Unset:
   * such requests are refused. Only for trusted networks: anyone who reaches the gateway gets
   * the token's rights.
   */
  DVID_ANONYMOUS_TOKEN: envOptionalString(),
  /** Largest DVID request body (a `POST /keyvalues` batch is written in one transaction). */
  DVID_MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(64 * 1024 * 1024),
});

export type LegacyEnv = z.output<typeof LegacyConfigSchema>;

export interface KopanoOptions {
  readonly requiredScopes: readonly string[];
  readonly cors: CorsPolicy;
}

export interface RivetOptions {
  readonly cors: CorsPolicy;
}

export interface ProsodyOptions {
  readonly host: string;
  readonly externalUrl: string | undefined;
  readonly maxBodyBytes: number;
  readonly cors: CorsPolicy;
}

export interface OpenFnOptions {
  readonly underscoreWildcard: boolean;
  readonly maxBodyBytes: number;
}

export interface DvidOptions {
  readonly space: string | undefined;
  readonly anonymousToken: string | undefined;
  readonly maxBodyBytes: number;
}

export interface LegacyOptions {
  /** CORS of the native API: not a legacy dialect, but configured the same way. */
  readonly v1Cors: CorsPolicy;
  readonly kopano: KopanoOptions;
  readonly rivet: RivetOptions;
  readonly prosody: ProsodyOptions;
  readonly openfn: OpenFnOptions;
  readonly dvid: DvidOptions;
}

/** The dialects' options from their environment variables; `legacyOptions({})` gives the defaults. */
export function legacyOptions(env: Partial<LegacyEnv>): LegacyOptions {
  const config = LegacyConfigSchema.parse({}) as LegacyEnv;
  const e = { ...config, ...env };
  const requestStyle = (enabled: boolean): CorsPolicy => ({
    enabled,
    origins: '*',
    methods: COMMON_METHODS,
    headers: '*',
    exposeHeaders: [],
    maxAgeSeconds: undefined,
    style: 'request',
  });
  return {
    v1Cors: corsPolicy(
      {
        ...requestStyle(e.V1_ALLOW_CORS),
        exposeHeaders: ['ETag', 'Last-Modified', 'Location', 'Retry-After', 'WWW-Authenticate'],
        maxAgeSeconds: 600,
      },
      { origins: e.V1_CORS_ORIGINS, methods: e.V1_CORS_METHODS, headers: e.V1_CORS_HEADERS },
    ),
    kopano: {
      requiredScopes: (e.KOPANO_KVS_REQUIRED_SCOPES ?? 'kopano/kvs').split(' ').filter((s) => s !== ''),
      cors: corsPolicy(requestStyle(e.KOPANO_KVS_ALLOW_CORS), {
        origins: e.KOPANO_KVS_CORS_ORIGINS,
        methods: e.KOPANO_KVS_CORS_METHODS,
        headers: e.KOPANO_KVS_CORS_HEADERS,
      }),
    },
    rivet: {
      cors: corsPolicy(requestStyle(e.RIVET_ALLOW_CORS), {
        origins: e.RIVET_CORS_ORIGINS,
        methods: e.RIVET_CORS_METHODS,
        headers: e.RIVET_CORS_HEADERS,
      }),
    },
    prosody: {
      host: e.PROSODY_HOST,
      externalUrl: e.PROSODY_EXTERNAL_URL,
      maxBodyBytes: e.PROSODY_MAX_BODY_BYTES,
      cors: corsPolicy(
        {
          enabled: e.PROSODY_ALLOW_CORS,
          origins: '*',
          methods: ['GET', 'OPTIONS', 'PUT', 'POST', 'DELETE'],
          headers: ['Content-Type'],
          exposeHeaders: [],
          maxAgeSeconds: 7200,
          style: 'always',
        },
        { origins: e.PROSODY_CORS_ORIGINS, methods: e.PROSODY_CORS_METHODS, headers: e.PROSODY_CORS_HEADERS },
      ),
    },
    openfn: { underscoreWildcard: e.OPENFN_UNDERSCORE_WILDCARD, maxBodyBytes: e.OPENFN_MAX_BODY_BYTES },
    dvid: { space: e.DVID_SPACE, anonymousToken: e.DVID_ANONYMOUS_TOKEN, maxBodyBytes: e.DVID_MAX_BODY_BYTES },
  };
}
