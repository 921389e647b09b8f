import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import express, { type ErrorRequestHandler } from 'express';
import type { Logger, SnapshotStore, Telemetry } from '@rosetta/platform';
import { Callers } from './auth/callers';
import { authenticateV1 } from './auth/credentials';
import { withFreshGrants } from './clients/fresh-grants';
import type { RecordApi } from './clients/record-api';
import type { LeaseCache } from './clients/lease-cache';
import { RecordReader } from './clients/record-reader';
import { RecordWriter } from './clients/record-writer';
import { respondWithError } from './errors';
import type { ChangeEvents } from './events/change-events';
import { CollectionFeed } from './events/collection-feed';
import { DEFAULT_GRAPHQL_OPTIONS, graphqlEndpoint, type GraphQLOptions } from './graphql/endpoint';
import { GRAPHQL_PATH } from './graphql/http';
import { RequestObserver, routeIs, unmatched, type DialectLabel } from './http/observe';
import { setSecurityHeaders } from './http/security-headers';
import { withServerTiming } from './http/server-timing';
import { applyCors } from './legacy/cors';
import { rivetWatch } from './legacy/rivet/watch';
import { legacyDialects, legacyOptions, type DialectRoute, type LegacyOptions } from './legacy';
import { accessRoutes } from './v1/access';
import { changeRoutes } from './v1/changes';
import { collectionRoutes } from './v1/collections';
import { jobRoutes } from './v1/jobs';
import { openApiDocument } from './v1/openapi';
import { singleRecords } from './v1/single-records';
import { recordRoutes } from './v1/records';
import { snapshotRoutes } from './v1/snapshots';
import { versionRoutes } from './v1/versions';
import { webhookRoutes } from './v1/webhooks';
import { RouteTable } from './v1/route';

export interface AppDeps {
  readonly api: RecordApi;
  readonly logger: Logger;
  /** Largest request body (bytes). */
  readonly maxBodyBytes: number;
  /** Proxies whose X-Forwarded-For names the client (TRUST_PROXY); none when unset. */
  readonly trustedProxies?: readonly string[];
  /** Options of the legacy dialects; their defaults when unset. */
  readonly legacy?: LegacyOptions;
  /** Limits of the GraphQL API; its defaults when unset. */
  readonly graphql?: GraphQLOptions;
  /** Records held under read leases (see LeaseCache); without it, every read goes to the record service. */
  readonly leases?: LeaseCache;
  /** Live change events for GraphQL subscriptions; without them, subscribing answers UNAVAILABLE. */
  readonly events?: ChangeEvents;
  /**
   * The snapshot store (SNAPSHOT_DIR): snapshots are downloaded from it, and their objects deleted
   * in it with them; without it, downloading and deleting snapshots answer UNAVAILABLE.
   */
  readonly snapshots?: SnapshotStore;
  /**
   * The process's telemetry: `GET /metrics` is answered with its scrape (unauthenticated: keep
   * the port behind the network). Without it, /metrics is 404. The request metrics are recorded
   * either way, on the global meter (start telemetry before creating the app).
   */
  readonly telemetry?: Pick<Telemetry, 'serveMetrics'>;
  /** One `request` line per request at info level (ACCESS_LOG); true when unset. */
  readonly accessLog?: boolean;
  /**
   * A Server-Timing header on every response (SERVER_TIMING; see http/server-timing.ts); false
   * when unset. Its `db`, `cache` and `api` need the record-api client made with `serverTiming`.
   */
  readonly serverTiming?: boolean;
}

/** The `dialect` label of each legacy dialect. */
const DIALECT_LABELS: Readonly<Record<string, DialectLabel>> = {
  'kopano-kvs': 'kopano',
  rivet: 'rivet',
  prosody: 'prosody',
  openfn: 'openfn',
  dvid: 'dvid',
};

/** The route template of the single-record routes (the Express path of the same records). */
const RECORD_ROUTE = '/v1/spaces/:space/collections/:collection/records/*key';

/** The paths Express serves that are the gateway's own business, not an API's. */
const META_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics', '/v1/openapi.json']);

/** The dialect of a request left to Express, by its URL: /v1, GraphQL (GraphiQL's assets) or meta. */
function expressDialect(url: string): DialectLabel {
  const query = url.indexOf('?');
  const path = query === -1 ? url : url.slice(0, query);
  if (META_PATHS.has(path)) return 'meta';
  if (path.startsWith('/v1/')) return 'v1';
  return path.startsWith(`${GRAPHQL_PATH}/`) ? 'graphql' : 'meta';
}

type Check = 'ok' | 'failing';

/** Whether the record service answers its health check, within 2 s. */
async function apiReady(api: RecordApi): Promise<Check> {
  try {
    const { ready } = await api.health.check({}, { timeoutMs: 2000 });
    return ready ? 'ok' : 'failing';
  } catch {
    return 'failing';
  }
}

/** Whether the Redis of the change events answers; `not configured` without one (no bus, or an in-process one). */
async function eventsReady(events: ChangeEvents | undefined): Promise<Check | 'not configured'> {
  if (events?.ready === undefined) return 'not configured';
  try {
    return (await events.ready(2000)) ? 'ok' : 'failing';
  } catch {
    return 'failing';
  }
}

/** A route of a legacy dialect, for the test that walks them all. */
export interface LegacyRoute extends DialectRoute {
  readonly dialect: string;
  readonly unauthenticatedStatus: number;
}

/**
 * The gateway as one request listener, without listening (tests drive it with supertest).
 * Reads and writes of one record, and the legacy dialects, are answered before Express (see
 * v1/single-records.ts and legacy/); everything else goes through the Express app and its
 * route table.
 */
