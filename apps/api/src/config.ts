import { z } from 'zod';
import { envBoolean, envLogLevel, envOptionalString, envPort, parseEnv } from '@rosetta/platform';

const MiB = 1024 * 1024;

export const ApiConfigSchema = z
  .object({
    /** Interface the record service's RPC server binds to. */
    API_HOST: z.string().default('127.0.0.1'),
    /** Port of the RPC server (HTTP/2 cleartext: Connect, gRPC and gRPC-Web). */
    API_PORT: envPort(8081),
    /** Postgres connection string. Unset: embedded Postgres (PGlite) under ROSETTA_DATA_DIR. */
    DATABASE_URL: envOptionalString(),
    /** Where the embedded Postgres keeps its files when DATABASE_URL is unset. */
    ROSETTA_DATA_DIR: z.string().default('./data'),
    /** Redis connection string for the read cache. Unset: an in-process cache. */
    REDIS_URL: envOptionalString(),
    /** Prefix of every Redis key and channel, so deployments (and tests) can share a server. */
    REDIS_PREFIX: z.string().default('rosetta:'),
    /** Most Postgres connections in the pool. */
    PG_POOL_MAX: z.coerce.number().int().min(1).max(500).default(20),
    /** Most Postgres connections for reads in index order (scan pages, change-feed reads), besides PG_POOL_MAX. */
    PG_SCAN_POOL_MAX: z.coerce.number().int().min(1).max(500).default(10),
    /** How long a query waits for a pooled connection before failing (ms). */
    PG_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).default(5000),
    /** Server-side limit per statement (ms). */
    PG_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(100).default(30_000),
    /** Apply pending migrations when the service starts. */
    MIGRATE_ON_START: envBoolean(true),
    /** Lifetime of cached records and collections (ms). */
    CACHE_TTL_MS: z.coerce.number().int().min(1000).default(600_000),
    /** Lifetime of cached tombstones (ms); must stay far above the 2 s populate window. */
    CACHE_TOMBSTONE_TTL_MS: z.coerce.number().int().min(10_000).default(60_000),
    /**
     * How long a read lease granted to a gateway lasts (ms); 0 grants none. A write of a leased
     * record waits for its holders to drop it (docs/cache-consistency.md, "Read leases").
     */
    READ_LEASE_MS: z.coerce.number().int().min(0).max(10_000).default(1000),
    /** Values larger than this are not cached (bytes). */
    CACHE_MAX_VALUE_BYTES: z.coerce
      .number()
      .int()
      .min(0)
      .default(256 * 1024),
    /** Size of the in-process cache when REDIS_URL is unset (bytes). */
    CACHE_MEMORY_MAX_BYTES: z.coerce
      .number()
      .int()
      .min(0)
      .default(64 * MiB),
    /** Rows a scan (list, export, OpenFn listing) reads from Postgres per page: fewer hold less memory per open stream, at more queries. */
    SCAN_PAGE_ROWS: z.coerce.number().int().min(1).max(10_000).default(100),
    /** Value bytes per scan page (a page always carries at least one value): the rows past it wait for the next page. */
    SCAN_PAGE_BYTES: z.coerce.number().int().min(1024).default(MiB),
    /** Records a bulk delete's or a snapshot's `total` is counted exactly up to; past it, Postgres's estimate. */
    JOB_EXACT_COUNT_LIMIT: z.coerce.number().int().min(0).default(100_000),
    /** Value size limit of collections created without one (bytes). */
    DEFAULT_MAX_VALUE_BYTES: z.coerce
      .number()
      .int()
      .min(1)
      .default(16 * MiB),
    /** Largest value size limit a collection may set (bytes). */
    MAX_VALUE_BYTES_CEILING: z.coerce
      .number()
      .int()
      .min(1)
      .default(64 * MiB),
    /** Space created at start-up, so that a new store is usable at once. */
    ROSETTA_DEFAULT_SPACE: z.string().default('default'),
    /**
     * The cluster's internal secret (at least 32 characters): signs the grants the gateway passes
     * on each call and is the worker's credential. Every api and worker of a cluster must share it.
     * Unset: a random one per process, which only an all-in-one process can use.
     */
    ROSETTA_INTERNAL_SECRET: envOptionalString().pipe(z.string().min(32).optional()),
    /** Password of the `admin` account created at first start. Unset: no password login for it. */
    ROSETTA_ADMIN_PASSWORD: envOptionalString().pipe(z.string().min(8).optional()),
    /** Accepted as the `admin` account's API token (stored hashed; changing it revokes the old one). */
    ROSETTA_ADMIN_TOKEN: envOptionalString().pipe(z.string().min(16).optional()),
    /** Failed password attempts allowed per account within AUTH_FAILURE_WINDOW_SECONDS. */
    AUTH_MAX_FAILURES_PER_ACCOUNT: z.coerce.number().int().min(1).default(10),
    /** Failed password attempts allowed per client address within AUTH_FAILURE_WINDOW_SECONDS. */
    AUTH_MAX_FAILURES_PER_ADDRESS: z.coerce.number().int().min(1).default(100),
    /** Window of the failed-attempt limits (seconds); past a limit, attempts get 429 until it ends. */
    AUTH_FAILURE_WINDOW_SECONDS: z.coerce.number().int().min(1).default(900),
    /** Requests per second allowed per API token that sets no limit of its own; 0: unlimited. */
    TOKEN_RATE_LIMIT: z.coerce.number().int().min(0).default(0),
    /** Lifetime of run tokens that ask for none (seconds). */
    RUN_TOKEN_TTL_SECONDS: z.coerce.number().int().min(1).default(3600),
    /** Longest lifetime a run token may ask for (seconds). */
    RUN_TOKEN_MAX_TTL_SECONDS: z.coerce.number().int().min(1).default(86_400),
    /** JWKS URL of the issuer of external bearer JWTs. */
    JWT_JWKS_URL: envOptionalString().pipe(z.url().optional()),
    /** PEM public key (SPKI) that signs external JWTs, when there is no JWKS. */
    JWT_PUBLIC_KEY: envOptionalString(),
    /** Shared secret of HS256/384/512 external JWTs. */
    JWT_SECRET: envOptionalString().pipe(z.string().min(32).optional()),
    /** Required `iss` of external JWTs. Unset: not checked. */
    JWT_ISSUER: envOptionalString(),
    /** Required `aud` of external JWTs. Unset: not checked. */
    JWT_AUDIENCE: envOptionalString(),
    /** Space-separated accepted JWT algorithms (RS256 ES256 …). Unset: whatever the key allows. */
    JWT_ALGORITHMS: envOptionalString(),
    /** Where the account's name is: comma-separated claim paths, tried in order (`/` steps into objects). */
    JWT_SUBJECT_CLAIM: z
      .string()
      .default('sub')
      .transform((value) =>
        value
          .split(',')
          .map((path) => path.trim())
          .filter((path) => path !== ''),
      )
      .refine((paths) => paths.length > 0, 'name at least one claim'),
    /** The claim that carries scopes (an array or a space-separated string). Kopano: kc.authorizedScopes. */
    JWT_SCOPES_CLAIM: z.string().min(1).default('scope'),
    /** A claim that must be boolean true, e.g. kc.isAccessToken. Unset: none. */
    JWT_REQUIRED_TRUE_CLAIM: envOptionalString(),
    /** Refuse JWTs without `exp`. */
    JWT_REQUIRE_EXP: envBoolean(true),
    /** Leeway for exp/nbf checks (seconds). */
    JWT_CLOCK_TOLERANCE_SECONDS: z.coerce.number().int().min(0).default(0),
    /** Create an account the first time a JWT subject is seen. */
    JWT_CREATE_ACCOUNTS: envBoolean(false),
    /**
     * Answer each unary call with a `server-timing` header: its database and cache time (ms).
     * The gateway adds them to its responses' Server-Timing when its own SERVER_TIMING is on.
     */
    SERVER_TIMING: envBoolean(false),
    /** pino level: trace, debug, info, warn, error, fatal or silent. */
    LOG_LEVEL: envLogLevel(),
    /** Deadline for a graceful shutdown (ms). */
    SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  })
  .superRefine((c, ctx) => {
    if (c.DEFAULT_MAX_VALUE_BYTES > c.MAX_VALUE_BYTES_CEILING) {
      ctx.addIssue({
        code: 'custom',
        path: ['DEFAULT_MAX_VALUE_BYTES'],
        message: 'must not exceed MAX_VALUE_BYTES_CEILING',
      });
    }
  });

export type ApiConfig = z.output<typeof ApiConfigSchema>;

export function loadConfig(env: Record<string, string | undefined> = process.env): ApiConfig {
  return parseEnv(ApiConfigSchema, env);
}
