import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { writeMetrics, type Logger } from '@rosetta/platform';

/** One readiness check's result. */
export type CheckState = 'ok' | 'failing';

/** The worker's readiness checks: Redis connected, the record service answering, the BullMQ workers running. */
export interface ReadinessChecks {
  readonly redis: CheckState;
  readonly api: CheckState;
  readonly worker: CheckState;
}

export interface HealthServerOptions {
  readonly host: string;
  readonly port: number;
  /** The readiness checks; ready when every one is ok. A rejection counts as every check failing. */
  readonly checks: () => Promise<ReadinessChecks>;
  /** Every metric of the process in Prometheus' text format, served on `/metrics`; none without. */
  readonly scrape?: (() => Promise<string>) | undefined;
  readonly logger: Logger;
}

export interface HealthServer {
  /** Base URL the server listens on (with the real port when 0 was asked for). */
  readonly url: string;
  close(): Promise<void>;
}

const FAILING: ReadinessChecks = { redis: 'failing', api: 'failing', worker: 'failing' };

/** Whether every check passed. */
export const isReady = (checks: ReadinessChecks): boolean => Object.values(checks).every((state) => state === 'ok');

function reply(res: http.ServerResponse, status: number, body: object): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/**
 * The worker's only HTTP surface, for orchestrators and Prometheus: `GET /healthz` says the
 * process is alive, `GET /readyz` whether it can work (200) or not (503) and which check fails,
 * `GET /metrics` the process's metrics (when `scrape` is given).
 */
export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const { checks, scrape, logger } = options;
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (req.method === 'GET' && path === '/healthz') {
      reply(res, 200, { status: 'ok' });
    } else if (req.method === 'GET' && path === '/readyz') {
      checks()
        .catch((error: unknown) => {
          logger.debug({ err: error }, 'readiness check failed');
          return FAILING;
        })
        .then((found) => {
          const ready = isReady(found);
          reply(res, ready ? 200 : 503, { status: ready ? 'ready' : 'unavailable', checks: found });
        })
        .catch((error: unknown) => logger.warn({ err: error }, 'readiness response failed'));
    } else if (req.method === 'GET' && path === '/metrics' && scrape !== undefined) {
      writeMetrics(scrape, res, { onError: (error) => logger.warn({ err: error }, 'metrics collection failed') });
    } else {
      reply(res, 404, { status: 'not found' });
    }
  });
  server.listen(options.port, options.host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error === undefined ? resolve() : reject(error)));
        // Keep-alive sockets would otherwise hold close() open until they time out.
        server.closeAllConnections();
      }),
  };
}
