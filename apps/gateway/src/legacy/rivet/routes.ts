import type { IncomingMessage, ServerResponse } from 'node:http';
import { routeIs } from '../../http/observe';
import type { RivetOptions } from '../config';
import { applyCors } from '../cors';
import { pathOf, queryOf, serve, type Dialect, type DialectContext, type DialectRoute } from '../dialect';
import { isRivetPath, matchRivetPath, routedMethods, type RivetPath } from './paths';
import { parseListQuery } from './query';
import { createOrReplace, deleteKey, getValue, listKeys, placeOf, replace, type KeyRequest } from './records';
import { renderFailure, writeError } from './render';
import { login, logout, storeCaller } from './sessions';

/** Rivet's routes (phrozen/rivet): sessions by HTTP Basic, then each user's store by session. */
const ROUTES: readonly DialectRoute[] = [
  { method: 'GET', path: '/login', public: true },
  { method: 'GET', path: '/logout', public: true },
  { method: 'GET', path: '/store/alice', public: false },
  ...['GET', 'POST', 'PUT', 'DELETE'].map((method) => ({ method, path: '/store/alice/profile/bio', public: false })),
];

/** The route template of each kind of path, for metrics and the access log (`unknown` has none). */
const ROUTE_TEMPLATES: Readonly<Record<RivetPath['kind'], string | undefined>> = {
  login: '/login',
  logout: '/logout',
  'store-root': '/store',
  keys: '/store/:user',
  record: '/store/:user/*key',
  unknown: undefined,
};

const KEY_HANDLERS: Readonly<Record<string, (request: KeyRequest) => Promise<void>>> = {
  GET: getValue,
  POST: createOrReplace,
  PUT: replace,
  DELETE: deleteKey,
};

async function answer(context: DialectContext, req: IncomingMessage, res: ServerResponse, path: RivetPath) {
  switch (path.kind) {
    case 'unknown':
      writeError(req, res, 404);
      return;
    case 'login':
      return login(context, req, res);
    case 'logout':
      return logout(context, req, res);
    case 'store-root':
      await storeCaller(context, req, '');
      return;
    case 'keys': {
      const caller = await storeCaller(context, req, path.user);
      return listKeys(context, res, caller, placeOf(path.user), parseListQuery(queryOf(req.url ?? '')));
    }
    case 'record': {
      const caller = await storeCaller(context, req, path.user);
      const handler = KEY_HANDLERS[req.method ?? ''];
      if (handler === undefined) throw new Error(`no handler for ${req.method ?? ''} on a routed key path`);
      return handler({ context, req, res, caller, place: placeOf(path.user), key: path.key });
    }
  }
}

/**
 * Answers a Rivet request: the path decoded first (a malformed escape is 400, as Go refuses it
 * before routing), then a method the route lacks is 405 before any session check (Echo's router
 * answers it outside the group's middleware), then the route itself.
 */
async function route(context: DialectContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = matchRivetPath(pathOf(req.url ?? ''));
  const template = ROUTE_TEMPLATES[path.kind];
  if (template !== undefined) routeIs(req, template);
  const methods = routedMethods(path);
  if (methods !== undefined && !methods.includes(req.method ?? '')) {
    writeError(req, res, 405, { headers: { allow: methods.join(', ') } });
    return;
  }
  await answer(context, req, res, path);
}

/**
 * The Rivet dialect: `/login`, `/logout` and `/store/…`. Users are Rosetta accounts, sessions
 * are Rosetta sessions, and `/store/<user>` is the collection `rivet` of the space `<user>`
 * (the account's personal space); the record service decides who may use it.
 */
export function rivetDialect(context: DialectContext, options: RivetOptions): Dialect {
  return {
    name: 'rivet',
    routes: ROUTES,
    unauthenticatedStatus: 401,
    handle(req, res) {
      if (!isRivetPath(pathOf(req.url ?? ''))) return false;
      if (applyCors(options.cors, req, res)) return true;
      serve(
        context,
        req,
        res,
        () => route(context, req, res),
        (failure) => renderFailure(req, res, failure),
      );
      return true;
    },
  };
}
