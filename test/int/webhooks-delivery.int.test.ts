import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { createApiRuntime, loadConfig as loadApiConfig, type ApiRuntime } from '../../apps/api/src';
import { createLogger } from '../../packages/platform/src';
import {
  createEmbeddedRelay,
  createWorkerRuntime,
  InProcessEventBus,
  InProcessWebhookDispatcher,
  loadConfig as loadWorkerConfig,
  MemoryCursorStore,
  webhookSignature,
  WebhookTargets,
} from '../../apps/worker/src';
import { serviceClients } from '../support/api';
import { createTestDatabase, redisPrefix, type TestDatabase } from '../support/database';
import { REDIS_URL } from '../support/env';
import { expectEventually } from '../support/expect-eventually';

/**
 * Webhook deliveries end to end, on real Postgres and Redis: the relay queues one job per
 * webhook and event, BullMQ retries a failing receiver with backoff until it answers, a
 * receiver that never does ends in the dead-letter list, and the all-in-one process's in-process
 * deliveries behave the same. Every delivery is signed and carries the event's id.
 */

const logger = createLogger({ name: 'test', level: 'silent' });
const SECRET = 'webhook-secret-0123456789';

let db: TestDatabase;
let api: ApiRuntime;
let redis: Redis;
let receiver: Server;
let base: string;
const prefixes: string[] = [];
/** Requests received, by path. */
const hits = new Map<string, Array<{ id: string; signature: string; body: string }>>();
/** How many requests of each event to each path fail before it answers 200 (Infinity: always). */
const failFirst = new Map<string, number>();

const clients = () => serviceClients(api);

beforeAll(async () => {
  redis = new Redis(REDIS_URL);
  db = await createTestDatabase();
  api = await createApiRuntime(
    loadApiConfig({ DATABASE_URL: db.url, MIGRATE_ON_START: 'false', LOG_LEVEL: 'silent' }),
    logger,
  );
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      const path = req.url ?? '';
      const id = String(req.headers['rosetta-event-id']);
      const list = hits.get(path) ?? [];
      list.push({ id, signature: String(req.headers['rosetta-signature']), body });
      hits.set(path, list);
      const tries = list.filter((hit) => hit.id === id).length;
      res.writeHead(tries > (failFirst.get(path) ?? 0) ? 200 : 500).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => receiver.close(resolve));
  await api?.close();
  await db?.drop();
  for (const prefix of prefixes) {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  }
  await redis?.quit();
});

async function hook(collection: string, path: string, fails: number, extra: Record<string, unknown> = {}) {
  failFirst.set(path, fails);
  const { webhook } = await clients().webhooks.createWebhook({
    collection: { space: 'default', collection },
    url: `${base}${path}`,
    secret: SECRET,
    ...extra,
  });
  return webhook?.id ?? 0n;
}

const deliveries = async (collection: string, id: bigint) =>
  (await clients().webhooks.listDeliveries({ webhook: { collection: { space: 'default', collection }, id } }))
    .deliveries;

/** Each request of `path` was signed with the secret over its body, at a timestamp near now. */
function expectSigned(path: string) {
  for (const { signature, body } of hits.get(path) ?? []) {
    const timestamp = Number(/^t=(\d+),/.exec(signature)?.[1]);
    expect(Math.abs(timestamp - Date.now() / 1000)).toBeLessThan(60);
    expect(signature).toBe(webhookSignature(SECRET, timestamp, body));
  }
}

