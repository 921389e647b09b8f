import { execFile } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import http2 from 'node:http2';
import { type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';

const SCRIPT = join(__dirname, '..', '..', 'scripts', 'healthcheck.mjs');

/** Runs the probe as the container would and resolves with its exit code. */
function probe(...args: string[]): Promise<number> {
  return new Promise((resolve) => {
    execFile(process.execPath, [SCRIPT, ...args], { timeout: 10_000 }, (error) => {
      if (error === null) return resolve(0);
      resolve(typeof error.code === 'number' ? error.code : -1);
    });
  });
}

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const CASES = [
  { status: 200, path: '/healthz', code: 0 },
  { status: 201, path: '/created', code: 0 },
  { status: 503, path: '/readyz', code: 1 },
  { status: 404, path: '/missing', code: 1 },
];

/** The status each path answers with; `/hang` never answers. */
function statusFor(path: string | undefined): number | undefined {
  if (path === '/hang') return undefined;
  return CASES.find((c) => c.path === path)?.status ?? 404;
}

describe('scripts/healthcheck.mjs', () => {
  let h1: http.Server;
  let h2: http2.Http2Server;
  let h1Url: string;
  let h2Url: string;
  let closedUrl: string;
  const h2Sessions = new Set<http2.ServerHttp2Session>();

  beforeAll(async () => {
    h1 = http.createServer((req, res) => {
      const status = statusFor(req.url);
      if (status === undefined) return;
      res.writeHead(status).end();
    });
    h1Url = await listen(h1);

    // HTTP/2 only, like the api: no `allowHTTP1`, so HTTP/1.1 clients are turned away.
    h2 = http2.createServer();
    h2.on('session', (session) => {
      h2Sessions.add(session);
      session.on('close', () => h2Sessions.delete(session));
    });
    h2.on('stream', (stream, headers) => {
      const status = statusFor(headers[':path']);
      if (status === undefined) return;
      stream.respond({ ':status': status });
      stream.end();
    });
    h2Url = await listen(h2);

    const closed = http.createServer();
    closedUrl = await listen(closed);
    await new Promise<void>((resolve) => closed.close(() => resolve()));
  });

  afterAll(async () => {
    h1.closeAllConnections();
    for (const session of h2Sessions) session.destroy();
    await Promise.all([
      new Promise<void>((resolve) => h1.close(() => resolve())),
      new Promise<void>((resolve) => h2.close(() => resolve())),
    ]);
  });

  it.each(CASES)('HTTP/1.1: a $status answer exits $code', async ({ path, code }) => {
    await expect(probe(`${h1Url}${path}`)).resolves.toBe(code);
  });

  it.each(CASES)('h2c (prior knowledge): a $status answer exits $code', async ({ path, code }) => {
    await expect(probe(`${h2Url}${path}`, '--h2c')).resolves.toBe(code);
  });

  it('exits 1 when the connection is refused', async () => {
    await expect(probe(`${closedUrl}/healthz`)).resolves.toBe(1);
    await expect(probe(`${closedUrl}/healthz`, '--h2c')).resolves.toBe(1);
  });

  it('exits 1 when the protocol does not match the server', async () => {
    await expect(probe(`${h2Url}/healthz`)).resolves.toBe(1);
    await expect(probe(`${h1Url}/healthz`, '--h2c')).resolves.toBe(1);
  });

  it('exits 1 after its 2 s deadline when the server never answers', async () => {
    const started = Date.now();
    const codes = await Promise.all([probe(`${h1Url}/hang`), probe(`${h2Url}/hang`, '--h2c')]);
    const elapsed = Date.now() - started;
    expect(codes).toEqual([1, 1]);
    expect(elapsed).toBeGreaterThanOrEqual(1900);
    expect(elapsed).toBeLessThan(5000);
  });

  it('exits 1 without a URL or with a bad one', async () => {
    await expect(probe()).resolves.toBe(1);
    await expect(probe('not a url')).resolves.toBe(1);
  });
});
