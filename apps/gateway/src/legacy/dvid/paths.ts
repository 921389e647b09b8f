import { DvidError } from './errors';

/** The node-level actions of `/api/node/<uuid>/<action>`. */
export const NODE_ACTIONS = ['commit', 'status', 'newversion', 'branch', 'tag', 'note', 'log'] as const;
export type NodeAction = (typeof NODE_ACTIONS)[number];

/** `/api/<…>` routes that address no repo. */
export type ServerRoute =
  'server-info' | 'server-types' | 'compiled-types' | 'help' | 'heartbeat' | 'load' | 'repos' | 'repos-info';

/** A request path under `/api`, classified as DVID routes it. `path` is the decoded full path. */
export type DvidPath =
  | { readonly kind: 'server'; readonly route: ServerRoute; readonly path: string }
  /** `/api/help/<type>`. */
  | { readonly kind: 'type-help'; readonly typeName: string; readonly path: string }
  /** `/api/repo/<uuid>` (`root`: HEAD probes it) and `/api/repo/<uuid>/{info,instance,log}`. */
  | {
      readonly kind: 'repo';
      readonly action: 'root' | 'info' | 'instance' | 'log';
      readonly uuid: string;
      readonly path: string;
    }
  | {
      readonly kind: 'repo';
      readonly action: 'branch-versions';
      readonly uuid: string;
      readonly branch: string;
      readonly path: string;
    }
  | { readonly kind: 'node'; readonly action: NodeAction; readonly uuid: string; readonly path: string }
  | InstancePath
  /** No route: the dialect answers Go's `http.NotFound` (`404 page not found`). */
  | { readonly kind: 'not-found'; readonly path: string }
  /**
   * A malformed `%` escape (or one of invalid UTF-8, which our string keys cannot hold). Go's
   * server refuses such a request line itself, with 400 `400 Bad Request` in plain text.
   * `path` is the raw path here.
   */
  | { readonly kind: 'malformed'; readonly path: string };

/** `/api/node/<uuid>/<dataName>/<keyword>/<rest…>`: what a data instance handles. */
export interface InstancePath {
  readonly kind: 'instance';
  readonly uuid: string;
  readonly dataName: string;
  readonly keyword: string;
  /** The segments after the keyword; they may be empty strings (`/key//`). */
  readonly rest: readonly string[];
  readonly path: string;
}

const SERVER_ROUTES: ReadonlyMap<string, ServerRoute> = new Map([
  ['server/info', 'server-info'],
  ['server/types', 'server-types'],
  ['server/compiled-types', 'compiled-types'],
  ['help', 'help'],
  ['heartbeat', 'heartbeat'],
  ['load', 'load'],
  ['repos', 'repos'],
  ['repos/info', 'repos-info'],
]);

const isNodeAction = (action: string): action is NodeAction => (NODE_ACTIONS as readonly string[]).includes(action);

/**
 * Classifies a request path (without its query). DVID routes on Go's decoded `URL.Path`: the
 * whole path is percent-decoded first and only then split on `/`, so `%2F` separates segments
 * too. One trailing empty segment is dropped (a trailing slash is tolerated everywhere).
 * Route parameters (uuid, data name, keyword, …) never match an empty segment, as in goji.
 * `/api/node/<uuid>/<x>` is a node action; with a keyword after it, `<x>` is a data name, even
 * one spelled like an action (no instance can have such a name: see RESERVED_DATA_NAMES).
 */
export function parseDvidPath(rawPath: string): DvidPath {
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    return { kind: 'malformed', path: rawPath };
  }
  if (!path.startsWith('/api/')) return { kind: 'not-found', path };
  const segments = path.slice('/api/'.length).split('/');
  if (segments.length > 1 && segments[segments.length - 1] === '') segments.pop();
  const route = SERVER_ROUTES.get(segments.join('/'));
  if (route !== undefined) return { kind: 'server', route, path };
  if (segments.some((segment, i) => segment === '' && i < 3)) return { kind: 'not-found', path };
  const [head, id = '', action = '', keyword = '', ...rest] = segments;
  switch (head) {
    case 'help':
      return segments.length === 2 ? { kind: 'type-help', typeName: id, path } : { kind: 'not-found', path };
    case 'repo':
      return repoPath(segments, path);
    case 'node':
      if (segments.length === 3) {
        return isNodeAction(action) ? { kind: 'node', action, uuid: id, path } : { kind: 'not-found', path };
      }
      if (segments.length === 2 || keyword === '') return { kind: 'not-found', path };
      return { kind: 'instance', uuid: id, dataName: action, keyword, rest, path };
    default:
      return { kind: 'not-found', path };
  }
}

