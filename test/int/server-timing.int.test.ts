import type { Server } from 'node:http';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import request from 'supertest';
import type { RpcServer } from '../../apps/api/src/transport/server';
import { createApp, createHttpRecordApi } from '../../apps/gateway/src';
import { parseServerTiming, type ServerTimingMetric } from '../../apps/gateway/src/http/server-timing';
import {
  AuthService,
  createRpcTransport,
  RecordService,
  ServiceGrant,
  type RpcTransport,
} from '../../packages/proto/src';
import { asAdmin, serveRpc, silentLogger, startTestApi, type TestApi } from '../support/api';
import { TEST_ADMIN_TOKEN, TEST_INTERNAL_SECRET } from '../support/env';
import { listen, portOf, rawRequest } from '../support/raw-http';

/**
 * Server-Timing over the cluster shape: an api with SERVER_TIMING on (Postgres, Redis) served
 * over HTTP/2, and gateway apps over it with the setting on or off. The api answers each unary
 * call with its database and cache time; the gateway adds those of the calls made for a request
 * to its own `api` and `total`.
 */

const MAX = 1024 * 1024;
const timed = { space: 'default', collection: 'timed' };
const collectionPath = '/v1/spaces/default/collections';
const recordPath = (key: string) => `${collectionPath}/timed/records/${key}`;

let api: TestApi;
/** A second api on the same database, with SERVER_TIMING off. */
let plainApi: TestApi;
let rpc: RpcServer;
let plainRpc: RpcServer;
let baseUrl: string;
let plainUrl: string;
let grant: Record<string, string>;
const closers: Array<() => unknown> = [];

/** A transport to `url` that keeps what each unary call's Server-Timing said. */
function recordingTransport(url: string): { transport: RpcTransport; seen: Array<{ value: string; ms: number }> } {
  const seen: Array<{ value: string; ms: number }> = [];
  const transport = createRpcTransport({
    baseUrl: url,
    defaultTimeoutMs: 5000,
    maxMessageBytes: MAX,
    onServerTiming: (value, ms) => seen.push({ value, ms }),
  });
  closers.push(() => transport.close());
  return { transport, seen };
}

/** A gateway app over the api at `url`; `serverTiming` on both the app and its client unless told. */
function gateway(url: string, options: { app: boolean; client: boolean }) {
  const remote = createHttpRecordApi({
    baseUrl: url,
    timeoutMs: 5000,
    maxMessageBytes: MAX,
    serverTiming: options.client,
  });
  closers.push(() => remote.close());
  return createApp({ api: remote, logger: silentLogger, maxBodyBytes: MAX, serverTiming: options.app });
}

beforeAll(async () => {
  api = await startTestApi({ env: { SERVER_TIMING: 'true' } });
  plainApi = await startTestApi({ db: api.db });
  await api.collections.createCollection({ collection: timed });
  for (const key of ['a', 'b', 'c', 'd']) {
    await api.records.putRecord({
      collection: timed,
      key,
      value: Buffer.from(`value ${key}`),
      contentType: 'text/plain',
    });
  }
  ({ server: rpc, url: baseUrl } = await serveRpc(api.runtime, { maxMessageBytes: MAX }));
  ({ server: plainRpc, url: plainUrl } = await serveRpc(plainApi.runtime, { maxMessageBytes: MAX }));
  const auth = createClient(AuthService, createRpcTransport({ baseUrl, defaultTimeoutMs: 5000, maxMessageBytes: MAX }));
  grant = await new ServiceGrant(auth, TEST_INTERNAL_SECRET).headers();
});

afterAll(async () => {
  for (const close of closers) await close();
  await rpc.close();
  await plainRpc.close();
  await plainApi.close();
  await api.close();
});

/** The metrics of a response's Server-Timing header, by name (the test fails without one). */
function timingOf(header: unknown): Map<string, number> {
  expect(typeof header).toBe('string');
  const metrics: ServerTimingMetric[] = parseServerTiming(header as string);
  for (const { dur } of metrics) {
    expect(Number.isFinite(dur)).toBe(true);
    expect(dur).toBeGreaterThanOrEqual(0);
  }
  return new Map(metrics.map(({ name, dur }) => [name, dur]));
}

