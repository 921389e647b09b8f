import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { pathOfUrl, RequestObserver, requestIdOf, routeIs, unmatched, type DialectLabel } from './observe';

/**
 * The observer on a real node:http server, without telemetry (its instruments record nothing
 * then): request ids, route names and the access log. The metrics themselves are checked after
 * real traffic in test/int/gateway-metrics.int.test.ts.
 */

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const lines: Array<Record<string, unknown>> = [];
let server: Server;
let handler: Handler = (_req, res) => res.end('ok');
let dialect: DialectLabel = 'v1';
let seenId: string | undefined;

beforeAll(async () => {
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const observer = new RequestObserver({ logger, accessLog: true });
  server = createServer((req, res) => {
    observer.begin(req, res);
    seenId = requestIdOf(req);
    observer.dispatched(req, dialect);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});

afterAll(() => new Promise((resolve) => server.close(resolve)));

beforeEach(() => {
  lines.length = 0;
  dialect = 'v1';
  handler = (_req, res) => res.end('ok');
});

function get(path: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; id: string | undefined }>((resolve, reject) => {
    const port = (server.address() as AddressInfo).port;
    request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, id: res.headers['x-request-id'] as string }));
    })
      .on('error', reject)
      .end();
  });
}

async function logged(count = 1): Promise<Array<Record<string, unknown>>> {
  for (let i = 0; i < 200 && lines.length < count; i++) await new Promise((resolve) => setTimeout(resolve, 5));
  return lines;
}

describe('request ids', () => {
  it('keeps a well-formed X-Request-Id and echoes it', async () => {
    const { id } = await get('/a', { 'x-request-id': 'abc.DEF_1:2-3' });
    expect(id).toBe('abc.DEF_1:2-3');
    expect(seenId).toBe('abc.DEF_1:2-3');
    expect((await logged())[0]).toMatchObject({ request_id: 'abc.DEF_1:2-3' });
  });

  it.each([['has spaces'], ['x'.repeat(129)], ['semi;colon'], ['a/b'], ['caf\u00e9']])(
    'replaces %j with a fresh UUID',
    async (incoming) => {
      const { id } = await get('/a', { 'x-request-id': incoming });
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    },
  );

  it('generates distinct ids when none is sent', async () => {
    const [a, b] = await Promise.all([get('/a'), get('/b')]);
    expect(a.id).toBeDefined();
    expect(a.id).not.toBe(b.id);
  });

  it('is unknown for a request the observer never saw', () => {
    expect(requestIdOf({} as IncomingMessage)).toBeUndefined();
  });
});

describe('the access log', () => {
  it('writes one line with the route template, the path without its query, status, length and duration', async () => {
    handler = (req, res) => {
      routeIs(req, '/things/:id');
      res.writeHead(201, { 'content-length': '2' });
      res.end('ok');
    };
    await get('/things/42?token=secret', { 'x-request-id': 'one', authorization: 'Bearer secret' });
    const [line, ...rest] = await logged();
    expect(rest).toEqual([]);
    expect(line).toMatchObject({
      msg: 'request',
      level: 30,
      request_id: 'one',
      method: 'GET',
      route: '/things/:id',
      path: '/things/42',
      status: 201,
      bytes: 2,
      dialect: 'v1',
      remote: '127.0.0.1',
    });
    expect(line?.duration_ms).toEqual(expect.any(Number));
    expect(JSON.stringify(line)).not.toContain('secret');
  });

  it('names requests no route took `unmatched`, in the meta dialect', async () => {
    handler = (req, res) => {
      unmatched(req);
      res.statusCode = 404;
      res.end();
    };
    await get('/nowhere');
    expect((await logged())[0]).toMatchObject({ route: 'unmatched', dialect: 'meta', status: 404 });
  });

  it('leaves a route a handler did not name `unmatched`, in its dialect', async () => {
    dialect = 'rivet';
    await get('/whatever');
    expect((await logged())[0]).toMatchObject({ route: 'unmatched', dialect: 'rivet', status: 200 });
  });

  it('logs a request whose client went away before any answer as 499', async () => {
    handler = () => undefined;
    const port = (server.address() as AddressInfo).port;
    const req = request({ host: '127.0.0.1', port, path: '/slow', headers: { 'x-request-id': 'gone' }, agent: false });
    req.on('error', () => undefined);
    req.end();
    for (let i = 0; i < 200 && seenId !== 'gone'; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    req.destroy();
    expect((await logged())[0]).toMatchObject({ request_id: 'gone', status: 499 });
  });
});

describe('pathOfUrl', () => {
  it.each([
    ['/a/b', '/a/b'],
    ['/a/b?x=1', '/a/b'],
    ['/?', '/'],
    ['', ''],
  ])('%j → %j', (url, path) => {
    expect(pathOfUrl(url)).toBe(path);
  });
});
