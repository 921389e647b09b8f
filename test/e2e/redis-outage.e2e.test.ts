import http2 from 'node:http2';
import { createTestDatabase, redisPrefix, type TestDatabase } from '../support/database';
import { authFetch, TEST_INTERNAL_SECRET } from '../support/env';
import { expectEventually } from '../support/expect-eventually';
import { readBack, startOutageLoad } from '../support/outage-load';
import { startPrivateRedis, type PrivateRedis } from '../support/private-services';
import {
  freePort,
  startService,
  startServicePair,
  waitUntilReady,
  type ServiceProcess,
  type ServicePair,
} from '../support/processes';

/**
 * Redis stopped under a read and write load through the gateway, and started again from its
 * saved data (an append-only file: the cache entries of before the outage come back, the
 * dangerous case). Reads and writes keep succeeding from Postgres meanwhile, the api shows the
 * outage in its metrics, a bulk delete started during it waits and then runs, and no read ever
 * returns a value older than an acknowledged write — before, during or after.
 */

jest.setTimeout(120_000);

const WRITERS = 6;
const READERS = 6;
const DOWN_MS = 3000;
const DOOMED = 2000;
const records = '/v1/spaces/default/collections/outage';
const doomed = '/v1/spaces/default/collections/doomed';

let redis: PrivateRedis;
let db: TestDatabase;
let pair: ServicePair;
let worker: ServiceProcess;
let base: string;
const fetchAuth = authFetch();

/** One sample of the api's /metrics (served over HTTP/2 on its port), summed over its labels unless given. */
async function apiMetric(name: string, labels = ''): Promise<number> {
  const session = http2.connect(`http://127.0.0.1:${pair.apiPort}`);
  try {
    const text = await new Promise<string>((resolve, reject) => {
      const stream = session.request({ ':path': '/metrics' });
      let body = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => (body += chunk));
      stream.on('end', () => resolve(body));
      stream.on('error', reject);
    });
    const pattern = new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, 'gm');
    let sum = 0;
    for (const [, found = '', value] of text.matchAll(pattern)) if (found.includes(labels)) sum += Number(value);
    return sum;
  } finally {
    session.close();
  }
}

async function json<T>(path: string, init?: RequestInit, status = 200): Promise<T> {
  const res = await fetchAuth(`${base}${path}`, { ...init, headers: { 'content-type': 'application/json' } });
  expect([path, res.status]).toEqual([path, status]);
  return (await res.json()) as T;
}

beforeAll(async () => {
  redis = await startPrivateRedis({ persist: true });
  db = await createTestDatabase();
  const prefix = redisPrefix();
  pair = await startServicePair(db.url, prefix, {
    api: { REDIS_URL: redis.url },
    gateway: { REDIS_URL: redis.url, REDIS_PREFIX: prefix },
  });
  base = pair.base;
  const workerPort = await freePort();
  worker = startService('worker', 'apps/worker/dist/main.js', {
    API_URL: `http://127.0.0.1:${pair.apiPort}`,
    REDIS_URL: redis.url,
    REDIS_PREFIX: prefix,
    WORKER_HEALTH_PORT: String(workerPort),
    ROSETTA_INTERNAL_SECRET: TEST_INTERNAL_SECRET,
    LOG_LEVEL: 'error',
  });
  await waitUntilReady(worker, `http://127.0.0.1:${workerPort}/readyz`);
});

afterAll(async () => {
  await Promise.all([pair?.stop(), worker?.stop()]);
  await db?.drop();
  await redis?.destroy();
});

it('keeps serving from Postgres while Redis is away, never serves a stale value, and resumes jobs', async () => {
  for (const name of ['outage', 'doomed']) {
    await json('/v1/spaces/default/collections', { method: 'POST', body: JSON.stringify({ name }) }, 201);
  }
  for (let id = 0; id < WRITERS; id += 1) {
    expect((await fetchAuth(`${base}${records}/records/hot-${id}`, { method: 'PUT', body: '0' })).status).toBe(201);
  }
  for (let i = 0; i < DOOMED; i += 1000) {
    const batch = Array.from({ length: 1000 }, (_, j) => ({ key: `d/${i + j}`, value: 'x' }));
    await json(`${doomed}/batch`, { method: 'POST', body: JSON.stringify({ records: batch }) });
  }

  const load = startOutageLoad(base, records, { writers: WRITERS, readers: READERS });
  await new Promise((resolve) => setTimeout(resolve, 1500));
  // The cache is in use before the outage.
  expect(await apiMetric('rosetta_cache_requests_total', 'result="hit"')).toBeGreaterThan(0);
  const errorsBefore = await apiMetric('rosetta_cache_errors_total');
  await redis.stop();

  // A bulk delete started while Redis is away is stored, and waits.
  const started = await fetchAuth(`${base}${doomed}/delete-jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prefix: 'd/' }),
  });
  expect(started.status).toBe(202);
  const jobPath = started.headers.get('location') ?? '';
  await new Promise((resolve) => setTimeout(resolve, DOWN_MS));
  // The outage shows: failed cache commands, and writes whose cache entries await repair.
  expect(await apiMetric('rosetta_cache_errors_total')).toBeGreaterThan(errorsBefore);
  expect(await apiMetric('rosetta_cache_repairs_pending')).toBeGreaterThan(0);
  expect((await json<{ state: string }>(jobPath)).state).toBe('queued');

  await redis.start();
  // Repaired, the api reads from the cache again, and the job runs to its end.
  await expectEventually(async () => expect(await apiMetric('rosetta_cache_repairs_pending')).toBe(0), {
    timeoutMs: 10_000,
  });
  const hitsAfterRepair = await apiMetric('rosetta_cache_requests_total', 'result="hit"');
  const job = await expectEventually(
    async () => {
      const current = await json<{ state: string; progress: { done: number } }>(jobPath);
      expect(current.state).toBe('succeeded');
      return current;
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const result = await load.stop();
  expect(await apiMetric('rosetta_cache_requests_total', 'result="hit"')).toBeGreaterThan(hitsAfterRepair);

  expect(job.progress.done).toBe(DOOMED);
  expect((await json<{ count: number }>(`${doomed}/count?prefix=d/`)).count).toBe(0);
  // Every request succeeded, from Postgres while Redis was away.
  const failed = result.outcomes.filter(({ status }) => status < 200 || status >= 300);
  expect(failed).toEqual([]);
  expect(result.stale).toEqual([]);
  expect(result.acknowledged.size).toBeGreaterThan(100);
  // Read once more through the repaired cache: each hot key at its last acknowledged value.
  const stored = await readBack(base, records, result);
  expect(stored.lost).toEqual([]);
  expect(stored.hot).toEqual(result.hot);
  const slowest = Math.max(...result.outcomes.map(({ ms }) => ms));
  process.stdout.write(
    `redis outage: ${result.outcomes.length} requests, none failed, slowest ${slowest} ms, ` +
      `${result.acknowledged.size} fresh writes acknowledged\n`,
  );
});
