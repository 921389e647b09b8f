import http2 from 'node:http2';
import type { Socket } from 'node:net';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { writeMetrics } from '@rosetta/platform';
import {
  AdminService,
  AuthService,
  bind,
  ChangeFeedService,
  CollectionService,
  createUnaryFastPath,
  HealthService,
  VersionService,
  RecordService,
  WebhookService,
  JobService,
  SnapshotService,
  UNARY_STREAM_WINDOW_BYTES,
  widenConnectionWindow,
} from '@rosetta/proto';
import type { ApiRuntime, ReadinessChecks } from '../runtime';

/**
 * HTTP/2 buffers of one session (one gateway or worker connection). Node's default, 10 MB, is
 * less than 64 concurrent streamed listings keep in flight; past it nghttp2 tears the whole
 * session down (ENHANCE_YOUR_CALM) and every call on it fails.
 */
const SESSION_MEMORY_MB = 256;

export interface RpcServerOptions {
  /** Largest message accepted or sent: a batch of values must fit. */
  readonly maxMessageBytes: number;
  /** The process's metrics (`startTelemetry`), served on `GET /metrics`; unset: 404 there. */
  readonly telemetry?: { scrape(): Promise<string> };
}

export interface RpcServer {
  readonly server: http2.Http2Server;
  /**
   * Stops taking connections, lets the streams in flight finish, and resolves once every
   * HTTP/2 session has closed. Clients (gateways, workers) keep their sessions open for ever,
   * so without a GOAWAY to each of them `server.close()` alone would never finish.
   */
  close(): Promise<void>;
}

/**
 * The record service over HTTP/2 cleartext. One server speaks Connect, gRPC and gRPC-Web on
 * the same port; plain Connect unary calls take the lean path (`createUnaryFastPath`), the rest
 * Connect's own handler. `/healthz` and `/readyz` answer plain GETs for health checks (`/readyz`
 * with each check: `{"status":"ready","checks":{"postgres":"ok","redis":"not configured"}}`,
 * 503 when one fails), and `/metrics` the process's metrics in Prometheus' text format.
 */
export function createRpcServer(runtime: ApiRuntime, options: RpcServerOptions): RpcServer {
  const handler = connectNodeAdapter({
    routes(router) {
      router.service(RecordService, runtime.impls.records);
      router.service(CollectionService, runtime.impls.collections);
      router.service(ChangeFeedService, runtime.impls.changes);
      router.service(AuthService, runtime.impls.auth);
      router.service(AdminService, runtime.impls.admin);
      router.service(HealthService, runtime.impls.health);
      router.service(VersionService, runtime.impls.versions);
      router.service(WebhookService, runtime.impls.webhooks);
      router.service(JobService, runtime.impls.jobs);
      router.service(SnapshotService, runtime.impls.snapshots);
    },
    readMaxBytes: options.maxMessageBytes,
    writeMaxBytes: options.maxMessageBytes,
    fallback(req, res) {
      const path = (req.url ?? '').split('?')[0];
      if (path === '/healthz') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"status":"ok"}');
        return;
      }
      if (path === '/readyz') {
        void runtime
          .checks()
          .catch((): ReadinessChecks => ({ postgres: 'failing', redis: 'failing' }))
          .then((checks) => {
            const ready = checks.postgres === 'ok' && checks.redis !== 'failing';
            res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' });
            res.end(JSON.stringify({ status: ready ? 'ready' : 'unavailable', checks }));
          });
        return;
      }
      const telemetry = options.telemetry;
      if (path === '/metrics' && telemetry !== undefined && (req.method === 'GET' || req.method === 'HEAD')) {
        writeMetrics(() => telemetry.scrape(), res, { head: req.method === 'HEAD' });
        return;
      }
      res.writeHead(404);
      res.end();
    },
  });
  const fastPath = createUnaryFastPath(
    [
      bind(RecordService, runtime.impls.records),
      bind(CollectionService, runtime.impls.collections),
      bind(ChangeFeedService, runtime.impls.changes),
      bind(AuthService, runtime.impls.auth),
      bind(AdminService, runtime.impls.admin),
      bind(HealthService, runtime.impls.health),
      bind(VersionService, runtime.impls.versions),
      bind(WebhookService, runtime.impls.webhooks),
      bind(JobService, runtime.impls.jobs),
      bind(SnapshotService, runtime.impls.snapshots),
    ],
    { maxMessageBytes: options.maxMessageBytes },
  );
  const server = http2.createServer(
    // Requests are read whole: a batch of values arrives in one round trip (@rosetta/proto's windows.ts).
    { maxSessionMemory: SESSION_MEMORY_MB, settings: { initialWindowSize: UNARY_STREAM_WINDOW_BYTES } },
    (req, res) => {
      if (!fastPath(req, res)) handler(req, res);
    },
  );
  // Without TCP_NODELAY, small responses wait for the peer's delayed ACK: ~40 ms per call.
  server.on('connection', (socket: Socket) => socket.setNoDelay(true));
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    widenConnectionWindow(session);
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  return {
    server,
    close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of sessions) session.close();
      return closed;
    },
  };
}
