import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTestDatabase, redisPrefix, type TestDatabase } from '../support/database';
import { authFetch, REDIS_URL, TEST_INTERNAL_SECRET } from '../support/env';
import { expectEventually } from '../support/expect-eventually';
import { freePort, startApiService, startService, waitUntilReady, type ServiceProcess } from '../support/processes';

/**
 * The worker killed (SIGKILL) while webhook deliveries wait for a receiver that refuses them:
 * once a new worker runs and the receiver answers, every event written — before the crash and
 * while no worker ran — reaches it at least once. BullMQ keeps the deliveries in Redis, the
 * relay's position is in Redis, and the feed is in Postgres.
 */

jest.setTimeout(240_000);

let db: TestDatabase;
let api: ServiceProcess;
let gateway: ServiceProcess;
let worker: ServiceProcess | undefined;
let receiver: Server;
let base: string;
let workerEnv: Record<string, string>;
let workerHealth: string;
let accepting = false;
/** Keys of the events the receiver accepted (answered 204). */
const delivered = new Set<string>();
let attempts = 0;

const call = authFetch();

beforeAll(async () => {
  db = await createTestDatabase();
  const prefix = redisPrefix();
  const [apiPort, gatewayPort, workerPort] = [await freePort(), await freePort(), await freePort()];
  api = startApiService(apiPort, db.url, prefix);
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  workerEnv = {
    API_URL: apiUrl,
    REDIS_URL,
    REDIS_PREFIX: prefix,
    WORKER_HEALTH_PORT: String(workerPort),
    RELAY_INTERVAL_MS: '50',
    WEBHOOK_ATTEMPTS: '30',
    WEBHOOK_BACKOFF_MS: '100',
    ROSETTA_INTERNAL_SECRET: TEST_INTERNAL_SECRET,
    LOG_LEVEL: 'warn',
  };
  workerHealth = `http://127.0.0.1:${workerPort}/readyz`;
  gateway = startService('gateway', 'apps/gateway/dist/main.js', {
    PORT: String(gatewayPort),
    API_URL: apiUrl,
    LOG_LEVEL: 'warn',
  });
  base = `http://127.0.0.1:${gatewayPort}`;
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
  await waitUntilReady(gateway, `${base}/readyz`);
});

afterAll(async () => {
  await Promise.all([gateway, worker, api].filter((s) => s !== undefined).map((s) => s.stop()));
  await new Promise((resolve) => receiver.close(resolve));
  await db?.drop();
});

async function startWorker(): Promise<ServiceProcess> {
  const started = startService('worker', 'apps/worker/dist/main.js', workerEnv);
  await waitUntilReady(started, workerHealth);
  return started;
}

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

  worker = await startWorker();
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

  worker.child.kill('SIGKILL');
  await worker.stop();
  worker = undefined;
  const during = Array.from({ length: 20 }, (_, i) => `during-${i}`);
  await write(during);
  accepting = true;

  worker = await startWorker();
  await expectEventually(
    () => {
      const missing = [...probes, ...before, ...during].filter((key) => !delivered.has(key));
      expect(missing).toEqual([]);
    },
    { timeoutMs: 150_000, intervalMs: 250 },
  );
});
