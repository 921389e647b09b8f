import { DomainError } from './errors';

/** A member's role in a space. Each role includes the rights of the ones after it. */
export const ROLES = ['owner', 'writer', 'reader'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/**
 * What an operation needs:
 * - `read`: get, list and count records; get and list collections.
 * - `write`: put and delete records; create collections.
 * - `manage`: update and delete collections, manage members and the space itself.
 */
export type Access = 'read' | 'write' | 'manage';

const ROLE_GRANTS: Record<Role, ReadonlySet<Access>> = {
  owner: new Set(['read', 'write', 'manage']),
  writer: new Set(['read', 'write']),
  reader: new Set(['read']),
};

export function roleAllows(role: Role, access: Access): boolean {
  return ROLE_GRANTS[role].has(access);
}

/**
 * One grant of an API token: a space, optionally one collection of it, read or read-write,
 * optionally only the keys under a prefix. A token with scopes can do no more than its scopes
 * allow, and never more than its account may.
 */
export interface Scope {
  readonly space: string;
  /** Empty: every collection of the space. */
  readonly collection: string;
  readonly write: boolean;
  /** Empty: every key. */
  readonly keyPrefix: string;
}

/** How the caller proved who they are. */
export const CREDENTIAL_KINDS = ['token', 'run', 'session', 'password', 'jwt', 'service'] as const;
export type CredentialKind = (typeof CREDENTIAL_KINDS)[number];

/** The authenticated caller. */
export interface Principal {
  readonly accountId: number;
  /** The account's name (`alice`), without its host. */
  readonly account: string;
  /** The account's host (domain) for `user@host` logins; empty when none. */
  readonly host: string;
  readonly admin: boolean;
  /** Read-only credentials (sessions, tokens) never write, whatever the role. */
  readonly readOnly: boolean;
  /** Empty: the account's own rights everywhere. Otherwise only what some scope allows. */
  readonly scopes: readonly Scope[];
  readonly via: CredentialKind;
  /** The token or session that authenticated the call (0 for passwords, JWTs and services). */
  readonly credentialId: number;
  /** Scopes an external JWT carried (for dialects that require some). */
  readonly externalScopes: readonly string[];
  /** Requests per second this credential may make; 0: no limit. */
  readonly rateLimit: number;
}

/** What an operation touches. */
export interface Target {
  readonly space: string;
  /** Absent for space-level operations (listing collections, managing members). */
  readonly collection?: string | undefined;
}

export function permissionDenied(message: string): DomainError {
  return new DomainError('PERMISSION_DENIED', message, { publicMessage: message });
}

/**
 * The central rule: may `principal`, whose role in the target's space is `role` (undefined for
 * a non-member), do `access` there? Returns the scopes that allow it (empty for an unscoped
 * principal), so that record operations can check keys against their prefixes; throws
 * otherwise. A non-member learns nothing: the space is reported as missing.
 */
export function authorize(
  principal: Principal,
  target: Target,
  access: Access,
  role: Role | undefined,
): readonly Scope[] {
  if (!principal.admin) {
    if (role === undefined) {
      throw new DomainError('SPACE_NOT_FOUND', `space ${target.space} hidden from ${principal.account}`, {
        publicMessage: `space "${target.space}" does not exist`,
      });
    }
    if (!roleAllows(role, access)) {
      throw permissionDenied(`the ${role} role may not ${access} in space "${target.space}"`);
    }
  }
  if (access !== 'read' && principal.readOnly) {
    throw permissionDenied('this credential is read-only');
  }
  if (principal.scopes.length === 0) return principal.scopes;
  const matching = principal.scopes.filter(
    (scope) =>
      scope.space === target.space &&
      (access === 'read' || scope.write) &&
      (scope.collection === '' ||
        scope.collection === target.collection ||
        (target.collection === undefined && access === 'read')) &&
      (access !== 'manage' || scope.keyPrefix === ''),
  );
  if (matching.length === 0) {
    const where =
      target.collection === undefined ? `space "${target.space}"` : `collection "${target.space}/${target.collection}"`;
    throw permissionDenied(`this token's scopes do not allow ${access} on ${where}`);
  }
  return matching;
}

/** Whether the scopes returned by `authorize` cover every key (no prefix restriction). */
function unrestricted(scopes: readonly Scope[]): boolean {
  return scopes.length === 0 || scopes.some((scope) => scope.keyPrefix === '');
}

/** Checks that each key lies under a prefix some scope allows. */
export function authorizeKeys(scopes: readonly Scope[], keys: Iterable<string>): void {
  if (unrestricted(scopes)) return;
  for (const key of keys) {
    if (!scopes.some((scope) => key.startsWith(scope.keyPrefix))) {
      throw permissionDenied(`this token's scopes do not cover the key "${key}"`);
    }
  }
}

/**
 * Which keys of a collection the principal's scopes let it read (every key when unrestricted):
 * for readers that see keys without asking for them, such as live change events.
 */
export function readableKeys(
  principal: Pick<Principal, 'scopes'>,
  space: string,
  collection: string,
): (key: string) => boolean {
  if (principal.scopes.length === 0) return () => true;
  const scopes = principal.scopes.filter(
    (scope) => scope.space === space && (scope.collection === '' || scope.collection === collection),
  );
  if (unrestricted(scopes) && scopes.length > 0) return () => true;
  return (key) => scopes.some((scope) => key.startsWith(scope.keyPrefix));
}

/**
 * Narrows a listing's filter to what the scopes allow: a prefix inside a scope's prefix is
 * kept, a broader (or absent) one is narrowed to the scope's prefix, a disjoint one refused.
 */
export function authorizeFilter<F extends { readonly prefix?: string | undefined }>(
  scopes: readonly Scope[],
  filter: F,
): F {
  if (unrestricted(scopes)) return filter;
  const requested = filter.prefix ?? '';
  for (const scope of scopes) {
    if (requested.startsWith(scope.keyPrefix)) return filter;
  }
  const narrowed = scopes.filter((scope) => scope.keyPrefix.startsWith(requested));
  const [only] = narrowed;
  if (narrowed.length === 1 && only !== undefined) return { ...filter, prefix: only.keyPrefix };
  throw permissionDenied(
    narrowed.length === 0
      ? `this token's scopes do not cover keys starting with "${requested}"`
      : "this token's scopes cover several prefixes here: list under one of them",
  );
}

/** Whether a listing of collections may show this one. */
export function scopesShowCollection(principal: Principal, space: string, collection: string): boolean {
  return (
    principal.scopes.length === 0 ||
    principal.scopes.some(
      (scope) => scope.space === space && (scope.collection === '' || scope.collection === collection),
    )
  );
}
