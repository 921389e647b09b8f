import { once } from 'node:events';
import { createServer, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import type { Duplex } from 'node:stream';

/** A request listener that may also take upgrades (WebSockets) and hold things to close. */
export type HttpApp = RequestListener & {
  upgrade?(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  close?(): Promise<void>;
};

export interface HttpServer {
  readonly server: Server;
  /** The URL it listens on (with the real port when 0 was asked for). */
  readonly url: string;
  /** Stops accepting, lets in-flight requests finish, drops idle keep-alive connections, and closes the app (its WebSockets). */
  close(): Promise<void>;
}

export async function startHttpServer(app: HttpApp, host: string, port: number): Promise<HttpServer> {
  const server = createServer(app);
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (app.upgrade?.(req, socket, head) !== true) socket.destroy();
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
    },
  };
}
