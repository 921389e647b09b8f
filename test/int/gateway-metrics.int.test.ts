import { request as httpRequest, type Server } from 'node:http';
import { Code, ConnectError } from '@connectrpc/connect';
import { Redis } from 'ioredis';
import { createApp, legacyOptions } from '../../apps/gateway/src';
import type { RecordApi } from '../../apps/gateway/src/clients/record-api';
import { RedisChangeEvents } from '../../apps/gateway/src/events/redis-change-events';
import { createLogger, startTelemetry, type Telemetry } from '../../packages/platform/src';
import { silentLogger, startTestApi, type TestApi } from '../support/api';
import { redisPrefix } from '../support/database';
import { REDIS_URL, TEST_ADMIN_TOKEN } from '../support/env';
import { expectEventually } from '../support/expect-eventually';
import { listen, portOf, rawRequest, type RawOptions, type RawReply } from '../support/raw-http';

/**
 * The gateway's observability over a real record service: the request histogram and in-flight
 * gauge by dialect, route template, method and status as /metrics serves them after traffic
 * through /v1, GraphQL and the legacy dialects; one access-log line per request with its
 * request id; the request id on unexpected failures; /readyz with its checks.
 */

const ADMIN = `Bearer ${TEST_ADMIN_TOKEN}`;
const DURATION = 'rosetta_http_request_duration_seconds';
const IN_FLIGHT = 'rosetta_http_requests_in_flight';
const RECORD_ROUTE = '/v1/spaces/:space/collections/:collection/records/*key';
/** Words that must never be label values: keys, users, collections of the traffic below. */
const SECRET_WORDS = [
  'alpha-key-7',
  'missing-key-9',
  'metricdocs',
  'rivet-secret-key',
  'prouser',
  'rivuser',
  'dvid-secret-key',
];
const basic = (login: string, password: string) => `Basic ${Buffer.from(`${login}:${password}`).toString('base64')}`;

let telemetry: Telemetry;
let api: TestApi;
let server: Server;
/** A gateway logger at info, and the JSON lines it wrote, parsed. */
function capturingLogger() {
  const written: Array<Record<string, unknown>> = [];
  const logger = createLogger({
    name: 'gateway',
    level: 'info',
    destination: { write: (line: string) => written.push(JSON.parse(line) as Record<string, unknown>) },
  });
  return { logger, written };
}

/** The gateway's logger, and the JSON lines it wrote. */
const { logger: appLogger, written: lines } = capturingLogger();

