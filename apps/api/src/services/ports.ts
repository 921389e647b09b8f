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
  DeliveryState,
  JobKind,
  JobState,
  RecordFilterInput,
  WebhookFormat,
  WebhookOp,
  WebhookSpec,
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
  /** The matching records, counted exactly up to `exactUpTo` and estimated past it (sizing a job). */
  estimate(collection: Collection, filter: RecordFilter, exactUpTo: number): Promise<number>;
  /** Deletes up to `batchSize` matching records in one transaction; each gets its change event. */
  deleteMatching(
    collection: Collection,
    filter: RecordFilter,
    batchSize: number,
  ): Promise<{ readonly deleted: ReadonlyArray<{ key: string; revision: number }>; readonly more: boolean }>;
  /** One step of a bulk-delete job (see JobStep); undefined when the job is no longer running. */
  deleteStep(
    collection: Collection,
    filter: RecordFilter,
    jobId: number,
    batchSize: number,
  ): Promise<JobStep | undefined>;
  /**
   * One step of a restore's write phase: writes `entries` and moves the job past the last one,
   * in one transaction; with `last`, the job goes on to `nextPhase`. Undefined when the job is
   * no longer in its write phase.
   */
  restoreStep(
    collection: Collection,
    entries: readonly PutInput[],
    jobId: number,
    last: { readonly nextPhase: 'delete' | 'verify' } | undefined,
  ): Promise<RestoreStep | undefined>;
}

/**
 * What one step of a bulk-delete job did. A step locks the job's row, deletes the next batch of
 * matching records in key order after the job's last key (only those older than the job), and
 * moves the job on, all in one transaction: a step either happened whole or not at all.
 */
export interface JobStep {
  readonly job: JobRecord;
  readonly deleted: ReadonlyArray<{ key: string; revision: number }>;
}

