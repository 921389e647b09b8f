import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { ErrorCode } from '@rosetta/core';
import type { Caller } from '../../auth/callers';
import { bearerCredential, unauthenticated } from '../../auth/credentials';
import { dialectStatuses, type HttpFailure } from '../../errors';
import { routeIs } from '../../http/observe';
import { readBody } from '../../http/read-body';
import type { DvidOptions } from '../config';
import { pathOf, queryOf, serve, type Dialect, type DialectContext, type DialectRoute } from '../dialect';
import { DvidError, plainError, renderDvidError, TEXT_CONTENT_TYPE } from './errors';
import { GENERAL_HELP_HTML, KEYVALUE_HELP } from './help';
import { instanceRoute } from './keyvalue';
import { KnownNodes } from './known-nodes';
import { parseDvidPath, routeTemplateOf, type DvidPath, type ServerRoute } from './paths';
import { nodeRoute, repoRoute, reposRoute } from './repos';
import { sendJson, sendText, type DvidRequest } from './request';
import { SERVER_TYPES, serverInfo } from './server-info';

const ROOT = 'aaaa0000000000000000000000000000';
const ROUTES: readonly DialectRoute[] = [
  ...['server/info', 'server/types', 'server/compiled-types', 'help', 'help/keyvalue', 'heartbeat', 'load'].map(
    (path) => ({ method: 'GET', path: `/api/${path}`, public: true }),
  ),
  { method: 'GET', path: '/api/repos/info', public: false },
  { method: 'POST', path: '/api/repos', public: false },
  { method: 'HEAD', path: `/api/repo/${ROOT}`, public: false },
  ...['GET', 'POST'].flatMap((method) =>
    ['info', 'log'].map((action) => ({ method, path: `/api/repo/${ROOT}/${action}`, public: false })),
  ),
  { method: 'POST', path: `/api/repo/${ROOT}/instance`, public: false },
  { method: 'GET', path: `/api/repo/${ROOT}/branch-versions/master`, public: false },
  ...['commit', 'status', 'note', 'log'].map((action) => ({
    method: 'GET',
    path: `/api/node/${ROOT}/${action}`,
    public: false,
  })),
  ...['commit', 'newversion', 'branch', 'note', 'log'].map((action) => ({
    method: 'POST',
    path: `/api/node/${ROOT}/${action}`,
    public: false,
  })),
  ...['GET', 'HEAD', 'POST', 'DELETE'].map((method) => ({ method, path: `/api/node/${ROOT}/kv/key/k`, public: false })),
  ...['info', 'tags', 'keys', 'keyrange/a/z', 'keyrangevalues/a/z', 'keyvalues', 'help'].map((keyword) => ({
    method: 'GET',
    path: `/api/node/${ROOT}/kv/${keyword}`,
    public: false,
  })),
  ...['tags', 'keyvalues'].map((keyword) => ({
    method: 'POST',
    path: `/api/node/${ROOT}/kv/${keyword}`,
    public: false,
  })),
];

/** DVID answers nearly every failure with 400; what it cannot be blamed for keeps its status. */
const DVID_STATUS: Record<ErrorCode, number> = dialectStatuses<number>({}, [400, 401, 403, 413, 429, 500, 503], 400);

const VERSION = (JSON.parse(readFileSync(join(__dirname, '../../../package.json'), 'utf8')) as { version: string })
  .version;

/** 404 as Go's `http.NotFound` writes it. */
const notFound = (res: ServerResponse) => plainError(res, 404, '404 page not found');

/**
 * The caller: a Rosetta bearer token, or, for requests without credentials, the configured
 * anonymous token (DVID clients send none).
 */
async function dvidCaller(context: DialectContext, options: DvidOptions, req: IncomingMessage): Promise<Caller> {
  const authorization = req.headers.authorization;
  let token: string | undefined;
  if (authorization !== undefined) {
    if (!/^bearer /i.test(authorization)) throw unauthenticated('Authorization must be "Bearer <token>"');
    token = authorization.slice(7).trim();
  } else {
    token = options.anonymousToken;
  }
  if (token === undefined || token === '') {
    throw unauthenticated('send "Authorization: Bearer <token>" (no anonymous access is configured)');
  }
  const credential = token;
  return context.callers.authenticate(
    `b ${credential}`,
    () => bearerCredential(credential),
    context.callers.clientAddress(req),
  );
}

