import type { IncomingMessage, ServerResponse } from 'node:http';
import { header } from '../http/headers';
import { PREFLIGHT, routeIs } from '../http/observe';

/**
 * A dialect's CORS policy. The defaults of each dialect reproduce what its original server
 * sends (Kopano: rs/cors `AllowAll`; Prosody: mod_http's headers on every response); operators
 * narrow origins, methods and headers per dialect.
 */
export interface CorsPolicy {
  readonly enabled: boolean;
  /** Origins allowed; `*` allows any. */
  readonly origins: '*' | readonly string[];
  /** Methods a preflight may ask for. */
  readonly methods: readonly string[];
  /** Request headers a preflight may ask for; `*` allows whatever it asks (echoed back). */
  readonly headers: '*' | readonly string[];
  /** Response headers a browser may show the page (Access-Control-Expose-Headers). */
  readonly exposeHeaders: readonly string[];
  /** Access-Control-Max-Age of preflight answers; undefined sends none. */
  readonly maxAgeSeconds: number | undefined;
  /**
   * `request` (rs/cors): CORS headers only for requests that carry an allowed Origin, `*` when
   * any origin is allowed, `Vary` on every response, preflights echo the method asked for.
   * `always` (Prosody's mod_http): the headers on every response, the Origin echoed (or `*`
   * without one), preflights list every method.
   */
  readonly style: 'request' | 'always';
}

const originAllowed = (policy: CorsPolicy, origin: string) => policy.origins === '*' || policy.origins.includes(origin);

/** `x-custom-thing` → `X-Custom-Thing`, as Go's http.CanonicalHeaderKey writes it. */
const canonicalHeader = (name: string) => name.toLowerCase().replace(/(^|-)([a-z])/g, (m) => m.toUpperCase());

function requestedHeaders(req: IncomingMessage): string[] {
  return (header(req, 'access-control-request-headers') ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
}

function headersAllowed(policy: CorsPolicy, asked: readonly string[]): boolean {
  if (policy.headers === '*') return true;
  const allowed = policy.headers.map((name) => name.toLowerCase());
  return asked.every((name) => allowed.includes(name.toLowerCase()));
}

/** A preflight: OPTIONS with Access-Control-Request-Method. */
export const isPreflight = (req: IncomingMessage) =>
  req.method === 'OPTIONS' && header(req, 'access-control-request-method') !== undefined;

/**
 * Applies the policy to a response: sets its CORS headers, and answers a preflight (200, empty
 * body, no authentication), returning true when it did. A disabled policy does nothing.
 */
export function applyCors(policy: CorsPolicy, req: IncomingMessage, res: ServerResponse): boolean {
  if (!policy.enabled) return false;
  const origin = header(req, 'origin');
  if (policy.style === 'always') {
    if (origin === undefined || originAllowed(policy, origin)) {
      res.setHeader('access-control-allow-origin', origin ?? '*');
      res.setHeader('access-control-allow-methods', policy.methods.join(', '));
      res.setHeader('access-control-allow-headers', policy.headers === '*' ? '*' : policy.headers.join(', '));
      if (policy.maxAgeSeconds !== undefined) res.setHeader('access-control-max-age', String(policy.maxAgeSeconds));
    }
    if (req.method !== 'OPTIONS') return false;
    routeIs(req, PREFLIGHT);
    res.writeHead(200, { 'content-length': '0' });
    res.end();
    return true;
  }
  if (isPreflight(req)) {
    res.setHeader('vary', ['Origin', 'Access-Control-Request-Method', 'Access-Control-Request-Headers']);
    const method = (header(req, 'access-control-request-method') ?? '').toUpperCase();
    const asked = requestedHeaders(req);
    if (
      origin !== undefined &&
      originAllowed(policy, origin) &&
      (method === 'OPTIONS' || policy.methods.includes(method)) &&
      headersAllowed(policy, asked)
    ) {
      res.setHeader('access-control-allow-origin', policy.origins === '*' ? '*' : origin);
      res.setHeader('access-control-allow-methods', method);
      if (asked.length > 0) res.setHeader('access-control-allow-headers', asked.map(canonicalHeader).join(', '));
      if (policy.maxAgeSeconds !== undefined) res.setHeader('access-control-max-age', String(policy.maxAgeSeconds));
    }
    routeIs(req, PREFLIGHT);
    res.writeHead(200);
    res.end();
    return true;
  }
  res.setHeader('vary', 'Origin');
  if (origin !== undefined && originAllowed(policy, origin) && policy.methods.includes(req.method ?? '')) {
    res.setHeader('access-control-allow-origin', policy.origins === '*' ? '*' : origin);
    if (policy.exposeHeaders.length > 0)
      res.setHeader('access-control-expose-headers', policy.exposeHeaders.join(', '));
  }
  return false;
}

/** The CORS settings of a dialect from its environment variables `<PREFIX>_CORS_*`. */
export interface CorsOverrides {
  readonly origins?: string | undefined;
  readonly methods?: string | undefined;
  readonly headers?: string | undefined;
}

const list = (value: string) =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');

/** A policy with the operator's comma-separated overrides of origins, methods and headers applied. */
export function corsPolicy(defaults: CorsPolicy, overrides: CorsOverrides): CorsPolicy {
  const { origins, methods, headers } = overrides;
  return {
    ...defaults,
    ...(origins === undefined ? {} : { origins: origins.trim() === '*' ? '*' : list(origins) }),
    ...(methods === undefined ? {} : { methods: list(methods).map((m) => m.toUpperCase()) }),
    ...(headers === undefined ? {} : { headers: headers.trim() === '*' ? '*' : list(headers) }),
  };
}
