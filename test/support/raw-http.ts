import {
  createServer,
  request,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type RequestListener,
  type Server,
} from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Raw HTTP for the dialects' contract tests: the path goes out exactly as written (escapes,
 * `//` and all, which supertest would normalise) and the reply is kept byte for byte.
 */
export interface RawReply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  /** The body as UTF-8. */
  readonly text: string;
}

export interface RawOptions {
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Uint8Array;
}

/** Serves a listener on a free loopback port. */
export async function listen(listener: RequestListener): Promise<Server> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

export const portOf = (server: Server): number => (server.address() as AddressInfo).port;

/** An answer, its body read whole. */
export function readReply(res: IncomingMessage): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (chunk: Buffer) => chunks.push(chunk));
    res.on('end', () => {
      const body = Buffer.concat(chunks);
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8') });
    });
    res.on('error', reject);
  });
}

/** One exchange on a fresh connection; a body goes with its Content-Length. */
export function rawRequest(port: number, method: string, path: string, options: RawOptions = {}): Promise<RawReply> {
  const length = options.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(options.body)) };
  const headers = { ...length, ...options.headers };
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method, path, headers, agent: false },
      (res) => void readReply(res).then(resolve, reject),
    );
    req.on('error', reject);
    req.end(options.body);
  });
}
