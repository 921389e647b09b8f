import type { Role, Scope } from '@rosetta/core';

/** The ports of accounts, memberships and credentials; `db/accounts-repository.ts` implements them. */

export interface AccountName {
  readonly name: string;
  /** '' for accounts without a host. */
  readonly host: string;
}

export interface AccountRecord extends AccountName {
  readonly id: number;
  /** scrypt hash; null when the account has no password. */
  readonly passwordHash: string | null;
  readonly admin: boolean;
  readonly disabled: boolean;
  readonly personalSpace: string;
  /** Microseconds since the epoch. */
  readonly created: number;
}

export type SpaceKind = 'personal' | 'shared';

export interface SpaceRecord {
  readonly name: string;
  /** The space's UUID, lower-case and hyphenated (OpenFn's project id). */
  readonly id: string;
  readonly kind: SpaceKind;
  readonly created: number;
}

export interface MemberRecord {
  readonly space: string;
  readonly account: AccountName;
  readonly role: Role;
}

export type TokenKind = 'token' | 'run';

export interface TokenRecord {
  readonly id: number;
  readonly account: AccountName;
  readonly kind: TokenKind;
  readonly name: string;
  readonly scopes: readonly Scope[];
  readonly readOnly: boolean;
  readonly rateLimit: number;
  readonly created: number;
  /** Microseconds; undefined: never. */
  readonly expires: number | undefined;
  readonly lastUsed: number | undefined;
  readonly revoked: number | undefined;
}

export interface NewToken {
  readonly accountId: number;
  readonly kind: TokenKind;
  readonly name: string;
  readonly secretHash: Uint8Array;
  readonly scopes: readonly Scope[];
  readonly readOnly: boolean;
  readonly rateLimit: number;
  /** Seconds from now; undefined: never expires. */
  readonly expiresInSeconds: number | undefined;
}

/** A token found by its secret, with its account, as authentication needs it. */
export interface TokenWithAccount {
  readonly token: TokenRecord;
  readonly account: AccountRecord;
  /** Whether the token has expired, by the database's clock. */
  readonly expired: boolean;
}

export interface SessionWithAccount {
  readonly id: number;
  readonly readOnly: boolean;
  readonly account: AccountRecord;
}

export interface AccountChanges {
  readonly passwordHash?: string | null | undefined;
  readonly admin?: boolean | undefined;
  readonly disabled?: boolean | undefined;
}

export interface AccountsRepository {
  /** Creates the account, its personal space and its ownership of it; undefined when the name or the space name is taken. */
  createAccount(
    account: AccountName & { passwordHash: string | null; admin: boolean; personalSpace: string },
  ): Promise<AccountRecord | undefined>;
  findAccount(name: AccountName): Promise<AccountRecord | undefined>;
  findAccountById(id: number): Promise<AccountRecord | undefined>;
  /** Accounts in id order after `afterId`. */
  listAccounts(afterId: number, limit: number): Promise<AccountRecord[]>;
  updateAccount(id: number, changes: AccountChanges): Promise<AccountRecord | undefined>;
  /** Deletes the account, its credentials and its personal space with everything in it. */
  deleteAccount(id: number): Promise<boolean>;

  /** Creates a shared space owned by `ownerId` (with `uuid`, or a random one); undefined when the name or UUID is taken. */
  createSpace(name: string, ownerId: number, uuid: string | undefined): Promise<SpaceRecord | undefined>;
  findSpace(name: string): Promise<SpaceRecord | undefined>;
  /** Every space (`accountId` undefined) or the spaces the account belongs to, with its role. */
  listSpaces(accountId: number | undefined): Promise<Array<SpaceRecord & { role: Role | undefined }>>;
  deleteSpace(name: string): Promise<boolean>;
  /** The account's role in the space: undefined when it is not a member (or the space does not exist). */
  roleOf(accountId: number, space: string): Promise<Role | undefined>;
  /** Adds the member or changes its role. False when the space does not exist. */
  setMember(space: string, accountId: number, role: Role): Promise<boolean>;
  removeMember(space: string, accountId: number): Promise<boolean>;
  listMembers(space: string): Promise<MemberRecord[]>;

  createToken(token: NewToken): Promise<TokenRecord>;
  findToken(secretHash: Uint8Array): Promise<TokenWithAccount | undefined>;
  /** Tokens of one account, newest first. */
  listTokens(accountId: number): Promise<TokenRecord[]>;
  /** Revokes a token of the account (of any account when undefined); false when there is none. */
  revokeToken(id: number, accountId: number | undefined): Promise<boolean>;
  /** Revokes every token of the account with this name (the bootstrap token when the configured one changes). */
  revokeTokensNamed(accountId: number, name: string): Promise<void>;
  /** Records a use, at most once a minute per token. */
  touchToken(id: number): Promise<void>;

  createSession(accountId: number, secretHash: Uint8Array, readOnly: boolean): Promise<number>;
  findSession(secretHash: Uint8Array): Promise<SessionWithAccount | undefined>;
  /** Ends one session (by its secret) or every session of an account; how many ended. */
  deleteSessions(target: { secretHash: Uint8Array } | { accountId: number }): Promise<number>;

  findExternalIdentity(issuer: string, subject: string): Promise<AccountRecord | undefined>;
  linkExternalIdentity(issuer: string, subject: string, accountId: number): Promise<void>;
}