async function run(collection: string, start: () => Promise<() => Promise<void>>) {
  await clients().collections.createCollection({ collection: { space: 'default', collection } });
  const flaky = await hook(collection, `/${collection}/flaky`, 3);
  const down = await hook(collection, `/${collection}/down`, Infinity);
  const deletes = await hook(collection, `/${collection}/dvid`, 0, { ops: ['delete'], format: 'dvid' });
  const stop = await start();
  try {
    // The relay starts at the feed's tail: write until a first delivery shows it is running.
    let key = 0;
    await expectEventually(
      async () => {
        key += 1;
        await clients().records.putRecord({
          collection: { space: 'default', collection },
          key: `k${key}`,
          value: Buffer.from('v'),
          contentType: 'text/plain',
        });
        expect(hits.get(`/${collection}/flaky`)?.length ?? 0).toBeGreaterThan(0);
      },
      { timeoutMs: 10_000, intervalMs: 200 },
    );
    const first = hits.get(`/${collection}/flaky`)?.[0];
    const event = JSON.parse(first?.body ?? '{}') as { id: string; op: string; key: string; value: string };
    expect(event).toMatchObject({ op: 'put', value: 'v', encoding: 'utf8' });
    // Three refusals, then the fourth attempt of the same event is delivered.
    await expectEventually(
      async () => {
        const log = await deliveries(collection, flaky);
        expect(log.find((d) => d.eventId === event.id)).toMatchObject({
          state: 'delivered',
          attempts: 4,
          lastStatus: 200,
        });
      },
      { timeoutMs: 10_000 },
    );
    const sameEvent = (hits.get(`/${collection}/flaky`) ?? []).filter((h) => h.id === event.id);
    expect(sameEvent.length).toBe(4);
    expect(new Set(sameEvent.map((h) => h.body)).size).toBe(1);
    expectSigned(`/${collection}/flaky`);
    // A receiver that never answers 200: dead after the last attempt (the dead-letter list).
    await expectEventually(
      async () => {
        const dead = (
          await clients().webhooks.listDeliveries({
            webhook: { collection: { space: 'default', collection }, id: down },
            state: 'dead',
          })
        ).deliveries;
        expect(dead.find((d) => d.eventId === event.id)).toMatchObject({ attempts: 4, lastStatus: 500 });
      },
      { timeoutMs: 10_000 },
    );
    // DVID's mutation log, for deletes only.
    await clients().records.deleteRecord({ collection: { space: 'default', collection }, key: event.key });
    await expectEventually(() => expect(hits.get(`/${collection}/dvid`)?.length).toBe(1), { timeoutMs: 10_000 });
    expect(JSON.parse(hits.get(`/${collection}/dvid`)?.[0]?.body ?? '{}')).toMatchObject({
      Action: 'delete',
      Key: event.key,
    });
    await expectEventually(async () =>
      expect((await deliveries(collection, deletes))[0]).toMatchObject({ state: 'delivered', op: 'delete' }),
    );
  } finally {
    await stop();
  }
}

it('delivers through BullMQ, retrying with backoff, and dead-letters what never gets through', async () => {
  const prefix = redisPrefix();
  prefixes.push(prefix);
  await run('queued', async () => {
    const worker = await createWorkerRuntime(
      loadWorkerConfig({
        REDIS_URL,
        REDIS_PREFIX: prefix,
        RELAY_INTERVAL_MS: '20',
        WEBHOOK_ATTEMPTS: '4',
        WEBHOOK_BACKOFF_MS: '20',
        WORKER_HEALTH_PORT: '0',
        LOG_LEVEL: 'silent',
      }),
      logger,
      clients(),
    );
    return () => worker.close();
  });
}, 40_000);

it('delivers the same way in process, as the all-in-one process does', async () => {
  await run('embedded', () => {
    const dispatcher = new InProcessWebhookDispatcher(
      new WebhookTargets(clients().webhooks),
      clients().webhooks,
      { attempts: 4, backoffMs: 20 },
      logger,
    );
    const relay = createEmbeddedRelay({
      feed: clients().changes,
      publisher: new InProcessEventBus(() => undefined),
      cursor: new MemoryCursorStore(),
      intervalMs: 20,
      batch: 100,
      logger,
      webhooks: dispatcher,
    });
    return Promise.resolve(async () => {
      await relay.stop();
      await dispatcher.stop();
    });
  });
}, 40_000);