export function createApp(deps: AppDeps): RequestListener & {
  readonly routes: RouteTable['routes'];
  readonly legacyRoutes: readonly LegacyRoute[];
  /** Takes an HTTP upgrade (GraphQL over WebSocket); false when no route wants it. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** Ends what outlives requests: WebSockets, the GraphQL server. */
  close(): Promise<void>;
  /** The client's address (X-Forwarded-For from trusted proxies), for the server's per-client limits. */
  clientAddress(req: IncomingMessage): string;
} {
  const { logger } = deps;
  const callers = new Callers(deps.api.auth, deps.trustedProxies);
  const api = withFreshGrants(deps.api, callers);
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const [apiCheck, redisCheck] = await Promise.all([apiReady(api), eventsReady(deps.events)]);
    const ready = apiCheck === 'ok' && redisCheck !== 'failing';
    res
      .status(ready ? 200 : 503)
      .json({ status: ready ? 'ready' : 'unavailable', checks: { api: apiCheck, redis: redisCheck } });
  });
  const { telemetry } = deps;
  if (telemetry !== undefined) app.get('/metrics', (req, res) => telemetry.serveMetrics(req, res));

  const authenticate = (req: IncomingMessage) => authenticateV1(callers, req);
  const table = new RouteTable(authenticate);
  const reader = new RecordReader(api.records, {
    serverTiming: deps.serverTiming === true,
    ...(deps.leases === undefined ? {} : { leases: deps.leases }),
  });
  // Change readers wake on the event bus and read again every 2 s regardless (every 250 ms
  // without a bus).
  const feed = new CollectionFeed(api, deps.events, deps.events === undefined ? 250 : 2000);
  const writer = new RecordWriter(api.records, { serverTiming: deps.serverTiming === true });
  const singleRecord = singleRecords(table, api, authenticate, { reader, writer, maxBodyBytes: deps.maxBodyBytes });
  const options = deps.legacy ?? legacyOptions({});
  const watchRivet = rivetWatch({ api, callers, reader, writer, logger, maxBodyBytes: deps.maxBodyBytes }, feed);
  const dialects = legacyDialects({ api, callers, reader, writer, logger, maxBodyBytes: deps.maxBodyBytes }, options);
  const v1Cors = options.v1Cors;
  const snapshotObjects = deps.snapshots === undefined ? undefined : { store: deps.snapshots, logger };
  recordRoutes(table, api, { maxBodyBytes: deps.maxBodyBytes });
  collectionRoutes(table, api);
  versionRoutes(table, api);
  webhookRoutes(table, api);
  jobRoutes(table, api);
  snapshotRoutes(table, api, snapshotObjects);
  changeRoutes(table, feed);
  accessRoutes(table, api, callers);
  const graphql = graphqlEndpoint({
    api,
    reader,
    callers,
    feed,
    logger,
    maxBodyBytes: deps.maxBodyBytes,
    options: deps.graphql ?? DEFAULT_GRAPHQL_OPTIONS,
    snapshots: snapshotObjects,
  });
  app.use(graphql.router);
  const document = JSON.stringify(openApiDocument(table));
  app.get('/v1/openapi.json', (_req, res) => {
    res.type('application/json').send(document);
  });
  app.use(table.router);

  app.use((req, res) => {
    unmatched(req);
    res.status(404).json({ error: { code: 'ROUTE_NOT_FOUND', message: `no route for ${req.method} ${req.path}` } });
  });
  const onError: ErrorRequestHandler = (error: unknown, req, res, _next) => respondWithError(req, res, error, logger);
  app.use(onError);

  const observer = new RequestObserver({
    logger,
    accessLog: deps.accessLog ?? true,
    clientAddress: (req) => callers.clientAddress(req),
  });
  const labelled = dialects.map((dialect) => {
    const label = DIALECT_LABELS[dialect.name];
    if (label === undefined) throw new Error(`no metrics label for the dialect ${dialect.name}`);
    return { dialect, label };
  });
  // Each way in names its dialect (and, where it has one route, its route) once it took the
  // request; the legacy dialects and Express name their routes themselves.
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    setSecurityHeaders(req, res);
    observer.begin(req, res);
    if (v1Cors.enabled && req.url?.startsWith('/v1/') === true && applyCors(v1Cors, req, res)) {
      observer.dispatched(req, 'v1');
      return;
    }
    if (singleRecord(req, res, (error) => respondWithError(req, res, error, logger))) {
      routeIs(req, RECORD_ROUTE);
      observer.dispatched(req, 'v1');
      return;
    }
    if (graphql.handle(req, res)) {
      routeIs(req, GRAPHQL_PATH);
      observer.dispatched(req, 'graphql');
      return;
    }
    for (const { dialect, label } of labelled) {
      if (dialect.handle(req, res)) {
        observer.dispatched(req, label);
        return;
      }
    }
    observer.dispatched(req, expressDialect(req.url ?? ''));
    app(req, res);
  };
  const legacyRoutes = dialects.flatMap((d) =>
    d.routes.map((route) => ({ ...route, dialect: d.name, unauthenticatedStatus: d.unauthenticatedStatus })),
  );
  return Object.assign(deps.serverTiming === true ? withServerTiming(listener) : listener, {
    routes: table.routes,
    legacyRoutes,
    upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      graphql.upgrade(req, socket, head) || watchRivet(req, socket, head),
    close: graphql.close,
    clientAddress: (req: IncomingMessage) => callers.clientAddress(req),
  });
}
