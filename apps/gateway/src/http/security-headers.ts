import type { IncomingMessage, ServerResponse } from 'node:http';
import { GRAPHQL_PATH } from '../graphql/http';

/**
 * What every answer may be rendered as: nothing. No answer of the gateway is a page that loads
 * anything, so a value read back (HTML, SVG) cannot run script, and no page frames one.
 */
export const API_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'";

/**
 * The GraphiQL page (GET /graphql in a browser): its scripts, styles and the fonts and images
 * its CSS embeds, from this gateway only, and queries to this gateway only.
 */
export const GRAPHIQL_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  'font-src data:',
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Headers that do not change a dialect's contract, only what a browser may do with an answer.
 * Cross-Origin-Resource-Policy is left out: it would stop web pages of other sites from
 * embedding values (images) read from the dialects that serve browsers.
 */
const COMMON: ReadonlyArray<readonly [string, string]> = [
  ['x-content-type-options', 'nosniff'],
  ['referrer-policy', 'no-referrer'],
  ['x-frame-options', 'DENY'],
];

/** Sets the security headers on a response before any route answers it (a route may still replace one). */
export function setSecurityHeaders(req: IncomingMessage, res: ServerResponse): void {
  for (const [name, value] of COMMON) res.setHeader(name, value);
  const url = req.url ?? '';
  const query = url.indexOf('?');
  const path = query === -1 ? url : url.slice(0, query);
  res.setHeader(
    'content-security-policy',
    path === GRAPHQL_PATH ? GRAPHIQL_CONTENT_SECURITY_POLICY : API_CONTENT_SECURITY_POLICY,
  );
}
