import express, { type Request } from 'express';
import type { z } from 'zod';
import { formatMicros } from '@rosetta/core';
import type { Account, Principal, Scope, Space, Token } from '@rosetta/proto';
import type { Caller } from '../auth/callers';
import { parseBasic, sessionToken, splitLogin, unauthenticated } from '../auth/credentials';
import type { Callers } from '../auth/callers';
import type { RecordApi } from '../clients/record-api';
import {
  AccountListSchema,
  AccountParamsSchema,
  AccountSchema,
  CreateAccountBodySchema,
  CreateRunTokenBodySchema,
  CreateSpaceBodySchema,
  CreateTokenBodySchema,
  LoginBodySchema,
  LogoutQuerySchema,
  LogoutResultSchema,
  MemberListSchema,
  MemberParamsSchema,
  MemberSchema,
  NewTokenSchema,
  SessionSchema,
  SetMemberBodySchema,
  SpaceListSchema,
  SpaceSchema,
  TokenListSchema,
  TokenParamsSchema,
  UpdateAccountBodySchema,
  WhoAmISchema,
} from './access-schemas';
import { jsonBody } from './body';
import { idParam, type RouteTable } from './route';
import { PageQuerySchema, SpaceParamsSchema } from './schemas';

const json = jsonBody(64 * 1024);
const ok = (description: string, schema: z.ZodType) => ({
  description,
  content: { 'application/json': { schema } },
});

const loginOf = (name: string, host: string) => (host === '' ? name : `${name}@${host}`);
const time = (us: bigint) => (us === 0n ? null : formatMicros(Number(us)));

const accountJson = (a: Account) => ({
  name: a.name,
  host: a.host,
  login: loginOf(a.name, a.host),
  admin: a.admin,
  disabled: a.disabled,
  personalSpace: a.personalSpace,
  hasPassword: a.hasPassword,
  created: formatMicros(Number(a.createdUs)),
});

const scopeJson = (s: Scope) => ({
  space: s.space,
  ...(s.collection === '' ? {} : { collection: s.collection }),
  write: s.write,
  ...(s.keyPrefix === '' ? {} : { keyPrefix: s.keyPrefix }),
});

const tokenJson = (t: Token) => ({
  id: Number(t.id),
  name: t.name,
  kind: t.kind,
  account: loginOf(t.account?.name ?? '', t.account?.host ?? ''),
  scopes: t.scopes.map(scopeJson),
  readOnly: t.readOnly,
  rateLimit: t.rateLimit,
  created: formatMicros(Number(t.createdUs)),
  expires: time(t.expiresUs),
  lastUsed: time(t.lastUsedUs),
  revoked: time(t.revokedUs),
});

const spaceJson = (s: Space) => ({
  name: s.name,
  id: s.id,
  kind: s.kind,
  role: s.role === '' ? null : s.role,
  created: formatMicros(Number(s.createdUs)),
});

const principalJson = (p: Principal) => ({
  account: loginOf(p.account, p.host),
  admin: p.admin,
  readOnly: p.readOnly,
  via: p.via,
  personalSpace: p.personalSpace,
  scopes: p.scopes.map(scopeJson),
});

const accountRef = (req: Request) => splitLogin(String(req.params.account));
const space = (req: Request) => String(req.params.space);
const scopesOf = (scopes: ReadonlyArray<{ space: string; collection?: string; write?: boolean; keyPrefix?: string }>) =>
  scopes.map((s) => ({
    space: s.space,
    collection: s.collection ?? '',
    write: s.write ?? false,
    keyPrefix: s.keyPrefix ?? '',
  }));
const call = (caller: Caller) => ({ headers: caller.headers });

/**
 * Sessions, spaces, members, tokens and (for admins) accounts, on the native API. Every rule
 * (who may do what) is the record service's; these routes only translate.
 */
