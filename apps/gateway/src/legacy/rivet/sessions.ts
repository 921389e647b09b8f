import type { IncomingMessage, ServerResponse } from 'node:http';
import { validateSpaceName } from '@rosetta/core';
import type { Caller } from '../../auth/callers';
import { passwordCredential, splitLogin, unauthenticated } from '../../auth/credentials';
import { toHttpFailure } from '../../errors';
import { queryOf, type DialectContext } from '../dialect';
import { basicOf, firstHeader, optionalSessionOf, sessionOf } from './credentials';
import { readOnlyRequested } from './query';
import { writeText } from './render';

/** The caller a session stands for (cached as /v1 caches it, so a hot session is not looked up per request). */
function sessionCaller(context: DialectContext, req: IncomingMessage, session: string): Promise<Caller> {
  return context.callers.authenticate(
    `s ${session}`,
    () => ({ kind: { case: 'session', value: session } }),
    context.callers.clientAddress(req),
  );
}

const isSpaceName = (name: string): boolean => {
  try {
    validateSpaceName(name);
    return true;
  } catch {
    return false;
  }
};

/**
 * The caller of a `/store` request, checked in Rivet's order: `X-Session-Token` missing (401),
 * malformed (400), then the session itself (401 when unknown or ended). Whether the session
 * may use `<user>`'s store is the record service's decision on each call (SPACE_NOT_FOUND, 401).
 * A user no space can be named after (empty, as in `/store/`, or with characters account
 * names never hold) has no store: 401 once the token is well-formed, as Rivet answers a
 * user without a session, and the name never reaches the record service.
 */
export async function storeCaller(
  context: DialectContext,
  req: IncomingMessage,
  user: string,
  token: string | undefined = firstHeader(req, 'x-session-token'),
): Promise<Caller> {
  const session = sessionOf(token);
  if (!isSpaceName(user)) throw unauthenticated('no store has this user name');
  return sessionCaller(context, req, session);
}

/**
 * `GET /login`: a new session for the Basic credentials, its 64 hex digits as the body.
 * `?read_only=1` makes it read-only. Unlike Rivet, which kept one session per user and handed
 * it out again, each login starts a session of its own.
 */
export async function login(context: DialectContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { login: name, password } = basicOf(req.headers.authorization);
  const { session } = await context.api.auth.login({
    password: { ...splitLogin(name), password },
    clientAddress: context.callers.clientAddress(req),
    readOnly: readOnlyRequested(queryOf(req.url ?? '')),
  });
  writeText(res, 200, session);
}

/** Whether `session` is a live session of the account the Basic credentials prove (refused when they prove none). */
async function ownSession(
  context: DialectContext,
  req: IncomingMessage,
  basic: { readonly login: string; readonly password: string },
  session: string,
): Promise<boolean> {
  const account = await context.callers.authenticate(
    `p ${req.headers.authorization ?? ''}`,
    () => passwordCredential(basic.login, basic.password),
    context.callers.clientAddress(req),
  );
  try {
    const holder = await sessionCaller(context, req, session);
    return holder.principal.accountId === account.principal.accountId;
  } catch (error) {
    if (toHttpFailure(error).code === 'UNAUTHENTICATED') return false;
    throw error;
  }
}

/**
 * `GET /logout`: with the Basic credentials checked, ends the session in `X-Session-Token` when
 * it is one of that user's, and otherwise every session of the user (Rivet's single session:
 * it ignored the header). 200 with an empty body.
 */
export async function logout(context: DialectContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const basic = basicOf(req.headers.authorization);
  const session = optionalSessionOf(firstHeader(req, 'x-session-token'));
  if (session !== undefined && (await ownSession(context, req, basic, session))) {
    await context.api.auth.logout({ session });
  } else {
    await context.api.auth.logout({
      all: true,
      password: { ...splitLogin(basic.login), password: basic.password },
      clientAddress: context.callers.clientAddress(req),
    });
  }
  writeText(res, 200, '');
}
