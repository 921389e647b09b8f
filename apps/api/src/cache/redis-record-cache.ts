import type { Counter, ObservableGauge, ObservableResult } from '@opentelemetry/api';
import type { Redis } from 'ioredis';
import { rosettaMeter, type Logger } from '@rosetta/platform';
import type { Collection } from '@rosetta/core';
import type { CacheEntry, CacheLookup, RecordCache, RecordEntry, StoreSource } from '../services/ports';
import { decodeCollection, decodeRecord, encodeCollection, encodeRecord, entryKind } from './entries';
import { LEASE_MARGIN_MS, type HeldLease, type LeaseRevoker, type LeaseTarget } from './lease-revoker';

// "Set if newer", as a Lua function of the key, its new revision, payload and ttl ms: keeps the
// stored entry when its revision is higher, or equal and not a marker; true when it stored.
// GETRANGE reads only the header, however large the cached value.
const SET_IF_NEWER = `
local function setIfNewer(key, revision, payload, ttl)
  local new = tonumber(revision)
  local head = redis.call('GETRANGE', key, 0, 40)
  if head ~= '' then
    local rev, kind = string.match(head, '^(%d+)|(%a)')
    if rev then
      local old = tonumber(rev)
      if old > new or (old == new and kind ~= 'm') then return false end
    end
  end
  redis.call('SET', key, payload, 'PX', ttl)
  return true
end`;

