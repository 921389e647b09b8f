import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@rosetta/platform';

export interface HealthServerOptions {
  readonly host: string;
  readonly port: number;
  /** Whether the worker can do its work now; a rejection counts as not ready. */
  readonly ready: () => Promise<boolean>;
  readonly logger: Logger;
}

export interface HealthServer {
  /** Base URL the server listens on (with the real port when 0 was asked for). */
  readonly url: string;
  close(): Promise<void>;
}

function reply(res: http.ServerResponse, status: number, body: object): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/**
 * The worker's only HTTP surface, for orchestrators: `GET /healthz` says the process is alive,
 * `GET /readyz` says whether it can relay (200) or not (503).
 */
export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const { ready, logger } = options;
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (req.method !== 'GET' || (path !== '/healthz' && path !== '/readyz')) {
      reply(res, 404, { status: 'not found' });
      return;
    }
    if (path === '/healthz') {
      reply(res, 200, { status: 'ok' });
      return;
    }
    ready()
      .catch((error: unknown) => {
        logger.debug({ err: error }, 'readiness check failed');
        return false;
      })
      .then((isReady) => reply(res, isReady ? 200 : 503, { status: isReady ? 'ready' : 'unavailable' }))
      .catch((error: unknown) => logger.warn({ err: error }, 'readiness response failed'));
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
