import type { IncomingMessage, ServerResponse } from 'node:http';
import { invalid, validateSpaceName } from '@rosetta/core';
import type { Caller } from '../../auth/callers';
import { header } from '../../http/headers';
import { readBody } from '../../http/read-body';
import { routeIs } from '../../http/observe';
import { openStream } from '../../http/overload';
import { writeChunk } from '../../http/write-chunk';
import type { ProsodyOptions } from '../config';
import { applyCors } from '../cors';
import { pathOf, serve, type Dialect, type DialectContext, type DialectRoute } from '../dialect';
import { authenticate, jidOf } from './auth';
import { decodeUpload, isEmptyTable, LIST_FRAMING, render, storedEntry } from './documents';
import { MEDIA_TYPES, negotiateFormat } from './negotiate';
import { writeFailure, writePage } from './pages';
import {
  BASE_PATH,
  climbsAboveRoot,
  decodePath,
  formatOf,
  isDataPath,
  isOwnTarget,
  itemsOf,
  mayBeDataPath,
  targetOf,
  type DataFormat,
  type DataTarget,
  type JidParts,
} from './paths';
import {
  appendItem,
  clearStore,
  deleteDocument,
  getDocument,
  listItems,
  placeOf,
  putDocument,
  type StoreRef,
} from './stores';

/**
 * The route template of a path by its number of items (the caller's own store, with a format;
 * a host's user's store, with a format), for metrics and the access log.
 */
const ROUTE_TEMPLATES = [
  undefined,
  `${BASE_PATH}/:store`,
  `${BASE_PATH}/:store/:format`,
  `${BASE_PATH}/:host/:user/:store`,
  `${BASE_PATH}/:host/:user/:store/:format`,
] as const;

/** The methods the module's handler is reached with (Prosody routes HEAD to the GET handler). */
const HANDLED_METHODS = new Set(['GET', 'HEAD', 'PUT', 'POST', 'DELETE']);

/** mod_data_access's routes: each store, addressed as the caller's own or by host and user. */
function routesOf(options: ProsodyOptions): DialectRoute[] {
  return [
    ...['GET', 'PUT', 'POST', 'DELETE'].flatMap((method) => [
      { method, path: '/data/notes', public: false },
      { method, path: '/data/localhost/alice/notes', public: false },
    ]),
    { method: 'GET', path: '/data/notes/lua', public: false },
    ...(options.cors.enabled ? [{ method: 'OPTIONS', path: '/data/notes', public: true }] : []),
  ];
}

/** One request of the dialect, with what every step needs. */
interface DataRequest {
  readonly context: DialectContext;
  readonly options: ProsodyOptions;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
}

/** A request that got through authentication and the path checks: the store it addresses. */
interface StoreRequest extends DataRequest {
  readonly target: DataTarget;
  readonly ref: StoreRef;
}

const contentTypeOf = (format: DataFormat): string => `${MEDIA_TYPES[format]}; charset=utf-8`;

/** Whether the declared body is over the limit: refused before anything else, as Prosody's parser does. */
function declaresTooLargeBody(req: IncomingMessage, limit: number): boolean {
  const length = header(req, 'content-length');
  return length !== undefined && /^\d+$/.test(length.trim()) && Number(length) > limit;
}

/** Mod_http's answer to the base path without its slash: `/data/`, with the query kept. */
function redirectToBase(req: IncomingMessage, res: ServerResponse): void {
  const url = req.url ?? '';
  const query = url.indexOf('?');
  res.writeHead(301, { location: `${BASE_PATH}/${query === -1 ? '' : url.slice(query)}`, 'content-length': '0' });
  res.end();
}

/**
 * The space whose stores a target names: the caller's personal space for their own, the space
 * `<user>@<host>` for an admin's request on another account (INVALID_NAME, 404, when no account
 * can have that name; SPACE_NOT_FOUND, 404, later when none has), and PERMISSION_DENIED (403)
 * for anyone else's.
 */
function spaceOf(target: DataTarget, caller: Caller, jid: JidParts): string {
  if (isOwnTarget(target, jid)) return caller.principal.personalSpace;
  if (!caller.principal.admin) throw invalid('PERMISSION_DENIED', "only admins may use another account's data");
  const space = Buffer.from(`${target.user}@${target.host}`, 'latin1').toString('utf8');
  validateSpaceName(space);
  return space;
}

/** Where a stored document can be fetched again (Prosody's `module:http_url()` plus the path). */
function locationOf(request: StoreRequest): string {
  const { options, req, target } = request;
  const base = options.externalUrl ?? `http://${header(req, 'host') ?? options.host}`;
  return `${base.replace(/\/+$/, '')}${BASE_PATH}/${target.host}/${target.user}/${target.store}`;
}

/**
 * Streams a store's list (spec §4 and §6) as one table in append order, item by item as the
 * service sends them; 404 when it has no item.
 */
async function writeList(request: StoreRequest, format: DataFormat): Promise<void> {
  const { res, ref } = request;
  const framing = LIST_FRAMING[format];
  openStream(res);
  const items = listItems(ref);
  try {
    const first = await items.next();
    if (first.done === true) {
      writePage(res, 404);
      return;
    }
    res.writeHead(200, { 'content-type': contentTypeOf(format) });
    res.write(framing.open);
    res.write(framing.item(first.value));
    for await (const record of items) {
      const chunk = Buffer.concat([Buffer.from(framing.separator, 'latin1'), framing.item(record)]);
      if (!(await writeChunk(res, chunk))) return;
    }
    res.end(framing.close);
  } finally {
    await items.return(undefined);
  }
}

