import {
  DomainError,
  invalid,
  isRole,
  permissionDenied,
  validateCollectionName,
  validateSpaceName,
  validateSpaceId,
  type Principal,
  type Role,
  type Scope,
} from '@rosetta/core';
import { hashSecret, newTokenSecret } from '../auth/secrets';
import type { AccessControl } from './access-control';
import type {
  AccountName,
  AccountRecord,
  AccountsRepository,
  MemberRecord,
  SpaceRecord,
  TokenRecord,
} from './auth-ports';
import { passwordHashFor, personalSpaceOf, validateAccountName } from './auth-service';

export interface TokenLimits {
  /** Lifetime of run tokens that ask for none (seconds). */
  readonly runTokenTtlSeconds: number;
  /** Longest lifetime a run token may ask for (seconds). */
  readonly runTokenMaxTtlSeconds: number;
}

const accountNotFound = (account: AccountName) =>
  new DomainError('ACCOUNT_NOT_FOUND', `account ${personalSpaceOf(account)} not found`, {
    publicMessage: `account "${personalSpaceOf(account)}" does not exist`,
  });

const spaceNotFound = (space: string) =>
  new DomainError('SPACE_NOT_FOUND', `space ${space} not found`, { publicMessage: `space "${space}" does not exist` });

const MAX_TOKEN_NAME = 200;
const MAX_SCOPES = 100;
const MAX_RATE_LIMIT = 1_000_000;

function validateScopes(scopes: readonly Scope[]): Scope[] {
  if (scopes.length > MAX_SCOPES) throw invalid('INVALID_ARGUMENT', `a token has at most ${MAX_SCOPES} scopes`);
  return scopes.map((scope) => {
    validateSpaceName(scope.space);
    if (scope.collection !== '') validateCollectionName(scope.collection);
    if (!scope.keyPrefix.isWellFormed()) throw invalid('INVALID_ARGUMENT', 'key prefix must be valid UTF-8');
    return { space: scope.space, collection: scope.collection, write: scope.write, keyPrefix: scope.keyPrefix };
  });
}

/**
 * Administration of accounts, spaces, memberships and tokens, with its rules: accounts are an
 * admin's business (everyone may read their own and change their own password); a space's
 * owners manage its members, and a space keeps at least one owner; a credential that is scoped
 * or read-only cannot mint tokens (that would widen it).
 */
export class AdminService {
  constructor(
    private readonly accounts: AccountsRepository,
    private readonly access: AccessControl,
    private readonly limits: TokenLimits,
  ) {}

  private async account(name: AccountName): Promise<AccountRecord> {
    const account = await this.accounts.findAccount(name);
    if (account === undefined) throw accountNotFound(name);
    return account;
  }

  private isSelf(principal: Principal, account: AccountName): boolean {
    return !principal.admin && principal.account === account.name && principal.host === account.host;
  }

  /** Self-administration needs a full credential: not a scoped, read-only or run token. */
  private requireFullCredential(principal: Principal): void {
    if (principal.scopes.length > 0 || principal.readOnly || principal.via === 'run') {
      throw permissionDenied('a scoped, read-only or run credential cannot do this');
    }
  }

  async createAccount(
    principal: Principal,
    input: AccountName & { password: string; admin: boolean },
  ): Promise<AccountRecord> {
    this.access.requireAdmin(principal);
    validateAccountName(input);
    const passwordHash = input.password === '' ? null : await passwordHashFor(input.password);
    const created = await this.accounts.createAccount({
      name: input.name,
      host: input.host,
      passwordHash,
      admin: input.admin,
      personalSpace: personalSpaceOf(input),
    });
    if (created === undefined) {
      throw new DomainError('ACCOUNT_EXISTS', `account ${personalSpaceOf(input)} exists`, {
        publicMessage: `an account or space named "${personalSpaceOf(input)}" already exists`,
      });
    }
    return created;
  }

  async getAccount(principal: Principal, name: AccountName): Promise<AccountRecord> {
    if (!principal.admin && !this.isSelf(principal, name)) this.access.requireAdmin(principal);
    return this.account(name);
  }

  async listAccounts(principal: Principal, afterId: number, limit: number): Promise<AccountRecord[]> {
    this.access.requireAdmin(principal);
    return this.accounts.listAccounts(afterId, limit);
  }

