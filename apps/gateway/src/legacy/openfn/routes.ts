import type { IncomingMessage, ServerResponse } from 'node:http';
import { DomainError, invalid, type ErrorCode } from '@rosetta/core';
import type { Caller } from '../../auth/callers';
import { bearerCredential, exactBearerToken, unauthenticated } from '../../auth/credentials';
import { dialectStatuses, type HttpFailure } from '../../errors';
import { routeIs } from '../../http/observe';
import type { OpenFnOptions } from '../config';
import { pathOf, serve, type Dialect, type DialectContext, type DialectRoute } from '../dialect';
import type { Place } from '../store';
import { readParams, type Params } from './body';
import {
  countItems,
  deleteItem,
  deleteItems,
  getItem,
  listItems,
  postItems,
  putItem,
  type ItemsRequest,
} from './items';
import { isOpenFnName, isOpenFnPath, matchOpenFnPath, type OpenFnPath } from './paths';
import { BadQuery, parseLooseQuery } from './query';
import { AMBIGUOUS, BAD_REQUEST, errorBody, NOT_FOUND, UNAUTHORIZED } from './render';
import { send } from './respond';

const ROUTES: readonly DialectRoute[] = [
  ...['GET', 'POST', 'DELETE', 'HEAD'].map((method) => ({ method, path: '/collections/patients', public: false })),
  ...['GET', 'PUT', 'DELETE'].map((method) => ({ method, path: '/collections/patients/p-1', public: false })),
];

/** Statuses the dialect answers failures with, and their bodies (Phoenix's status texts). */
const BODIES = {
  400: BAD_REQUEST,
  401: UNAUTHORIZED,
  404: NOT_FOUND,
  413: errorBody('Request Entity Too Large'),
  429: errorBody('Too Many Requests'),
  500: errorBody('Internal Server Error'),
  503: errorBody('Service Unavailable'),
} as const;
type Status = keyof typeof BODIES;

/**
 * Lightning answers every failure to authenticate or to be allowed with 401 (never 403), and a
 * collection that vanished under a request with 404.
 */
const OPENFN_STATUS: Record<ErrorCode, Status> = dialectStatuses<Status>(
  { PERMISSION_DENIED: 401, SPACE_NOT_FOUND: 401, ACCOUNT_NOT_FOUND: 401, UNSUPPORTED_MEDIA_TYPE: 400 },
  [400, 401, 404, 413, 429, 503],
  500,
);

type Handler = (request: ItemsRequest, path: OpenFnPath & { name: string }) => Promise<void>;

const COLLECTION_HANDLERS: Readonly<Record<string, Handler>> = {
  GET: (request) => listItems(request),
  HEAD: (request) => countItems(request),
  POST: (request) => postItems(request),
  DELETE: (request) => deleteItems(request, patternOf(request)),
};

const ITEM_HANDLERS: Readonly<Record<string, Handler>> = {
  GET: (request, path) => getItem(request, keyOf(path)),
  PUT: (request, path) => putItem(request, keyOf(path)),
  DELETE: (request, path) => deleteItem(request, keyOf(path)),
};

const keyOf = (path: OpenFnPath) => (path.kind === 'item' ? path.key : '');

/** DELETE many takes `key` from the body, else from the query; a key that is not text is refused. */
function patternOf(request: ItemsRequest): string | undefined {
  const key = 'key' in request.params ? request.params.key : parseLooseQuery(request.rawQuery).key;
  if (key !== undefined && key !== null && typeof key !== 'string') {
    throw invalid('INVALID_ARGUMENT', 'key must be a string');
  }
  return key ?? undefined;
}

/** Whether the Accept header lets a JSON answer through (Phoenix's `accepts ["json"]`). */
function acceptsJson(req: IncomingMessage): boolean {
  const accept = req.headers.accept;
  if (accept === undefined || accept.trim() === '') return true;
  return accept.split(',').some((range) => {
    const type = range.split(';')[0]?.trim().toLowerCase();
    return type === '*/*' || type === 'application/*' || type === 'application/json';
  });
}

