import type {
  Collection,
  CollectionSettings,
  ChangeEvent,
  PutInput,
  RecordFilter,
  RecordMeta,
  ScanOrder,
  ScanPosition,
  StoredRecord,
} from '@rosetta/core';

/**
 * The ports the services depend on. `db/` implements the repositories against Postgres and
 * `cache/` the record cache; unit tests may use in-memory fakes. Every record operation takes
 * the resolved `Collection`, so no query can forget which collection it touches.
 */

export interface CollectionWithRecord {
  readonly collection: Collection;
  readonly record: StoredRecord | undefined;
}

/** A write's outcome: done, or refused by its condition (nothing was written). */
export type PutOutcome =
  | { readonly kind: 'written'; readonly record: RecordMeta; readonly created: boolean }
  | { readonly kind: 'condition-failed' };

export type BatchPutOutcome =
  | { readonly kind: 'written'; readonly records: RecordMeta[]; readonly createdCount: number }
  | { readonly kind: 'condition-failed'; readonly key: string };

export type DeleteOutcome =
  | { readonly kind: 'deleted'; readonly revision: number }
  | { readonly kind: 'absent' }
  | { readonly kind: 'condition-failed' };

export interface ScanPageQuery {
  readonly filter: RecordFilter;
  readonly order: ScanOrder;
  readonly reverse: boolean;
  readonly after: ScanPosition | undefined;
  readonly limit: number;
  readonly keysOnly: boolean;
  /**
   * Values are returned for a prefix of the page whose total size stays within this budget (the
   * first row always gets its value); later rows come back without one, to be read again.
   */
  readonly valueBudgetBytes: number;
}

/** A scanned row; `value` is undefined for keys-only scans and for rows past the value budget. */
export type ScannedRecord = RecordMeta & { readonly value: Uint8Array | undefined };

export interface RecordsRepository {
  /** The collection and, in the same round trip, its record at `key`. */
  findWithRecord(space: string, name: string, key: string): Promise<CollectionWithRecord | undefined>;
  get(collection: Collection, key: string): Promise<StoredRecord | undefined>;
  /** The record's metadata without reading its value. */
  head(collection: Collection, key: string): Promise<RecordMeta | undefined>;
  getMany(collection: Collection, keys: readonly string[], withValues: boolean): Promise<ScannedRecord[]>;
  put(collection: Collection, input: PutInput): Promise<PutOutcome>;
  putBatch(collection: Collection, entries: readonly PutInput[]): Promise<BatchPutOutcome>;
  delete(collection: Collection, key: string, expectedRevision: number | undefined): Promise<DeleteOutcome>;
  scanPage(collection: Collection, query: ScanPageQuery): Promise<ScannedRecord[]>;
  count(collection: Collection, filter: RecordFilter): Promise<number>;
  /** Deletes up to `batchSize` matching records in one transaction; each gets its change event. */
  deleteMatching(
    collection: Collection,
    filter: RecordFilter,
    batchSize: number,
  ): Promise<{ readonly deleted: ReadonlyArray<{ key: string; revision: number }>; readonly more: boolean }>;
}

export interface CollectionChanges {
  readonly maxValueBytes?: number | undefined;
  readonly tags?: Readonly<Record<string, string>> | undefined;
}

/** A collection's records counted and sized. */
export interface CollectionStats {
  readonly records: number;
  /** Bytes of their keys and values. */
  readonly bytes: number;
  /** Microseconds: the last write or delete of a record (0 when there never was one). */
  readonly lastRecordChange: number;
}

export interface CollectionsRepository {
  find(space: string, name: string): Promise<Collection | undefined>;
  /**
   * Up to `limit` collections named `name`: in the space with the UUID `spaceId`, or in any
   * shared space when it is undefined. Spaces come back by name.
   */
  findByName(name: string, spaceId: string | undefined, limit: number): Promise<Array<{ space: string; name: string }>>;
  stats(collection: Collection): Promise<CollectionStats>;
  spaceExists(space: string): Promise<boolean>;
  /** Creates the space if it does not exist. */
  ensureSpace(space: string): Promise<void>;
  /** Creates the collection with its version DAG and root node; undefined when the name is taken. */
  create(space: string, name: string, settings: CollectionSettings): Promise<Collection | undefined>;
  /** Collections of a space in name order, after `afterName`. */
  list(space: string, afterName: string | undefined, limit: number): Promise<Collection[]>;
  /** Undefined when the collection no longer exists. */
  update(collection: Collection, changes: CollectionChanges): Promise<Collection | undefined>;
  /** Deletes the collection and its records; the revision of the delete, or undefined when already gone. */
  delete(collection: Collection): Promise<number | undefined>;
}

export interface ChangesRepository {
  /** Events after `position` (or from the oldest), in gap-free feed order. */
  read(after: string | undefined, limit: number): Promise<{ events: ChangeEvent[]; position: string }>;
  /** The position after every event committed so far. */
  tail(): Promise<string>;
}

/** A cache entry: a live value, or a tombstone that says the thing is gone. */
export type CacheEntry<T> = { readonly revision: number; readonly value: T | undefined };

/**
 * What to cache about a key at a revision: its value (`live`, from a read), that it is gone
 * (`deleted`, from a delete), or only that it changed (`changed`, from a write: readers must
 * load it from the database, and their fill then replaces the entry).
 */
export type RecordEntry =
  | { readonly key: string; readonly revision: number; readonly state: 'live'; readonly record: StoredRecord }
  | { readonly key: string; readonly revision: number; readonly state: 'deleted' | 'changed' };

export interface CacheLookup {
  readonly collection: CacheEntry<Collection> | undefined;
  /**
   * One per key asked for, in order, when the collection entry is live (empty otherwise); each
   * undefined when missing, or when the cache holds only a "read the database" marker.
   */
  readonly records: ReadonlyArray<CacheEntry<StoredRecord> | undefined>;
}

/**
 * Why an entry is stored. A failed `write` store (after a commit) may leave a stale entry behind,
 * so the cache must repair it before serving again; a failed `read` store (repopulating after a
 * miss) leaves nothing wrong and is just dropped.
 */
export type StoreSource = 'write' | 'read';

/**
 * The read cache (Redis when clustered, memory when embedded). Every store is "set if newer":
 * an entry is replaced only by one with a higher revision, so a reader that loaded an old row
 * can never overwrite what a writer stored after committing. See docs/cache-consistency.md.
 */
export interface RecordCache {
  /** The collection entry and, when it is live, its records' entries, in one round trip. Undefined if the cache is unavailable. */
  lookup(space: string, name: string, keys: readonly string[]): Promise<CacheLookup | undefined>;
  lookupCollection(space: string, name: string): Promise<CacheEntry<Collection> | undefined>;
  storeCollection(space: string, name: string, entry: CacheEntry<Collection>, source: StoreSource): Promise<void>;
  /**
   * Stores record entries, each by the same rule, in one round trip. A live value too large for
   * the cache is stored as `changed`.
   */
  storeRecords(collection: Collection, entries: readonly RecordEntry[], source: StoreSource): Promise<void>;
  /** Whether a store after a committed write failed and has not yet been repaired. */
  readonly degraded: boolean;
  close(): Promise<void>;
}
