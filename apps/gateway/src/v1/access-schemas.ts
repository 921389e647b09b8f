import { z } from 'zod';

/** The /v1 wire shapes of accounts, spaces, members, tokens and sessions. */

const timestamp = z.string().meta({ description: 'RFC 3339 date-time, microsecond precision' });
const login = z.string().meta({ description: 'Account name, or name@host for accounts with a host' });

export const AccountSchema = z
  .object({
    name: z.string(),
    host: z.string(),
    login,
    admin: z.boolean(),
    disabled: z.boolean(),
    personalSpace: z.string(),
    hasPassword: z.boolean(),
    created: timestamp,
  })
  .meta({ id: 'Account' });

export const AccountListSchema = z
  .object({ accounts: z.array(AccountSchema), cursor: z.string().nullable() })
  .meta({ id: 'AccountList' });

export const CreateAccountBodySchema = z
  .strictObject({
    name: z.string(),
    host: z.string().optional(),
    password: z.string().optional().meta({ description: 'At least 8 characters; absent: no password login' }),
    admin: z.boolean().optional(),
  })
  .meta({ id: 'CreateAccount' });

export const UpdateAccountBodySchema = z
  .strictObject({
    password: z.string().optional().meta({ description: 'New password; "" removes it' }),
    admin: z.boolean().optional(),
    disabled: z.boolean().optional(),
  })
  .meta({ id: 'UpdateAccount' });

export const AccountParamsSchema = z.object({ account: login });

export const SpaceSchema = z
  .object({
    name: z.string(),
    id: z.uuid().meta({ description: "The space's UUID (an OpenFn project id)" }),
    kind: z.enum(['personal', 'shared']),
    role: z.string().nullable().meta({ description: 'Your role: owner, writer or reader' }),
    created: timestamp,
  })
  .meta({ id: 'Space' });

export const SpaceListSchema = z.object({ spaces: z.array(SpaceSchema) }).meta({ id: 'SpaceList' });

export const CreateSpaceBodySchema = z
  .strictObject({
    name: z.string(),
    id: z
      .string()
      .optional()
      .meta({ description: 'A UUID for the space (an OpenFn project id to keep); absent: a new random one' }),
  })
  .meta({ id: 'CreateSpace' });

export const MemberSchema = z
  .object({ space: z.string(), account: login, role: z.enum(['owner', 'writer', 'reader']) })
  .meta({ id: 'Member' });

export const MemberListSchema = z.object({ members: z.array(MemberSchema) }).meta({ id: 'MemberList' });

export const SetMemberBodySchema = z
  .strictObject({ role: z.enum(['owner', 'writer', 'reader']) })
  .meta({ id: 'SetMember' });

export const MemberParamsSchema = z.object({ space: z.string(), account: login });

export const ScopeSchema = z
  .strictObject({
    space: z.string(),
    collection: z.string().optional().meta({ description: 'Absent: every collection of the space' }),
    write: z.boolean().optional().meta({ description: 'Absent or false: read only' }),
    keyPrefix: z.string().optional().meta({ description: 'Absent: every key' }),
  })
  .meta({ id: 'Scope' });

export const TokenSchema = z
  .object({
    id: z.number().int(),
    name: z.string(),
    kind: z.enum(['token', 'run']),
    account: login,
    scopes: z.array(ScopeSchema),
    readOnly: z.boolean(),
    rateLimit: z.number().int().meta({ description: 'Requests per second; 0: the service default' }),
    created: timestamp,
    expires: timestamp.nullable(),
    lastUsed: timestamp.nullable(),
    revoked: timestamp.nullable(),
  })
  .meta({ id: 'Token' });

export const TokenListSchema = z.object({ tokens: z.array(TokenSchema) }).meta({ id: 'TokenList' });

export const NewTokenSchema = z
  .object({ token: TokenSchema, secret: z.string().meta({ description: 'Shown once: only its hash is kept' }) })
  .meta({ id: 'NewToken' });

export const CreateTokenBodySchema = z
  .strictObject({
    name: z.string().optional(),
    scopes: z.array(ScopeSchema).optional().meta({ description: 'Absent or empty: all of the account’s rights' }),
    readOnly: z.boolean().optional(),
    expiresInSeconds: z.number().int().min(0).optional().meta({ description: 'Absent or 0: never' }),
    rateLimit: z.number().int().min(0).optional(),
  })
  .meta({ id: 'CreateToken' });

export const CreateRunTokenBodySchema = z
  .strictObject({ expiresInSeconds: z.number().int().min(0).optional() })
  .meta({ id: 'CreateRunToken' });

export const TokenParamsSchema = z.object({ id: z.string().regex(/^\d{1,15}$/) });

export const LoginBodySchema = z
  .strictObject({ login, password: z.string(), readOnly: z.boolean().optional() })
  .meta({ id: 'Login' });

export const SessionSchema = z
  .object({
    session: z.string().meta({ description: 'Send as X-Session-Token; shown once' }),
    account: login,
    readOnly: z.boolean(),
  })
  .meta({ id: 'Session' });

export const LogoutQuerySchema = z.object({ all: z.enum(['true', 'false']).optional() });

export const LogoutResultSchema = z.object({ ended: z.number().int() }).meta({ id: 'LogoutResult' });

export const WhoAmISchema = z
  .object({
    account: login,
    admin: z.boolean(),
    readOnly: z.boolean(),
    via: z.string(),
    personalSpace: z.string(),
    scopes: z.array(ScopeSchema),
  })
  .meta({ id: 'WhoAmI' });
