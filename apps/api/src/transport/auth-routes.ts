import type { MessageInitShape } from '@bufbuild/protobuf';
import type { ServiceImpl } from '@connectrpc/connect';
import { invalid } from '@rosetta/core';
import type { Logger } from '@rosetta/platform';
import {
  AdminService as AdminServiceDesc,
  AuthService as AuthServiceDesc,
  type AccountRef,
  type AccountSchema,
  type Credential as CredentialMessage,
  type PasswordCredential,
  type TokenSchema,
  GRANT_HEADER,
  requestHeaderValue,
} from '@rosetta/proto';
import type { AccountName, AccountRecord, TokenRecord } from '../services/auth-ports';
import { principalMessage } from '../auth/grants';
import { personalSpaceOf, type Credential } from '../services/auth-service';
import { num } from './mappers';
import { guarded, principalOf, type Services } from './routes';

const accountName = (ref: AccountRef | undefined): AccountName => ({ name: ref?.name ?? '', host: ref?.host ?? '' });

const password = (p: PasswordCredential | undefined) => {
  if (p === undefined) throw invalid('INVALID_ARGUMENT', 'a password credential is required');
  return { name: p.name, host: p.host, password: p.password };
};

function credential(message: CredentialMessage | undefined): Credential {
  const kind = message?.kind;
  switch (kind?.case) {
    case 'token':
      return { kind: 'token', token: kind.value };
    case 'session':
      return { kind: 'session', session: kind.value };
    case 'password':
      return { kind: 'password', ...password(kind.value) };
    case 'jwt':
      return { kind: 'jwt', jwt: kind.value };
    case 'service':
      return { kind: 'service', secret: kind.value };
    default:
      throw invalid('INVALID_ARGUMENT', 'a credential is required');
  }
}

const accountMessage = (a: AccountRecord): MessageInitShape<typeof AccountSchema> => ({
  id: BigInt(a.id),
  name: a.name,
  host: a.host,
  admin: a.admin,
  disabled: a.disabled,
  personalSpace: a.personalSpace,
  createdUs: BigInt(a.created),
  hasPassword: a.passwordHash !== null,
});

const tokenMessage = (t: TokenRecord): MessageInitShape<typeof TokenSchema> => ({
  id: BigInt(t.id),
  name: t.name,
  kind: t.kind,
  scopes: [...t.scopes],
  readOnly: t.readOnly,
  createdUs: BigInt(t.created),
  expiresUs: BigInt(t.expires ?? 0),
  lastUsedUs: BigInt(t.lastUsed ?? 0),
  revokedUs: BigInt(t.revoked ?? 0),
  account: t.account,
  rateLimit: t.rateLimit,
});

export function authServiceImpl(services: Services, logger: Logger): ServiceImpl<typeof AuthServiceDesc> {
  const { auth } = services;
  return guarded(
    AuthServiceDesc,
    {
      async authenticate(req) {
        const { principal, grant, expiresMs } = await auth.authenticate(credential(req.credential), req.clientAddress);
        return { principal, grant, grantExpiresMs: BigInt(expiresMs) };
      },
      async login(req) {
        return auth.login(password(req.password), req.clientAddress, req.readOnly);
      },
      async logout(req) {
        const ended = req.session
          ? await auth.logout({ session: req.session, all: req.all })
          : await auth.logout({ password: password(req.password), clientAddress: req.clientAddress });
        return { ended };
      },
    },
    logger,
  );
}

export function adminServiceImpl(services: Services, logger: Logger): ServiceImpl<typeof AdminServiceDesc> {
  const { admin, access } = services;
  return guarded(
    AdminServiceDesc,
    {
      async whoAmI(_req, context) {
        const principal = principalOf(access, context);
        const personalSpace =
          principal.accountId === 0 ? '' : personalSpaceOf({ name: principal.account, host: principal.host });
        return {
          principal: principalMessage(principal, personalSpace),
          grant: requestHeaderValue(context, GRANT_HEADER) ?? '',
        };
      },
      async createAccount(req, context) {
        const created = await admin.createAccount(principalOf(access, context), {
          name: req.name,
          host: req.host,
          password: req.password,
          admin: req.admin,
        });
        return { account: accountMessage(created) };
      },
      async getAccount(req, context) {
        return { account: accountMessage(await admin.getAccount(principalOf(access, context), accountName(req))) };
      },
      async listAccounts(req, context) {
        const limit = Math.min(Math.max(req.limit || 100, 1), 1000);
        const after = req.cursor === '' ? 0 : Number(req.cursor);
        if (!Number.isSafeInteger(after) || after < 0) throw invalid('INVALID_CURSOR', 'cursor is not valid');
        const accounts = await admin.listAccounts(principalOf(access, context), after, limit);
        const last = accounts.at(-1);
        return {
          accounts: accounts.map(accountMessage),
          nextCursor: accounts.length === limit && last !== undefined ? String(last.id) : '',
        };
      },
      async updateAccount(req, context) {
        const updated = await admin.updateAccount(principalOf(access, context), accountName(req.account), {
          password: req.password,
          admin: req.admin,
          disabled: req.disabled,
        });
        return { account: accountMessage(updated) };
      },
      async deleteAccount(req, context) {
        await admin.deleteAccount(principalOf(access, context), accountName(req));
        return {};
      },
      async createSpace(req, context) {
        const space = await admin.createSpace(principalOf(access, context), req.name, req.id || undefined);
        return { space: { ...space, createdUs: BigInt(space.created), role: 'owner' } };
      },
      async getSpace(req, context) {
        const space = await admin.getSpace(principalOf(access, context), req.name);
        return { space: { ...space, createdUs: BigInt(space.created), role: space.role ?? '' } };
      },
      async listSpaces(req, context) {
        const spaces = await admin.listSpaces(principalOf(access, context), req.all);
        return { spaces: spaces.map((s) => ({ ...s, createdUs: BigInt(s.created), role: s.role ?? '' })) };
      },
      async deleteSpace(req, context) {
        await admin.deleteSpace(principalOf(access, context), req.name);
        return {};
      },
      async setMember(req, context) {
        return {
          member: await admin.setMember(principalOf(access, context), req.space, accountName(req.account), req.role),
        };
      },
      async removeMember(req, context) {
        await admin.removeMember(principalOf(access, context), req.space, accountName(req.account));
        return {};
      },
      async listMembers(req, context) {
        return { members: await admin.listMembers(principalOf(access, context), req.name) };
      },
      async createToken(req, context) {
        const { token, secret } = await admin.createToken(principalOf(access, context), {
          account: req.account === undefined ? undefined : accountName(req.account),
          name: req.name,
          scopes: req.scopes,
          readOnly: req.readOnly,
          expiresInSeconds: num(req.expiresInSeconds),
          rateLimit: req.rateLimit,
        });
        return { token: tokenMessage(token), secret };
      },
      async createRunToken(req, context) {
        const { token, secret } = await admin.createRunToken(
          principalOf(access, context),
          req.space,
          num(req.expiresInSeconds),
        );
        return { token: tokenMessage(token), secret };
      },
      async listTokens(req, context) {
        const tokens = await admin.listTokens(
          principalOf(access, context),
          req.account === undefined ? undefined : accountName(req.account),
        );
        return { tokens: tokens.map(tokenMessage) };
      },
      async revokeToken(req, context) {
        await admin.revokeToken(principalOf(access, context), num(req.id));
        return {};
      },
    },
    logger,
  );
}
