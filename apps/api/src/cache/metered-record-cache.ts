import type { Counter } from '@opentelemetry/api';
import { rosettaMeter } from '@rosetta/platform';
import type { Collection } from '@rosetta/core';
import type { CacheEntry, CacheLookup, RecordCache, RecordEntry, StoreSource } from '../services/ports';

const HIT = { result: 'hit' } as const;
const MISS = { result: 'miss' } as const;

/**
 * Counts the record cache's answers, whichever cache it is (memory or Redis), in the one place
 * every record read asks it: `rosetta_cache_requests_total{result}` moves by one per key looked
 * up — `hit` when the cache held the record or its tombstone, `miss` when it held nothing, only
 * a "read the database" marker, no live collection, or could not answer (Redis down, degraded).
 * Collection look-ups alone (writes resolving their collection) are not counted.
 */
export class MeteredRecordCache implements RecordCache {
  private readonly requests: Counter;

  /** Make it after startTelemetry: instruments made before record nothing. */
  constructor(private readonly inner: RecordCache) {
    this.requests = rosettaMeter().createCounter('rosetta_cache_requests_total', {
      description: 'Record look-ups in the read cache, one per key, by result (hit or miss)',
    });
  }

  get degraded(): boolean {
    return this.inner.degraded;
  }

  get leaseMs(): number {
    return this.inner.leaseMs;
  }

  async lookup(
    space: string,
    name: string,
    keys: readonly string[],
    leaseHolder?: string,
  ): Promise<CacheLookup | undefined> {
    const found = await this.inner.lookup(space, name, keys, leaseHolder);
    let hits = 0;
    if (found?.collection !== undefined) {
      if (found.collection.value === undefined)
        hits = keys.length; // the collection's tombstone answers every key
      else for (const record of found.records) if (record !== undefined) hits++;
    }
    if (hits > 0) this.requests.add(hits, HIT);
    if (hits < keys.length) this.requests.add(keys.length - hits, MISS);
    return found;
  }

  lookupCollection(space: string, name: string): Promise<CacheEntry<Collection> | undefined> {
    return this.inner.lookupCollection(space, name);
  }

  storeCollection(space: string, name: string, entry: CacheEntry<Collection>, source: StoreSource): Promise<void> {
    return this.inner.storeCollection(space, name, entry, source);
  }

  storeRecords(collection: Collection, entries: readonly RecordEntry[], source: StoreSource): Promise<void> {
    return this.inner.storeRecords(collection, entries, source);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
