import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { webhooksDeliverJob } from '../../packages/proto/src';
import { startCrashCluster, type CrashCluster } from '../support/crash-cluster';
import { authFetch, REDIS_URL } from '../support/env';
import { expectEventually } from '../support/expect-eventually';
import { expectStoredAfter, runWriteLoad, storedRecords } from '../support/write-load';

/**
 * The worker killed with SIGKILL in the middle of a write load of WRITES acknowledged records
 * through the gateway (test/support/write-load.ts), and started again at once. The worker is not
 * on the write path, so no write fails; it relays the change feed to the webhooks, so every
 * acknowledged write's event must still reach the feed and a registered receiver at least once,
 * the deliveries queued in Redis when the worker died included.
 */

jest.setTimeout(240_000);

const WRITES = 10_000;
const WRITERS = 16;
const COLLECTION = 'worker-crash';
const records = `/v1/spaces/default/collections/${COLLECTION}`;

let cluster: CrashCluster;
let redis: Redis;
/** Event ids (feed positions) and keys the receiver accepted, and how many deliveries it got. */
const deliveredIds = new Set<string>();
const deliveredKeys = new Set<string>();
let deliveries = 0;

const call = authFetch();

/** The webhook receiver: made here, so that afterAll can close it even if beforeAll failed before it listened. */
const receiver: Server = createServer((req, res) => {
  let body = '';
  req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
  req.on('end', () => {
    const event = JSON.parse(body) as { id: string; key: string };
    deliveries += 1;
    deliveredIds.add(event.id);
    deliveredKeys.add(event.key);
    res.writeHead(204).end();
  });
});

beforeAll(async () => {
  cluster = await startCrashCluster({
    worker: { RELAY_INTERVAL_MS: '50', WEBHOOK_ATTEMPTS: '30', WEBHOOK_BACKOFF_MS: '100', WEBHOOK_CONCURRENCY: '64' },
  });
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  await cluster?.stop();
  redis?.disconnect();
  await new Promise((resolve) => receiver.close(resolve));
});

/** Every key with a `put` event in the collection's change feed, read from its start. */
async function keysInFeed(): Promise<Set<string>> {
  const keys = new Set<string>();
  let since = '0';
  for (;;) {
    const res = await call(`${cluster.base}${records}/changes?since=${since}&wait=0`);
    expect(res.status).toBe(200);
    const page = (await res.json()) as { events: { op: string; key: string }[]; revision: number };
    if (page.events.length === 0) return keys;
    for (const event of page.events) if (event.op === 'put') keys.add(event.key);
    since = String(page.revision);
  }
}

it('stores, feeds and delivers every acknowledged write when the worker is killed mid-load', async () => {
  const { base } = cluster;
  const created = await call(`${base}/v1/spaces/default/collections`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: COLLECTION }),
  });
  expect(created.status).toBe(201);
  const hook = await call(`${base}${records}/webhooks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`,
      secret: 'a-secret-of-some-length',
    }),
  });
  expect(hook.status).toBe(201);
  await cluster.startWorker();
  // The relay starts at the feed's tail: write until a delivery shows it has started.
  await expectEventually(
    async () => {
      const res = await call(`${base}${records}/records/probe`, { method: 'PUT', body: 'probe' });
      expect(res.status).toBe(200);
      expect(deliveredKeys.has('probe')).toBe(true);
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  );
  expect((await call(`${base}${records}/records/probe`, { method: 'DELETE' })).status).toBe(204);

  const deliveryQueue = new Queue(webhooksDeliverJob.queue, {
    connection: redis,
    prefix: `${cluster.redisPrefix}bull`,
  });
  let queuedAtKill = 0;
  let backlogAtKill: string[] = [];
  const started = Date.now();
  const load = await runWriteLoad({
    base,
    records,
    writes: WRITES,
    writers: WRITERS,
    // Half the requests are batches: the 10,000 writes take fewer requests.
    batchEvery: 2,
    fault: async (acknowledged) => {
      await cluster.killWorker();
      backlogAtKill = [...acknowledged.keys()].filter((key) => !deliveredKeys.has(key));
      const counts = await deliveryQueue.getJobCounts('wait', 'active', 'delayed', 'prioritized');
      queuedAtKill = Object.values(counts).reduce((sum, n) => sum + n, 0);
      await cluster.startWorker();
    },
  });
  await deliveryQueue.close();
  const loaded = Date.now();

  // The worker is not on the write path: no write failed or was refused.
  expect(load.failures).toEqual([]);
  expect(load.unexpected).toEqual([]);
  expect(load.refused).toBe(0);
  expect(load.acknowledged.size).toBeGreaterThanOrEqual(WRITES);
  expectStoredAfter(load, await storedRecords(base, records));

  const inFeed = await keysInFeed();
  expect([...load.acknowledged.keys()].filter((key) => !inFeed.has(key))).toEqual([]);

  // Deliveries were waiting in Redis, and events were not yet delivered, when the worker died.
  expect(queuedAtKill).toBeGreaterThan(0);
  expect(backlogAtKill.length).toBeGreaterThan(0);
  await expectEventually(
    () => expect([...load.acknowledged.keys()].filter((key) => !deliveredKeys.has(key))).toEqual([]),
    // Within a minute (about 10 s here): the dead worker's relay run, which holds the events
    // queue's one slot, and its deliveries in flight are handed back once their 5 s locks have
    // expired. With BullMQ's 30 s default, each stood still for about a minute.
    { timeoutMs: 60_000, intervalMs: 500 },
  );
  // At least once: every delivery carried a distinct event id or repeated one.
  expect(deliveries).toBeGreaterThanOrEqual(deliveredIds.size);
  expect(deliveredIds.size).toBeGreaterThanOrEqual(load.acknowledged.size);
  console.info(
    `load ${loaded - started} ms, deliveries done ${Date.now() - loaded} ms later; worker killed at ${WRITES / 3} of ${WRITES} writes: ${queuedAtKill} deliveries queued and ${backlogAtKill.length} ` +
      `acknowledged events undelivered at the kill; ${deliveries} deliveries of ${deliveredIds.size} distinct events`,
  );
});