function serverRoute(route: ServerRoute, res: ServerResponse, startedAt: Date, active: number): boolean {
  switch (route) {
    case 'server-info':
      sendJson(
        res,
        serverInfo({ startedAt, host: hostname(), note: 'Rosetta: DVID keyvalue dialect', version: VERSION }),
      );
      return true;
    case 'server-types':
    case 'compiled-types':
      sendJson(res, SERVER_TYPES);
      return true;
    case 'help':
      sendText(res, GENERAL_HELP_HTML, 'text/html');
      return true;
    case 'heartbeat':
      sendText(res, 'OK');
      return true;
    case 'load':
      sendJson(res, { 'active handlers': active });
      return true;
    default:
      return false;
  }
}

async function route(
  context: DialectContext,
  options: DvidOptions,
  req: IncomingMessage,
  res: ServerResponse,
  path: DvidPath,
  server: { startedAt: Date; active: number; knownNodes: KnownNodes },
): Promise<void> {
  const method = req.method ?? 'GET';
  switch (path.kind) {
    case 'malformed':
      return plainError(res, 400, '400 Bad Request');
    case 'not-found':
      return notFound(res);
    case 'type-help':
      if (path.typeName !== 'keyvalue') {
        throw new DvidError(400, `Data type "${path.typeName}" is not supported by current DVID server`);
      }
      return sendText(res, KEYVALUE_HELP);
    case 'server':
      if (serverRoute(path.route, res, server.startedAt, server.active)) return;
      break;
    default:
      break;
  }
  const caller = await dvidCaller(context, options, req);
  let body: Promise<Uint8Array> | undefined;
  const request: DvidRequest = {
    context,
    options,
    req,
    res,
    query: queryOf(req.url ?? ''),
    caller,
    call: { headers: caller.headers },
    space: options.space ?? caller.principal?.personalSpace ?? '',
    knownNodes: server.knownNodes,
    body: () => (body ??= readBody(req, options.maxBodyBytes)),
  };
  switch (path.kind) {
    case 'server':
      return reposRoute(request, path.route, method);
    case 'repo':
      return repoRoute(request, path, method);
    case 'node':
      return nodeRoute(request, path, method);
    case 'instance':
      return instanceRoute(request, path, method);
    default:
      return notFound(res);
  }
}

/**
 * The DVID dialect: DVID's repo, node and keyvalue API under `/api` (except Kopano's
 * `/api/kvs`, which that dialect answers first). A repo is a version DAG of a space, a
 * keyvalue instance a collection in it named `<name>@<repo root UUID>`. See docs/dialects.md.
 */
export function dvidDialect(context: DialectContext, options: DvidOptions): Dialect {
  const server = { startedAt: new Date(), active: 0, knownNodes: new KnownNodes() };
  return {
    name: 'dvid',
    routes: ROUTES,
    unauthenticatedStatus: 401,
    handle(req, res) {
      const raw = pathOf(req.url ?? '');
      if (!raw.startsWith('/api/')) return false;
      const path = parseDvidPath(raw);
      const template = routeTemplateOf(path);
      if (template !== undefined) routeIs(req, template);
      server.active += 1;
      res.once('close', () => (server.active -= 1));
      serve(
        context,
        req,
        res,
        () =>
          route(context, options, req, res, path, server).catch((error: unknown) => {
            if (!(error instanceof DvidError)) throw error;
            if (res.headersSent) res.destroy();
            else renderDvidError(res, error, path.path);
          }),
        (failure: HttpFailure) => {
          const status = DVID_STATUS[failure.code];
          const text = status === 400 ? `${failure.message} (${path.path}).\n` : `${failure.message}\n`;
          const headers: Record<string, string> = {
            'content-type': TEXT_CONTENT_TYPE,
            'x-content-type-options': 'nosniff',
            'content-length': String(Buffer.byteLength(text)),
          };
          if (failure.retryAfterSeconds !== undefined) headers['retry-after'] = String(failure.retryAfterSeconds);
          res.writeHead(status, headers);
          res.end(text);
        },
      );
      return true;
    },
  };
}
