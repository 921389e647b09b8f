import { once } from 'node:events';
import { createServer, type RequestListener, type Server } from 'node:http';

export interface HttpServer {
  readonly server: Server;
  /** The URL it listens on (with the real port when 0 was asked for). */
  readonly url: string;
  /** Stops accepting, lets in-flight requests finish, and drops idle keep-alive connections. */
  close(): Promise<void>;
}

export async function startHttpServer(app: RequestListener, host: string, port: number): Promise<HttpServer> {
  const server = createServer(app);
  server.listen(port, host);
  await once(server, 'listening');
  const bound = server.address();
  const actualPort = typeof bound === 'object' && bound !== null ? bound.port : port;
  return {
    server,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`,
    close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      return closed;
    },
  };
}
