import type { Collection, StoredRecord } from '@rosetta/core';
import type { CacheEntry, CacheLookup, RecordCache, RecordEntry, StoreSource } from '../services/ports';
import { entryKind } from './entries';

interface Slot {
  readonly revision: number;
  /** 'm' entries say only "revision N exists: read the database". */
  readonly kind: 'v' | 't' | 'm';
  readonly value: Collection | StoredRecord | undefined;
  readonly size: number;
  readonly expires: number;
}

export interface MemoryRecordCacheOptions {
  readonly ttlMs: number;
  readonly tombstoneTtlMs: number;
  readonly maxValueBytes: number;
  /** Total bytes of cached values before the least recently used entries go. */
  readonly maxBytes: number;
  readonly now?: () => number;
}

/**
 * The record cache of the embedded default: the same entries and the same "set if newer" rule
 * as the Redis cache, in a Map kept in least-recently-used order and bounded in bytes.
 */
export class MemoryRecordCache implements RecordCache {
  readonly degraded = false;
  private readonly slots = new Map<string, Slot>();
  private bytes = 0;
  private readonly now: () => number;

  constructor(private readonly options: MemoryRecordCacheOptions) {
    this.now = options.now ?? Date.now;
  }

  private read(key: string): Slot | undefined {
    const slot = this.slots.get(key);
    if (slot === undefined) return undefined;
    this.slots.delete(key);
    if (slot.expires <= this.now()) {
      this.bytes -= slot.size;
      return undefined;
    }
    this.slots.set(key, slot);
    return slot;
  }

  private write(key: string, slot: Slot): void {
    const old = this.read(key);
    if (old !== undefined && (old.revision > slot.revision || (old.revision === slot.revision && old.kind !== 'm'))) {
      return;
    }
    if (old !== undefined) {
      this.slots.delete(key);
      this.bytes -= old.size;
    }
    this.slots.set(key, slot);
    this.bytes += slot.size;
    for (const [oldest, victim] of this.slots) {
      if (this.bytes <= this.options.maxBytes) break;
      this.slots.delete(oldest);
      this.bytes -= victim.size;
    }
  }

  private static collectionKey(space: string, name: string): string {
    return `c\u0000${space}\u0000${name}`;
  }

  private static recordKey(collection: Collection, key: string): string {
    return `r\u0000${collection.id}\u0000${collection.rootNodeId}\u0000${key}`;
  }

  /** One process: there is no other to lease to. */
  readonly leaseMs = 0;

  async lookup(space: string, name: string, keys: readonly string[]): Promise<CacheLookup> {
    const collection = await this.lookupCollection(space, name);
    const live = collection?.value;
    if (live === undefined) return { collection, records: [] };
    const records = keys.map((key) => {
      const slot = this.read(MemoryRecordCache.recordKey(live, key));
      return slot === undefined || slot.kind === 'm'
        ? undefined
        : { revision: slot.revision, value: slot.value as StoredRecord | undefined };
    });
    return { collection, records };
  }

  async lookupCollection(space: string, name: string): Promise<CacheEntry<Collection> | undefined> {
    const slot = this.read(MemoryRecordCache.collectionKey(space, name));
    return slot === undefined ? undefined : { revision: slot.revision, value: slot.value as Collection | undefined };
  }

  async storeCollection(
    space: string,
    name: string,
    entry: CacheEntry<Collection>,
    _source: StoreSource,
  ): Promise<void> {
    const live = entry.value !== undefined;
    this.write(MemoryRecordCache.collectionKey(space, name), {
      revision: entry.revision,
      kind: live ? 'v' : 't',
      value: entry.value,
      size: 256,
      expires: this.now() + (live ? this.options.ttlMs : this.options.tombstoneTtlMs),
    });
  }

  async storeRecords(collection: Collection, entries: readonly RecordEntry[], _source: StoreSource): Promise<void> {
    for (const entry of entries) {
      const kind = entryKind(entry, this.options.maxValueBytes);
      const record = kind === 'v' && entry.state === 'live' ? entry.record : undefined;
      this.write(MemoryRecordCache.recordKey(collection, entry.key), {
        revision: entry.revision,
        kind,
        value: record,
        size: (record?.value.byteLength ?? 0) + entry.key.length + 64,
        expires: this.now() + (kind === 'v' ? this.options.ttlMs : this.options.tombstoneTtlMs),
      });
    }
  }

  async close(): Promise<void> {
    this.slots.clear();
    this.bytes = 0;
  }
}
