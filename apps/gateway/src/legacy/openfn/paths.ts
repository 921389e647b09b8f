/**
 * The paths of the OpenFn collections API, routed as Phoenix routes them: the path splits on
 * `/` with empty segments dropped, each segment is percent-decoded on its own (so `%2F` puts a
 * `/` inside a key), and anything but `/collections/<name>` or `/collections/<name>/<key>` is a
 * route that does not exist.
 */
export type OpenFnPath =
  | { readonly kind: 'collection'; readonly name: string }
  | { readonly kind: 'item'; readonly name: string; readonly key: string }
  | { readonly kind: 'unknown' }
  | { readonly kind: 'malformed' };

/** Lightning's "URL safe" collection names: lowercase letters and digits, single `-`, `_` or `.` between. */
const COLLECTION_NAME = /^[a-z0-9]+(?:[-_.][a-z0-9]+)*$/;

export const isOpenFnName = (name: string): boolean => COLLECTION_NAME.test(name);

/** Whether a request path belongs to this dialect. */
export const isOpenFnPath = (path: string): boolean => path === '/collections' || path.startsWith('/collections/');

export function matchOpenFnPath(path: string): OpenFnPath {
  const segments: string[] = [];
  for (const raw of path.split('/')) {
    if (raw === '') continue;
    try {
      segments.push(decodeURIComponent(raw));
    } catch {
      // A malformed escape, or one that decodes to invalid UTF-8: Plug refuses the request.
      return { kind: 'malformed' };
    }
  }
  const [root, name, key] = segments;
  if (root !== 'collections' || name === undefined || segments.length > 3) return { kind: 'unknown' };
  return key === undefined ? { kind: 'collection', name } : { kind: 'item', name, key };
}