/** A gateway answer's timing with db, cache, api and total, in that order and consistent. */
function expectFullTiming(header: unknown): Map<string, number> {
  expect(String(header)).toMatch(/^db;dur=\d+\.\d{2}, cache;dur=\d+\.\d{2}, api;dur=\d+\.\d{2}, total;dur=\d+\.\d{2}$/);
  const timing = timingOf(header);
  const [db, cache, apiMs, total] = ['db', 'cache', 'api', 'total'].map((name) => timing.get(name) ?? -1) as [
    number,
    number,
    number,
    number,
  ];
  // The api's db and cache time lies within the calls the gateway waited for, and those within
  // the request (its calls are made one after another).
  expect(apiMs).toBeGreaterThanOrEqual(db);
  expect(apiMs).toBeGreaterThanOrEqual(cache);
  expect(total).toBeGreaterThanOrEqual(apiMs);
  expect(total).toBeGreaterThanOrEqual(db);
  return timing;
}

describe('the api', () => {
  it('answers each unary call with its database and cache time, on the lean path', async () => {
    const { transport, seen } = recordingTransport(baseUrl);
    const records = createClient(RecordService, transport);
    const { record } = await records.getRecord({ collection: timed, key: 'a' }, { headers: grant });
    expect(Buffer.from(record?.value ?? []).toString()).toBe('value a');
    await records
      .getRecord({ collection: { space: 'default', collection: 'absent' }, key: 'a' }, { headers: grant })
      .then(
        () => {
          throw new Error('expected COLLECTION_NOT_FOUND');
        },
        (error: unknown) => {
          // A failed call carries its timing too, in the error's metadata.
          expect(ConnectError.from(error).code).toBe(Code.NotFound);
          expect(ConnectError.from(error).metadata.get('server-timing')).toMatch(/^db;dur=/);
        },
      );
    expect(seen).toHaveLength(2);
    for (const { value, ms } of seen) {
      expect(value).toMatch(/^db;dur=\d+\.\d{2}, cache;dur=\d+\.\d{2}$/);
      const timing = timingOf(value);
      // What the api spent is within what the caller waited.
      expect(ms).toBeGreaterThanOrEqual(timing.get('db') ?? Infinity);
      expect(ms).toBeGreaterThanOrEqual(timing.get('cache') ?? Infinity);
    }
    // Looking the collection up is a cache read at least; an unknown one is then read from Postgres.
    expect(timingOf(seen[0]?.value).get('cache')).toBeGreaterThan(0);
    expect(timingOf(seen[1]?.value).get('db')).toBeGreaterThan(0);
  });

  it("answers it through Connect's own handler too (JSON)", async () => {
    const transport = createConnectTransport({ httpVersion: '2', baseUrl, useBinaryFormat: false });
    let header: string | null = null;
    await createClient(RecordService, transport).getRecord(
      { collection: timed, key: 'b' },
      { headers: grant, onHeader: (headers) => (header = headers.get('server-timing')) },
    );
    expect(header).toMatch(/^db;dur=\d+\.\d{2}, cache;dur=\d+\.\d{2}$/);
  });

  it('answers no Server-Timing with SERVER_TIMING off', async () => {
    const { transport, seen } = recordingTransport(plainUrl);
    const records = createClient(RecordService, transport);
    const { record } = await records.getRecord({ collection: timed, key: 'a' }, { headers: grant });
    expect(Buffer.from(record?.value ?? []).toString()).toBe('value a');
    expect(seen).toEqual([]);
  });
});