  async updateAccount(
    principal: Principal,
    name: AccountName,
    changes: { password?: string | undefined; admin?: boolean | undefined; disabled?: boolean | undefined },
  ): Promise<AccountRecord> {
    const selfPasswordChange =
      this.isSelf(principal, name) && changes.admin === undefined && changes.disabled === undefined;
    if (selfPasswordChange) this.requireFullCredential(principal);
    else this.access.requireAdmin(principal);
    const account = await this.account(name);
    const passwordHash =
      changes.password === undefined
        ? undefined
        : changes.password === ''
          ? null
          : await passwordHashFor(changes.password);
    const updated = await this.accounts.updateAccount(account.id, {
      passwordHash,
      admin: changes.admin,
      disabled: changes.disabled,
    });
    if (updated === undefined) throw accountNotFound(name);
    return updated;
  }

  async deleteAccount(principal: Principal, name: AccountName): Promise<void> {
    this.access.requireAdmin(principal);
    const account = await this.account(name);
    if (account.id === principal.accountId) throw permissionDenied('an admin cannot delete their own account');
    if (!(await this.accounts.deleteAccount(account.id))) throw accountNotFound(name);
  }

  async createSpace(principal: Principal, name: string, id: string | undefined): Promise<SpaceRecord> {
    validateSpaceName(name);
    const uuid = id === undefined ? undefined : validateSpaceId(id);
    this.requireFullCredential(principal);
    if (principal.accountId === 0) throw permissionDenied('the internal service owns no spaces');
    const created = await this.accounts.createSpace(name, principal.accountId, uuid);
    if (created === undefined) {
      const taken = uuid === undefined ? `a space named "${name}"` : `a space named "${name}" or with the id ${uuid}`;
      throw new DomainError('SPACE_EXISTS', `space ${name} (${uuid ?? 'new id'}) exists`, {
        publicMessage: `${taken} already exists`,
      });
    }
    this.access.forgetSpace(name);
    return created;
  }

  async getSpace(principal: Principal, name: string): Promise<SpaceRecord & { role: Role | undefined }> {
    validateSpaceName(name);
    await this.access.check(principal, { space: name }, 'read');
    const space = await this.accounts.findSpace(name);
    if (space === undefined) throw spaceNotFound(name);
    return { ...space, role: await this.access.roleOf(principal, name) };
  }

  async listSpaces(principal: Principal, all: boolean): Promise<Array<SpaceRecord & { role: Role | undefined }>> {
    if (all) this.access.requireAdmin(principal);
    const spaces = await this.accounts.listSpaces(all ? undefined : principal.accountId);
    return principal.scopes.length === 0
      ? spaces
      : spaces.filter((space) => principal.scopes.some((scope) => scope.space === space.name));
  }

  async deleteSpace(principal: Principal, name: string): Promise<void> {
    validateSpaceName(name);
    await this.access.check(principal, { space: name }, 'manage');
    const space = await this.accounts.findSpace(name);
    if (space === undefined) throw spaceNotFound(name);
    if (space.kind === 'personal') {
      throw invalid('INVALID_ARGUMENT', 'a personal space goes away with its account; delete the account instead');
    }
    await this.accounts.deleteSpace(name);
    this.access.forgetSpace(name);
  }

  private async ensureAnotherOwner(space: string, leaving: AccountRecord): Promise<void> {
    const owners = (await this.accounts.listMembers(space)).filter((m) => m.role === 'owner');
    const others = owners.filter((m) => m.account.name !== leaving.name || m.account.host !== leaving.host);
    if (owners.length > 0 && others.length === 0) {
      throw new DomainError('LAST_OWNER', `${space} would lose its last owner`, {
        publicMessage: `space "${space}" must keep at least one owner`,
      });
    }
  }

  async setMember(principal: Principal, space: string, name: AccountName, role: string): Promise<MemberRecord> {
    validateSpaceName(space);
    if (!isRole(role)) throw invalid('INVALID_ARGUMENT', 'role must be owner, writer or reader');
    await this.access.check(principal, { space }, 'manage');
    const account = await this.account(name);
    if (role !== 'owner') await this.ensureAnotherOwner(space, account);
    if (!(await this.accounts.setMember(space, account.id, role))) throw spaceNotFound(space);
    this.access.forgetSpace(space);
    return { space, account: { name: account.name, host: account.host }, role };
  }

  async removeMember(principal: Principal, space: string, name: AccountName): Promise<void> {
    validateSpaceName(space);
    await this.access.check(principal, { space }, 'manage');
    const account = await this.account(name);
    await this.ensureAnotherOwner(space, account);
    if (!(await this.accounts.removeMember(space, account.id))) {
      throw new DomainError('MEMBER_NOT_FOUND', `${name.name} is not in ${space}`, {
        publicMessage: `account "${personalSpaceOf(name)}" is not a member of space "${space}"`,
      });
    }
    this.access.forgetSpace(space);
  }

