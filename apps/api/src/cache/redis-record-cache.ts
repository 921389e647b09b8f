import type { Counter, ObservableGauge, ObservableResult } from '@opentelemetry/api';
import type { Redis } from 'ioredis';
import { rosettaMeter, type Logger } from '@rosetta/platform';
import type { Collection } from '@rosetta/core';
import type { CacheEntry, CacheLookup, RecordCache, RecordEntry, StoreSource } from '../services/ports';
import { decodeCollection, decodeRecord, encodeCollection, encodeRecord, entryKind } from './entries';

// "Set if newer", for each key: keep the stored entry when its revision is higher, or equal and
// not a marker. ARGV holds (revision, payload, ttl ms) per key. GETRANGE reads only the header,
// however large the cached value.
const STORE = `
local stored = 0
for i = 1, #KEYS do
  local new = tonumber(ARGV[3 * i - 2])
  local keep = false
  local head = redis.call('GETRANGE', KEYS[i], 0, 40)
  if head ~= '' then
    local rev, kind = string.match(head, '^(%d+)|(%a)')
    if rev then
      local old = tonumber(rev)
      keep = old > new or (old == new and kind ~= 'm')
    end
  end
  if not keep then
    redis.call('SET', KEYS[i], ARGV[3 * i - 1], 'PX', ARGV[3 * i])
    stored = stored + 1
  end
end
return stored`;

// The collection entry and, when it is live, its records' entries: one round trip for a read or
// a batch of reads. Record keys are built from the collection's id (ARGV[1] is their common
// head); they share the collection's {space/name} hash tag. Missing entries come back as nil.
const LOOKUP = `
local c = redis.call('GET', KEYS[1])
if not c then return {false} end
local id, node = string.match(c, '^%d+|v|(%d+)|(%d+)|')
if not id then return {c} end
local head = ARGV[1] .. id .. ':' .. node .. ':'
local out = {c}
for i = 2, #ARGV do out[i] = redis.call('GET', head .. ARGV[i]) end
return out`;

const REPAIR_RETRY_MS = 1000;
const MAX_DECODED_COLLECTIONS = 1000;

interface StoreItem {
  readonly key: string;
  readonly revision: number;
  readonly payload: string | Buffer;
  readonly ttlMs: number;
}

interface CacheCommands {
  rosettaStore(keyCount: number, ...keysThenArgs: Array<string | number | Buffer>): Promise<number>;
  rosettaLookupBuffer(key: string, recordHead: string, ...keys: string[]): Promise<Array<Buffer | null>>;
}

export interface RedisRecordCacheOptions {
  readonly prefix: string;
  /** Lifetime of live entries. */
  readonly ttlMs: number;
  /** Lifetime of tombstones and markers: must exceed the services' populate window many times over. */
  readonly tombstoneTtlMs: number;
  /** Values larger than this are cached as markers. */
  readonly maxValueBytes: number;
}

/**
 * The record cache on Redis. When a store after a committed write fails (Redis down or slow),
 * the entry may now be stale, so the cache turns `degraded`: lookups miss until every failed
 * key has been overwritten by a marker at the write's revision, retried when Redis is back.
 */
export class RedisRecordCache implements RecordCache {
  private readonly redis: Redis & CacheCommands;
  private readonly repairs = new Map<string, number>();
  /** Decoded collection entries by their exact text (which includes the revision), to parse each once. */
  private readonly decoded = new Map<string, CacheEntry<Collection> | undefined>();
  private repairing: Promise<void> | undefined;
  private retry: NodeJS.Timeout | undefined;
  /** `rosetta_cache_errors_total`: Redis commands of the cache that failed (look-ups, stores, repairs). */
  private readonly errors: Counter;
  /** `rosetta_cache_repairs_pending`: keys awaiting repair (cache reads are off while above 0). */
  private readonly pending: ObservableGauge;
  private readonly observePending = (result: ObservableResult): void => result.observe(this.repairs.size);

  constructor(
    redis: Redis,
    private readonly options: RedisRecordCacheOptions,
    private readonly logger: Logger,
  ) {
    redis.defineCommand('rosettaStore', { lua: STORE });
    redis.defineCommand('rosettaLookup', { numberOfKeys: 1, lua: LOOKUP });
    this.redis = redis as Redis & CacheCommands;
    this.errors = rosettaMeter().createCounter('rosetta_cache_errors_total', {
      description:
        'Failed Redis commands of the read cache: look-ups answered by the database instead, stores, repairs',
    });
    this.pending = rosettaMeter().createObservableGauge('rosetta_cache_repairs_pending', {
      description: 'Cache keys whose store failed after a write, awaiting repair: above 0, cache reads are off',
    });
    this.pending.addCallback(this.observePending);
    redis.on('ready', () => void this.repair());
  }

  get degraded(): boolean {
    return this.repairs.size > 0;
  }

  private tag(space: string, name: string): string {
    return `{${space}/${name}}`;
  }

  private collectionKey(space: string, name: string): string {
    return `${this.options.prefix}c:${this.tag(space, name)}`;
  }

  private recordHead(space: string, name: string): string {
    return `${this.options.prefix}r:${this.tag(space, name)}:`;
  }

