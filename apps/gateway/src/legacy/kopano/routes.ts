import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpFailure } from '../../errors';
import { routeIs } from '../../http/observe';
import type { KopanoOptions } from '../config';
import { applyCors } from '../cors';
import { serve, type Dialect, type DialectContext, type DialectRoute } from '../dialect';
import { kopanoCaller } from './auth';
import { claimOf, kvsTarget, queryFlag, USER_PREFIX } from './paths';
import {
  deleteDocument,
  getDocument,
  KVS_COLLECTION,
  listDocuments,
  putBatch,
  putDocument,
  type KvsRequest,
} from './records';
import { EMPTY_ERROR, KOPANO_STATUS, NOT_FOUND_PAGE, sendEmpty, sendText } from './responses';

const SAMPLE = `${USER_PREFIX}notes/today`;
/** The route template of the user realm, for metrics and the access log. */
const KEY_ROUTE = `${USER_PREFIX}*key`;

function routesOf(options: KopanoOptions): DialectRoute[] {
  return [
    { method: 'GET', path: SAMPLE, public: false },
    { method: 'PUT', path: SAMPLE, public: false },
    { method: 'PUT', path: `${USER_PREFIX}notes?batch=1`, public: false },
    { method: 'DELETE', path: SAMPLE, public: false },
    { method: 'OPTIONS', path: SAMPLE, public: options.cors.enabled },
  ];
}

/** Runs the method of an authenticated request: GET, PUT and DELETE exist, anything else is 501. */
function dispatch(request: KvsRequest, query: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  switch (req.method) {
    case 'GET':
      return queryFlag(query, 'recurse')
        ? listDocuments(request, res)
        : getDocument(request, res, queryFlag(query, 'raw'));
    case 'PUT':
      return queryFlag(query, 'batch') ? putBatch(request, req, res) : putDocument(request, req, res);
    case 'DELETE':
      return deleteDocument(request, res);
    default:
      sendText(res, 501, EMPTY_ERROR);
      return Promise.resolve();
  }
}

/**
 * The Kopano kvs plugin (kapi `/api/kvs/v1`): one user realm of documents per account, kept in
 * the collection `kvs` of the caller's personal space, the record key being the full kvs key.
 * Order of the original: CORS, then routing (301 for unclean paths, 404 outside `/kv/user/`),
 * then the bearer token (403 for any failure), then the method.
 */
export function kopanoDialect(context: DialectContext, options: KopanoOptions): Dialect {
  const render = (res: ServerResponse) => (failure: HttpFailure) =>
    sendText(res, KOPANO_STATUS[failure.code], EMPTY_ERROR);

  function handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url ?? '';
    const claim = claimOf(url);
    if (claim === 'none') return false;
    if (claim === 'base') {
      sendText(res, 404, NOT_FOUND_PAGE);
      return true;
    }
    if (applyCors(options.cors, req, res)) return true;
    const target = kvsTarget(url);
    switch (target.kind) {
      case 'bad-request':
        sendText(res, 400, EMPTY_ERROR);
        return true;
      case 'redirect':
        sendEmpty(res, 301, { location: target.location });
        return true;
      case 'not-found':
        sendText(res, 404, NOT_FOUND_PAGE);
        return true;
      case 'key':
        routeIs(req, KEY_ROUTE);
        serve(
          context,
          req,
          res,
          async () => {
            const caller = await kopanoCaller(context, options, req);
            const place = { space: caller.principal.personalSpace, collection: KVS_COLLECTION };
            await dispatch({ context, caller, place, key: target.key }, target.query, req, res);
          },
          render(res),
        );
        return true;
    }
  }

  return { name: 'kopano-kvs', routes: routesOf(options), unauthenticatedStatus: 403, handle };
}