  async listMembers(principal: Principal, space: string): Promise<MemberRecord[]> {
    validateSpaceName(space);
    await this.access.check(principal, { space }, 'read');
    return this.accounts.listMembers(space);
  }

  /** Whose tokens: the caller's own, or (admins only) another account's. */
  private async tokenOwner(principal: Principal, name: AccountName | undefined): Promise<AccountRecord> {
    if (name === undefined || this.isSelf(principal, name)) {
      if (principal.accountId === 0) throw permissionDenied('the internal service has no tokens; name an account');
      const own = await this.accounts.findAccountById(principal.accountId);
      if (own === undefined) throw accountNotFound({ name: principal.account, host: principal.host });
      return own;
    }
    this.access.requireAdmin(principal);
    return this.account(name);
  }

  async createToken(
    principal: Principal,
    input: {
      account: AccountName | undefined;
      name: string;
      scopes: readonly Scope[];
      readOnly: boolean;
      expiresInSeconds: number;
      rateLimit: number;
    },
  ): Promise<{ token: TokenRecord; secret: string }> {
    this.requireFullCredential(principal);
    if (input.name.length > MAX_TOKEN_NAME)
      throw invalid('INVALID_ARGUMENT', `token name is at most ${MAX_TOKEN_NAME} characters`);
    if (!Number.isSafeInteger(input.expiresInSeconds) || input.expiresInSeconds < 0) {
      throw invalid('INVALID_ARGUMENT', 'expiresInSeconds must be a whole number of seconds, 0 for never');
    }
    if (!Number.isInteger(input.rateLimit) || input.rateLimit < 0 || input.rateLimit > MAX_RATE_LIMIT) {
      throw invalid('INVALID_ARGUMENT', `rateLimit must be 0 (default) to ${MAX_RATE_LIMIT} requests per second`);
    }
    const scopes = validateScopes(input.scopes);
    const owner = await this.tokenOwner(principal, input.account);
    const secret = newTokenSecret();
    const token = await this.accounts.createToken({
      accountId: owner.id,
      kind: 'token',
      name: input.name,
      secretHash: hashSecret(secret),
      scopes,
      readOnly: input.readOnly,
      rateLimit: input.rateLimit,
      expiresInSeconds: input.expiresInSeconds === 0 ? undefined : input.expiresInSeconds,
    });
    return { token, secret };
  }

  /** A short-lived token that may do anything in one space, on behalf of the caller (OpenFn's run tokens). */
  async createRunToken(
    principal: Principal,
    space: string,
    expiresInSeconds: number,
  ): Promise<{ token: TokenRecord; secret: string }> {
    validateSpaceName(space);
    if (principal.via === 'run') throw permissionDenied('a run token cannot mint run tokens');
    await this.access.check(principal, { space }, 'write');
    const lifetime = expiresInSeconds === 0 ? this.limits.runTokenTtlSeconds : expiresInSeconds;
    if (!Number.isSafeInteger(lifetime) || lifetime < 1 || lifetime > this.limits.runTokenMaxTtlSeconds) {
      throw invalid('INVALID_ARGUMENT', `a run token lives 1 to ${this.limits.runTokenMaxTtlSeconds} seconds`);
    }
    const owner = await this.tokenOwner(principal, undefined);
    const secret = newTokenSecret();
    const token = await this.accounts.createToken({
      accountId: owner.id,
      kind: 'run',
      name: `run:${space}`,
      secretHash: hashSecret(secret),
      scopes: [{ space, collection: '', write: true, keyPrefix: '' }],
      readOnly: false,
      rateLimit: 0,
      expiresInSeconds: lifetime,
    });
    return { token, secret };
  }

  async listTokens(principal: Principal, account: AccountName | undefined): Promise<TokenRecord[]> {
    const owner = await this.tokenOwner(principal, account);
    return this.accounts.listTokens(owner.id);
  }

  /** Revokes one of the caller's tokens (any token, for admins); takes effect within a grant's lifetime. */
  async revokeToken(principal: Principal, id: number): Promise<void> {
    this.requireFullCredential(principal);
    if (!(await this.accounts.revokeToken(id, principal.admin ? undefined : principal.accountId))) {
      throw new DomainError('TOKEN_NOT_FOUND', `token ${id} not found`, {
        publicMessage: `token ${id} does not exist`,
      });
    }
  }
}
