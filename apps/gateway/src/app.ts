import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express, { type ErrorRequestHandler } from 'express';
import type { Logger } from '@rosetta/platform';
import type { RecordApi } from './clients/record-api';
import { respondWithError } from './errors';
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
export function createApp(deps: AppDeps): RequestListener {
  const { api, logger } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    try {
      await api.changes.tailPosition({}, { timeoutMs: 2000 });
      res.json({ status: 'ready' });
    } catch {
      res.status(503).json({ status: 'unavailable' });
    }
  });

  const table = new RouteTable();
  const singleRecord = singleRecords(table, api, { maxBodyBytes: deps.maxBodyBytes });
  recordRoutes(table, api, { maxBodyBytes: deps.maxBodyBytes });
  collectionRoutes(table, api);
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

  return (req: IncomingMessage, res: ServerResponse) => {
    if (!singleRecord(req, res, (error) => respondWithError(req, res, error, logger))) app(req, res);
  };
}
