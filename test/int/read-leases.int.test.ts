import { create } from '@bufbuild/protobuf';
import { Redis } from 'ioredis';
import { RecordSchema, type Record as RecordMessage } from '../../packages/proto/src';
import { LeaseRevoker } from '../../apps/api/src/cache/lease-revoker';
import { SqlCollectionsRepository } from '../../apps/api/src/db/collections-repository';
import { recordMessage } from '../../apps/api/src/transport/mappers';
import { RedisLeaseBus } from '../../apps/gateway/src/clients/lease-bus';
import { LeaseCache } from '../../apps/gateway/src/clients/lease-cache';
import { silentLogger } from '../support/api';
import { createTestDatabase, redisPrefix, type TestDatabase } from '../support/database';
import { REDIS_URL } from '../support/env';
import { expectEventually as eventually } from '../support/expect-eventually';
import { startRecordNode, type RecordNode } from '../support/record-node';

/**
 * Read leases (docs/cache-consistency.md, "Read leases"): the gateways keep leased records and
 * answer from them, so a write must not be acknowledged while any gateway could still answer
 * the old value. Record services ("api nodes") and lease holders ("gateways") share one
 * database and one Redis, and talk over real pub/sub.
 */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ROUNDS_TIMEOUT_MS = 60_000;
const GRANT = 'grant-of-the-reader';

/** A record service with a Redis cache that grants leases of `leaseMs`, on `redis` if given. */
async function startNode(db: TestDatabase, prefix: string, leaseMs: number, redis?: Redis): Promise<Node> {
  const connection = redis ?? new Redis(REDIS_URL, { enableAutoPipelining: true, maxRetriesPerRequest: 1 });
  const revoker = new LeaseRevoker(connection, new Redis(REDIS_URL), prefix, silentLogger);
  await revoker.start();
  return startRecordNode(db, {
    prefix,
    applicationName: 'read-leases',
    redis: connection,
    leases: { ms: leaseMs, revoker },
  });
}

type Node = RecordNode;

interface Gateway {
  readonly cache: LeaseCache;
  readonly bus: RedisLeaseBus;
  readonly name: string;
}

let gatewayCount = 0;

async function startGateway(prefix: string): Promise<Gateway> {
  const cache = new LeaseCache({ maxBytes: 1 << 20, maxValueBytes: 1 << 16, maxLeaseMs: 10_000 });
  const name = `read-leases-${process.pid}-${gatewayCount++}`;
  const bus = new RedisLeaseBus(
    cache,
    new Redis(REDIS_URL, { connectionName: name }),
    new Redis(REDIS_URL),
    prefix,
    silentLogger,
  );
  await eventually(() => expect(cache.available).toBe(true));
  return { cache, bus, name };
}

/**
 * What the gateway's RecordReader does for one key: answer from the lease cache, or read with a
 * lease and keep what was leased. `delayMs` holds the answer back before it is kept, as a slow
 * network would, so that revocations overtake it.
 */
async function read(
  gateway: Gateway,
  node: Node,
  address: { space: string; name: string },
  key: string,
  delayMs = 0,
): Promise<{ record: RecordMessage | undefined; held: boolean }> {
  const held = gateway.cache.get(GRANT, address.space, address.name, key);
  if (held !== undefined) return { record: held, held: true };
  const ticket = gateway.cache.ticket();
  const sentAt = performance.now();
  const { records, leased, leaseMs } = await node.records.leasedBatchGet(address, [key], gateway.cache.holder);
  const [found] = records;
  const record = found === undefined ? undefined : create(RecordSchema, recordMessage(found));
  if (delayMs > 0) await sleep(delayMs);
  if (record !== undefined && leased[0] === true) {
    gateway.cache.install(ticket, sentAt, leaseMs, GRANT, address.space, address.name, record);
  }
  return { record, held: false };
}

let db: TestDatabase;
let prefix: string;
let nodes: Node[];
let gateways: Gateway[];
const address = { space: 'default', name: 'leased' };

