import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express, { type ErrorRequestHandler } from 'express';
import type { Logger } from '@rosetta/platform';
import { Callers } from './auth/callers';
import { authenticateV1 } from './auth/credentials';
import type { RecordApi } from './clients/record-api';
import { respondWithError } from './errors';
import { accessRoutes } from './v1/access';
import { collectionRoutes } from './v1/collections';
import { openApiDocument } from './v1/openapi';
import { singleRecords } from './v1/single-records';
import { recordRoutes } from './v1/records';
import { RouteTable } from './v1/route';

export interface AppDeps {
  readonly api: RecordApi;
  readonly logger: Logger;
  /** Largest request body (bytes). */
  readonly maxBodyBytes: number;
}

/**
 * The gateway as one request listener, without listening (tests drive it with supertest).
 * Reads and writes of one record are answered before Express (see v1/single-records.ts);
 * everything else goes through the Express app and its route table.
 */
export function createApp(deps: AppDeps): RequestListener & { readonly routes: RouteTable['routes'] } {
  const { api, logger } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    try {
      const { ready } = await api.health.check({}, { timeoutMs: 2000 });
      res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'unavailable' });
    } catch {
      res.status(503).json({ status: 'unavailable' });
    }
  });

  const callers = new Callers(api.auth);
  const authenticate = (req: IncomingMessage) => authenticateV1(callers, req);
  const table = new RouteTable(authenticate);
  const singleRecord = singleRecords(table, api, authenticate, { maxBodyBytes: deps.maxBodyBytes });
  recordRoutes(table, api, { maxBodyBytes: deps.maxBodyBytes });
  collectionRoutes(table, api);
  accessRoutes(table, api);
  const document = JSON.stringify(openApiDocument(table));
  app.get('/v1/openapi.json', (_req, res) => {
    res.type('application/json').send(document);
  });
  app.use(table.router);

  app.use((req, res) => {
    res.status(404).json({ error: { code: 'ROUTE_NOT_FOUND', message: `no route for ${req.method} ${req.path}` } });
  });
  const onError: ErrorRequestHandler = (error: unknown, req, res, _next) => respondWithError(req, res, error, logger);
  app.use(onError);

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    if (!singleRecord(req, res, (error) => respondWithError(req, res, error, logger))) app(req, res);
  };
  return Object.assign(listener, { routes: table.routes });
}
