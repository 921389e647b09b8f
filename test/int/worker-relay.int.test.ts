import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { createApiRuntime, loadConfig as loadApiConfig, type ApiRuntime } from '../../apps/api/src';
import {
  createEmbeddedRelay,
  createWorkerRuntime,
  InProcessEventBus,
  loadConfig as loadWorkerConfig,
  MemoryCursorStore,
  type WorkerRuntime,
} from '../../apps/worker/src';
import { serviceClients } from '../support/api';
import { expectEventually } from '../support/expect-eventually';
import { createLogger } from '../../packages/platform/src';
import {
  allEventsPattern,
  decodeEventMessage,
  eventChannel,
  eventsRelayJob,
  type ChangeEvent,
} from '../../packages/proto/src';
import { createTestDatabase, redisPrefix, type TestDatabase } from '../support/database';
import { REDIS_URL } from '../support/env';

const logger = createLogger({ name: 'test', level: 'silent' });

let db: TestDatabase;
let api: ApiRuntime;
let redis: Redis;
const prefixes: string[] = [];

function newPrefix(): string {
  const prefix = redisPrefix();
  prefixes.push(prefix);
  return prefix;
}

async function deleteKeys(prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

beforeAll(async () => {
  redis = new Redis(REDIS_URL);
  db = await createTestDatabase();
  api = await createApiRuntime(
    loadApiConfig({
      DATABASE_URL: db.url,
      REDIS_URL,
      REDIS_PREFIX: newPrefix(),
      MIGRATE_ON_START: 'false',
      LOG_LEVEL: 'silent',
    }),
    logger,
  );
});

afterAll(async () => {
  await api?.close();
  await db?.drop();
  for (const prefix of prefixes) await deleteKeys(prefix);
  await redis?.quit();
});

const feed = () => serviceClients(api).changes;
const collections = () => serviceClients(api).collections;
const records = () => serviceClients(api).records;

async function createAndPut(collection: string, key: string) {
  const ref = { space: 'default', collection };
  await collections().createCollection({ collection: ref });
  const put = await records().putRecord({
    collection: ref,
    key,
    value: Buffer.from('hello'),
    contentType: 'text/plain',
  });
  return put.record?.revision ?? 0n;
}

/** Names of the Redis connections that carry `prefix` (BullMQ names its connections after it). */
async function connectionsNamed(prefix: string): Promise<string[]> {
  const list = await redis.client('LIST');
  return String(list)
    .split('\n')
    .map((line) => /\bname=(\S*)/.exec(line)?.[1] ?? '')
    .filter((name) => name.startsWith(prefix));
}

describe('the clustered worker (BullMQ on Redis)', () => {
  let prefix: string;
  let worker: WorkerRuntime;
  let subscriber: Redis;
  const messages: Array<{ channel: string; text: string }> = [];

  beforeAll(async () => {
    prefix = newPrefix();
    // Committed before the worker first runs: the relay starts at the tail and must not replay it.
    await createAndPut('before', 'old');
    subscriber = new Redis(REDIS_URL);
    subscriber.on('pmessage', (_pattern: string, channel: string, text: string) => messages.push({ channel, text }));
    await subscriber.psubscribe(allEventsPattern(prefix));
    worker = await createWorkerRuntime(
      loadWorkerConfig({
        REDIS_URL,
        REDIS_PREFIX: prefix,
        RELAY_INTERVAL_MS: '20',
        // A retention of about a second, checked every 100 ms.
        CHANGE_RETENTION_HOURS: String(1 / 3600),
        COMPACT_INTERVAL_MS: '100',
        WORKER_HEALTH_PORT: '0',
        LOG_LEVEL: 'silent',
      }),
      logger,
      { ...serviceClients(api), changes: feed() },
    );
  });

  afterAll(async () => {
    await worker?.close();
    await subscriber?.quit();
  });

  it("publishes the collection's newest change of each page on its channel, as JSON, without its value", async () => {
    await expectEventually(async () => expect(await redis.get(`${prefix}relay:cursor`)).not.toBeNull());

    const revision = await createAndPut('relayed', 'greeting');

    const channel = eventChannel(prefix, 'default', 'relayed');
    // The creation and the put are one message when one page holds both, else two.
    const put = await expectEventually(() => {
      const relayed = messages.filter((m) => m.channel === channel).map((m) => decodeEventMessage(m.text));
      expect(relayed.length).toBeLessThanOrEqual(2);
      expect(relayed.at(-1)?.op).toBe('put');
      return relayed.at(-1) as ChangeEvent;
    });
    expect(put.key).toBe('greeting');
    expect(put.revision).toBe(revision);
    expect(put.size).toBe(BigInt('hello'.length));
    const json = JSON.parse(messages.find((m) => m.text.includes('"greeting"'))?.text ?? '{}') as Record<
      string,
      unknown
    >;
    expect(json).toMatchObject({ op: 'put', space: 'default', collection: 'relayed', key: 'greeting' });
    expect(json.revision).toBe(String(revision));
    // A reader of the collection reads the value from the feed.
    expect(json).not.toHaveProperty('value');
    expect(messages.some((m) => m.channel.endsWith('/before'))).toBe(false);
    // The cursor moves once the page is published and its webhook deliveries are queued.
    await expectEventually(async () => expect(await redis.get(`${prefix}relay:cursor`)).toBe(put.position));
  });

  it('compacts the feed past the retention window, once events are relayed', async () => {
    const revision = await createAndPut('retained', 'short-lived');
    const count = async () =>
      Number(
        (
          await api.db.query<{ n: number }>('SELECT count(*)::int AS n FROM change_events WHERE revision = $1', [
            Number(revision),
          ])
        ).rows[0]?.n,
      );
    expect(await count()).toBe(1);
    await expectEventually(async () => expect(await count()).toBe(0), { timeoutMs: 10_000 });
    const channel = eventChannel(prefix, 'default', 'retained');
    expect(messages.filter((m) => m.channel === channel).map((m) => decodeEventMessage(m.text).key)).toContain(
      'short-lived',
    );
  }, 15_000);

  it('answers health and readiness probes', async () => {
    const healthz = await fetch(`${worker.healthUrl}/healthz`);
    expect(healthz.status).toBe(200);
    expect(await healthz.json()).toEqual({ status: 'ok' });
    const readyz = await fetch(`${worker.healthUrl}/readyz`);
    expect(readyz.status).toBe(200);
    expect((await fetch(`${worker.healthUrl}/nope`)).status).toBe(404);
  });

  it('closes every connection it opened', async () => {
    expect(await connectionsNamed(prefix)).not.toEqual([]);

    await worker.close();
    await worker.close();

    await expectEventually(async () => expect(await connectionsNamed(prefix)).toEqual([]));
    await expect(fetch(`${worker.healthUrl}/healthz`)).rejects.toThrow();
  });
});

describe('a relay job the record service refuses', () => {
  it('fails for good on its first attempt instead of spending its retries', async () => {
    const prefix = newPrefix();
    await redis.set(`${prefix}relay:cursor`, 'not-a-position');
    const worker = await createWorkerRuntime(
      loadWorkerConfig({ REDIS_URL, REDIS_PREFIX: prefix, RELAY_INTERVAL_MS: '20', WORKER_HEALTH_PORT: '0' }),
      logger,
      { ...serviceClients(api), changes: feed() },
    );
    const queue = new Queue(eventsRelayJob.queue, { connection: redis, prefix: `${prefix}bull` });
    try {
      const [failed] = await expectEventually(async () => {
        const jobs = await queue.getFailed();
        expect(jobs.length).toBeGreaterThan(0);
        return jobs;
      });
      expect(failed?.failedReason).toContain('INVALID_CURSOR');
      expect(failed?.attemptsMade).toBe(1);
    } finally {
      await queue.close();
      await worker.close();
    }
  });
});

describe('the embedded relay (all-in-one, no Redis)', () => {
  it('publishes committed changes to in-process subscribers', async () => {
    const errors: unknown[] = [];
    const bus = new InProcessEventBus((error) => errors.push(error));
    const received: ChangeEvent[] = [];
    const unsubscribe = bus.subscribe((event) => received.push(event));
    const cursor = new MemoryCursorStore();
    const relay = createEmbeddedRelay({ feed: feed(), publisher: bus, cursor, intervalMs: 20, batch: 100, logger });
    try {
      await expectEventually(async () => expect(await cursor.get()).toBeDefined());

      const revision = await createAndPut('embedded', 'greeting');

      // The creation and the put are one event (the put) when one page holds both, else two.
      await expectEventually(() => {
        const relayed = received.filter((e) => e.collection === 'embedded');
        expect(relayed.map((e) => e.op)).toContainEqual('put');
        expect(relayed.length).toBeLessThanOrEqual(2);
        expect([relayed.at(-1)?.op, relayed.at(-1)?.key, relayed.at(-1)?.revision]).toEqual([
          'put',
          'greeting',
          revision,
        ]);
      });
      expect(errors).toEqual([]);
    } finally {
      unsubscribe();
      await relay.stop();
    }
  });
});
