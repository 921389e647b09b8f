import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startCrashCluster, type CrashCluster } from '../support/crash-cluster';
import { authFetch } from '../support/env';
import { expectEventually } from '../support/expect-eventually';

/**
 * The worker killed (SIGKILL) while webhook deliveries wait for a receiver that refuses them:
 * once a new worker runs and the receiver answers, every event written — before the crash and
 * while no worker ran — reaches it at least once. BullMQ keeps the deliveries in Redis, the
 * relay's position is in Redis, and the feed is in Postgres.
 */

jest.setTimeout(240_000);

let cluster: CrashCluster;
let base: string;
let receiver: Server;
let accepting = false;
/** Keys of the events the receiver accepted (answered 204). */
const delivered = new Set<string>();
let attempts = 0;

const call = authFetch();

beforeAll(async () => {
  cluster = await startCrashCluster({
    worker: { RELAY_INTERVAL_MS: '50', WEBHOOK_ATTEMPTS: '30', WEBHOOK_BACKOFF_MS: '100' },
  });
  base = cluster.base;
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      attempts += 1;
      if (!accepting) {
        res.writeHead(503).end();
        return;
      }
      delivered.add((JSON.parse(body) as { key: string }).key);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  await cluster?.stop();
  await new Promise((resolve) => receiver.close(resolve));
});

async function write(keys: string[]): Promise<void> {
  const res = await call(`${base}/v1/spaces/default/collections/hooked/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ records: keys.map((key) => ({ key, value: key })) }),
  });
  expect(res.status).toBe(200);
}

it('delivers every event at least once across a worker killed mid-retry', async () => {
  const created = await call(`${base}/v1/spaces/default/collections`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'hooked' }),
  });
  expect(created.status).toBe(201);
  const hook = await call(`${base}/v1/spaces/default/collections/hooked/webhooks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`,
      secret: 'a-secret-of-some-length',
    }),
  });
  expect(hook.status).toBe(201);

  await cluster.startWorker();
  // The relay starts at the feed's tail: write until a first attempt shows it has started.
  let probe = 0;
  const probes: string[] = [];
  await expectEventually(
    async () => {
      probes.push(`probe-${probe++}`);
      await write(probes.slice(-1));
      expect(attempts).toBeGreaterThan(0);
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  );
  const before = Array.from({ length: 40 }, (_, i) => `before-${i}`);
  await write(before);
  // Every event has been tried (and refused) at least once: the deliveries wait in Redis.
  await expectEventually(() => expect(attempts).toBeGreaterThanOrEqual(probes.length + before.length), {
    timeoutMs: 30_000,
  });

  await cluster.killWorker();
  const during = Array.from({ length: 20 }, (_, i) => `during-${i}`);
  await write(during);
  accepting = true;

  await cluster.startWorker();
  await expectEventually(
    () => {
      const missing = [...probes, ...before, ...during].filter((key) => !delivered.has(key));
      expect(missing).toEqual([]);
    },
    { timeoutMs: 150_000, intervalMs: 250 },
  );
});
