/** The Kopano kvs base path: the dialect claims it and everything under it. */
export const KVS_BASE = '/api/kvs/v1';
/** The one route: the user realm; the rest of the decoded path is the key. */
export const USER_PREFIX = `${KVS_BASE}/kv/user/`;

/**
 * Which part of the kvs space a request URL falls in: `base` is `/api/kvs/v1` itself (not the
 * plugin's in the original, answered by the server's 404), `plugin` is anything under
 * `/api/kvs/v1/`, `none` belongs to someone else (DVID owns other `/api/...` paths).
 */
export function claimOf(url: string): 'none' | 'base' | 'plugin' {
  if (url.startsWith(`${KVS_BASE}/`)) return 'plugin';
  if (url === KVS_BASE || url.startsWith(`${KVS_BASE}?`)) return 'base';
  return 'none';
}

/** What a claimed URL asks for, decided before authentication (as the original's router does). */
export type KvsTarget =
  /** Malformed percent-encoding, or bytes that are not UTF-8. */
  | { readonly kind: 'bad-request' }
  /** Not in canonical form: gorilla/mux answers 301 to the cleaned path. */
  | { readonly kind: 'redirect'; readonly location: string }
  /** Under /api/kvs/v1/ but not under /kv/user/. */
  | { readonly kind: 'not-found' }
  /** The user realm: `key` may be empty, may contain and end with `/`. */
  | { readonly kind: 'key'; readonly key: string; readonly query: string };

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const HEX = /^[0-9A-Fa-f]{2}$/;

/**
 * A URL path decoded as Go's url.PathUnescape does (`%XX` only; `+` stays `+`), or undefined
 * when a `%` is not followed by two hex digits or the bytes are not UTF-8 (keys are UTF-8 here).
 */
export function decodePath(raw: string): string | undefined {
  if (!raw.includes('%')) return raw;
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const code = raw.charCodeAt(i);
    if (code === 0x25) {
      const hex = raw.slice(i + 1, i + 3);
      if (!HEX.test(hex)) return undefined;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(raw[i] as string, 'utf8'));
    }
  }
  try {
    return utf8.decode(new Uint8Array(bytes));
  } catch {
    return undefined;
  }
}

/**
 * gorilla/mux's cleanPath: Go's path.Clean (no empty, `.` or `..` segments; `..` at the root
 * stays at the root), with a trailing slash put back.
 */
export function cleanPath(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const cleaned = `/${segments.join('/')}`;
  return path.endsWith('/') && cleaned !== '/' ? `${cleaned}/` : cleaned;
}

const PATH_SAFE = /[A-Za-z0-9\-_.~$&+,/:;=@]/;

/** Go's url.PathEscape for a whole path (`escape(p, encodePath)`): what a redirect's Location carries. */
export function escapePath(path: string): string {
  let out = '';
  for (const char of path) {
    if (PATH_SAFE.test(char)) {
      out += char;
      continue;
    }
    for (const byte of Buffer.from(char, 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Where a URL under /api/kvs/v1/ leads: a bad request, a redirect, a 404, or a key of the user realm. */
export function kvsTarget(url: string): KvsTarget {
  const mark = url.indexOf('?');
  const rawPath = mark === -1 ? url : url.slice(0, mark);
  const query = mark === -1 ? '' : url.slice(mark + 1);
  const path = decodePath(rawPath);
  if (path === undefined) return { kind: 'bad-request' };
  const cleaned = cleanPath(path);
  if (cleaned !== path) {
    return { kind: 'redirect', location: escapePath(cleaned) + (mark === -1 ? '' : url.slice(mark)) };
  }
  if (!path.startsWith(USER_PREFIX)) return { kind: 'not-found' };
  return { kind: 'key', key: path.slice(USER_PREFIX.length), query };
}

/** Go's url.QueryUnescape on bytes (`+` is a space), or undefined for a bad `%` escape. */
function queryUnescape(text: string): string | undefined {
  const plus = text.replaceAll('+', ' ');
  if (!plus.includes('%')) return plus;
  let out = '';
  for (let i = 0; i < plus.length; i++) {
    const char = plus[i] as string;
    if (char !== '%') {
      out += char;
      continue;
    }
    const hex = plus.slice(i + 1, i + 3);
    if (!HEX.test(hex)) return undefined;
    out += String.fromCharCode(parseInt(hex, 16));
    i += 2;
  }
  return out;
}

/**
 * Whether the query sets `name` to exactly `1`, read as Go 1.14's url.ParseQuery and
 * Values.Get do: pairs split on `&` or `;`, pairs with bad escapes dropped, the first value wins.
 */
export function queryFlag(query: string, name: string): boolean {
  for (const pair of query.split(/[&;]/)) {
    if (pair === '') continue;
    const equals = pair.indexOf('=');
    const key = queryUnescape(equals === -1 ? pair : pair.slice(0, equals));
    const value = queryUnescape(equals === -1 ? '' : pair.slice(equals + 1));
    if (key === undefined || value === undefined) continue;
    if (key === name) return value === '1';
  }
  return false;
}