beforeAll(async () => {
  db = await createTestDatabase();
  prefix = redisPrefix();
  nodes = [await startNode(db, prefix, 3000), await startNode(db, prefix, 3000)];
  gateways = [await startGateway(prefix), await startGateway(prefix)];
  const [first] = nodes as [Node];
  await new SqlCollectionsRepository(first.sql).ensureSpace('default');
  await first.collections.create(address, {});
  // The nodes' grace after connecting to Redis (a lease's length) is over before any test times writes.
  await sleep(3000);
}, 30_000);

afterAll(async () => {
  await Promise.all(gateways.map((g) => g.bus.close()));
  await Promise.all(nodes.map((n) => n.close()));
  await db.drop();
});

const pickNode = () => nodes[Math.floor(Math.random() * nodes.length)] as Node;
const pickGateway = () => gateways[Math.floor(Math.random() * gateways.length)] as Gateway;

it('answers a leased record from the holder, and a write takes the lease back before it is acknowledged', async () => {
  const [node, other] = nodes as [Node, Node];
  const [gateway] = gateways as [Gateway];
  await node.records.put(address, { key: 'hot', value: Buffer.from('one') });
  // The first read fills the record service's cache; the second is answered from it, with a lease.
  await read(gateway, node, address, 'hot');
  const leased = await read(gateway, node, address, 'hot');
  expect(leased.held).toBe(false);
  const again = await read(gateway, node, address, 'hot');
  expect(again).toMatchObject({ held: true, record: { value: Buffer.from('one') } });
  expect(gateway.cache.get('another-grant', address.space, address.name, 'hot')).toBeUndefined();

  const started = performance.now();
  const { record } = await other.records.put(address, { key: 'hot', value: Buffer.from('two') });
  const took = performance.now() - started;
  // Confirmed by the holder, not waited out (the lease has 3 s).
  expect(took).toBeLessThan(1500);
  expect(gateway.cache.get(GRANT, address.space, address.name, 'hot')).toBeUndefined();
  const after = await read(gateway, node, address, 'hot');
  expect(after.record?.revision).toBe(BigInt(record.revision));
  expect(after.record?.value).toEqual(Buffer.from('two'));
});

it(
  'serves no value older than an acknowledged write, with holders answering from their leases',
  async () => {
    const keys = ['k0', 'k1', 'k2'];
    const acked = new Map<string, number>();
    const stale: string[] = [];
    let reads = 0;
    let held = 0;
    let writes = 0;
    const WRITES = 60;
    const READS = 150;
    let writing = 3;

    const writer = async (id: number) => {
      for (let seq = 0; seq < WRITES; seq++) {
        const key = keys[seq % keys.length] as string;
        const { record } = await pickNode().records.put(address, { key, value: Buffer.from(`${id}:${seq}`) });
        acked.set(key, Math.max(acked.get(key) ?? 0, record.revision));
        writes++;
        await sleep(Math.random() * 5);
      }
      writing -= 1;
    };
    const reader = async () => {
      for (let mine = 0; mine < READS || writing > 0; mine++) {
        const key = keys[Math.floor(Math.random() * keys.length)] as string;
        const floor = acked.get(key) ?? 0;
        // One answer in four is held back before it is kept, so that revocations overtake it.
        const answer = await read(pickGateway(), pickNode(), address, key, Math.random() < 0.25 ? 5 : 0);
        reads++;
        if (answer.held) held++;
        const seen = Number(answer.record?.revision ?? 0n);
        if (seen < floor) stale.push(`${key}: read revision ${seen} after revision ${floor} was acknowledged`);
        // An answer from the lease cache resolves at once: let I/O (revocations among it) run between reads.
        await new Promise(setImmediate);
      }
    };
    await Promise.all([...[0, 1, 2].map(writer), ...Array.from({ length: 6 }, reader)]);
    expect(stale).toEqual([]);
    expect(writes).toBe(3 * WRITES);
    expect(reads).toBeGreaterThanOrEqual(6 * READS);
    // The leases were used, not merely granted.
    expect(held).toBeGreaterThan(0);
  },
  ROUNDS_TIMEOUT_MS,
);

