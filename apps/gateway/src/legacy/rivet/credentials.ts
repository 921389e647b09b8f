import type { IncomingMessage } from 'node:http';
import { invalid } from '@rosetta/core';
import { isSessionToken, parseBasic, unauthenticated } from '../../auth/credentials';

/** The first value of a request header, as Go's `Header.Get` reads it (Node joins repeated ones). */
export function firstHeader(req: IncomingMessage, name: string): string | undefined {
  return req.headersDistinct[name]?.[0];
}

/**
 * The session of an `X-Session-Token` value, lower-cased (sessions are issued in lower-case
 * hex; Rivet decoded the hex, so either case works). Rivet's order of checks: missing or empty
 * is 401, anything but 64 hex digits is 400.
 */
export function sessionOf(value: string | undefined): string {
  if (value === undefined || value === '') throw unauthenticated('X-Session-Token is required');
  if (!isSessionToken(value)) throw invalid('INVALID_ARGUMENT', 'X-Session-Token must be 64 hex digits');
  return value.toLowerCase();
}

/** A well-formed session in `X-Session-Token`, or undefined (for `/logout`, where the header is optional). */
export function optionalSessionOf(value: string | undefined): string | undefined {
  return value !== undefined && isSessionToken(value) ? value.toLowerCase() : undefined;
}

/** The login and password of `/login` and `/logout`: a missing or malformed Basic header is 400, as Rivet answers. */
export function basicOf(value: string | undefined): { readonly login: string; readonly password: string } {
  const basic = value === undefined ? undefined : parseBasic(value);
  if (basic === undefined) throw invalid('INVALID_ARGUMENT', 'an HTTP Basic Authorization header is required');
  return basic;
}
