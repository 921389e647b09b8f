import { createRemoteJWKSet, importSPKI, jwtVerify, type JWTPayload, type JWTVerifyGetKey, type KeyLike } from 'jose';
import { DomainError } from '@rosetta/core';

export interface JwtSettings {
  /** Where the issuer publishes its keys (JWKS). */
  readonly jwksUrl: string | undefined;
  /** A PEM public key (SPKI), when there is no JWKS. */
  readonly publicKey: string | undefined;
  /** A shared secret for HS256/384/512 tokens. */
  readonly secret: string | undefined;
  readonly issuer: string | undefined;
  readonly audience: string | undefined;
  /** Accepted algorithms; empty: whatever the key allows. */
  readonly algorithms: readonly string[];
  /**
   * Where the subject (an account name or an external id) is: claim paths tried in order, the
   * first non-empty string wins. A path's steps are claim names joined by `/`, so Kopano's
   * `kc.identity/kc.i.id` reads `{"kc.identity": {"kc.i.id": …}}`.
   */
  readonly subjectClaims: readonly string[];
  /** The claim carrying scopes: an array of strings or one space-separated string. */
  readonly scopesClaim: string;
  /** A claim that must be boolean true (Kopano: `kc.isAccessToken`); empty: none. */
  readonly requiredTrueClaim: string;
  readonly clockToleranceSeconds: number;
  /** Refuse tokens without `exp` (Kopano accepts them: switch off for such issuers). */
  readonly requireExp: boolean;
}

export interface VerifiedJwt {
  readonly issuer: string;
  readonly subject: string;
  readonly scopes: string[];
}

const isNonEmptyString = (value: unknown): value is string => typeof value === 'string' && value !== '';

/** The value at a `/`-separated path of claim names, undefined where the path leads nowhere. */
function claimAt(payload: JWTPayload, path: string): unknown {
  let value: unknown = payload;
  for (const step of path.split('/')) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    value = (value as Record<string, unknown>)[step];
  }
  return value;
}

const refused = (why: string, cause?: unknown) =>
  new DomainError('UNAUTHENTICATED', `jwt refused: ${why}`, { publicMessage: 'invalid bearer token', cause });

/**
 * Verifies external bearer JWTs: signature against a JWKS (fetched and cached by jose, keys
 * picked by `kid`), a PEM key or a shared secret; then issuer, audience, `exp` (required
 * unless configured otherwise), `nbf`, a required boolean claim, and reads the subject and scopes. Claim names are
 * taken literally (`kc.authorizedScopes` is one claim); only subject paths have steps.
 */
export class JwtVerifier {
  private key: Promise<KeyLike | Uint8Array | JWTVerifyGetKey> | undefined;

  constructor(private readonly settings: JwtSettings) {}

  get configured(): boolean {
    const { jwksUrl, publicKey, secret } = this.settings;
    return jwksUrl !== undefined || publicKey !== undefined || secret !== undefined;
  }

  private resolveKey(): Promise<KeyLike | Uint8Array | JWTVerifyGetKey> {
    const { jwksUrl, publicKey, secret, algorithms } = this.settings;
    this.key ??= (async () => {
      if (jwksUrl !== undefined) return createRemoteJWKSet(new URL(jwksUrl));
      if (publicKey !== undefined) return importSPKI(publicKey, algorithms[0] ?? 'RS256');
      return new TextEncoder().encode(secret);
    })();
    return this.key;
  }

  async verify(token: string): Promise<VerifiedJwt> {
    if (!this.configured) throw refused('no JWT issuer is configured');
    const { settings } = this;
    let payload: JWTPayload;
    try {
      const key = await this.resolveKey();
      const options = {
        issuer: settings.issuer,
        audience: settings.audience,
        algorithms: settings.algorithms.length > 0 ? [...settings.algorithms] : undefined,
        clockTolerance: settings.clockToleranceSeconds,
        requiredClaims: settings.requireExp ? ['exp'] : [],
      };
      ({ payload } =
        typeof key === 'function' ? await jwtVerify(token, key, options) : await jwtVerify(token, key, options));
    } catch (error) {
      throw refused(error instanceof Error ? error.message : 'verification failed', error);
    }
    if (settings.requiredTrueClaim !== '' && payload[settings.requiredTrueClaim] !== true) {
      throw refused(`claim ${settings.requiredTrueClaim} is not true`);
    }
    const subject = settings.subjectClaims.map((path) => claimAt(payload, path)).find(isNonEmptyString);
    if (subject === undefined) throw refused(`no subject in ${settings.subjectClaims.join(' or ')}`);
    const raw = payload[settings.scopesClaim];
    const scopes =
      typeof raw === 'string'
        ? raw.split(' ').filter((s) => s !== '')
        : Array.isArray(raw)
          ? raw.filter((s): s is string => typeof s === 'string')
          : [];
    return { issuer: payload.iss ?? '', subject, scopes };
  }
}
