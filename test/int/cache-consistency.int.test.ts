import { Redis } from 'ioredis';
import type { Collection } from '../../packages/core/src';
import { SqlCollectionsRepository } from '../../apps/api/src/db/collections-repository';
import type { CacheEntry, RecordCache, RecordEntry, StoreSource } from '../../apps/api/src/services/ports';
import { createTestDatabase, redisPrefix, type TestDatabase } from '../support/database';
import { REDIS_URL } from '../support/env';
import { startRecordNode, type RecordNode } from '../support/record-node';

/**
 * The cache's promise (docs/cache-consistency.md): once a write is acknowledged, no reader
 * anywhere gets an older value — including readers that loaded the old row just before the
 * write and put it into the cache just after. Two "processes" share one database and one Redis;
 * readers' cache fills are delayed at random to widen exactly that race.
 */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** The racing tests run dozens of durable rounds: seconds alone, more on a machine busy with the other suites. */
const ROUNDS_TIMEOUT_MS = 30_000;

/** Delays the cache fills of readers, the dangerous writes; a writer's own stores go at once. */
class SlowFills implements RecordCache {
  constructor(private readonly inner: RecordCache) {}
  get degraded() {
    return this.inner.degraded;
  }
  get leaseMs() {
    return this.inner.leaseMs;
  }
  lookup(space: string, name: string, keys: readonly string[], leaseHolder?: string) {
    return this.inner.lookup(space, name, keys, leaseHolder);
  }
  lookupCollection(space: string, name: string) {
    return this.inner.lookupCollection(space, name);
  }
  async storeCollection(space: string, name: string, entry: CacheEntry<Collection>, source: StoreSource) {
    if (source === 'read') await sleep(Math.random() * 15);
    return this.inner.storeCollection(space, name, entry, source);
  }
  async storeRecords(collection: Collection, entries: readonly RecordEntry[], source: StoreSource) {
    if (source === 'read') await sleep(Math.random() * 15);
    return this.inner.storeRecords(collection, entries, source);
  }
  close() {
    return this.inner.close();
  }
}

function startNode(db: TestDatabase, prefix: string): RecordNode {
  return startRecordNode(db, { prefix, applicationName: 'cache-consistency', wrap: (cache) => new SlowFills(cache) });
}

let db: TestDatabase;
let prefix: string;
let nodes: RecordNode[];
const address = { space: 'default', name: 'race' };

beforeAll(async () => {
  db = await createTestDatabase();
  prefix = redisPrefix();
  nodes = [startNode(db, prefix), startNode(db, prefix)];
  const [first] = nodes as [RecordNode];
  await new SqlCollectionsRepository(first.sql).ensureSpace('default');
  await first.collections.create(address, {});
});

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.close()));
  await db.drop();
});

const pick = () => nodes[Math.floor(Math.random() * nodes.length)] as RecordNode;

it(
  'serves no value older than an acknowledged write, under concurrent writers and readers',
  async () => {
    const keys = ['k0', 'k1', 'k2'];
    const acked = new Map<string, number>();
    const stale: string[] = [];
    let reads = 0;
    let writes = 0;
    // A fixed amount of work rather than a time window, so that a busy machine makes the test
    // slower, not weaker: every writer writes WRITES times, every reader reads at least READS
    // times and goes on while any writer still writes.
    const WRITES = 75;
    const READS = 70;
    let writing = 4;

    const writer = async (id: number) => {
      for (let seq = 0; seq < WRITES; seq++) {
        const key = keys[seq % keys.length] as string;
        const { record } = await pick().records.put(address, { key, value: Buffer.from(`${id}:${seq}`) });
        acked.set(key, Math.max(acked.get(key) ?? 0, record.revision));
        writes++;
      }
      writing -= 1;
    };
    const reader = async () => {
      for (let mine = 0; mine < READS || writing > 0; mine++) {
        const key = keys[Math.floor(Math.random() * keys.length)] as string;
        const floor = acked.get(key) ?? 0;
        // Half the reads go through batch reads, which fill the cache the same way.
        const record =
          reads % 2 === 0
            ? await pick().records.get(address, key)
            : (await pick().records.batchGet(address, [key, 'absent'], true))[0];
        reads++;
        const seen = record?.revision ?? 0;
        if (seen < floor) stale.push(`${key}: read revision ${seen} after revision ${floor} was acknowledged`);
      }
    };
    await Promise.all([...[0, 1, 2, 3].map(writer), ...Array.from({ length: 8 }, reader)]);
    expect(stale).toEqual([]);
    expect(writes).toBe(4 * WRITES);
    expect(reads).toBeGreaterThanOrEqual(8 * READS);
  },
  ROUNDS_TIMEOUT_MS,
);

it(
  'never resurrects a deleted record from a slow reader’s fill',
  async () => {
    const resurrected: string[] = [];
    const redis = new Redis(REDIS_URL);
    let fills = 0;
    for (let round = 0; round < 60; round++) {
      const key = `d${round % 5}`;
      await pick().records.put(address, { key, value: Buffer.from(`round ${round}`) });
      // The entry expires (as under memory pressure or after its TTL), so readers miss, load the
      // live row, and fill the cache up to 15 ms later — after the delete below.
      const [entry] = await redis.keys(`${prefix}r:*:${key}`);
      if (entry !== undefined) fills += await redis.del(entry);
      const racing = Array.from({ length: 6 }, () => pick().records.get(address, key));
      await sleep(Math.random() * 3);
      const deleted = await pick().records.delete(address, key, undefined);
      expect(deleted.deleted).toBe(true);
      await Promise.all(racing);
      await sleep(20);
      for (const node of nodes) {
        const seen = await node.records.get(address, key);
        if (seen !== undefined) resurrected.push(`${key} round ${round}: revision ${seen.revision}`);
      }
    }
    redis.disconnect();
    expect(resurrected).toEqual([]);
    expect(fills).toBe(60);
  },
  ROUNDS_TIMEOUT_MS,
);

it('never serves a deleted collection’s records under a recreated one', async () => {
  const other = { space: 'default', name: 'reborn' };
  await nodes[0]?.collections.create(other, {});
  await nodes[0]?.records.put(other, { key: 'x', value: Buffer.from('old') });
  expect((await nodes[1]?.records.get(other, 'x'))?.value).toEqual(Buffer.from('old'));
  await nodes[1]?.collections.delete(other);
  await nodes[0]?.collections.create(other, {});
  for (const node of nodes) expect(await node.records.get(other, 'x')).toBeUndefined();
});
