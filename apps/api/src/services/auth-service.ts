import { createHash } from 'node:crypto';
import { DomainError, invalid, validateSpaceName, type Principal } from '@rosetta/core';
import type { Principal as PrincipalMessage } from '@rosetta/proto';
import { principalMessage, type GrantSigner } from '../auth/grants';
import type { JwtVerifier } from '../auth/jwt';
import type { PasswordAttempts } from '../auth/rate-limits';
import { hashPassword, hashSecret, newSessionSecret, secretsEqual, verifyPassword } from '../auth/secrets';
import type { AccountName, AccountRecord, AccountsRepository } from './auth-ports';

/** A credential, as the gateway extracted it from a request. */
export type Credential =
  | { readonly kind: 'token'; readonly token: string }
  | { readonly kind: 'session'; readonly session: string }
  | { readonly kind: 'password'; readonly name: string; readonly host: string; readonly password: string }
  | { readonly kind: 'jwt'; readonly jwt: string }
  | { readonly kind: 'service'; readonly secret: string };

export interface Authenticated {
  readonly principal: PrincipalMessage;
  readonly grant: string;
  readonly expiresMs: number;
}

export interface AuthSettings {
  /** The cluster's internal secret: the worker's credential and the key that signs grants. */
  readonly internalSecret: string;
  /** Requests per second of tokens that set none; 0: unlimited. */
  readonly defaultTokenRateLimit: number;
  /** Create an account the first time a JWT subject is seen (otherwise the subject must match an account). */
  readonly createJwtAccounts: boolean;
}

/** The account the worker (and other internal callers) act as: an admin with no account row. */
export const SERVICE_ACCOUNT = 'service';

const failed = (why: string) => new DomainError('UNAUTHENTICATED', why, { publicMessage: 'invalid credentials' });

/** The personal space of an account: its name, with `@host` when it has one. */
export const personalSpaceOf = (account: AccountName): string =>
  account.host === '' ? account.name : `${account.name}@${account.host}`;

const ACCOUNT_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;
const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export function validateAccountName(account: AccountName): void {
  if (!ACCOUNT_NAME.test(account.name)) {
    throw invalid(
      'INVALID_NAME',
      'account name must be 1–64 letters, digits and . _ + -, starting with a letter or digit',
    );
  }
  if (account.host !== '' && !HOST_NAME.test(account.host)) {
    throw invalid('INVALID_NAME', 'account host must be a domain name');
  }
  validateSpaceName(personalSpaceOf(account));
}

export const MIN_PASSWORD_LENGTH = 8;