function repoPath(segments: readonly string[], path: string): DvidPath {
  const [, uuid = '', action = '', branch = ''] = segments;
  if (segments.length === 2) return { kind: 'repo', action: 'root', uuid, path };
  if (segments.length === 3 && (action === 'info' || action === 'instance' || action === 'log')) {
    return { kind: 'repo', action, uuid, path };
  }
  if (segments.length === 4 && action === 'branch-versions' && branch !== '') {
    return { kind: 'repo', action: 'branch-versions', uuid, branch, path };
  }
  return { kind: 'not-found', path };
}

/**
 * The key of `/key/<key>`: only the segment right after the keyword counts (`/key/a/b` is key
 * `a`, as in DVID). May be empty (`/key//`); refusing that is the caller's.
 */
export function keyOf(instance: InstancePath): string {
  const [key] = instance.rest;
  if (key === undefined) throw new DvidError(400, `expect key string to follow '${instance.keyword}' endpoint`);
  return key;
}

/** The inclusive bounds of `/keyrange/<k1>/<k2>` and `/keyrangevalues/<k1>/<k2>`. */
export function rangeOf(instance: InstancePath): { readonly first: string; readonly last: string } {
  const [first, last] = instance.rest;
  if (first === undefined || last === undefined) {
    throw new DvidError(400, `expect beginning and end keys to follow '${instance.keyword}' endpoint`);
  }
  return { first, last };
}

const SERVER_TEMPLATES: Readonly<Record<ServerRoute, string>> = {
  'server-info': '/api/server/info',
  'server-types': '/api/server/types',
  'compiled-types': '/api/server/compiled-types',
  help: '/api/help',
  heartbeat: '/api/heartbeat',
  load: '/api/load',
  repos: '/api/repos',
  'repos-info': '/api/repos/info',
};

const REPO_TEMPLATES = {
  root: '/api/repo/:uuid',
  info: '/api/repo/:uuid/info',
  instance: '/api/repo/:uuid/instance',
  log: '/api/repo/:uuid/log',
  'branch-versions': '/api/repo/:uuid/branch-versions/:branch',
} as const;

const NODE_TEMPLATES = Object.fromEntries(
  NODE_ACTIONS.map((action) => [action, `/api/node/:uuid/${action}`]),
) as Readonly<Record<NodeAction, string>>;

const INSTANCE = '/api/node/:uuid/:instance';
const INSTANCE_TEMPLATES: ReadonlyMap<string, string> = new Map([
  ['key', `${INSTANCE}/key/:key`],
  ['keys', `${INSTANCE}/keys`],
  ['keyrange', `${INSTANCE}/keyrange/:first/:last`],
  ['keyrangevalues', `${INSTANCE}/keyrangevalues/:first/:last`],
  ['keyvalues', `${INSTANCE}/keyvalues`],
  ['info', `${INSTANCE}/info`],
  ['tags', `${INSTANCE}/tags`],
  ['help', `${INSTANCE}/help`],
]);

/**
 * The route template of a classified path, for metrics and the access log: the repo, node,
 * instance and key are parameters, keywords outside the keyvalue type's one `:keyword`.
 * Undefined for paths that are no route (404, malformed).
 */
export function routeTemplateOf(path: DvidPath): string | undefined {
  switch (path.kind) {
    case 'server':
      return SERVER_TEMPLATES[path.route];
    case 'type-help':
      return '/api/help/:type';
    case 'repo':
      return REPO_TEMPLATES[path.action];
    case 'node':
      return NODE_TEMPLATES[path.action];
    case 'instance':
      return INSTANCE_TEMPLATES.get(path.keyword) ?? `${INSTANCE}/:keyword`;
    default:
      return undefined;
  }
}
