import type { IncomingMessage } from 'node:http';
import { DomainError } from '@rosetta/core';
import type { Caller, Callers, CredentialInit } from './callers';

/** A credential found in a request, with the exact text that identifies it (the cache key). */
export interface FoundCredential {
  readonly key: string;
  readonly credential: () => CredentialInit;
}

export const unauthenticated = (why: string) => new DomainError('UNAUTHENTICATED', why, { publicMessage: why });

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const SESSION_SHAPE = /^[0-9a-fA-F]{64}$/;

/** A session token's shape: 64 hex digits (issued lower-case; either case is accepted). */
export const isSessionToken = (value: string): boolean => SESSION_SHAPE.test(value);

/** `user` or `user@host`: accounts names never contain `@`, so the last one splits. */
export function splitLogin(login: string): { name: string; host: string } {
  const at = login.lastIndexOf('@');
  return at < 0 ? { name: login, host: '' } : { name: login.slice(0, at), host: login.slice(at + 1) };
}

/** The user and password of an HTTP Basic header value, or undefined when it is not well-formed Basic. */
export function parseBasic(value: string): { login: string; password: string } | undefined {
  if (!/^basic /i.test(value)) return undefined;
  const encoded = value.slice(6).trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { login: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export const passwordCredential = (login: string, password: string): CredentialInit => ({
  kind: { case: 'password', value: { ...splitLogin(login), password } },
});

/** A bearer value: a JWT when it looks like one, an API or run token otherwise. */
export const bearerCredential = (token: string): CredentialInit =>
  JWT_SHAPE.test(token) ? { kind: { case: 'jwt', value: token } } : { kind: { case: 'token', value: token } };

/**
 * The token of `Authorization: Bearer <token>`, taken as kapi and Lightning take it: the scheme
 * is case-sensitive, exactly one space follows, and the rest (spaces included) is the token.
 */
export function exactBearerToken(authorization: string | undefined): string | undefined {
  if (authorization === undefined || !authorization.startsWith('Bearer ')) return undefined;
  const token = authorization.slice('Bearer '.length);
  return token === '' ? undefined : token;
}

/**
 * The credential of a native (/v1) request: `Authorization: Bearer <token or JWT>`,
 * `Authorization: Basic <user[@host]:password>`, or `X-Session-Token: <64 hex digits>`.
 * Undefined when there is none; a malformed one is refused.
 */
export function v1Credential(req: Pick<IncomingMessage, 'headers'>): FoundCredential | undefined {
  const authorization = req.headers.authorization;
  if (authorization !== undefined) {
    if (/^bearer /i.test(authorization)) {
      const token = authorization.slice(7).trim();
      if (token === '') throw unauthenticated('the bearer token is empty');
      return { key: `b ${token}`, credential: () => bearerCredential(token) };
    }
    const basic = parseBasic(authorization);
    if (basic === undefined) throw unauthenticated('Authorization must be "Bearer <token>" or "Basic <credentials>"');
    return { key: `p ${authorization}`, credential: () => passwordCredential(basic.login, basic.password) };
  }
  const session = sessionToken(req);
  if (session !== undefined) {
    return { key: `s ${session}`, credential: () => ({ kind: { case: 'session', value: session } }) };
  }
  return undefined;
}

/** The session in X-Session-Token, lower-cased; undefined when there is none, refused when malformed. */
export function sessionToken(req: Pick<IncomingMessage, 'headers'>): string | undefined {
  const session = req.headers['x-session-token'];
  if (session === undefined) return undefined;
  if (typeof session !== 'string' || !isSessionToken(session)) {
    throw unauthenticated('X-Session-Token must be 64 hex digits');
  }
  return session.toLowerCase();
}

/** The caller of a native (/v1) request; UNAUTHENTICATED when it carries no credential. */
export async function authenticateV1(callers: Callers, req: IncomingMessage): Promise<Caller> {
  const found = v1Credential(req);
  if (found === undefined) throw unauthenticated('authentication required');
  return callers.authenticate(found.key, found.credential, callers.clientAddress(req));
}