// Stores entries by that rule: ARGV holds (revision, payload, ttl ms) per key.
const STORE = `${SET_IF_NEWER}
local stored = 0
for i = 1, #KEYS do
  if setIfNewer(KEYS[i], ARGV[3 * i - 2], ARGV[3 * i - 1], ARGV[3 * i]) then stored = stored + 1 end
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

// The same for a write, which also finds the read leases on what it stores: KEYS holds the
// entries' keys, then their lease keys; ARGV (revision, payload, ttl ms) per entry. Answers, for
// each lease still running, the entry's index, its holder, the milliseconds it has left and its
// end as stored. Running leases stay until their holder confirmed the revocation (RELEASE), so
// that a write racing this one waits for the same holders; leases that ran out are dropped.
const STORE_WRITE = `${SET_IF_NEWER}
local n = #KEYS / 2
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for i = 1, n do
  setIfNewer(KEYS[i], ARGV[3 * i - 2], ARGV[3 * i - 1], ARGV[3 * i])
  local held = redis.call('HGETALL', KEYS[n + i])
  for j = 1, #held, 2 do
    local left = tonumber(held[j + 1]) - now
    if left > 0 then
      out[#out + 1] = i
      out[#out + 1] = held[j]
      out[#out + 1] = left
      out[#out + 1] = held[j + 1]
    else
      redis.call('HDEL', KEYS[n + i], held[j])
    end
  end
end
return out`;

// Drops leases whose holder confirmed their revocation: KEYS the lease keys, ARGV the holder
// of each then its end as STORE_WRITE found it. A lease granted again since (another end) stays.
const RELEASE = `
local n = #KEYS
for i = 1, n do
  if redis.call('HGET', KEYS[i], ARGV[i]) == ARGV[n + i] then redis.call('HDEL', KEYS[i], ARGV[i]) end
end
return n`;

// LOOKUP that also leases each live record it finds to a holder (ARGV: record head, lease head,
// the collection's lease key, holder, lease ms, then the record keys). A lease is a field of
// the record's lease hash, holder -> until (Redis's clock, ms); the holder is also entered in
// the collection's, which a change of the collection takes back. The last element tells, one
// character per key, which were leased.
const LOOKUP_LEASE = `
local c = redis.call('GET', KEYS[1])
if not c then return {false} end
local id, node = string.match(c, '^%d+|v|(%d+)|(%d+)|')
if not id then return {c} end
local tail = id .. ':' .. node .. ':'
local head = ARGV[1] .. tail
local leases = ARGV[2] .. tail
local ms = tonumber(ARGV[5])
local t = redis.call('TIME')
local untilMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + ms
local out = {c}
local flags = {}
for i = 6, #ARGV do
  local entry = redis.call('GET', head .. ARGV[i])
  out[#out + 1] = entry
  if entry and string.match(entry, '^%d+|v') then
    redis.call('HSET', leases .. ARGV[i], ARGV[4], untilMs)
    redis.call('PEXPIRE', leases .. ARGV[i], ms + 1000)
    flags[#flags + 1] = '1'
  else
    flags[#flags + 1] = '0'
  end
end
local granted = table.concat(flags)
if string.find(granted, '1', 1, true) then
  redis.call('HSET', ARGV[3], ARGV[4], untilMs)
  redis.call('PEXPIRE', ARGV[3], ms + 1000)
end
out[#out + 1] = granted
return out`;

const REPAIR_RETRY_MS = 1000;
const MAX_DECODED_COLLECTIONS = 1000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface StoreItem {
  readonly key: string;
  /** Where the read leases on it are kept. */
  readonly leaseKey: string;
  readonly revision: number;
  readonly payload: string | Buffer;
  readonly ttlMs: number;
}

interface CacheCommands {
  rosettaStore(keyCount: number, ...keysThenArgs: Array<string | number | Buffer>): Promise<number>;
  rosettaStoreWrite(
    keyCount: number,
    ...keysThenArgs: Array<string | number | Buffer>
  ): Promise<Array<number | string>>;
  rosettaRelease(keyCount: number, ...keysThenArgs: string[]): Promise<number>;
  rosettaLookupBuffer(key: string, recordHead: string, ...keys: string[]): Promise<Array<Buffer | null>>;
  rosettaLookupLeaseBuffer(key: string, ...args: Array<string | number>): Promise<Array<Buffer | null>>;
}

/** Read leases for the gateways (docs/cache-consistency.md, "Read leases"). */
export interface LeaseOptions {
  /** How long a lease lasts (ms). */
  readonly ms: number;
  readonly revoker: LeaseRevoker;
}

export interface RedisRecordCacheOptions {
  readonly prefix: string;
  /** Lifetime of live entries. */
  readonly ttlMs: number;
  /** Lifetime of tombstones and markers: must exceed the services' populate window many times over. */
  readonly tombstoneTtlMs: number;
  /** Values larger than this are cached as markers. */
  readonly maxValueBytes: number;
  /** Grant read leases (to gateways that ask for them); none without. */
  readonly leases?: LeaseOptions;
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
  /**
   * performance.now() before which an acknowledged write waits: a lease's length after each
   * (re)connection to Redis, since a Redis that restarted has forgotten the leases it granted.
   */
  private leasesKnownAt = 0;
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
    redis.defineCommand('rosettaStoreWrite', { lua: STORE_WRITE });
    redis.defineCommand('rosettaRelease', { lua: RELEASE });
    redis.defineCommand('rosettaLookup', { numberOfKeys: 1, lua: LOOKUP });
    redis.defineCommand('rosettaLookupLease', { numberOfKeys: 1, lua: LOOKUP_LEASE });
    this.redis = redis as Redis & CacheCommands;
    this.errors = rosettaMeter().createCounter('rosetta_cache_errors_total', {
      description:
        'Failed Redis commands of the read cache: look-ups answered by the database instead, stores, repairs',
    });
    this.pending = rosettaMeter().createObservableGauge('rosetta_cache_repairs_pending', {
      description: 'Cache keys whose store failed after a write, awaiting repair: above 0, cache reads are off',
    });
    this.pending.addCallback(this.observePending);
    const connected = () => {
      if (options.leases !== undefined) this.leasesKnownAt = performance.now() + options.leases.ms;
    };
    if (redis.status === 'ready') connected();
    redis.on('ready', () => {
      connected();
      void this.repair();
    });
  }

  get leaseMs(): number {
    return this.options.leases?.ms ?? 0;
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

  private leaseHead(space: string, name: string): string {
    return `${this.options.prefix}l:${this.tag(space, name)}:`;
  }

  private recordLeaseKey(collection: Collection, key: string): string {
    return `${this.leaseHead(collection.space, collection.name)}${collection.id}:${collection.rootNodeId}:${key}`;
  }

  private collectionLeaseKey(space: string, name: string): string {
    return `${this.options.prefix}lc:${this.tag(space, name)}`;
  }

  private lookupCommand(space: string, name: string, keys: readonly string[], holder: string | undefined) {
    const leases = this.options.leases;
    if (holder === undefined || leases === undefined) {
      return this.redis.rosettaLookupBuffer(this.collectionKey(space, name), this.recordHead(space, name), ...keys);
    }
    return this.redis.rosettaLookupLeaseBuffer(
      this.collectionKey(space, name),
      this.recordHead(space, name),
      this.leaseHead(space, name),
      this.collectionLeaseKey(space, name),
      holder,
      leases.ms,
      ...keys,
    );
  }

  async lookup(
    space: string,
    name: string,
    keys: readonly string[],
    leaseHolder?: string,
  ): Promise<CacheLookup | undefined> {
    if (this.degraded) return undefined;
    try {
      const [c, ...entries] = await this.lookupCommand(space, name, keys, leaseHolder);
      const collection = c === null || c === undefined ? undefined : this.decodeCollection(c.toString('utf8'));
      const granted = entries.length > keys.length ? entries[keys.length]?.toString('latin1') : undefined;
      return {
        collection,
        records:
          collection?.value === undefined
            ? []
            : keys.map((key, i) => {
                const entry = entries[i];
                return entry === null || entry === undefined ? undefined : decodeRecord(key, entry);
              }),
        ...(granted?.includes('1') === true ? { leased: keys.map((_, i) => granted[i] === '1') } : {}),
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
    const item = {
      key: this.collectionKey(space, name),
      revision: entry.revision,
      payload: encodeCollection(entry),
      ttlMs,
    };
    return this.store([{ ...item, leaseKey: this.collectionLeaseKey(space, name) }], source, () => ({
      kind: 'collection',
      space,
      name,
    }));
  }

  storeRecords(collection: Collection, entries: readonly RecordEntry[], source: StoreSource): Promise<void> {
    return this.store(
      entries.map((entry) => {
        const kind = entryKind(entry, this.options.maxValueBytes);
        return {
          key: this.recordKey(collection, entry.key),
          leaseKey: this.recordLeaseKey(collection, entry.key),
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
      (indexes) => ({
        kind: 'records',
        space: collection.space,
        name: collection.name,
        keys: indexes.map((i) => entries[i]?.key ?? ''),
      }),
    );
  }

  /**
   * Stores entries by the "set if newer" rule. A write with leases on also takes back every
   * read lease on what it stored, and resolves only once they are all gone (`target` names what
   * the leases of the entries at these indexes cover).
   */
  private async store(
    items: readonly StoreItem[],
    source: StoreSource,
    target: (indexes: number[]) => LeaseTarget,
  ): Promise<void> {
    if (items.length === 0) return;
    const leases = source === 'write' ? this.options.leases : undefined;
    const args: Array<string | number | Buffer> = items.map((item) => item.key);
    if (leases !== undefined) args.push(...items.map((item) => item.leaseKey));
    for (const item of items) args.push(item.revision, item.payload, item.ttlMs);
    try {
      if (leases === undefined) {
        await this.redis.rosettaStore(items.length, ...args);
        return;
      }
      const held = await this.redis.rosettaStoreWrite(items.length * 2, ...args);
      if (held.length > 0) await this.revoke(leases.revoker, items, held, target);
      const unknownFor = this.leasesKnownAt - performance.now();
      if (unknownFor > 0) await sleep(unknownFor);
    } catch (error) {
      this.errors.add(1);
      if (source === 'read') return;
      // The leases on these keys could not be read: wait for any to have run out.
      const waitOut = leases === undefined ? undefined : sleep(leases.ms + LEASE_MARGIN_MS);
      for (const { key, revision } of items) this.repairs.set(key, Math.max(this.repairs.get(key) ?? 0, revision));
      this.logger.error(
        { err: error, repairs: this.repairs.size },
        'cache store failed; cache reads off until repaired',
      );
      this.scheduleRepair();
      await waitOut;
    }
  }

  /**
   * Revokes the leases a write found (`held`: entry index from 1, holder, ms left, end, for each),
   * then drops those whose holders confirmed (a failure to drop leaves them to run out).
   */
  private async revoke(
    revoker: LeaseRevoker,
    items: readonly StoreItem[],
    held: Array<number | string>,
    target: (indexes: number[]) => LeaseTarget,
  ): Promise<void> {
    const indexes = new Set<number>();
    const leases: HeldLease[] = [];
    const keys: string[] = [];
    const holders: string[] = [];
    const ends: string[] = [];
    for (let i = 0; i + 3 < held.length; i += 4) {
      const index = Number(held[i]) - 1;
      indexes.add(index);
      leases.push({ holder: String(held[i + 1]), leftMs: Number(held[i + 2]) });
      keys.push(items[index]?.leaseKey ?? '');
      holders.push(String(held[i + 1]));
      ends.push(String(held[i + 3]));
    }
    await revoker.revoke(leases, target([...indexes]));
    await this.redis.rosettaRelease(keys.length, ...keys, ...holders, ...ends).catch((error: unknown) => {
      this.errors.add(1);
      this.logger.warn({ err: error }, 'revoked leases not dropped; they run out by themselves');
    });
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
    this.options.leases?.revoker.close();
    this.pending.removeCallback(this.observePending);
    clearTimeout(this.retry);
    this.retry = undefined;
    await this.repairing;
  }
}