export function accessRoutes(table: RouteTable, api: RecordApi, callers: Callers): void {
  const { auth, admin } = api;

  table.addPublic(
    {
      method: 'post',
      expressPath: '/v1/auth/login',
      openapiPath: '/v1/auth/login',
      summary: 'Start a session with a password (HTTP Basic, or a JSON body)',
      description: 'Failed attempts are limited per account and per address: past the limit, 429 with Retry-After.',
      tags: ['auth'],
      params: SpaceParamsSchema.pick({}),
      rawBody: { description: 'Optional JSON {login, password, readOnly} when no Basic header is sent' },
      responses: { 200: ok('The session', SessionSchema) },
      errors: ['UNAUTHENTICATED', 'RATE_LIMITED', 'INVALID_ARGUMENT'],
      before: [express.json({ limit: 64 * 1024 })],
    },
    async (req, res) => {
      const basic = req.headers.authorization === undefined ? undefined : parseBasic(req.headers.authorization);
      let credentials: { login: string; password: string; readOnly: boolean };
      if (basic !== undefined) {
        credentials = { ...basic, readOnly: req.query.readOnly === 'true' };
      } else {
        const body = LoginBodySchema.safeParse(req.body);
        if (!body.success) throw unauthenticated('send HTTP Basic credentials or a JSON body {login, password}');
        credentials = { login: body.data.login, password: body.data.password, readOnly: body.data.readOnly ?? false };
      }
      const { session, principal } = await auth.login({
        password: { ...splitLogin(credentials.login), password: credentials.password },
        clientAddress: callers.clientAddress(req),
        readOnly: credentials.readOnly,
      });
      res.json({
        session,
        account: loginOf(principal?.account ?? '', principal?.host ?? ''),
        readOnly: credentials.readOnly,
      });
    },
  );

  table.addPublic(
    {
      method: 'post',
      expressPath: '/v1/auth/logout',
      openapiPath: '/v1/auth/logout',
      summary: 'End the session in X-Session-Token (with all=true: every session of its account)',
      tags: ['auth'],
      params: SpaceParamsSchema.pick({}),
      query: LogoutQuerySchema,
      responses: { 200: ok('How many sessions ended', LogoutResultSchema) },
      errors: ['UNAUTHENTICATED'],
    },
    async (req, res, { query }) => {
      const session = sessionToken(req);
      if (session === undefined) throw unauthenticated('X-Session-Token must be the session to end');
      const { ended } = await auth.logout({ session, all: query.all === 'true' });
      res.json({ ended });
    },
  );

  table.add(
    {
      method: 'get',
      expressPath: '/v1/auth/whoami',
      openapiPath: '/v1/auth/whoami',
      summary: 'Who the credential of this request is',
      tags: ['auth'],
      params: SpaceParamsSchema.pick({}),
      responses: { 200: ok('The caller', WhoAmISchema) },
      errors: [],
    },
    (_req, res, { caller }) => {
      res.json(principalJson(caller.principal));
    },
  );

  table.add(
    {
      method: 'get',
      expressPath: '/v1/spaces',
      openapiPath: '/v1/spaces',
      summary: 'The spaces you belong to, with your role',
      tags: ['spaces'],
      params: SpaceParamsSchema.pick({}),
      responses: { 200: ok('Spaces', SpaceListSchema) },
      errors: [],
    },
    async (_req, res, { caller }) => {
      const { spaces } = await admin.listSpaces({}, call(caller));
      res.json({ spaces: spaces.map(spaceJson) });
    },
  );

  table.add(
    {
      method: 'post',
      expressPath: '/v1/spaces',
      openapiPath: '/v1/spaces',
      summary: 'Create a shared space; you become its owner',
      tags: ['spaces'],
      params: SpaceParamsSchema.pick({}),
      body: CreateSpaceBodySchema,
      before: json,
      responses: { 201: ok('Created', SpaceSchema) },
      errors: ['SPACE_EXISTS', 'INVALID_NAME', 'INVALID_ARGUMENT'],
    },
    async (_req, res, { body, caller }) => {
      const { space: created } = await admin.createSpace({ name: body.name, id: body.id ?? '' }, call(caller));
      if (created === undefined) throw new Error('the record service created a space without returning it');
      res
        .status(201)
        .location(`/v1/spaces/${encodeURIComponent(created.name)}`)
        .json(spaceJson(created));
    },
  );

  table.add(
    {
      method: 'get',
      expressPath: '/v1/spaces/:space',
      openapiPath: '/v1/spaces/{space}',
      summary: 'A space, with your role in it',
      tags: ['spaces'],
      params: SpaceParamsSchema,
      responses: { 200: ok('The space', SpaceSchema) },
      errors: ['SPACE_NOT_FOUND'],
    },
    async (req, res, { caller }) => {
      const { space: found } = await admin.getSpace({ name: space(req) }, call(caller));
      if (found === undefined) throw new Error('the record service found a space without returning it');
      res.json(spaceJson(found));
    },
  );

  table.add(
    {
      method: 'delete',
      expressPath: '/v1/spaces/:space',
      openapiPath: '/v1/spaces/{space}',
      summary: 'Delete a shared space with all its collections and records (owners only)',
      tags: ['spaces'],
      params: SpaceParamsSchema,
      responses: { 204: { description: 'Deleted' } },
      errors: ['SPACE_NOT_FOUND', 'INVALID_ARGUMENT'],
    },
    async (req, res, { caller }) => {
      await admin.deleteSpace({ name: space(req) }, call(caller));
      res.status(204).end();
    },
  );

  table.add(
    {
      method: 'get',
      expressPath: '/v1/spaces/:space/members',
      openapiPath: '/v1/spaces/{space}/members',
      summary: 'Members of a space and their roles',
      tags: ['spaces'],
      params: SpaceParamsSchema,
      responses: { 200: ok('Members', MemberListSchema) },
      errors: ['SPACE_NOT_FOUND'],
    },
    async (req, res, { caller }) => {
      const { members } = await admin.listMembers({ name: space(req) }, call(caller));
      res.json({
        members: members.map((m) => ({
          space: m.space,
          account: loginOf(m.account?.name ?? '', m.account?.host ?? ''),
          role: m.role,
        })),
      });
    },
  );

  table.add(
    {
      method: 'put',
      expressPath: '/v1/spaces/:space/members/:account',
      openapiPath: '/v1/spaces/{space}/members/{account}',
      summary: 'Add a member or change its role (owners only)',
      tags: ['spaces'],
      params: MemberParamsSchema,
      body: SetMemberBodySchema,
      before: json,
      responses: { 200: ok('The member', MemberSchema) },
      errors: ['SPACE_NOT_FOUND', 'ACCOUNT_NOT_FOUND', 'LAST_OWNER', 'INVALID_ARGUMENT'],
    },
    async (req, res, { body, caller }) => {
      await admin.setMember({ space: space(req), account: accountRef(req), role: body.role }, call(caller));
      res.json({ space: space(req), account: String(req.params.account), role: body.role });
    },
  );

  table.add(
    {
      method: 'delete',
      expressPath: '/v1/spaces/:space/members/:account',
      openapiPath: '/v1/spaces/{space}/members/{account}',
      summary: 'Remove a member (owners only; a space keeps at least one owner)',
      tags: ['spaces'],
      params: MemberParamsSchema,
      responses: { 204: { description: 'Removed' } },
      errors: ['SPACE_NOT_FOUND', 'ACCOUNT_NOT_FOUND', 'MEMBER_NOT_FOUND', 'LAST_OWNER'],
    },
    async (req, res, { caller }) => {
      await admin.removeMember({ space: space(req), account: accountRef(req) }, call(caller));
      res.status(204).end();
    },
  );

  table.add(
    {
      method: 'post',
      expressPath: '/v1/spaces/:space/run-tokens',
      openapiPath: '/v1/spaces/{space}/run-tokens',
      summary: 'A short-lived token that may do anything in this space (writers and owners)',
      tags: ['tokens'],
      params: SpaceParamsSchema,
      body: CreateRunTokenBodySchema,
      before: json,
      responses: { 201: ok('The token and its secret', NewTokenSchema) },
      errors: ['SPACE_NOT_FOUND', 'INVALID_ARGUMENT'],
    },
    async (req, res, { body, caller }) => {
      const created = await admin.createRunToken(
        { space: space(req), expiresInSeconds: BigInt(body.expiresInSeconds ?? 0) },
        call(caller),
      );
      if (created.token === undefined) throw new Error('the record service made a token without returning it');
      res.status(201).json({ token: tokenJson(created.token), secret: created.secret });
    },
  );

  const createToken = async (
    caller: Caller,
    account: { name: string; host: string } | undefined,
    input: z.output<typeof CreateTokenBodySchema>,
  ) => {
    const created = await admin.createToken(
      {
        account,
        name: input.name ?? '',
        scopes: scopesOf(input.scopes ?? []),
        readOnly: input.readOnly ?? false,
        expiresInSeconds: BigInt(input.expiresInSeconds ?? 0),
        rateLimit: input.rateLimit ?? 0,
      },
      call(caller),
    );
    if (created.token === undefined) throw new Error('the record service made a token without returning it');
    return { token: tokenJson(created.token), secret: created.secret };
  };

  table.add(
    {
      method: 'get',
      expressPath: '/v1/tokens',
      openapiPath: '/v1/tokens',
      summary: 'Your API tokens (never their secrets)',
      tags: ['tokens'],
      params: SpaceParamsSchema.pick({}),
      responses: { 200: ok('Tokens', TokenListSchema) },
      errors: [],
    },
    async (_req, res, { caller }) => {
      const { tokens } = await admin.listTokens({}, call(caller));
      res.json({ tokens: tokens.map(tokenJson) });
    },
  );

  table.add(
    {
      method: 'post',
      expressPath: '/v1/tokens',
      openapiPath: '/v1/tokens',
      summary: 'Create an API token; its secret is shown once',
      tags: ['tokens'],
      params: SpaceParamsSchema.pick({}),
      body: CreateTokenBodySchema,
      before: json,
      responses: { 201: ok('The token and its secret', NewTokenSchema) },
      errors: ['INVALID_ARGUMENT', 'INVALID_NAME'],
    },
    async (_req, res, { body, caller }) => {
      res.status(201).json(await createToken(caller, undefined, body));
    },
  );

  table.add(
    {
      method: 'delete',
      expressPath: '/v1/tokens/:id',
      openapiPath: '/v1/tokens/{id}',
      summary: 'Revoke a token: refused everywhere within a second',
      tags: ['tokens'],
      params: TokenParamsSchema,
      responses: { 204: { description: 'Revoked' } },
      errors: ['TOKEN_NOT_FOUND', 'INVALID_ARGUMENT'],
    },
    async (req, res, { caller }) => {
      await admin.revokeToken({ id: idParam(req, 'token') }, call(caller));
      res.status(204).end();
    },
  );

  adminRoutes(table, api, createToken);
}

