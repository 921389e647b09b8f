import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import { once } from 'node:events';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { Redis } from 'ioredis';
import { RedisRecordCache } from '../../apps/api/src/cache/redis-record-cache';
import type { RpcServer } from '../../apps/api/src/transport/server';
import { startTelemetry } from '../../packages/platform/src';
import {
  AuthService,
  createRpcTransport,
  RecordService,
  ServiceGrant,
  type RpcTransport,
} from '../../packages/proto/src';
import { serveRpc, silentLogger, startTestApi, type TestApi } from '../support/api';
import { redisPrefix } from '../support/database';
import { REDIS_URL, TEST_INTERNAL_SECRET } from '../support/env';
import { expectEventually } from '../support/expect-eventually';

/**
 * The api's /metrics, scraped over HTTP/2 as Prometheus does, after real calls over the RPC
 * transport to a record service over Postgres and the Redis cache; and its /readyz.
 */

const telemetry = startTelemetry({ service: 'api-metrics-test' });
const collection = { space: 'default', collection: 'metered' };

let api: TestApi;
let rpc: RpcServer;
let baseUrl: string;
let transport: RpcTransport;
let grant: Record<string, string>;
let records: ReturnType<typeof createClient<typeof RecordService>>;

beforeAll(async () => {
  api = await startTestApi();
  await api.collections.createCollection({ collection });
  await api.records.putRecord({ collection, key: 'hot', value: Buffer.from('warm'), contentType: 'text/plain' });
  ({ server: rpc, url: baseUrl } = await serveRpc(api.runtime, { maxMessageBytes: 1024 * 1024, telemetry }));
  transport = createRpcTransport({ baseUrl, defaultTimeoutMs: 5000, maxMessageBytes: 1024 * 1024 });
  grant = await new ServiceGrant(createClient(AuthService, transport), TEST_INTERNAL_SECRET).headers();
  records = createClient(RecordService, transport);
});

afterAll(async () => {
  transport.close();
  await rpc.close();
  await api.close();
});

/** A plain GET on the api's port, as a scraper or a health check sends it (HTTP/2 cleartext). */
async function getPath(
  path: string,
  base: string = baseUrl,
): Promise<{ status: number; contentType: unknown; body: string }> {
  const session = http2.connect(base);
  try {
    const stream = session.request({ ':method': 'GET', ':path': path });
    const [headers] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders];
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return {
      status: Number(headers[':status']),
      contentType: headers['content-type'],
      body: Buffer.concat(chunks).toString('utf8'),
    };
  } finally {
    session.close();
  }
}

type Samples = Array<{ name: string; labels: Record<string, string>; value: number }>;