it("drops a collection's leased records when the collection is deleted", async () => {
  const [node] = nodes as [Node];
  const [gateway] = gateways as [Gateway];
  const doomed = { space: 'default', name: 'doomed' };
  const kept = { space: 'default', name: 'kept' };
  for (const collection of [doomed, kept]) {
    await node.collections.create(collection, {});
    await node.records.put(collection, { key: 'a', value: Buffer.from('x') });
    await read(gateway, node, collection, 'a');
    await read(gateway, node, collection, 'a');
    expect((await read(gateway, node, collection, 'a')).held).toBe(true);
  }
  const started = performance.now();
  await node.collections.delete(doomed);
  expect(performance.now() - started).toBeLessThan(1500);
  expect(gateway.cache.get(GRANT, doomed.space, doomed.name, 'a')).toBeUndefined();
  expect(gateway.cache.get(GRANT, kept.space, kept.name, 'a')).toBeDefined();
});

it('waits out the lease of a holder that does not answer', async () => {
  const [node] = nodes as [Node];
  await node.records.put(address, { key: 'orphan', value: Buffer.from('x') });
  await node.records.leasedBatchGet(address, ['orphan'], 'a-holder-nobody-listens-for');
  const { leased, leaseMs } = await node.records.leasedBatchGet(address, ['orphan'], 'a-holder-nobody-listens-for');
  expect(leased).toEqual([true]);
  const started = performance.now();
  await node.records.put(address, { key: 'orphan', value: Buffer.from('y') });
  const took = performance.now() - started;
  expect(took).toBeGreaterThanOrEqual(leaseMs - 100);
  expect(took).toBeLessThan(leaseMs + 1500);
}, 15_000);

it('holds nothing while its subscription is lost, and takes leases again once it is back', async () => {
  const [node] = nodes as [Node];
  const gateway = await startGateway(prefix);
  const admin = new Redis(REDIS_URL);
  try {
    await node.records.put(address, { key: 'cut', value: Buffer.from('x') });
    await read(gateway, node, address, 'cut');
    await read(gateway, node, address, 'cut');
    expect(gateway.cache.size.entries).toBe(1);
    const killed = await admin.call('CLIENT', 'KILL', 'ID', await clientId(admin, gateway.name));
    expect(killed).toBe(1);
    await eventually(() => expect(gateway.cache.size.entries).toBe(0));
    await eventually(() => expect(gateway.cache.available).toBe(true), { timeoutMs: 10_000 });
    await read(gateway, node, address, 'cut');
    expect((await read(gateway, node, address, 'cut')).held).toBe(true);
    // And revocations reach it on the new subscription.
    const started = performance.now();
    await node.records.put(address, { key: 'cut', value: Buffer.from('y') });
    expect(performance.now() - started).toBeLessThan(1500);
    expect(gateway.cache.get(GRANT, address.space, address.name, 'cut')).toBeUndefined();
  } finally {
    admin.disconnect();
    await gateway.bus.close();
  }
});

/** The id of the Redis client connected under `name`. */
async function clientId(admin: Redis, name: string): Promise<string> {
  const list = (await admin.call('CLIENT', 'LIST')) as string;
  const line = list.split('\n').find((l) => l.includes(` name=${name} `));
  const id = /^id=(\d+)/.exec(line ?? '')?.[1];
  if (id === undefined) throw new Error(`no client named ${name}`);
  return id;
}

it('acknowledges no write before leases a restarted Redis forgot could have run out', async () => {
  const fresh = await startNode(db, prefix, 800);
  try {
    // Connected just now: the first write waits for a lease's length after the connection.
    const started = performance.now();
    await fresh.records.put(address, { key: 'fresh', value: Buffer.from('x') });
    expect(performance.now() - started).toBeGreaterThanOrEqual(500);
    const next = performance.now();
    await fresh.records.put(address, { key: 'fresh', value: Buffer.from('y') });
    expect(performance.now() - next).toBeLessThan(500);
  } finally {
    await fresh.close();
  }
});

it('waits out every lease when the store after a write fails', async () => {
  // Never connected, and no offline queue: every command fails at once, as when Redis is down.
  const down = new Redis(REDIS_URL, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
  const broken = await startNode(db, prefix, 700, down);
  try {
    const started = performance.now();
    await broken.records.put(address, { key: 'unmarked', value: Buffer.from('x') });
    expect(performance.now() - started).toBeGreaterThanOrEqual(700);
  } finally {
    await broken.close();
  }
});
