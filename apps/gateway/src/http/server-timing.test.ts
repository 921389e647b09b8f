import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  addApiCall,
  currentTiming,
  formatServerTiming,
  parseServerTiming,
  RequestTiming,
  runWithTiming,
  withServerTiming,
} from './server-timing';

describe('parseServerTiming', () => {
  it('reads names and durations', () => {
    expect(parseServerTiming('db;dur=1.23, cache;dur=0.05')).toEqual([
      { name: 'db', dur: 1.23 },
      { name: 'cache', dur: 0.05 },
    ]);
    expect(parseServerTiming('db;dur=12')).toEqual([{ name: 'db', dur: 12 }]);
  });

  it('takes the spaces, case and quoting HTTP allows', () => {
    expect(parseServerTiming(' db ; DUR = 2.5 ,cache;dur="0.5"')).toEqual([
      { name: 'db', dur: 2.5 },
      { name: 'cache', dur: 0.5 },
    ]);
  });

  it('skips descriptions, even with commas and semicolons quoted in them', () => {
    expect(parseServerTiming('db;desc="a, b; c";dur=3, miss;desc="x\\"y,z"')).toEqual([
      { name: 'db', dur: 3 },
      { name: 'miss', dur: 0 },
    ]);
  });

  it('counts the first dur only, 0 for a missing or bad one, and drops nameless entries', () => {
    expect(parseServerTiming('db;dur=1;dur=9, cache, x;dur=abc, y;dur=, , ;dur=4')).toEqual([
      { name: 'db', dur: 1 },
      { name: 'cache', dur: 0 },
      { name: 'x', dur: 0 },
      { name: 'y', dur: 0 },
    ]);
    expect(parseServerTiming('')).toEqual([]);
  });
});

describe('formatServerTiming and RequestTiming', () => {
  it('writes ms with 2 decimals, in order', () => {
    expect(
      formatServerTiming([
        { name: 'db', dur: 1.234 },
        { name: 'cache', dur: 0.005 },
        { name: 'total', dur: 10 },
      ]),
    ).toBe('db;dur=1.23, cache;dur=0.01, total;dur=10.00');
  });

  it('names total alone until a call reported, then db, cache, api and total', () => {
    const timing = new RequestTiming();
    expect(timing.header(4.5)).toBe('total;dur=4.50');
    timing.db = 1;
    timing.cache = 0.25;
    timing.api = 2;
    timing.calls = 1;
    expect(timing.header(4.5)).toBe('db;dur=1.00, cache;dur=0.25, api;dur=2.00, total;dur=4.50');
  });

  it('adds up another timing', () => {
    const into = new RequestTiming();
    const other = Object.assign(new RequestTiming(), { db: 1, cache: 2, api: 3, calls: 1 });
    into.add(other);
    into.add(other);
    expect({ ...into }).toEqual({ db: 2, cache: 4, api: 6, calls: 2 });
  });
});

describe('addApiCall', () => {
  it('sums the calls made for the request it runs for, db and cache from their headers', async () => {
    const first = new RequestTiming();
    const second = new RequestTiming();
    await Promise.all([
      runWithTiming(first, async () => {
        addApiCall('db;dur=1.5, cache;dur=0.25', 3);
        await new Promise((resolve) => setImmediate(resolve));
        addApiCall('cache;dur=0.5, other;dur=100, db;dur=0.5', 2);
      }),
      runWithTiming(second, async () => {
        await new Promise((resolve) => setImmediate(resolve));
        addApiCall('db;dur=7', 8);
      }),
    ]);
    expect({ ...first }).toEqual({ db: 2, cache: 0.75, api: 5, calls: 2 });
    expect({ ...second }).toEqual({ db: 7, cache: 0, api: 8, calls: 1 });
  });

  it('does nothing outside a measured request', () => {
    expect(currentTiming()).toBeUndefined();
    expect(() => addApiCall('db;dur=1', 1)).not.toThrow();
  });
});

describe('withServerTiming', () => {
  type Handler = (req: IncomingMessage, res: ServerResponse) => void;
  let handler: Handler = (_req, res) => res.end('ok');
  let server: Server;

  beforeAll(async () => {
    server = createServer(withServerTiming((req, res) => handler(req, res)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });

  afterAll(() => new Promise((resolve) => server.close(resolve)));

  function get(): Promise<{ status: number; headers: IncomingMessage['headers']; body: string }> {
    return new Promise((resolve, reject) => {
      const port = (server.address() as AddressInfo).port;
      request({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      })
        .on('error', reject)
        .end();
    });
  }

  const totalOf = (header: unknown) => Number(/^total;dur=(\d+\.\d{2})$/.exec(String(header))?.[1]);

  it('sets total on implicit headers (end), counting the time until they leave', async () => {
    handler = (_req, res) => setTimeout(() => res.end('late'), 30);
    const reply = await get();
    expect(reply.body).toBe('late');
    expect(totalOf(reply.headers['server-timing'])).toBeGreaterThanOrEqual(25);
  });

  it('sets it on explicit writeHead, with header objects and raw header arrays alike', async () => {
    handler = (_req, res) => {
      res.setHeader('x-before', '1');
      res.writeHead(201, { 'content-type': 'text/plain' }).end('made');
    };
    const objectReply = await get();
    expect([objectReply.status, objectReply.headers['x-before'], objectReply.headers['content-type']]).toEqual([
      201,
      '1',
      'text/plain',
    ]);
    expect(totalOf(objectReply.headers['server-timing'])).toBeGreaterThanOrEqual(0);
    handler = (_req, res) => res.writeHead(202, ['content-type', 'text/plain']).end();
    const arrayReply = await get();
    expect([arrayReply.status, arrayReply.headers['content-type']]).toEqual([202, 'text/plain']);
    expect(totalOf(arrayReply.headers['server-timing'])).toBeGreaterThanOrEqual(0);
  });

  it('adds the calls made while the request runs, wherever they complete', async () => {
    handler = (_req, res) => {
      addApiCall('db;dur=1.25, cache;dur=0.5', 2);
      setTimeout(() => {
        addApiCall('db;dur=0.25', 1);
        res.end();
      }, 5);
    };
    const header = String((await get()).headers['server-timing']);
    expect(header).toMatch(/^db;dur=1\.50, cache;dur=0\.50, api;dur=3\.00, total;dur=\d+\.\d{2}$/);
  });

  it('leaves streamed bodies alone: the header goes with the first write', async () => {
    handler = (_req, res) => {
      res.write('a');
      setTimeout(() => res.end('b'), 200);
    };
    const reply = await get();
    expect(reply.body).toBe('ab');
    expect(totalOf(reply.headers['server-timing'])).toBeLessThan(200);
  });
});