async function scrape(): Promise<Samples> {
  const res = await getPath('/metrics');
  expect(res.status).toBe(200);
  expect(res.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
  const samples: Samples = [];
  for (const line of res.body.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) continue;
    const labels: Record<string, string> = {};
    for (const [, name, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[name as string] = value as string;
    }
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The sum of the samples of `name` whose labels include `labels` (0 when there are none). */
function valueOf(samples: Samples, name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

const calls = (samples: Samples, method: string, code: string) =>
  valueOf(samples, 'rosetta_rpc_duration_seconds_count', { service: 'RecordService', method, code });
const cache = (samples: Samples, result: 'hit' | 'miss') =>
  valueOf(samples, 'rosetta_cache_requests_total', { result });

const getHot = () => records.getRecord({ collection, key: 'hot' }, { headers: grant });

describe('/metrics on the api port', () => {
  it('counts calls by service, method and code, with their durations in the latency buckets', async () => {
    const before = await scrape();
    for (let i = 0; i < 3; i++) await getHot();
    const ghost = { space: 'default', collection: 'ghost' };
    const notFound = await records.getRecord({ collection: ghost, key: 'x' }, { headers: grant }).catch((e) => e);
    expect(ConnectError.from(notFound).code).toBe(Code.NotFound);
    const stale = await records
      .putRecord(
        {
          collection,
          key: 'hot',
          value: Buffer.from('x'),
          condition: { kind: { case: 'expectedRevision', value: 1n } },
        },
        { headers: grant },
      )
      .catch((e) => e);
    expect(ConnectError.from(stale).code).toBe(Code.FailedPrecondition);
    for await (const chunk of records.scan({ collection, filter: {} }, { headers: grant })) expect(chunk).toBeDefined();
    const after = await scrape();

    expect(calls(after, 'GetRecord', 'ok') - calls(before, 'GetRecord', 'ok')).toBe(3);
    expect(calls(after, 'GetRecord', 'not_found') - calls(before, 'GetRecord', 'not_found')).toBe(1);
    expect(calls(after, 'PutRecord', 'failed_precondition') - calls(before, 'PutRecord', 'failed_precondition')).toBe(
      1,
    );
    expect(calls(after, 'Scan', 'ok') - calls(before, 'Scan', 'ok')).toBe(1);
    // The credential check the client made is a call of its own service.
    expect(
      valueOf(after, 'rosetta_rpc_duration_seconds_count', { service: 'AuthService', method: 'Authenticate' }),
    ).toBeGreaterThanOrEqual(1);

    const get = { service: 'RecordService', method: 'GetRecord', code: 'ok' };
    const buckets = after.filter(
      (s) =>
        s.name === 'rosetta_rpc_duration_seconds_bucket' && s.labels.method === 'GetRecord' && s.labels.code === 'ok',
    );
    expect(buckets.map((s) => s.labels.le)).toEqual([
      '0.00025',
      '0.0005',
      '0.001',
      '0.0025',
      '0.005',
      '0.01',
      '0.025',
      '0.05',
      '0.1',
      '0.25',
      '0.5',
      '1',
      '2.5',
      '5',
      '10',
      '+Inf',
    ]);
    expect(buckets.at(-1)?.value).toBe(valueOf(after, 'rosetta_rpc_duration_seconds_count', get));
    const sum = valueOf(after, 'rosetta_rpc_duration_seconds_sum', get);
    expect(sum).toBeGreaterThan(0);
    expect(sum).toBeLessThan(10);
    // Labels are bounded: no key, collection or message ever becomes one.
    const labelNames = new Set(
      after.filter((s) => s.name.startsWith('rosetta_rpc_')).flatMap((s) => Object.keys(s.labels)),
    );
    expect([...labelNames].filter((l) => !l.startsWith('otel_')).sort()).toEqual(['code', 'le', 'method', 'service']);
  });

  it('counts cache hits and misses: a record read again is a hit, one that does not exist always a miss', async () => {
    // The first read of a freshly written record misses (the write left a marker) and fills the cache.
    let samples = await scrape();
    await getHot();
    // The fill is asynchronous: once a read hits, every further read of the record hits.
    await expectEventually(async () => {
      const before = cache(await scrape(), 'hit');
      await getHot();
      expect(cache(await scrape(), 'hit') - before).toBe(1);
    });
    samples = await scrape();
    for (let i = 0; i < 4; i++) await getHot();
    let after = await scrape();
    expect(cache(after, 'hit') - cache(samples, 'hit')).toBe(4);
    expect(cache(after, 'miss') - cache(samples, 'miss')).toBe(0);

    samples = after;
    for (let i = 0; i < 2; i++) await records.getRecord({ collection, key: 'absent' }, { headers: grant });
    await records.batchGet({ collection, keys: ['hot', 'absent', 'hot'] }, { headers: grant });
    after = await scrape();
    // Two misses, then one look-up of the batch's two distinct keys: a hit and a miss.
    expect(cache(after, 'hit') - cache(samples, 'hit')).toBe(1);
    expect(cache(after, 'miss') - cache(samples, 'miss')).toBe(3);
  });

  it('counts failed cache commands of a Redis that does not answer', async () => {
    const before = valueOf(await scrape(), 'rosetta_cache_errors_total');
    // Never connected, and no offline queue: every command fails at once, as when Redis is down.
    const down = new Redis(REDIS_URL, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    const broken = new RedisRecordCache(
      down,
      { prefix: redisPrefix(), ttlMs: 60_000, tombstoneTtlMs: 60_000, maxValueBytes: 1024 },
      silentLogger,
    );
    try {
      expect(await broken.lookup('default', 'metered', ['hot'])).toBeUndefined();
      expect(await broken.lookupCollection('default', 'metered')).toBeUndefined();
      expect(valueOf(await scrape(), 'rosetta_cache_errors_total') - before).toBe(2);
    } finally {
      await broken.close();
      down.disconnect();
    }
  });

  it('reports the Postgres pools: idle and busy connections, waiting queries, and their size', async () => {
    const idle = await scrape();
    // PG_POOL_MAX and PG_SCAN_POOL_MAX (test/support/api.ts): the pool of reads in index order counts too.
    expect(valueOf(idle, 'rosetta_db_pool_max')).toBe(14);
    expect(valueOf(idle, 'rosetta_db_pool_waiting')).toBe(0);
    const states = idle.filter((s) => s.name === 'rosetta_db_pool_connections');
    expect(states.map((s) => s.labels.state).sort()).toEqual(['busy', 'idle']);
    for (const { value } of states) expect(value).toBeGreaterThanOrEqual(0);
    expect(valueOf(idle, 'rosetta_db_pool_connections')).toBeLessThanOrEqual(14);
    // A transaction holds a connection while the pool is read.
    const during = await api.runtime.db.transaction(async (tx) => {
      await tx.query('SELECT 1');
      return scrape();
    });
    const busy = valueOf(during, 'rosetta_db_pool_connections', { state: 'busy' });
    expect(busy).toBeGreaterThanOrEqual(1);
    expect(busy).toBeLessThanOrEqual(valueOf(during, 'rosetta_db_pool_max'));
    expect(valueOf(during, 'rosetta_db_pool_connections')).toBeLessThanOrEqual(14);
  });
});

describe('the metric catalog', () => {
  it("serves the record service's metrics of deploy/observability/metrics.json with their types and labels", async () => {
    const catalog = (
      JSON.parse(readFileSync(`${__dirname}/../../deploy/observability/metrics.json`, 'utf8')) as Array<{
        name: string;
        type: string;
        labels: string[];
      }>
    ).filter((m) => /^rosetta_(rpc|cache|db_pool)_/.test(m.name));
    expect(catalog.map((m) => m.name).sort()).toEqual([
      'rosetta_cache_errors_total',
      'rosetta_cache_repairs_pending',
      'rosetta_cache_requests_total',
      'rosetta_db_pool_connections',
      'rosetta_db_pool_max',
      'rosetta_db_pool_waiting',
      'rosetta_rpc_duration_seconds',
    ]);
    const text = (await getPath('/metrics')).body;
    const samples = await scrape();
    for (const metric of catalog) {
      expect({ metric: metric.name, type: new RegExp(`^# TYPE ${metric.name} (\\w+)$`, 'm').exec(text)?.[1] }).toEqual({
        metric: metric.name,
        type: metric.type,
      });
      const series = samples.filter((s) => s.name.replace(/_(bucket|sum|count)$/, '') === metric.name);
      expect(series.length).toBeGreaterThan(0);
      for (const { labels } of series) {
        const names = Object.keys(labels).filter((l) => l !== 'le' && !l.startsWith('otel_scope_'));
        expect({ metric: metric.name, labels: names.sort() }).toEqual({
          metric: metric.name,
          labels: [...metric.labels].sort(),
        });
      }
    }
  });
});

describe('health on the api port', () => {
  it('/readyz answers each check, /healthz that the process is alive', async () => {
    const ready = await getPath('/readyz');
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toEqual({ status: 'ready', checks: { postgres: 'ok', redis: 'ok' } });
    expect(await api.runtime.checks()).toEqual({ postgres: 'ok', redis: 'ok' });
    expect(await api.runtime.ready()).toBe(true);
    const alive = await getPath('/healthz');
    expect([alive.status, alive.body]).toEqual([200, '{"status":"ok"}']);
  });

  it('/readyz says which check fails (503), or that Redis is not configured', async () => {
    const check = async (options: Parameters<typeof startTestApi>[0]) => {
      const other = await startTestApi({ db: api.db, ...options });
      const { server, url: base } = await serveRpc(other.runtime, { maxMessageBytes: 1024 });
      try {
        const ready = await getPath('/readyz', base);
        // Given no telemetry, the server has no /metrics.
        const metrics = await getPath('/metrics', base);
        return { status: ready.status, body: JSON.parse(ready.body) as unknown, metrics: metrics.status };
      } finally {
        await server.close();
        await other.close();
      }
    };
    expect(await check({ redisPrefix: null })).toEqual({
      status: 200,
      body: { status: 'ready', checks: { postgres: 'ok', redis: 'not configured' } },
      metrics: 404,
    });
    // Nothing listens on port 1: the cache is configured and cannot be reached.
    expect(await check({ env: { REDIS_URL: 'redis://127.0.0.1:1' } })).toEqual({
      status: 503,
      body: { status: 'unavailable', checks: { postgres: 'ok', redis: 'failing' } },
      metrics: 404,
    });
  });
});
