import { once } from 'node:events';
import { createServer, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { DEFAULT_SERVER_LIMITS, OverloadGate, type ServerLimits } from './http/overload';

/** A request listener that may also take upgrades (WebSockets) and hold things to close. */
export type HttpApp = RequestListener & {
  upgrade?(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  close?(): Promise<void>;
  /** The client's address for per-client limits (X-Forwarded-For from trusted proxies); the socket's peer when absent. */
  clientAddress?(req: IncomingMessage): string;
};

export interface HttpServer {
  readonly server: Server;
  /** The URL it listens on (with the real port when 0 was asked for). */
  readonly url: string;
  /** Stops accepting, lets in-flight requests finish, drops idle keep-alive connections, and closes the app (its WebSockets). */
  close(): Promise<void>;
}

/**
 * Serves the app with the limits of slow clients and overload (see http/overload.ts): headers
 * and whole requests must arrive in time (Node answers 408 and closes), idle keep-alive
 * connections are dropped, and the gate sheds requests past its caps before the app sees them.
 */
export async function startHttpServer(
  app: HttpApp,
  host: string,
  port: number,
  limits: ServerLimits = DEFAULT_SERVER_LIMITS,
): Promise<HttpServer> {
  const gate = new OverloadGate(limits, (req) => app.clientAddress?.(req) ?? req.socket.remoteAddress ?? 'unknown');
  // Node refuses a headers timeout longer than the request timeout.
  const headersTimeout = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs);
  const server = createServer(
    {
      headersTimeout,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // How often both timeouts are checked: a quarter of the shorter, at most every second.
      connectionsCheckingInterval: Math.min(1000, Math.max(10, Math.floor(headersTimeout / 4))),
    },
    (req, res) => {
      if (gate.admit(req, res)) app(req, res);
    },
  );
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (app.upgrade === undefined) socket.destroy();
    else if (gate.admitUpgrade(req, socket) && !app.upgrade(req, socket, head)) socket.destroy();
  });
  server.listen(port, host);
  await once(server, 'listening');
  const bound = server.address();
  const actualPort = typeof bound === 'object' && bound !== null ? bound.port : port;
  return {
    server,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await app.close?.();
      await closed;
      gate.close();
    },
  };
}