beforeAll(async () => {
  telemetry = startTelemetry({ service: 'gateway-test', env: {} });
  api = await startTestApi();
  server = await listen(
    createApp({
      api,
      logger: appLogger,
      maxBodyBytes: 1024 * 1024,
      legacy: legacyOptions({ DVID_SPACE: 'default', DVID_ANONYMOUS_TOKEN: TEST_ADMIN_TOKEN }),
      telemetry,
    }),
  );
  const setup: Array<[string, string, object]> = [
    ['POST', '/v1/spaces/default/collections', { name: 'metricdocs' }],
    ['POST', '/v1/admin/accounts', { name: 'rivuser', password: 'riv-password' }],
    ['POST', '/v1/admin/accounts', { name: 'prouser', host: 'localhost', password: 'pro-password' }],
  ];
  for (const [method, path, body] of setup) {
    const reply = await call(method, path, {
      headers: { authorization: ADMIN, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(reply.status).toBe(201);
  }
  const put = await call('PUT', '/v1/spaces/default/collections/metricdocs/records/alpha-key-7', {
    headers: { authorization: ADMIN, 'content-type': 'text/plain' },
    body: 'hello',
  });
  expect(put.status).toBe(201);
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await api.close();
  await telemetry.shutdown();
});

const call = (method: string, path: string, options: RawOptions = {}): Promise<RawReply> =>
  rawRequest(portOf(server), method, path, options);

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Prometheus' text format, sample by sample. */
function parseScrape(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (match === null) throw new Error(`not a sample: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, name, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[name as string] = value as string;
    }
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

async function scrape(): Promise<Sample[]> {
  const reply = await call('GET', '/metrics');
  expect(reply.status).toBe(200);
  expect(reply.headers['content-type']).toMatch(/^text\/plain/);
  return parseScrape(reply.text);
}

/** The value of the one sample of `name` whose labels include `labels`. */
function valueOf(samples: readonly Sample[], name: string, labels: Record<string, string>): number | undefined {
  const found = samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([key, value]) => s.labels[key] === value),
  );
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

describe('request metrics', () => {
  /** Requests sent, by the series they must land in (the status is the one the client saw). */
  const sent = new Map<string, { labels: Record<string, string>; count: number }>();

  async function send(
    dialect: string,
    route: string,
    method: string,
    path: string,
    options: RawOptions = {},
    methodLabel = method,
  ) {
    const reply = await call(method, path, options);
    const labels = { dialect, route, method: methodLabel, status: String(reply.status) };
    const key = JSON.stringify(labels);
    const entry = sent.get(key) ?? { labels, count: 0 };
    entry.count += 1;
    sent.set(key, entry);
    return reply;
  }

  it('counts every request in its series, with sane durations and no key, user or collection as a label', async () => {
    const record = (key: string) => `/v1/spaces/default/collections/metricdocs/records/${key}`;
    const v1 = { headers: { authorization: ADMIN } };
    for (let i = 0; i < 3; i++)
      expect((await send('v1', RECORD_ROUTE, 'GET', record('alpha-key-7'), v1)).status).toBe(200);
    for (let i = 0; i < 2; i++) {
      expect((await send('v1', RECORD_ROUTE, 'GET', record('missing-key-9'), v1)).status).toBe(404);
    }
    const list = '/v1/spaces/:space/collections/:collection/records';
    expect(
      (await send('v1', list, 'GET', '/v1/spaces/default/collections/metricdocs/records?prefix=al', v1)).status,
    ).toBe(200);
    const collection = '/v1/spaces/:space/collections/:collection';
    expect((await send('v1', collection, 'GET', '/v1/spaces/default/collections/metricdocs', v1)).status).toBe(200);

    const graphql = await send('graphql', '/graphql', 'POST', '/graphql', {
      headers: { authorization: ADMIN, 'content-type': 'application/json' },
      body: JSON.stringify({
        query: '{ collection(space: "default", name: "metricdocs") { record(key: "alpha-key-7") { value } } }',
      }),
    });
    expect(graphql.status).toBe(200);
    expect(graphql.text).toContain('hello');

    const login = await send('rivet', '/login', 'GET', '/login', {
      headers: { authorization: basic('rivuser', 'riv-password') },
    });
    expect(login.status).toBe(200);
    const session = { 'x-session-token': login.text };
    expect(
      (
        await send('rivet', '/store/:user/*key', 'POST', '/store/rivuser/rivet-secret-key', {
          headers: session,
          body: 'v',
        })
      ).status,
    ).toBe(201);
    expect(
      (await send('rivet', '/store/:user/*key', 'GET', '/store/rivuser/rivet-secret-key', { headers: session })).status,
    ).toBe(200);
    expect((await send('rivet', '/store/:user', 'GET', '/store/rivuser', { headers: session })).status).toBe(200);

    const prosody = { authorization: basic('prouser@localhost', 'pro-password') };
    const stored = await send('prosody', '/data/:store', 'PUT', '/data/notes', {
      headers: { ...prosody, 'content-type': 'application/json' },
      body: '{"a":1}',
    });
    expect(stored.status).toBe(201);
    expect(
      (await send('prosody', '/data/:store/:format', 'GET', '/data/notes/json', { headers: prosody })).status,
    ).toBe(200);
    expect(
      (await send('prosody', '/data/:host/:user/:store', 'GET', '/data/localhost/prouser/notes', { headers: prosody }))
        .status,
    ).toBe(200);

    expect((await send('dvid', '/api/server/info', 'GET', '/api/server/info')).status).toBe(200);
    const dvidKey = await send(
      'dvid',
      '/api/node/:uuid/:instance/key/:key',
      'GET',
      '/api/node/abc123/kv/key/dvid-secret-key',
    );
    expect(dvidKey.status).toBeGreaterThanOrEqual(400);

    const openfn = await send('openfn', '/collections/:name/:key', 'GET', '/collections/metricdocs/alpha-key-7', v1);
    expect(openfn.status).toBeGreaterThan(0);
    expect((await send('kopano', '/api/kvs/v1/kv/user/*key', 'GET', '/api/kvs/v1/kv/user/alpha-key-7')).status).toBe(
      403,
    );

    expect((await send('meta', 'unmatched', 'GET', '/v1/nowhere/alpha-key-7')).status).toBe(404);
    expect((await send('meta', 'unmatched', 'GET', '/favicon.ico')).status).toBe(404);
    expect((await send('meta', '/healthz', 'GET', '/healthz')).status).toBe(200);
    expect((await send('meta', '/v1/openapi.json', 'GET', '/v1/openapi.json')).status).toBe(200);
    expect((await send('meta', '/readyz', 'GET', '/readyz')).status).toBe(200);
    // A method outside the standard set is OTHER (and no route has it).
    expect((await send('meta', 'unmatched', 'PROPFIND', record('alpha-key-7'), v1, 'OTHER')).status).toBe(404);

    const samples = await expectEventually(async () => {
      const scraped = await scrape();
      for (const { labels, count } of sent.values()) {
        expect([labels, valueOf(scraped, `${DURATION}_count`, labels)]).toEqual([labels, count]);
      }
      return scraped;
    });

    for (const { labels, count } of sent.values()) {
      const sum = valueOf(samples, `${DURATION}_sum`, labels) as number;
      expect(sum).toBeGreaterThan(0);
      expect(sum / count).toBeLessThan(5);
      expect(valueOf(samples, `${DURATION}_bucket`, { ...labels, le: '+Inf' })).toBe(count);
      expect(valueOf(samples, `${DURATION}_bucket`, { ...labels, le: '10' })).toBe(count);
    }
    const http = samples.filter((s) => s.name.startsWith('rosetta_http_'));
    const labelValues = new Set(http.flatMap((s) => Object.values(s.labels)));
    for (const word of SECRET_WORDS) {
      expect([...labelValues].filter((value) => value.includes(word))).toEqual([]);
    }
    const methods = new Set(http.map((s) => s.labels.method).filter((m) => m !== undefined));
    expect(
      [...methods].every((m) =>
        ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'OTHER'].includes(m as string),
      ),
    ).toBe(true);
    // The scrape itself is the one request in flight while it is collected.
    expect(valueOf(samples, IN_FLIGHT, { dialect: 'meta' })).toBe(1);
    for (const dialect of ['v1', 'graphql', 'kopano', 'rivet', 'prosody', 'openfn', 'dvid']) {
      expect([dialect, valueOf(samples, IN_FLIGHT, { dialect })]).toEqual([dialect, 0]);
    }
  });

  it('counts a request in flight until its client goes away, then as 499', async () => {
    const before =
      valueOf(await scrape(), `${DURATION}_count`, {
        dialect: 'v1',
        route: RECORD_ROUTE,
        method: 'PUT',
        status: '499',
      }) ?? 0;
    const req = httpRequest({
      host: '127.0.0.1',
      port: portOf(server),
      method: 'PUT',
      path: '/v1/spaces/default/collections/metricdocs/records/slow-key',
      headers: { authorization: ADMIN, 'content-length': '100', 'content-type': 'text/plain' },
      agent: false,
    });
    req.on('error', () => undefined);
    req.write('ab');
    await expectEventually(async () => expect(valueOf(await scrape(), IN_FLIGHT, { dialect: 'v1' })).toBe(1));
    req.destroy();
    const after = await expectEventually(async () => {
      const samples = await scrape();
      expect(
        valueOf(samples, `${DURATION}_count`, { dialect: 'v1', route: RECORD_ROUTE, method: 'PUT', status: '499' }),
      ).toBe(before + 1);
      return samples;
    });
    expect(valueOf(after, IN_FLIGHT, { dialect: 'v1' })).toBe(0);
  });
});

describe('access log', () => {
  const requestLines = () => lines.filter((line) => line.msg === 'request');

  it('writes one line per request, with its request id, route template, status and path without the query', async () => {
    const from = requestLines().length;
    const path = '/v1/spaces/default/collections/metricdocs/records/alpha-key-7';
    const kept = await call('GET', `${path}?version=&token=query-secret-123`, {
      headers: { authorization: ADMIN, 'x-request-id': 'test-req.1:a_b-c' },
    });
    expect(kept.status).toBe(200);
    expect(kept.headers['x-request-id']).toBe('test-req.1:a_b-c');
    const replaced = await call('GET', '/v1/spaces/default/collections/metricdocs/records?limit=1', {
      headers: { authorization: ADMIN, 'x-request-id': 'not a valid id' },
    });
    expect(replaced.status).toBe(200);
    const generated = replaced.headers['x-request-id'] as string;
    expect(generated).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const rivet = await call('GET', '/store/rivuser/alpha-key-7', { headers: { 'x-request-id': 'x'.repeat(129) } });
    expect(rivet.status).toBe(401);
    expect(rivet.headers['x-request-id']).not.toBe('x'.repeat(129));

    const written = await expectEventually(() => {
      const found = requestLines().slice(from);
      expect(found).toHaveLength(3);
      return found;
    });
    const byId = (id: unknown) => written.filter((line) => line.request_id === id);
    expect(byId('test-req.1:a_b-c')).toEqual([
      expect.objectContaining({
        level: 30,
        name: 'gateway',
        method: 'GET',
        route: RECORD_ROUTE,
        path,
        status: 200,
        bytes: 5,
        dialect: 'v1',
        remote: '127.0.0.1',
      }),
    ]);
    expect(byId(generated)).toEqual([
      expect.objectContaining({
        route: '/v1/spaces/:space/collections/:collection/records',
        path: '/v1/spaces/default/collections/metricdocs/records',
        status: 200,
      }),
    ]);
    expect(byId(rivet.headers['x-request-id'])).toEqual([
      expect.objectContaining({ dialect: 'rivet', route: '/store/:user/*key', status: 401 }),
    ]);
    for (const line of written) {
      expect(typeof line.duration_ms).toBe('number');
      expect(line.duration_ms as number).toBeGreaterThan(0);
      expect(line.duration_ms as number).toBeLessThan(5000);
      const text = JSON.stringify(line);
      expect(text).not.toContain('query-secret-123');
      expect(text).not.toContain(TEST_ADMIN_TOKEN);
      expect(text).not.toContain('authorization');
    }
  });

  it('logs an unexpected failure with the request id, and no query', async () => {
    const broken: RecordApi = {
      ...api,
      records: new Proxy(api.records, { get: () => () => Promise.reject(new Error('the store broke')) }),
    };
    const { logger, written: errors } = capturingLogger();
    const brokenServer = await listen(createApp({ api: broken, logger, maxBodyBytes: 1024 }));
    try {
      const reply = await rawRequest(
        portOf(brokenServer),
        'GET',
        '/v1/spaces/default/collections/metricdocs/records/alpha-key-7?token=query-secret-123',
        { headers: { authorization: ADMIN, 'x-request-id': 'failing-request-1' } },
      );
      expect(reply.status).toBe(500);
      expect(reply.headers['x-request-id']).toBe('failing-request-1');
      const written = await expectEventually(() => {
        expect(errors.map((line) => line.msg)).toEqual(['request failed', 'request']);
        return errors;
      });
      expect(written[0]).toMatchObject({
        level: 50,
        request_id: 'failing-request-1',
        path: '/v1/spaces/default/collections/metricdocs/records/alpha-key-7',
        err: expect.objectContaining({ message: 'the store broke' }),
      });
      expect(written[1]).toMatchObject({ request_id: 'failing-request-1', status: 500, route: RECORD_ROUTE });
      expect(JSON.stringify(written)).not.toContain('query-secret-123');
    } finally {
      await new Promise((resolve) => brokenServer.close(resolve));
    }
  });

  it('logs no failure for a client that goes away while its list waits for the record service', async () => {
    let cancelled!: () => void;
    const scanCancelled = new Promise<void>((resolve) => (cancelled = resolve));
    // A scan whose first records never come: it ends as Connect's client ends a cancelled call.
    async function* waitingScan(_input: unknown, options: { signal: AbortSignal }) {
      await new Promise((resolve) => options.signal.addEventListener('abort', resolve));
      cancelled();
      yield* [];
      throw new ConnectError('the operation was aborted', Code.Canceled);
    }
    const waiting: RecordApi = {
      ...api,
      records: new Proxy(api.records, {
        get: (target, name) => (name === 'scan' ? waitingScan : Reflect.get(target, name)),
      }),
    };
    const { logger, written: lines } = capturingLogger();
    const server = await listen(createApp({ api: waiting, logger, maxBodyBytes: 1024 }));
    try {
      const req = httpRequest({
        port: portOf(server),
        path: '/v1/spaces/default/collections/metricdocs/records?limit=1000',
        headers: { authorization: ADMIN, 'x-request-id': 'gone-client-1' },
      });
      req.on('error', () => undefined);
      req.end();
      await new Promise((resolve) => setTimeout(resolve, 100));
      req.destroy();
      await scanCancelled;
      const written = await expectEventually(() => {
        expect(lines.map((line) => line.msg)).toEqual(['request']);
        return lines;
      });
      expect(written[0]).toMatchObject({ request_id: 'gone-client-1', status: 499 });
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(lines).toHaveLength(1);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('is off with accessLog: false', async () => {
    const written: unknown[] = [];
    const logger = createLogger({
      name: 'gateway',
      level: 'info',
      destination: { write: (line: string) => written.push(line) },
    });
    const quiet = await listen(createApp({ api, logger, maxBodyBytes: 1024, accessLog: false }));
    try {
      const reply = await rawRequest(portOf(quiet), 'GET', '/healthz');
      expect(reply.status).toBe(200);
      expect(reply.headers['x-request-id']).toBeDefined();
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(written).toEqual([]);
    } finally {
      await new Promise((resolve) => quiet.close(resolve));
    }
  });
});

describe('/readyz', () => {
  const readyz = async (deps: Partial<Parameters<typeof createApp>[0]>) => {
    const ready = await listen(createApp({ api, logger: silentLogger, maxBodyBytes: 1024, ...deps }));
    try {
      const reply = await rawRequest(portOf(ready), 'GET', '/readyz');
      return { status: reply.status, body: JSON.parse(reply.text) as unknown };
    } finally {
      await new Promise((resolve) => ready.close(resolve));
    }
  };

  it('is ready with the api up and no Redis configured', async () => {
    expect(await readyz({})).toEqual({
      status: 200,
      body: { status: 'ready', checks: { api: 'ok', redis: 'not configured' } },
    });
  });

  it('checks the Redis of the change events, also while it is subscribed', async () => {
    const events = new RedisChangeEvents(new Redis(REDIS_URL), redisPrefix(), silentLogger);
    try {
      expect(await readyz({ events })).toEqual({
        status: 200,
        body: { status: 'ready', checks: { api: 'ok', redis: 'ok' } },
      });
      const unsubscribe = await events.subscribe('default', 'metricdocs', () => undefined);
      expect(await readyz({ events })).toEqual({
        status: 200,
        body: { status: 'ready', checks: { api: 'ok', redis: 'ok' } },
      });
      unsubscribe();
    } finally {
      await events.close();
    }
  });

  it('is unavailable when Redis or the api fails', async () => {
    const unreachable = new Redis('redis://127.0.0.1:1', { lazyConnect: true, maxRetriesPerRequest: 0 });
    const events = new RedisChangeEvents(unreachable, redisPrefix(), silentLogger);
    try {
      expect(await readyz({ events })).toEqual({
        status: 503,
        body: { status: 'unavailable', checks: { api: 'ok', redis: 'failing' } },
      });
    } finally {
      unreachable.disconnect();
    }
    const down: RecordApi = {
      ...api,
      health: { check: () => Promise.reject(new Error('unreachable')) } as RecordApi['health'],
    };
    expect(await readyz({ api: down })).toEqual({
      status: 503,
      body: { status: 'unavailable', checks: { api: 'failing', redis: 'not configured' } },
    });
  });
});
