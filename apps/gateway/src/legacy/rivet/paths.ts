import { invalid } from '@rosetta/core';

/**
 * What a Rivet path addresses. Rivet routes `/login`, `/logout`, `/store/:user` and
 * `/store/:user/*`; `/store` and `/store/` reach the session check with an empty user.
 */
export type RivetPath =
  | { readonly kind: 'login' }
  | { readonly kind: 'logout' }
  /** `/store`, `/store/`: the session check runs, for a user that cannot exist. */
  | { readonly kind: 'store-root' }
  /** `/store/<user>`: the user's key listing. */
  | { readonly kind: 'keys'; readonly user: string }
  /** `/store/<user>/<key…>`: one key; it may contain `/`, end with `/`, or be empty. */
  | { readonly kind: 'record'; readonly user: string; readonly key: string }
  /** Below `/login/` or `/logout/`: no route, Rivet's 404. */
  | { readonly kind: 'unknown' };

/** The methods each kind of path is routed for; others get 405. Undefined: every method reaches the route. */
export function routedMethods(path: RivetPath): readonly string[] | undefined {
  switch (path.kind) {
    case 'login':
    case 'logout':
    case 'keys':
      return ['GET'];
    case 'record':
      return ['GET', 'POST', 'PUT', 'DELETE'];
    case 'store-root':
    case 'unknown':
      return undefined;
  }
}

/** `%XX` decoded as UTF-8; malformed escapes and escapes of invalid UTF-8 are refused (400). */
function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw invalid('INVALID_ARGUMENT', 'malformed percent-encoding in the path');
  }
}

/** Whether a request path (without its query) is Rivet's: `/login`, `/logout`, `/store`, and below them. */
export function isRivetPath(path: string): boolean {
  return ['/login', '/logout', '/store'].some((root) => path === root || path.startsWith(`${root}/`));
}

/**
 * What a Rivet path (see `isRivetPath`) addresses. The user and the key are percent-decoded;
 * the key keeps every `/` (an escaped `%2F` becomes one too: Echo's raw-path quirk is not
 * reproduced).
 */
export function matchRivetPath(path: string): RivetPath {
  if (path === '/login') return { kind: 'login' };
  if (path === '/logout') return { kind: 'logout' };
  if (path === '/store' || path === '/store/') return { kind: 'store-root' };
  if (!path.startsWith('/store/')) return { kind: 'unknown' };
  const rest = path.slice('/store/'.length);
  const slash = rest.indexOf('/');
  if (slash === -1) return { kind: 'keys', user: decode(rest) };
  return { kind: 'record', user: decode(rest.slice(0, slash)), key: decode(rest.slice(slash + 1)) };
}
