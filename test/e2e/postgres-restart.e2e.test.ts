import { authFetch } from '../support/env';
import { readBack, startOutageLoad, type LoadResult } from '../support/outage-load';
import { startPrivatePostgres, type PrivatePostgres } from '../support/private-services';
import { startServicePair, type ServicePair } from '../support/processes';
import { redisPrefix } from '../support/database';

/**
 * Postgres restarted under a read and write load through the gateway: while it is away,
 * requests fail fast with 503 and Retry-After (none waits past the configured deadline, none
 * answers 500), and within 5 s of its return every request succeeds again, with nothing
 * acknowledged lost. The Postgres is the test's own (see private-services.ts).
 */

jest.setTimeout(120_000);

const WRITERS = 6;
const READERS = 6;
const DOWN_MS = 3000;
/** The api's PG_CONNECT_TIMEOUT_MS: the longest a request may wait for a connection. */
const CONNECT_TIMEOUT_MS = 2000;
const RECOVERY_MS = 5000;
const records = '/v1/spaces/default/collections/restart';

let postgres: PrivatePostgres;
let pair: ServicePair;
let base: string;
const fetchAuth = authFetch();

beforeAll(async () => {
  postgres = await startPrivatePostgres();
  pair = await startServicePair(postgres.url, redisPrefix(), {
    api: { PG_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS) },
    gateway: { API_TIMEOUT_MS: '10000' },
  });
  base = pair.base;
});

afterAll(async () => {
  await pair?.stop();
  await postgres?.destroy();
});

it('fails fast with 503 and Retry-After while Postgres restarts, and recovers by itself within 5 s', async () => {
  const created = await fetchAuth(`${base}/v1/spaces/default/collections`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'restart' }),
  });
  expect(created.status).toBe(201);
  for (let id = 0; id < WRITERS; id += 1) {
    const seeded = await fetchAuth(`${base}${records}/records/hot-${id}`, { method: 'PUT', body: '0' });
    expect(seeded.status).toBe(201);
  }

  const load = startOutageLoad(base, records, { writers: WRITERS, readers: READERS });
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const stoppedAt = load.elapsed();
  await postgres.stop();
  await new Promise((resolve) => setTimeout(resolve, DOWN_MS));
  await postgres.start();
  const backAt = load.elapsed();
  await new Promise((resolve) => setTimeout(resolve, RECOVERY_MS + 2000));
  const result: LoadResult = await load.stop();

  const { outcomes } = result;
  const byStatus = new Map<number, number>();
  for (const { status } of outcomes) byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
  // Only successes and 503s: no 500, no lost answer.
  expect([...byStatus.keys()].filter((status) => !(status >= 200 && status < 300) && status !== 503)).toEqual([]);
  // The outage was felt, and every 503 said when to come back.
  const unavailable = outcomes.filter(({ status }) => status === 503);
  expect(unavailable.length).toBeGreaterThan(0);
  expect(unavailable.filter(({ retryAfter }) => retryAfter === null)).toEqual([]);
  // Nobody waited past the deadline: a connection attempt's timeout, plus slack for a busy machine.
  const slowest = Math.max(...outcomes.map(({ ms }) => ms));
  expect(slowest).toBeLessThan(CONNECT_TIMEOUT_MS + 1500);
  // Failures only while Postgres was away or coming back, none from 5 s after its return on.
  const lastFailure = Math.max(...unavailable.map(({ startedAt, ms }) => startedAt + ms));
  expect(unavailable.every(({ startedAt, ms }) => startedAt + ms >= stoppedAt)).toBe(true);
  expect(lastFailure - backAt).toBeLessThan(RECOVERY_MS);
  const afterRecovery = outcomes.filter(({ startedAt }) => startedAt > backAt + RECOVERY_MS);
  expect(afterRecovery.length).toBeGreaterThan(50);
  expect(afterRecovery.filter(({ status }) => status >= 300)).toEqual([]);

  // Nothing acknowledged was lost, and no read went back in time.
  expect(result.stale).toEqual([]);
  expect(result.acknowledged.size).toBeGreaterThan(100);
  const stored = await readBack(base, records, result);
  expect(stored.lost).toEqual([]);
  // A hot write whose answer was lost may have been stored: at least the acknowledged number.
  for (const [key, n] of result.hot) expect([key, (stored.hot.get(key) ?? 0) >= n]).toEqual([key, true]);
  process.stdout.write(
    `postgres restart: ${outcomes.length} requests, statuses ${JSON.stringify(Object.fromEntries(byStatus))}, ` +
      `slowest ${slowest} ms, last failure ${lastFailure - backAt} ms after Postgres was back\n`,
  );
});