/**
 * GET (spec §4): the document, else the list, else 404. The URL's format item decides the
 * format (json, lua, anything else 404); without one, the Accept header does (406 when it
 * allows neither format).
 */
async function getStore(request: StoreRequest): Promise<void> {
  const { req, res, target } = request;
  const negotiated = target.format === undefined;
  if (negotiated) res.setHeader('vary', 'Accept');
  const format = negotiated ? negotiateFormat(header(req, 'accept')) : formatOf(target.format);
  if (format === undefined) {
    writePage(res, negotiated ? 406 : 404);
    return;
  }
  const document = await getDocument(request.ref);
  if (document === undefined) {
    await writeList(request, format);
    return;
  }
  const body = render(document, format);
  res.writeHead(200, { 'content-type': contentTypeOf(format), 'content-length': String(body.byteLength) });
  res.end(body);
}

/** The upload of a PUT or POST, decoded by its Content-Type (400 when it is not an accepted value). */
async function uploadOf(request: StoreRequest) {
  const body = await readBody(request.req, request.options.maxBodyBytes);
  return decodeUpload(header(request.req, 'content-type'), body);
}

function writeCreated(request: StoreRequest): void {
  request.res.writeHead(201, { location: locationOf(request), 'content-length': '0' });
  request.res.end();
}

/** PUT (spec §5): replaces the document; an empty table removes it, as Prosody deletes an empty file. */
async function putStore(request: StoreRequest): Promise<void> {
  const value = await uploadOf(request);
  if (isEmptyTable(value)) await deleteDocument(request.ref);
  else await putDocument(request.ref, storedEntry(value));
  writeCreated(request);
}

/** POST (spec §6): appends one item to the list. */
async function postStore(request: StoreRequest): Promise<void> {
  await appendItem(request.ref, storedEntry(await uploadOf(request)));
  writeCreated(request);
}

/** DELETE (spec §7): both the document and the list go; 204 whether or not anything was there. */
async function deleteStore(request: StoreRequest): Promise<void> {
  await clearStore(request.ref);
  request.res.writeHead(204);
  request.res.end();
}

const STORE_HANDLERS: Readonly<Record<string, (request: StoreRequest) => Promise<void>>> = {
  GET: getStore,
  PUT: putStore,
  POST: postStore,
  DELETE: deleteStore,
};

/**
 * The module's handler (spec §2–§7): Basic authentication first, then the path (404 for `/data/`
 * and bad store names), then the permission on another account's data (403), then the method
 * (HEAD, which the module does not handle, is 404).
 */
async function answerStore(request: DataRequest, items: readonly string[]): Promise<void> {
  const { context, options, req, res } = request;
  const authorization = header(req, 'authorization');
  if (authorization === undefined) {
    writePage(res, 401, { 'www-authenticate': `Basic realm="${options.host}/data_access"` });
    return;
  }
  const caller = await authenticate(context, req, authorization);
  const jid = jidOf(caller);
  const target = targetOf(items, jid);
  if (target === undefined) {
    writePage(res, 404);
    return;
  }
  const space = spaceOf(target, caller, jid);
  const handler = STORE_HANDLERS[req.method ?? ''];
  if (handler === undefined) {
    writePage(res, 404);
    return;
  }
  await handler({ ...request, target, ref: { context, caller, place: placeOf(space), store: target.store } });
}

/**
 * A request on the dialect's paths after CORS: what Prosody's HTTP server answers before the
 * module sees the request (a climbing path 400, an oversized body 413, `/data` 301, a method
 * without a route 404), then the module's handler.
 */
async function answer(request: DataRequest, path: string): Promise<void> {
  const { options, req, res } = request;
  const items = itemsOf(path);
  const template = path === BASE_PATH ? BASE_PATH : ROUTE_TEMPLATES[Math.min(items.length, 4)];
  if (template !== undefined) routeIs(req, template);
  if (climbsAboveRoot(path)) writePage(res, 400);
  else if (declaresTooLargeBody(req, options.maxBodyBytes)) writePage(res, 413);
  else if (path === BASE_PATH) redirectToBase(req, res);
  else if (!HANDLED_METHODS.has(req.method ?? '')) writePage(res, 404);
  else await answerStore(request, items);
}

/**
 * The Prosody mod_data_access dialect: `/data` and everything under it. Accounts are Rosetta
 * accounts with a host (`user@host` logins), and the stores of `<user>@<host>` live in the
 * collection `prosody` of that account's personal space (see stores.ts).
 */
export function prosodyDialect(context: DialectContext, options: ProsodyOptions): Dialect {
  return {
    name: 'prosody',
    routes: routesOf(options),
    unauthenticatedStatus: 401,
    handle(req, res) {
      const raw = pathOf(req.url ?? '');
      if (!mayBeDataPath(raw)) return false;
      const path = decodePath(raw);
      if (!isDataPath(path)) return false;
      if (applyCors(options.cors, req, res)) return true;
      const request = { context, options, req, res };
      serve(
        context,
        req,
        res,
        () => answer(request, path),
        (failure) => writeFailure(res, failure),
      );
      return true;
    },
  };
}