  private recordKey(collection: Collection, key: string): string {
    return `${this.recordHead(collection.space, collection.name)}${collection.id}:${collection.rootNodeId}:${key}`;
  }

  async lookup(space: string, name: string, keys: readonly string[]): Promise<CacheLookup | undefined> {
    if (this.degraded) return undefined;
    try {
      const [c, ...entries] = await this.redis.rosettaLookupBuffer(
        this.collectionKey(space, name),
        this.recordHead(space, name),
        ...keys,
      );
      const collection = c === null || c === undefined ? undefined : this.decodeCollection(c.toString('utf8'));
      return {
        collection,
        records:
          collection?.value === undefined
            ? []
            : keys.map((key, i) => {
                const entry = entries[i];
                return entry === null || entry === undefined ? undefined : decodeRecord(key, entry);
              }),
      };
    } catch (error) {
      this.errors.add(1);
      this.logger.warn({ err: error }, 'cache lookup failed; reading the database');
      return undefined;
    }
  }

  async lookupCollection(space: string, name: string): Promise<CacheEntry<Collection> | undefined> {
    if (this.degraded) return undefined;
    try {
      const text = await this.redis.get(this.collectionKey(space, name));
      return text === null ? undefined : this.decodeCollection(text);
    } catch (error) {
      this.errors.add(1);
      this.logger.warn({ err: error }, 'cache lookup failed; reading the database');
      return undefined;
    }
  }

  private decodeCollection(text: string): CacheEntry<Collection> | undefined {
    let entry = this.decoded.get(text);
    if (entry === undefined && !this.decoded.has(text)) {
      entry = decodeCollection(text);
      // Entries are immutable (a change means a new revision, so new text); the map only needs a bound.
      if (this.decoded.size >= MAX_DECODED_COLLECTIONS) this.decoded.clear();
      this.decoded.set(text, entry);
    }
    return entry;
  }

  storeCollection(space: string, name: string, entry: CacheEntry<Collection>, source: StoreSource): Promise<void> {
    const ttlMs = entry.value === undefined ? this.options.tombstoneTtlMs : this.options.ttlMs;
    return this.store(
      [{ key: this.collectionKey(space, name), revision: entry.revision, payload: encodeCollection(entry), ttlMs }],
      source,
    );
  }

  storeRecords(collection: Collection, entries: readonly RecordEntry[], source: StoreSource): Promise<void> {
    return this.store(
      entries.map((entry) => {
        const kind = entryKind(entry, this.options.maxValueBytes);
        return {
          key: this.recordKey(collection, entry.key),
          revision: entry.revision,
          payload: encodeRecord(
            entry.revision,
            kind === 'v' && entry.state === 'live' ? entry.record : undefined,
            kind,
          ),
          ttlMs: kind === 'v' ? this.options.ttlMs : this.options.tombstoneTtlMs,
        };
      }),
      source,
    );
  }

  private async store(items: readonly StoreItem[], source: StoreSource): Promise<void> {
    if (items.length === 0) return;
    const args: Array<string | number | Buffer> = items.map((item) => item.key);
    for (const item of items) args.push(item.revision, item.payload, item.ttlMs);
    try {
      await this.redis.rosettaStore(items.length, ...args);
    } catch (error) {
      this.errors.add(1);
      if (source === 'read') return;
      for (const { key, revision } of items) this.repairs.set(key, Math.max(this.repairs.get(key) ?? 0, revision));
      this.logger.error(
        { err: error, repairs: this.repairs.size },
        'cache store failed; cache reads off until repaired',
      );
      this.scheduleRepair();
    }
  }

  // A store can fail on a timeout while the connection stays up (no 'ready' to wait for), so
  // repairs are also retried on a timer until they succeed.
  private scheduleRepair(): void {
    if (this.retry !== undefined) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.repair().then(() => {
        if (this.degraded) this.scheduleRepair();
      });
    }, REPAIR_RETRY_MS);
    this.retry.unref();
  }

  /**
   * Overwrites every key whose store failed with a marker at the failed revision; one run at a
   * time. A run that fails is retried on the timer (and on the next reconnect).
   */
  private repair(): Promise<void> {
    // Cleared once the run has settled, never inside it: a run with nothing to do finishes
    // synchronously, and clearing there would leave this settled promise in place for good
    // (every later repair would then do nothing).
    this.repairing ??= this.runRepairs().finally(() => {
      this.repairing = undefined;
    });
    return this.repairing;
  }

  private async runRepairs(): Promise<void> {
    try {
      for (const [key, revision] of [...this.repairs]) {
        await this.redis.rosettaStore(1, key, revision, `${revision}|m\n`, this.options.tombstoneTtlMs);
        if (this.repairs.get(key) === revision) this.repairs.delete(key);
      }
      if (this.repairs.size === 0) this.logger.info('cache repaired; cache reads back on');
    } catch (error) {
      this.errors.add(1);
      this.logger.warn({ err: error, repairs: this.repairs.size }, 'cache repair failed; will retry');
      this.scheduleRepair();
    }
  }

  async close(): Promise<void> {
    this.pending.removeCallback(this.observePending);
    clearTimeout(this.retry);
    this.retry = undefined;
    await this.repairing;
  }
}
