import {
  authorize,
  DomainError,
  validateSpaceName,
  type Access,
  type Principal,
  type Role,
  type Scope,
  type Target,
} from '@rosetta/core';
import { GRANT_TTL_MS, type GrantSigner } from '../auth/grants';
import type { RequestRates } from '../auth/rate-limits';
import type { AccountsRepository } from './auth-ports';
import type { Clock } from './collection-resolver';

const ROLE_CACHE_LIMIT = 50_000;

/**
 * Applies core's access rules to every call: reads the principal from the call's grant, looks
 * up the caller's role in the space (cached no longer than a grant lives, so a removed member
 * loses access within a second), enforces per-credential request rates, then `authorize`.
 */
export class AccessControl {
  private readonly roles = new Map<string, { role: Role | undefined; until: number }>();

  constructor(
    private readonly accounts: AccountsRepository,
    private readonly signer: GrantSigner,
    private readonly rates: RequestRates,
    private readonly clock: Clock,
  ) {}

  /** The principal of a call, from its grant header. */
  principal(grant: string | null | undefined): Principal {
    return this.signer.verify(grant);
  }

  async roleOf(principal: Principal, space: string): Promise<Role | undefined> {
    // A name no space can have never reaches the database (a NUL would make Postgres fail).
    validateSpaceName(space);
    const key = `${principal.accountId} ${space}`;
    const now = this.clock.now();
    const cached = this.roles.get(key);
    if (cached !== undefined && cached.until > now) return cached.role;
    const role = await this.accounts.roleOf(principal.accountId, space);
    if (this.roles.size >= ROLE_CACHE_LIMIT) this.roles.clear();
    this.roles.set(key, { role, until: now + GRANT_TTL_MS });
    return role;
  }

  /** Forgets cached roles in a space (after a membership change made by this instance). */
  forgetSpace(space: string): void {
    for (const key of this.roles.keys()) if (key.endsWith(` ${space}`)) this.roles.delete(key);
  }

  /**
   * Checks that the principal may do `access` on the target; `weight` is how many requests the
   * call counts as for rate limits (a batch counts its entries). Returns the scopes that allow it.
   */
  async check(principal: Principal, target: Target, access: Access, weight = 1): Promise<readonly Scope[]> {
    if (principal.rateLimit > 0) {
      await this.rates.consume(`${principal.via}:${principal.credentialId}`, principal.rateLimit, weight);
    }
    const role = principal.admin ? undefined : await this.roleOf(principal, target.space);
    return authorize(principal, target, access, role);
  }

  /** Only admins (and the internal service) pass. */
  requireAdmin(principal: Principal): void {
    if (!principal.admin) {
      throw new DomainError('PERMISSION_DENIED', `${principal.account} is not an admin`, {
        publicMessage: 'this needs an admin',
      });
    }
  }
}