/** `/v1/admin`: accounts and every space, for admins only. */
function adminRoutes(
  table: RouteTable,
  api: RecordApi,
  createToken: (
    caller: Caller,
    account: { name: string; host: string },
    input: z.output<typeof CreateTokenBodySchema>,
  ) => Promise<unknown>,
): void {
  const { admin } = api;
  const tags = ['admin'];
  const none = SpaceParamsSchema.pick({});
  table.add(
    {
      method: 'get',
      expressPath: '/v1/admin/accounts',
      openapiPath: '/v1/admin/accounts',
      summary: 'Every account, in creation order',
      tags,
      params: none,
      query: PageQuerySchema,
      responses: { 200: ok('A page', AccountListSchema) },
      errors: ['INVALID_CURSOR'],
    },
    async (_req, res, { query, caller }) => {
      const page = await admin.listAccounts(
        { limit: query.limit === undefined ? 0 : Number(query.limit), cursor: query.cursor ?? '' },
        call(caller),
      );
      res.json({ accounts: page.accounts.map(accountJson), cursor: page.nextCursor || null });
    },
  );
  table.add(
    {
      method: 'post',
      expressPath: '/v1/admin/accounts',
      openapiPath: '/v1/admin/accounts',
      summary: 'Create an account (and its personal space)',
      tags,
      params: none,
      body: CreateAccountBodySchema,
      before: json,
      responses: { 201: ok('Created', AccountSchema) },
      errors: ['ACCOUNT_EXISTS', 'INVALID_NAME', 'INVALID_ARGUMENT'],
    },
    async (_req, res, { body, caller }) => {
      const { account } = await admin.createAccount(
        { name: body.name, host: body.host ?? '', password: body.password ?? '', admin: body.admin ?? false },
        call(caller),
      );
      if (account === undefined) throw new Error('the record service created an account without returning it');
      res
        .status(201)
        .location(`/v1/admin/accounts/${encodeURIComponent(loginOf(account.name, account.host))}`)
        .json(accountJson(account));
    },
  );
  table.add(
    {
      method: 'get',
      expressPath: '/v1/admin/accounts/:account',
      openapiPath: '/v1/admin/accounts/{account}',
      summary: 'One account',
      tags,
      params: AccountParamsSchema,
      responses: { 200: ok('The account', AccountSchema) },
      errors: ['ACCOUNT_NOT_FOUND'],
    },
    async (req, res, { caller }) => {
      const { account } = await admin.getAccount(accountRef(req), call(caller));
      if (account === undefined) throw new Error('the record service found an account without returning it');
      res.json(accountJson(account));
    },
  );
  table.add(
    {
      method: 'patch',
      expressPath: '/v1/admin/accounts/:account',
      openapiPath: '/v1/admin/accounts/{account}',
      summary: 'Change an account’s password, admin flag or disabled flag (disabling takes effect within a second)',
      tags,
      params: AccountParamsSchema,
      body: UpdateAccountBodySchema,
      before: json,
      responses: { 200: ok('The account', AccountSchema) },
      errors: ['ACCOUNT_NOT_FOUND', 'INVALID_ARGUMENT'],
    },
    async (req, res, { body, caller }) => {
      const { account } = await admin.updateAccount(
        { account: accountRef(req), password: body.password, admin: body.admin, disabled: body.disabled },
        call(caller),
      );
      if (account === undefined) throw new Error('the record service updated an account without returning it');
      res.json(accountJson(account));
    },
  );
  table.add(
    {
      method: 'delete',
      expressPath: '/v1/admin/accounts/:account',
      openapiPath: '/v1/admin/accounts/{account}',
      summary: 'Delete an account, its credentials and its personal space with everything in it',
      tags,
      params: AccountParamsSchema,
      responses: { 204: { description: 'Deleted' } },
      errors: ['ACCOUNT_NOT_FOUND'],
    },
    async (req, res, { caller }) => {
      await admin.deleteAccount(accountRef(req), call(caller));
      res.status(204).end();
    },
  );
  table.add(
    {
      method: 'get',
      expressPath: '/v1/admin/accounts/:account/tokens',
      openapiPath: '/v1/admin/accounts/{account}/tokens',
      summary: 'An account’s tokens',
      tags,
      params: AccountParamsSchema,
      responses: { 200: ok('Tokens', TokenListSchema) },
      errors: ['ACCOUNT_NOT_FOUND'],
    },
    async (req, res, { caller }) => {
      const { tokens } = await admin.listTokens({ account: accountRef(req) }, call(caller));
      res.json({ tokens: tokens.map(tokenJson) });
    },
  );
  table.add(
    {
      method: 'post',
      expressPath: '/v1/admin/accounts/:account/tokens',
      openapiPath: '/v1/admin/accounts/{account}/tokens',
      summary: 'Create a token for an account; its secret is shown once',
      tags,
      params: AccountParamsSchema,
      body: CreateTokenBodySchema,
      before: json,
      responses: { 201: ok('The token and its secret', NewTokenSchema) },
      errors: ['ACCOUNT_NOT_FOUND', 'INVALID_ARGUMENT'],
    },
    async (req, res, { body, caller }) => {
      res.status(201).json(await createToken(caller, accountRef(req), body));
    },
  );
  table.add(
    {
      method: 'get',
      expressPath: '/v1/admin/spaces',
      openapiPath: '/v1/admin/spaces',
      summary: 'Every space',
      tags,
      params: none,
      responses: { 200: ok('Spaces', SpaceListSchema) },
      errors: [],
    },
    async (_req, res, { caller }) => {
      const { spaces } = await admin.listSpaces({ all: true }, call(caller));
      res.json({ spaces: spaces.map(spaceJson) });
    },
  );
}