/** What a restore step wrote, and the job after it. */
export interface RestoreStep {
  readonly job: JobRecord;
  readonly written: ReadonlyArray<{ key: string; revision: number }>;
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

/** Where a new collection lives, and what it shows back. */
export interface CollectionPlacement {
  readonly properties: Readonly<Record<string, string>>;
  /** A DVID repo's DAG, its root, and the node the collection is created at. */
  readonly repo?: { readonly dagId: number; readonly rootNodeId: number; readonly originNodeId: number } | undefined;
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
  /**
   * Creates the collection, with a version DAG and root node of its own or in a DVID repo's;
   * undefined when the name is taken.
   */
  create(
    space: string,
    name: string,
    settings: CollectionSettings,
    placement: CollectionPlacement,
  ): Promise<Collection | undefined>;
  /** The collections living in a version DAG, by name. */
  inDag(dagId: number): Promise<Collection[]>;
  /** Collections of a space in name order, after `afterName`. */
  list(space: string, afterName: string | undefined, limit: number): Promise<Collection[]>;
  /** Undefined when the collection no longer exists. */
  update(collection: Collection, changes: CollectionChanges): Promise<Collection | undefined>;
  /** Deletes the collection and its records; the revision of the delete, or undefined when already gone. */
  delete(collection: Collection): Promise<number | undefined>;
}

/** A page of the feed in brief (what `read` would answer, per collection). */
export interface ChangeSummary {
  /** Per collection with events in the page, in feed order of their newest events. */
  readonly collections: ReadonlyArray<{
    /** The collection's newest event in the page, without its value. */
    readonly newest: ChangeEvent;
    readonly count: number;
    /** Commit time of its oldest event in the page (µs since the epoch). */
    readonly oldestAt: number;
  }>;
  /** The page's last position, or `after` when the page is empty. */
  readonly position: string;
  /** Events in the page. */
  readonly count: number;
}

export interface ChangesRepository {
  /** Events after `position` (or from the oldest), in gap-free feed order. */
  read(after: string | undefined, limit: number): Promise<{ events: ChangeEvent[]; position: string }>;
  /** The page `read` would answer, in brief. */
  summarize(after: string | undefined, limit: number): Promise<ChangeSummary>;
  /** The position after every event committed so far. */
  tail(): Promise<string>;
  /** One collection's events after `after` (a position; '' for the oldest), in feed order. */
  readCollection(
    space: string,
    collection: string,
    after: string,
    limit: number,
  ): Promise<{ events: ChangeEvent[]; position: string }>;
  /** The position of the event of `revision`; undefined when no event kept has it. */
  positionOf(revision: number): Promise<string | undefined>;
  /** The newest event every reader sees; undefined when the feed is empty. */
  newest(): Promise<{ position: string; revision: number } | undefined>;
  /** The smallest revision of the events kept; undefined when the feed is empty. */
  oldestRevision(): Promise<number | undefined>;
  /**
   * Deletes up to `limit` of the oldest events (feed order, not after `upTo`) committed before
   * `beforeUs`, and the tombstones their delete events left in unversioned collections (see
   * changes-repository); returns how many of each went.
   */
  compact(beforeUs: number, upTo: string, limit: number): Promise<{ deleted: number; tombstonesPurged: number }>;
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
  /** One per key when a lease was asked for and granted on any: whether that key's record is leased. */
  readonly leased?: readonly boolean[];
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
  /**
   * The collection entry and, when it is live, its records' entries, in one round trip. Undefined
   * if the cache is unavailable. With `leaseHolder`, the live records found are leased to it
   * (when the cache grants leases): no write of them is acknowledged before the holder dropped
   * them or `leaseMs` ran out (docs/cache-consistency.md, "Read leases").
   */
  lookup(space: string, name: string, keys: readonly string[], leaseHolder?: string): Promise<CacheLookup | undefined>;
  /** How long a read lease lasts; 0 when this cache grants none. */
  readonly leaseMs: number;
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

/** A node of a version DAG. */
export interface NodeRecord {
  /** DVID's VersionID: server-wide and sequential, so a child's id exceeds its ancestors'. */
  readonly id: number;
  readonly dagId: number;
  readonly uuid: string;
  /** Empty for master. */
  readonly branch: string;
  readonly note: string;
  readonly log: readonly string[];
  readonly locked: boolean;
  readonly parentIds: readonly number[];
  readonly depth: number;
  readonly created: number;
  readonly updated: number;
}

/** A version DAG: a DVID repo, or a versioned collection's own. */
export interface DagRecord {
  readonly id: number;
  readonly space: string;
  readonly kind: 'repo' | 'collection';
  /** The root node's UUID. */
  readonly root: string;
  readonly alias: string;
  readonly description: string;
  readonly log: readonly string[];
  readonly created: number;
  readonly updated: number;
}

export interface NewNodeInput {
  /** Undefined: the parent's branch. */
  readonly branch: string | undefined;
  readonly note: string;
  /** Undefined: a new random UUID. */
  readonly uuid: string | undefined;
}

export interface VersionsRepository {
  createRepo(
    space: string,
    input: { alias: string; description: string; root: string | undefined },
  ): Promise<DagRecord | 'space-not-found' | 'uuid-taken'>;
  dag(id: number): Promise<DagRecord | undefined>;
  listRepos(space: string): Promise<DagRecord[]>;
  updateDag(id: number, changes: { alias?: string; description?: string; log: readonly string[] }): Promise<void>;
  /** The node with this exact UUID, and the space of its DAG. */
  node(uuid: string): Promise<(NodeRecord & { space: string }) | undefined>;
  /**
   * Up to two nodes of the space whose UUID starts with `prefix`: in the DAG `dagId`, or in any
   * of the space's repos when it is undefined.
   */
  matchPrefix(space: string, prefix: string, dagId: number | undefined): Promise<NodeRecord[]>;
  /** Ids of up to two repos of the space. */
  onlyRepo(space: string): Promise<number[]>;
  /** The newest node of a branch. */
  branchLeaf(dagId: number, branch: string): Promise<NodeRecord | undefined>;
  /** The node's id and its ancestors' through first parents, the node first. */
  ancestry(nodeId: number): Promise<number[]>;
  nodes(dagId: number): Promise<NodeRecord[]>;
  commit(nodeId: number, note: string, log: readonly string[]): Promise<NodeRecord | 'locked'>;
  updateNode(nodeId: number, note: string | undefined, log: readonly string[]): Promise<NodeRecord | 'locked'>;
  newVersion(
    parentId: number,
    input: NewNodeInput,
  ): Promise<NodeRecord | 'parent-unlocked' | 'branch-taken' | 'uuid-taken'>;
}

/** A versioned collection at one node: reads resolve through `path` (the node first), writes land on the node. */
export interface VersionPlace {
  readonly nodeId: number;
  readonly uuid: string;
  readonly path: readonly number[];
}

/**
 * Records of versioned collections at a version. Writes to a committed node fail with
 * VERSION_LOCKED; a delete writes a tombstone that hides the key at the node and below.
 */
export interface VersionedRecordsRepository {
  getMany(
    collection: Collection,
    at: VersionPlace,
    keys: readonly string[],
    withValues: boolean,
  ): Promise<ScannedRecord[]>;
  putBatch(collection: Collection, at: VersionPlace, entries: readonly PutInput[]): Promise<BatchPutOutcome>;
  delete(
    collection: Collection,
    at: VersionPlace,
    key: string,
    expectedRevision: number | undefined,
  ): Promise<DeleteOutcome>;
  /** Key order only. */
  scanPage(collection: Collection, at: VersionPlace, query: ScanPageQuery): Promise<ScannedRecord[]>;
  count(collection: Collection, at: VersionPlace, filter: RecordFilter): Promise<number>;
  estimate(collection: Collection, at: VersionPlace, filter: RecordFilter, exactUpTo: number): Promise<number>;
  deleteMatching(
    collection: Collection,
    at: VersionPlace,
    filter: RecordFilter,
    batchSize: number,
  ): Promise<{ readonly deleted: ReadonlyArray<{ key: string; revision: number }>; readonly more: boolean }>;
  /** One step of a bulk-delete job at a version; undefined when the job is no longer running. */
  deleteStep(
    collection: Collection,
    at: VersionPlace,
    filter: RecordFilter,
    jobId: number,
    batchSize: number,
  ): Promise<JobStep | undefined>;
  /** Entries written at the node itself, by key after `afterKey`; a deletion has no record. */
  changes(
    collection: Collection,
    at: VersionPlace,
    afterKey: string,
    limit: number,
  ): Promise<{ readonly changes: VersionChange[]; readonly nextKey: string }>;
  /** Keys whose records differ between two versions, by key after `afterKey`. */
  diff(
    collection: Collection,
    from: VersionPlace,
    to: VersionPlace,
    afterKey: string,
    limit: number,
  ): Promise<{ readonly diffs: VersionDiff[]; readonly nextKey: string }>;
}

export interface VersionChange {
  readonly key: string;
  readonly record: RecordMeta | undefined;
}

export interface VersionDiff {
  readonly key: string;
  readonly from: RecordMeta | undefined;
  readonly to: RecordMeta | undefined;
}

/** A stored webhook, with its secret (which only the worker ever gets back). */
export interface WebhookRecord {
  readonly id: number;
  readonly space: string;
  readonly collection: string;
  readonly url: string;
  readonly secret: string;
  /** Empty: every op. */
  readonly ops: readonly WebhookOp[];
  /** Empty: every key. */
  readonly keyPrefix: string;
  readonly format: WebhookFormat;
  /** Microseconds since the epoch. */
  readonly created: number;
}

/** The outcome of delivering one event to one webhook, as the worker reports it. */
export interface DeliveryInput {
  readonly webhookId: number;
  /** The event's feed position; one delivery per (webhook, event). */
  readonly eventId: string;
  readonly revision: number;
  readonly op: string;
  readonly key: string;
  readonly state: DeliveryState;
  readonly attempts: number;
  readonly lastStatus: number;
  readonly lastError: string;
}

export interface DeliveryRecord extends DeliveryInput {
  /** Microseconds: when the delivery was first recorded. */
  readonly created: number;
  /** Microseconds: when it was last recorded. */
  readonly updated: number;
}

export interface WebhooksRepository {
  /**
   * Adds a webhook to the collection unless it already has `max` of them (`limit-reached`), or
   * the collection is gone (`collection-gone`). Concurrent creations are serialized per collection.
   */
  create(
    collection: Collection,
    spec: WebhookSpec,
    max: number,
  ): Promise<WebhookRecord | 'limit-reached' | 'collection-gone'>;
  /** The collection's webhooks, oldest first. */
  list(collectionId: number): Promise<WebhookRecord[]>;
  /** The webhook with this id if it belongs to the collection. */
  find(collectionId: number, id: number): Promise<WebhookRecord | undefined>;
  /** Deletes the webhook (and its deliveries) if it belongs to the collection; whether it did. */
  delete(collectionId: number, id: number): Promise<boolean>;
  /** Every webhook of every collection, by id. */
  all(): Promise<WebhookRecord[]>;
  /**
   * Inserts or updates the delivery of (webhookId, eventId): `created` is kept, `updated` set to
   * now. False when the webhook no longer exists (nothing is stored).
   */
  recordDelivery(delivery: DeliveryInput): Promise<boolean>;
  /** A webhook's deliveries, newest (last updated) first, of one state or of all. */
  deliveries(webhookId: number, state: DeliveryState | undefined, limit: number): Promise<DeliveryRecord[]>;
}

/** A background job as stored (times in µs since the epoch; 0: not yet). */
export interface JobRecord {
  readonly id: number;
  readonly kind: JobKind;
  readonly state: JobState;
  readonly space: string;
  readonly collection: string;
  /** Null once the collection is gone. */
  readonly collectionId: number | null;
  readonly version: string;
  readonly filter: RecordFilterInput;
  /** A restore's snapshot and mode; empty for other jobs. */
  readonly params: JobParams;
  /** A restore's phase; empty for other jobs. */
  readonly phase: string;
  readonly belowRevision: number;
  readonly afterKey: string | null;
  readonly done: number;
  readonly total: number;
  readonly errorCode: string;
  readonly errorMessage: string;
  readonly createdBy: string;
  readonly created: number;
  readonly started: number;
  readonly finished: number;
  readonly updated: number;
  /** The W3C traceparent of the call that created the job; empty when it was not traced. */
  readonly traceparent: string;
}

export interface JobParams {
  readonly snapshotId?: number;
  readonly replace?: boolean;
}

export interface NewJobInput {
  readonly kind: JobKind;
  readonly collection: Collection;
  readonly version: string;
  readonly filter: RecordFilterInput;
  readonly total: number;
  readonly createdBy: string;
  readonly params?: JobParams;
  readonly phase?: string;
}

export interface JobQuery {
  readonly space: string | undefined;
  readonly collection: string | undefined;
  readonly state: JobState | undefined;
  readonly beforeId: number | undefined;
  readonly limit: number;
}

export interface JobsRepository {
  /** Adds a queued job; it takes the next revision as its horizon. */
  create(input: NewJobInput): Promise<JobRecord>;
  /** A job by id, of the space when one is given. */
  get(id: number, space?: string): Promise<JobRecord | undefined>;
  /** Newest first. */
  list(query: JobQuery): Promise<JobRecord[]>;
  /** Queued and running jobs, oldest first. */
  unfinished(limit: number): Promise<JobRecord[]>;
  /** Cancels the job if it is still queued or running (waiting for a step in progress to end). */
  cancel(id: number, space: string): Promise<JobRecord | undefined>;
  /** Fails the job (and the snapshot it makes) if it is still queued or running. */
  fail(id: number, code: string, message: string): Promise<JobRecord | undefined>;
  /** Marks a queued job running (started now); undefined when it is neither queued nor running. */
  begin(id: number): Promise<JobRecord | undefined>;
  /** Ends a restore in its verify phase: succeeded when `matches`, else failed as corrupt. */
  verify(id: number, matches: boolean): Promise<JobRecord | undefined>;
}

/** A snapshot's index entry (times in µs; 0: not yet). */
export interface SnapshotRecord {
  readonly id: number;
  readonly space: string;
  readonly collection: string;
  readonly version: string;
  readonly state: 'creating' | 'ready' | 'failed';
  readonly records: number;
  readonly bytes: number;
  readonly checksum: string;
  readonly object: string;
  readonly jobId: number;
  readonly scheduleId: number;
  readonly created: number;
  readonly finished: number;
}

export interface ScheduleRecord {
  readonly id: number;
  readonly collectionId: number;
  readonly space: string;
  readonly collection: string;
  readonly everySeconds: number;
  readonly keep: number;
  readonly created: number;
}

export interface SnapshotsRepository {
  /** A snapshot job and its (creating) snapshot, in one transaction. */
  start(input: NewJobInput, scheduleId: number | undefined): Promise<{ job: JobRecord; snapshot: SnapshotRecord }>;
  get(id: number, space: string): Promise<SnapshotRecord | undefined>;
  byJob(jobId: number): Promise<SnapshotRecord | undefined>;
  list(
    space: string,
    collection: string | undefined,
    beforeId: number | undefined,
    limit: number,
  ): Promise<SnapshotRecord[]>;
  /** Removes a snapshot from the index (not one being made); answers what it removed. */
  delete(id: number, space: string): Promise<SnapshotRecord | 'creating' | undefined>;
  /**
   * Ends a running snapshot job: the snapshot is ready with these figures, and its schedule's
   * ready snapshots past the schedule's `keep` are removed (answered as `expired`). Undefined:
   * the job is no longer running.
   */
  finish(
    jobId: number,
    figures: { records: number; bytes: number; checksum: string },
  ): Promise<{ job: JobRecord; snapshot: SnapshotRecord; expired: SnapshotRecord[] } | undefined>;
  schedule(
    collection: Collection,
    everySeconds: number,
    keep: number,
    most: number,
  ): Promise<ScheduleRecord | 'limit-reached'>;
  /** A collection's schedules, or every collection's. */
  schedules(collectionId: number | undefined): Promise<ScheduleRecord[]>;
  scheduleById(id: number): Promise<ScheduleRecord | undefined>;
  deleteSchedule(id: number, collectionId: number): Promise<boolean>;
}

/** A collection's records as of one instant, page by page in key order (snapshots read this). */
export interface SnapshotReader {
  read(
    collection: Collection,
    at: VersionPlace | undefined,
    pageSize: number,
    onPage: (records: readonly ScannedRecord[]) => Promise<void>,
  ): Promise<void>;
}