describe('the gateway', () => {
  let app: ReturnType<typeof createApp>;
  let admin: ReturnType<typeof asAdmin>;

  beforeAll(() => {
    app = gateway(baseUrl, { app: true, client: true });
    admin = asAdmin(app);
  });

  it('answers a single-record GET with db, cache, api and total', async () => {
    for (const key of ['c', 'c']) {
      const got = await request(admin).get(recordPath(key)).expect(200, `value ${key}`);
      expectFullTiming(got.headers['server-timing']);
    }
  });

  it('answers a /v1 list with them', async () => {
    const list = await request(admin).get(collectionPath).expect(200);
    expect((list.body as { collections: Array<{ name: string }> }).collections.map((c) => c.name)).toContain('timed');
    const timing = expectFullTiming(list.headers['server-timing']);
    expect(timing.get('db')).toBeGreaterThan(0);
  });

  it('answers each of the reads served by one batch call with its timing', async () => {
    // Sent together, these reads tend to arrive in one turn and share a BatchGet; each still
    // gets the call's timing, not only the request that happened to open the batch.
    const keys = ['a', 'b', 'c', 'd'];
    const replies = await Promise.all(keys.map((key) => request(admin).get(recordPath(key))));
    replies.forEach((reply, i) => {
      expect([reply.status, reply.text]).toEqual([200, `value ${keys[i]}`]);
      expectFullTiming(reply.headers['server-timing']);
    });
  });

  it('answers each of the writes carried by one batch call with its timing', async () => {
    // As the reads above: PUTs sent together share a BatchPut, and each reports the call.
    const keys = ['w1', 'w2', 'w3', 'w4'];
    const replies = await Promise.all(
      keys.map((key) => request(admin).put(recordPath(key)).set('content-type', 'text/plain').send(`value ${key}`)),
    );
    replies.forEach((reply) => {
      expect(reply.status).toBe(201);
      expectFullTiming(reply.headers['server-timing']);
    });
  });

  it('answers errors and requests that call no unary method', async () => {
    const missing = await request(admin).get(`${collectionPath}/nowhere/records/k`).expect(404);
    expectFullTiming(missing.headers['server-timing']);
    const health = await request(app).get('/healthz').expect(200);
    expect(health.headers['server-timing']).toMatch(/^total;dur=\d+\.\d{2}$/);
    // A streamed listing: the scan reports nothing (streams are not timed), its authentication may.
    const listing = await request(admin).get(`${collectionPath}/timed/records`).expect(200);
    expect(timingOf(listing.headers['server-timing']).get('total')).toBeGreaterThanOrEqual(0);
  });

  it('answers a legacy dialect (Kopano) with them', async () => {
    let server: Server | undefined;
    try {
      server = await listen(app);
      const headers = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
      const put = await rawRequest(portOf(server), 'PUT', '/api/kvs/v1/kv/user/timed-key', {
        headers: { ...headers, 'content-type': 'text/plain' },
        body: 'kopano value',
      });
      expect(put.status).toBe(200);
      expectFullTiming(put.headers['server-timing']);
      const got = await rawRequest(portOf(server), 'GET', '/api/kvs/v1/kv/user/timed-key?raw=1', { headers });
      expect([got.status, got.text]).toEqual([200, 'kopano value']);
      expectFullTiming(got.headers['server-timing']);
    } finally {
      await new Promise((resolve) => server?.close(resolve));
    }
  });

  it('answers no Server-Timing when the gateway has it off', async () => {
    const off = asAdmin(gateway(baseUrl, { app: false, client: true }));
    const got = await request(off).get(recordPath('a')).expect(200, 'value a');
    expect(got.headers['server-timing']).toBeUndefined();
    expect((await request(off).get(collectionPath).expect(200)).headers['server-timing']).toBeUndefined();
  });

  it('answers total alone when the api does not report', async () => {
    // The client asks for timings, the api (SERVER_TIMING off) sends none: nothing to add.
    const plain = asAdmin(gateway(plainUrl, { app: true, client: true }));
    const got = await request(plain).get(recordPath('a')).expect(200, 'value a');
    expect(got.headers['server-timing']).toMatch(/^total;dur=\d+\.\d{2}$/);
  });
});