export async function passwordHashFor(password: string): Promise<string> {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw invalid('INVALID_ARGUMENT', `password must be at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  return hashPassword(password);
}

/**
 * Turns credentials into principals: API and run tokens, sessions, passwords (rate limited per
 * account and address), external JWTs and the internal secret. Every answer carries a grant
 * for the calls that follow. Failures say only "invalid credentials", whichever part failed.
 */
export class AuthService {
  constructor(
    private readonly accounts: AccountsRepository,
    private readonly signer: GrantSigner,
    private readonly attempts: PasswordAttempts,
    private readonly jwt: JwtVerifier,
    private readonly settings: AuthSettings,
  ) {}

  private issue(principal: Principal, personalSpace: string): Authenticated {
    const message = principalMessage(principal, personalSpace);
    const { grant, expiresMs } = this.signer.sign(message);
    return { principal: message, grant, expiresMs };
  }

  /** The principal of an account; unless `details` says otherwise, unscoped, read-write and unlimited. */
  private accountPrincipal(
    account: AccountRecord,
    details: Pick<Principal, 'via'> &
      Partial<Pick<Principal, 'credentialId' | 'readOnly' | 'scopes' | 'externalScopes' | 'rateLimit'>>,
  ): Principal {
    if (account.disabled) throw failed(`account ${account.name} is disabled`);
    return {
      accountId: account.id,
      account: account.name,
      host: account.host,
      admin: account.admin,
      credentialId: 0,
      readOnly: false,
      scopes: [],
      externalScopes: [],
      rateLimit: 0,
      ...details,
    };
  }

  async authenticate(credential: Credential, clientAddress: string): Promise<Authenticated> {
    switch (credential.kind) {
      case 'token': {
        const found = await this.accounts.findToken(hashSecret(credential.token));
        if (found === undefined) throw failed('unknown token');
        const { token, account } = found;
        if (token.revoked !== undefined) throw failed(`token ${token.id} is revoked`);
        if (found.expired) throw failed(`token ${token.id} has expired`);
        const principal = this.accountPrincipal(account, {
          via: token.kind,
          credentialId: token.id,
          readOnly: token.readOnly,
          scopes: token.scopes,
          rateLimit: token.rateLimit || this.settings.defaultTokenRateLimit,
        });
        void this.accounts.touchToken(token.id).catch(() => undefined);
        return this.issue(principal, account.personalSpace);
      }
      case 'session': {
        const session = await this.accounts.findSession(hashSecret(credential.session));
        if (session === undefined) throw failed('unknown session');
        const principal = this.accountPrincipal(session.account, {
          via: 'session',
          credentialId: session.id,
          readOnly: session.readOnly,
        });
        return this.issue(principal, session.account.personalSpace);
      }
      case 'password': {
        const account = await this.checkPassword(credential, clientAddress);
        const principal = this.accountPrincipal(account, { via: 'password' });
        return this.issue(principal, account.personalSpace);
      }
      case 'jwt': {
        const verified = await this.jwt.verify(credential.jwt);
        const account = await this.jwtAccount(verified.issuer, verified.subject);
        const principal = this.accountPrincipal(account, { via: 'jwt', externalScopes: verified.scopes });
        return this.issue(principal, account.personalSpace);
      }
      case 'service': {
        if (!secretsEqual(credential.secret, this.settings.internalSecret)) throw failed('wrong internal secret');
        return this.issue(
          {
            accountId: 0,
            account: SERVICE_ACCOUNT,
            host: '',
            admin: true,
            readOnly: false,
            scopes: [],
            via: 'service',
            credentialId: 0,
            externalScopes: [],
            rateLimit: 0,
          },
          '',
        );
      }
    }
  }

  /** The account whose password this is; rate limited, and as slow for unknown accounts as for known ones. */
  async checkPassword(
    credential: { readonly name: string; readonly host: string; readonly password: string },
    clientAddress: string,
  ): Promise<AccountRecord> {
    const key = personalSpaceOf(credential);
    await this.attempts.check(key, clientAddress);
    const account = await this.accounts.findAccount({ name: credential.name, host: credential.host });
    const ok = await verifyPassword(credential.password, account?.passwordHash ?? null);
    if (!ok || account === undefined) {
      await this.attempts.failed(key, clientAddress);
      throw failed(`wrong password for ${key}`);
    }
    if (account.disabled) throw failed(`account ${key} is disabled`);
    await this.attempts.succeeded(key);
    return account;
  }

  /**
   * The account a JWT subject maps to: linked before, or an account of that name, or (when
   * configured) a new one. Subjects that are no valid account name get a name derived from a
   * hash of issuer and subject.
   */
  private async jwtAccount(issuer: string, subject: string): Promise<AccountRecord> {
    const linked = await this.accounts.findExternalIdentity(issuer, subject);
    if (linked !== undefined) return linked;
    const name = ACCOUNT_NAME.test(subject)
      ? subject
      : `jwt-${createHash('sha256').update(`${issuer}\n${subject}`).digest('hex').slice(0, 24)}`;
    const existing = await this.accounts.findAccount({ name, host: '' });
    if (existing !== undefined) {
      await this.accounts.linkExternalIdentity(issuer, subject, existing.id);
      return existing;
    }
    if (!this.settings.createJwtAccounts) throw failed(`no account for JWT subject ${subject}`);
    const created =
      (await this.accounts.createAccount({
        name,
        host: '',
        passwordHash: null,
        admin: false,
        personalSpace: personalSpaceOf({ name, host: '' }),
      })) ?? (await this.accounts.findAccount({ name, host: '' }));
    if (created === undefined) throw failed(`could not create an account for JWT subject ${subject}`);
    await this.accounts.linkExternalIdentity(issuer, subject, created.id);
    return created;
  }

  /** Starts a session with a password; the secret is returned once and stored only hashed. */
  async login(
    credential: { readonly name: string; readonly host: string; readonly password: string },
    clientAddress: string,
    readOnly: boolean,
  ): Promise<{ session: string; principal: PrincipalMessage }> {
    const account = await this.checkPassword(credential, clientAddress);
    const session = newSessionSecret();
    const id = await this.accounts.createSession(account.id, hashSecret(session), readOnly);
    const principal = this.accountPrincipal(account, { via: 'session', credentialId: id, readOnly });
    return { session, principal: principalMessage(principal, account.personalSpace) };
  }

  /**
   * Ends a session (whoever holds its secret may end it), or every session of the account whose
   * password or session is given.
   */
  async logout(
    request:
      | { readonly session: string; readonly all: boolean }
      | { readonly password: { name: string; host: string; password: string }; readonly clientAddress: string },
  ): Promise<number> {
    if ('password' in request) {
      const account = await this.checkPassword(request.password, request.clientAddress);
      return this.accounts.deleteSessions({ accountId: account.id });
    }
    const hash = hashSecret(request.session);
    if (!request.all) return this.accounts.deleteSessions({ secretHash: hash });
    const session = await this.accounts.findSession(hash);
    if (session === undefined) throw failed('unknown session');
    return this.accounts.deleteSessions({ accountId: session.account.id });
  }
}
