import express, { type ErrorRequestHandler, type Express } from 'express';
import type { Logger } from '@rosetta/platform';
import { randomUUID } from 'node:crypto';
import type { RecordApi } from './clients/record-api';
import { toHttpFailure, type HttpFailure } from './errors';
import { collectionRoutes } from './v1/collections';
import { openApiDocument } from './v1/openapi';
import { recordRoutes } from './v1/records';
import { RouteTable } from './v1/route';

export interface AppDeps {
  readonly api: RecordApi;
  readonly logger: Logger;
  /** Largest request body (bytes). */
  readonly maxBodyBytes: number;
}

/** Errors of the body parsers (the `http-errors` they throw carry a `type`). */
function bodyParserFailure(error: unknown): HttpFailure | undefined {
  const type = (error as { type?: unknown } | null)?.type;
  switch (type) {
    case 'entity.too.large':
      return { code: 'VALUE_TOO_LARGE', status: 413, message: 'request body is too large', unexpected: false };
    case 'entity.parse.failed':
      return { code: 'INVALID_ARGUMENT', status: 400, message: 'request body is not valid JSON', unexpected: false };
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return { code: 'UNSUPPORTED_MEDIA_TYPE', status: 415, message: 'unsupported body encoding', unexpected: false };
    case 'request.aborted':
      return { code: 'INVALID_ARGUMENT', status: 400, message: 'request aborted', unexpected: false };
    default:
      return undefined;
  }
}

/** The gateway's Express app, without listening: tests drive it directly. */
export function createApp(deps: AppDeps): Express {
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

  const onError: ErrorRequestHandler = (error: unknown, req, res, _next) => {
    const failure = bodyParserFailure(error) ?? toHttpFailure(error);
    let message = failure.message;
    if (failure.unexpected) {
      const errorId = randomUUID();
      logger.error({ err: error, errorId, method: req.method, path: req.path }, 'request failed');
      message = `${message} (error id ${errorId})`;
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (failure.status === 503) res.set('retry-after', '1');
    res.status(failure.status).json({ error: { code: failure.code, message } });
  };
  app.use(onError);
  return app;
}
