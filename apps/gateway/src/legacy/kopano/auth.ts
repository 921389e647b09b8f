import type { IncomingMessage } from 'node:http';
import { DomainError } from '@rosetta/core';
import type { Caller } from '../../auth/callers';
import { bearerCredential, exactBearerToken, unauthenticated } from '../../auth/credentials';
import type { KopanoOptions } from '../config';
import type { DialectContext } from '../dialect';

/**
 * The caller of a kvs request. A JWT is verified by the record service (signature, time
 * claims, `kc.isAccessToken`, the subject from `kc.identity`/`kc.i.id` or `sub`, as its JWT_*
 * settings say), and must then carry every required scope in `kc.authorizedScopes`. A Rosetta
 * API token is accepted too: its own scopes are enforced by the record service on every call.
 */
export async function kopanoCaller(
  context: DialectContext,
  options: KopanoOptions,
  req: IncomingMessage,
): Promise<Caller> {
  const token = exactBearerToken(req.headers.authorization);
  if (token === undefined) throw unauthenticated('Authorization must be "Bearer <token>"');
  const caller = await context.callers.authenticate(
    `b ${token}`,
    () => bearerCredential(token),
    context.callers.clientAddress(req),
  );
  const { via, externalScopes } = caller.principal;
  const missing = options.requiredScopes.filter((scope) => !externalScopes.includes(scope));
  if (via === 'jwt' && missing.length > 0) {
    throw new DomainError('PERMISSION_DENIED', `the token lacks the scopes ${missing.join(' ')}`);
  }
  return caller;
}
