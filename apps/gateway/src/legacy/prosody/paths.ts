import { MAX_KEY_BYTES } from '@rosetta/core';

/** Where mod_data_access is mounted (Prosody's default `http_paths`). */
export const BASE_PATH = '/data';

/** The formats a GET can be asked for in the URL's fourth item. */
export type DataFormat = 'json' | 'lua';

/**
 * A request path as Prosody's HTTP parser hands it on: runs of `/` collapsed, then `%XX`
 * escapes decoded to bytes (one char per byte, like the rest of the dialect's byte strings; `+`
 * stays `+`, a malformed escape stays as written). Collapsing comes first, as in Prosody, so
 * `%2F%2F` still yields an empty item, which the item split drops.
 */
export function decodePath(raw: string): string {
  const collapsed = raw.replace(/\/{2,}/g, '/');
  const decoded = collapsed.includes('%')
    ? collapsed.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
    : collapsed;
  return decoded.startsWith('/') ? decoded : `/${decoded}`;
}

/**
 * Whether a decoded path climbs above the root with `..` (Prosody answers 400). As in Prosody,
 * only the components followed by a `/` are counted: `.` is neutral, `..` goes up one level,
 * anything else down one, and going below zero anywhere is the climb.
 */
export function climbsAboveRoot(path: string): boolean {
  const components = path.split('/').slice(0, -1);
  let level = 0;
  for (const component of components) {
    if (component === '' || component === '.') continue;
    level += component === '..' ? -1 : 1;
    if (level < 0) return true;
  }
  return false;
}

/** Whether a decoded path is the dialect's: `/data` itself or anything under `/data/`. */
export const isDataPath = (path: string): boolean => path === BASE_PATH || path.startsWith(`${BASE_PATH}/`);

/**
 * Whether a raw request path may decode to one of ours; a cheap test that lets every other
 * request through without decoding its path.
 */
export const mayBeDataPath = (raw: string): boolean =>
  raw.startsWith(BASE_PATH) || raw.startsWith('//') || raw.includes('%');

/** The non-empty `/`-separated items after `/data/`, as the module's handler receives them. */
export const itemsOf = (path: string): string[] =>
  path
    .slice(BASE_PATH.length + 1)
    .split('/')
    .filter((item) => item !== '');

/** Store names: Lua's `^%a[%a_]*$`-like rule of the module, `^[A-Za-z_]+$` (no digits, `-` or `.`). */
const STORE_NAME = /^[A-Za-z_]+$/;

/**
 * The longest store name: its list items are keyed `<store>/<36-character id>`, and keys are at
 * most 1024 bytes. Prosody has no limit of its own (its file system has one); longer names are
 * answered like any other name the module refuses (404).
 */
export const MAX_STORE_NAME = MAX_KEY_BYTES - 37;

/** The account (as byte strings, like the path items) a request authenticated as. */
export interface JidParts {
  readonly host: string;
  readonly node: string;
}

/** The store a path addresses: `host/user/store[/format]`; format is the raw 4th item, if any. */
export interface DataTarget {
  readonly host: string;
  readonly user: string;
  readonly store: string;
  readonly format: string | undefined;
}

/**
 * The store a request's items address (spec §2): fewer than three items are the caller's own
 * (their host and node prepended), so `/data/notes/lua` is the caller's `notes` in Lua; three or
 * more are `host/user/store/format`, items after the fourth ignored. Undefined (404) for
 * `/data/` itself and for a store name the module refuses.
 */
export function targetOf(items: readonly string[], caller: JidParts): DataTarget | undefined {
  const full = items.length < 3 ? [caller.host, caller.node, ...items] : items;
  const [host, user, store, format] = full;
  if (host === undefined || user === undefined || store === undefined) return undefined;
  if (store.length > MAX_STORE_NAME || !STORE_NAME.test(store)) return undefined;
  return { host, user, store, format };
}

/** Whether a target is the caller's own store: the path's host and user, compared exactly. */
export const isOwnTarget = (target: DataTarget, caller: JidParts): boolean =>
  target.host === caller.host && target.user === caller.node;

/** The URL's format item: `json`, `lua`, or undefined for any other (404). */
export function formatOf(item: string): DataFormat | undefined {
  return item === 'json' || item === 'lua' ? item : undefined;
}
