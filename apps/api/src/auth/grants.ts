import { createHmac, timingSafeEqual } from 'node:crypto';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { CREDENTIAL_KINDS, DomainError, type CredentialKind, type Principal } from '@rosetta/core';
import { GrantSchema, PrincipalSchema, type Principal as PrincipalMessage } from '@rosetta/proto';

/**
 * How long a grant stays valid. Whatever caches principals (the gateway, this service) keeps
 * them no longer than this, so revoking a token or disabling an account takes effect
 * everywhere within it.
 */
export const GRANT_TTL_MS = 1000;

const VERIFIED_CACHE_LIMIT = 10_000;

export function principalMessage(principal: Principal, personalSpace: string): PrincipalMessage {
  return create(PrincipalSchema, {
    ...principal,
    accountId: BigInt(principal.accountId),
    credentialId: BigInt(principal.credentialId),
    scopes: [...principal.scopes],
    externalScopes: [...principal.externalScopes],
    personalSpace,
  });
}

const isCredentialKind = (value: string): value is CredentialKind =>
  (CREDENTIAL_KINDS as readonly string[]).includes(value);

export function fromPrincipalMessage(message: PrincipalMessage): Principal {
  if (!isCredentialKind(message.via)) throw new Error(`unknown credential kind ${message.via}`);
  return {
    accountId: Number(message.accountId),
    account: message.account,
    host: message.host,
    admin: message.admin,
    readOnly: message.readOnly,
    scopes: message.scopes.map(({ space, collection, write, keyPrefix }) => ({ space, collection, write, keyPrefix })),
    via: message.via,
    credentialId: Number(message.credentialId),
    externalScopes: message.externalScopes,
    rateLimit: message.rateLimit,
  };
}

const unauthenticated = (why: string) =>
  new DomainError('UNAUTHENTICATED', `grant refused: ${why}`, { publicMessage: 'authentication required' });

/**
 * Signs and checks grants: a principal and an expiry, serialized and signed with HMAC-SHA256
 * under the cluster's internal secret, so that every record service instance accepts what any
 * of them issued and nobody else can forge one.
 */
export class GrantSigner {
  private readonly verified = new Map<string, { principal: Principal; expiresMs: number }>();

  constructor(
    private readonly secret: string,
    private readonly now: () => number = Date.now,
  ) {}

  private mac(payload: string): Buffer {
    return createHmac('sha256', this.secret).update(payload).digest();
  }

  sign(principal: PrincipalMessage): { grant: string; expiresMs: number } {
    const expiresMs = this.now() + GRANT_TTL_MS;
    const payload = Buffer.from(
      toBinary(GrantSchema, create(GrantSchema, { principal, expiresMs: BigInt(expiresMs) })),
    ).toString('base64url');
    return { grant: `${payload}.${this.mac(payload).toString('base64url')}`, expiresMs };
  }

  /** The principal a grant carries; UNAUTHENTICATED when it is missing, forged or expired. */
  verify(grant: string | null | undefined): Principal {
    if (grant === null || grant === undefined || grant === '') throw unauthenticated('no grant');
    const now = this.now();
    const known = this.verified.get(grant);
    if (known !== undefined) {
      if (known.expiresMs > now) return known.principal;
      this.verified.delete(grant);
      throw unauthenticated('expired');
    }
    const dot = grant.indexOf('.');
    const payload = grant.slice(0, dot);
    const signature = Buffer.from(grant.slice(dot + 1), 'base64url');
    const expected = this.mac(payload);
    if (dot < 0 || signature.byteLength !== expected.byteLength || !timingSafeEqual(signature, expected)) {
      throw unauthenticated('bad signature');
    }
    const decoded = fromBinary(GrantSchema, Buffer.from(payload, 'base64url'));
    const expiresMs = Number(decoded.expiresMs);
    if (decoded.principal === undefined || expiresMs <= now) throw unauthenticated('expired');
    if (this.verified.size >= VERIFIED_CACHE_LIMIT) {
      for (const [key, entry] of this.verified) if (entry.expiresMs <= now) this.verified.delete(key);
      if (this.verified.size >= VERIFIED_CACHE_LIMIT) this.verified.clear();
    }
    const principal = fromPrincipalMessage(decoded.principal);
    this.verified.set(grant, { principal, expiresMs });
    return principal;
  }
}