/** The caller: exactly one `Authorization: Bearer <token>` (an API token or a project's run token). */
async function openFnCaller(context: DialectContext, req: IncomingMessage): Promise<Caller> {
  const headers = req.rawHeaders.filter((_, i) => i % 2 === 0 && req.rawHeaders[i]?.toLowerCase() === 'authorization');
  const token = headers.length === 1 ? exactBearerToken(req.headers.authorization) : undefined;
  if (token === undefined) throw unauthenticated('Authorization must be one "Bearer <token>"');
  return context.callers.authenticate(`b ${token}`, () => bearerCredential(token), context.callers.clientAddress(req));
}

type Resolved = { readonly kind: 'found'; readonly place: Place } | { readonly kind: 'answered' };

/**
 * The collection a name (and `project_id`) means, as Lightning resolves it before any access
 * check: none is 404, several 409, one the caller may not read 401.
 */
async function resolve(
  context: DialectContext,
  caller: Caller,
  res: ServerResponse,
  name: string,
  projectId: string | undefined,
): Promise<Resolved> {
  const found = isOpenFnName(name)
    ? await context.api.collections.findCollections({ name, spaceId: projectId ?? '' }, { headers: caller.headers })
    : { matches: 0, collection: undefined };
  if (found.matches === 0) {
    send(res, 404, NOT_FOUND);
    return { kind: 'answered' };
  }
  if (found.matches > 1) {
    send(res, 409, AMBIGUOUS);
    return { kind: 'answered' };
  }
  if (found.collection === undefined) throw new DomainError('PERMISSION_DENIED', `no access to collection ${name}`);
  return { kind: 'found', place: { space: found.collection.space, collection: found.collection.collection } };
}

/** Query parsing failures are the caller's: a 400, not a bug. */
async function asBadRequest<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof BadQuery) throw invalid('INVALID_ARGUMENT', error.message);
    throw error;
  }
}

/**
 * One request, in Lightning's order: the route (404 for what none matches), Accept (406), the
 * body (400 when it does not parse, 413 when too large), the token (401), the collection (404,
 * 409, 401), then the route's own checks.
 */
async function route(
  context: DialectContext,
  options: OpenFnOptions,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = req.url ?? '';
  const path = matchOpenFnPath(pathOf(url));
  if (path.kind === 'malformed') return send(res, 400, BAD_REQUEST);
  if (path.kind === 'unknown') return send(res, 404, NOT_FOUND);
  routeIs(req, path.kind === 'collection' ? '/collections/:name' : '/collections/:name/:key');
  const handler = (path.kind === 'collection' ? COLLECTION_HANDLERS : ITEM_HANDLERS)[
    path.kind === 'item' && req.method === 'HEAD' ? 'GET' : (req.method ?? '')
  ];
  if (handler === undefined) return send(res, 404, NOT_FOUND);
  if (!acceptsJson(req)) return send(res, 406, errorBody('Not Acceptable'));
  const params: Params =
    req.method === 'GET' || req.method === 'HEAD' ? {} : await readParams(req, options.maxBodyBytes);
  const caller = await openFnCaller(context, req);
  const query = url.indexOf('?') === -1 ? '' : url.slice(url.indexOf('?') + 1);
  await asBadRequest(async () => {
    const resolved = await resolve(context, caller, res, path.name, parseLooseQuery(query).projectId);
    if (resolved.kind === 'answered') return;
    await handler({ context, options, req, res, caller, place: resolved.place, rawQuery: query, params }, path);
  });
}

/**
 * The OpenFn collections dialect (Lightning's `/collections` API). A project is a shared space
 * (its UUID is the `project_id`), a collection of it is a Rosetta collection of the same name,
 * and items are records in order of first creation. Collections are made through /v1.
 */
export function openFnDialect(context: DialectContext, options: OpenFnOptions): Dialect {
  return {
    name: 'openfn',
    routes: ROUTES,
    unauthenticatedStatus: 401,
    handle(req, res) {
      if (!isOpenFnPath(pathOf(req.url ?? ''))) return false;
      serve(
        context,
        req,
        res,
        () => route(context, options, req, res),
        (failure: HttpFailure) => {
          const status = OPENFN_STATUS[failure.code];
          const headers: Record<string, string> =
            failure.retryAfterSeconds === undefined ? {} : { 'retry-after': String(failure.retryAfterSeconds) };
          send(res, status, BODIES[status], headers);
        },
      );
      return true;
    },
  };
}
