import type { Redis } from 'ioredis';
import type { Logger } from '@rosetta/platform';
import type { Collection, StoredRecord } from '@rosetta/core';
import type { CacheEntry, CacheLookup, RecordCache, StoreSource } from '../services/ports';
import { decodeCollection, decodeRecord, encodeCollection, encodeRecord, type EntryKind } from './entries';

// "Set if newer": keep the stored entry when its revision is higher, or equal and not a marker.
// GETRANGE reads only the header, however large the cached value.
const STORE = `
local head = redis.call('GETRANGE', KEYS[1], 0, 40)
if head ~= '' then
  local rev, kind = string.match(head, '^(%d+)|(%a)')
  if rev then
    local old = tonumber(rev)
    local new = tonumber(ARGV[1])
    if old > new or (old == new and kind ~= 'm') then return 0 end
  end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`;

// The collection entry and, when it is live, its record entry: one round trip for a hot GET.
// The record key is built from the collection's id; both keys share the {space/name} hash tag.
const LOOKUP = `
local c = redis.call('GET', KEYS[1])
if not c then return {false, false} end
local id, node = string.match(c, '^%d+|v|(%d+)|(%d+)|')
if not id then return {c, false} end
return {c, redis.call('GET', ARGV[1] .. id .. ':' .. node .. ARGV[2]) or false}`;

const REPAIR_RETRY_MS = 1000;
const MAX_DECODED_COLLECTIONS = 1000;

interface CacheCommands {
  rosettaStore(key: string, revision: number, payload: string | Buffer, ttlMs: number): Promise<number>;
  rosettaLookupBuffer(key: string, recordHead: string, recordTail: string): Promise<[Buffer | null, Buffer | null]>;
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

  constructor(
    redis: Redis,
    private readonly options: RedisRecordCacheOptions,
    private readonly logger: Logger,
  ) {
    redis.defineCommand('rosettaStore', { numberOfKeys: 1, lua: STORE });
    redis.defineCommand('rosettaLookup', { numberOfKeys: 1, lua: LOOKUP });
    this.redis = redis as Redis & CacheCommands;
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

  async lookup(space: string, name: string, key: string): Promise<CacheLookup | undefined> {
    if (this.degraded) return undefined;
    try {
      const [c, r] = await this.redis.rosettaLookupBuffer(
        this.collectionKey(space, name),
        this.recordHead(space, name),
        `:${key}`,
      );
      return {
        collection: c === null ? undefined : this.decodeCollection(c.toString('utf8')),
        record: r === null ? undefined : decodeRecord(key, r),
      };
    } catch (error) {
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
    const ttl = entry.value === undefined ? this.options.tombstoneTtlMs : this.options.ttlMs;
    return this.store(this.collectionKey(space, name), entry.revision, encodeCollection(entry), ttl, source);
  }

  storeRecord(
    collection: Collection,
    key: string,
    entry: CacheEntry<StoredRecord>,
    source: StoreSource,
  ): Promise<void> {
    const kind: EntryKind =
      entry.value === undefined ? 't' : entry.value.value.byteLength > this.options.maxValueBytes ? 'm' : 'v';
    const ttl = kind === 'v' ? this.options.ttlMs : this.options.tombstoneTtlMs;
    return this.store(this.recordKey(collection, key), entry.revision, encodeRecord(entry, kind), ttl, source);
  }

  private async store(
    key: string,
    revision: number,
    payload: string | Buffer,
    ttlMs: number,
    source: StoreSource,
  ): Promise<void> {
    try {
      await this.redis.rosettaStore(key, revision, payload, ttlMs);
    } catch (error) {
      if (source === 'read') return;
      const known = this.repairs.get(key) ?? 0;
      this.repairs.set(key, Math.max(known, revision));
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

  /** Overwrites every key whose store failed with a marker at the failed revision. */
  private repair(): Promise<void> {
    this.repairing ??= (async () => {
      try {
        for (const [key, revision] of [...this.repairs]) {
          await this.redis.rosettaStore(key, revision, `${revision}|m\n`, this.options.tombstoneTtlMs);
          if (this.repairs.get(key) === revision) this.repairs.delete(key);
        }
        if (this.repairs.size === 0) this.logger.info('cache repaired; cache reads back on');
      } catch (error) {
        this.logger.warn({ err: error, repairs: this.repairs.size }, 'cache repair failed; will retry on reconnect');
      } finally {
        this.repairing = undefined;
      }
    })();
    return this.repairing;
  }

  async close(): Promise<void> {
    clearTimeout(this.retry);
    this.retry = undefined;
    await this.repairing;
  }
}
