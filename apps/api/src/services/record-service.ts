import {
  DomainError,
  MAX_BATCH_GET_KEYS,
  MAX_RESTORE_STEP,
  assertUnreachable,
  assertValueSize,
  decodeCursor,
  encodeCursor,
  invalid,
  normalizeContentType,
  parseFilter,
  validateBatchKeys,
  validateKey,
  validateLimit,
  validateRevision,
  type Collection,
  type PutInput,
  type RecordFilterInput,
  type RecordMeta,
  type ScanOrder,
  type ScanPosition,
  type StoredRecord,
  type WriteCondition,
} from '@rosetta/core';
import { CollectionResolver, POPULATE_WINDOW_MS, type Clock, type CollectionAddress } from './collection-resolver';
import type {
  JobStep,
  RecordCache,
  RestoreStep,
  ScanPageQuery,
  RecordsRepository,
  ScannedRecord,
  VersionedRecordsRepository,
  VersionPlace,
} from './ports';
import type { VersionService } from './version-service';

export interface PutRecordInput {
  readonly key: string;
  readonly value: Uint8Array;
  readonly contentType?: string | undefined;
  readonly condition?: WriteCondition | undefined;
}

export interface ScanInput {
  readonly filter: RecordFilterInput;
  readonly order: ScanOrder;
  readonly reverse: boolean;
  readonly limit: number | undefined;
  readonly cursor: string | undefined;
  readonly keysOnly: boolean;
}

export interface ScanChunk {
  readonly records: ScannedRecord[];
  readonly done: boolean;
  /** On the last chunk: where the next page starts; empty when nothing is left. */
  readonly nextCursor: string;
}

/** A batch read's records, and which of them are leased to the reader, for how long. */
export interface LeasedRecords {
  readonly records: Array<ScannedRecord | undefined>;
  readonly leased: readonly boolean[];
  readonly leaseMs: number;
}

export interface RecordServiceOptions {
  /** Rows read from the database per scan page. */
  readonly scanPageSize: number;
  /** Value bytes read per scan page (at least one row always comes with its value). */
  readonly scanPageBytes: number;
  /** Records a job's size is counted exactly up to; past it, Postgres's estimate. */
  readonly exactCountLimit: number;
  /** Total value bytes in one batch write. */
  readonly maxBatchBytes: number;
  readonly defaultDeleteBatch: number;
  readonly maxDeleteBatch: number;
}

/** Default and largest page of a version's changes or of a diff. */
const VERSION_PAGE = 1000;
const MAX_VERSION_PAGE = 10_000;

export const DEFAULT_RECORD_SERVICE_OPTIONS: RecordServiceOptions = {
  scanPageSize: 100,
  scanPageBytes: 1024 * 1024,
  exactCountLimit: 100_000,
  maxBatchBytes: 64 * 1024 * 1024,
  defaultDeleteBatch: 1000,
  maxDeleteBatch: 10_000,
};

function conditionFailed(condition: WriteCondition, key: string): DomainError {
  const shown = key.slice(0, 100);
  switch (condition.kind) {
    case 'absent':
      return invalid('RECORD_EXISTS', `key "${shown}" already exists`);
    case 'present':
      return invalid('REVISION_MISMATCH', `key "${shown}" does not exist`);
    case 'revision':
      return invalid('REVISION_MISMATCH', `key "${shown}" is not at revision ${condition.revision}`);
    case 'always':
      return new DomainError('INTERNAL', `unconditional write of ${shown} reported a failed condition`);
    default:
      return assertUnreachable(condition);
  }
}

function positionOf(order: ScanOrder, record: RecordMeta): ScanPosition {
  return order === 'key' ? { order, key: record.key } : { order, createdRevision: record.createdRevision };
}

/**
 * Record use cases: validation by core rules, then the repository, with the read cache kept
 * consistent (see docs/cache-consistency.md): every write marks its key in the cache at its
 * revision before it is acknowledged (changed, or deleted); readers fill only what is newer.
 */
export class RecordService {
  constructor(
    private readonly records: RecordsRepository,
    private readonly versioned: VersionedRecordsRepository,
    private readonly versions: VersionService,
    private readonly resolver: CollectionResolver,
    private readonly cache: RecordCache,
    private readonly clock: Clock,
    private readonly options: RecordServiceOptions = DEFAULT_RECORD_SERVICE_OPTIONS,
  ) {}

  /**
   * The collection and, for a versioned one, the version the call addresses. An unversioned
   * collection reached through another node of its repo stores as always; its change events name
   * the node addressed.
   */
  private async locate(address: CollectionAddress): Promise<{ collection: Collection; at: VersionPlace | undefined }> {
    const collection = await this.resolver.resolve(address);
    return this.placeIn(collection, address.version);
  }

  private async placeIn(
    collection: Collection,
    version: string | undefined,
  ): Promise<{ collection: Collection; at: VersionPlace | undefined }> {
    const place = await this.versions.place(collection, version);
    if (place === undefined) return { collection, at: undefined };
    if (place.kind === 'node') return { collection: { ...collection, rootVersion: place.uuid }, at: undefined };
    return { collection, at: place };
  }

  /** Where a versioned collection is read and written by default: the leaf of its master branch. */
  private async masterLeaf(collection: Collection): Promise<VersionPlace> {
    return (await this.placeIn(collection, undefined)).at as VersionPlace;
  }

  private async versionedGet(collection: Collection, at: VersionPlace, key: string): Promise<StoredRecord | undefined> {
    const [row] = await this.versioned.getMany(collection, at, [key], true);
    return row === undefined ? undefined : { ...row, value: row.value ?? new Uint8Array(0) };
  }

  async get(address: CollectionAddress, key: string): Promise<StoredRecord | undefined> {
    CollectionResolver.validate(address);
    validateKey(key);
    if (address.version !== undefined) {
      const { collection, at } = await this.locate(address);
      if (at !== undefined) return this.versionedGet(collection, at, key);
    }
    const hit = await this.cache.lookup(address.space, address.name, [key]);
    if (hit?.collection !== undefined) {
      const collection = hit.collection.value;
      if (collection === undefined) throw await this.resolver.notFound(address);
      if (collection.versioned) return this.versionedGet(collection, await this.masterLeaf(collection), key);
      const cached = hit.records[0];
      if (cached !== undefined) return cached.value;
      const started = this.clock.now();
      const record = await this.records.get(collection, key);
      if (record !== undefined) this.populate(started, collection, [record]);
      return record;
    }
    const started = this.clock.now();
    const found = await this.records.findWithRecord(address.space, address.name, key);
    if (found === undefined) throw await this.resolver.notFound(address);
    this.resolver.populate(started, found.collection);
    if (found.collection.versioned) {
      return this.versionedGet(found.collection, await this.masterLeaf(found.collection), key);
    }
    if (found.record !== undefined) this.populate(started, found.collection, [found.record]);
    return found.record;
  }

  async head(address: CollectionAddress, key: string): Promise<RecordMeta | undefined> {
    validateKey(key);
    const { collection, at } = await this.locate(address);
    if (at === undefined) return this.records.head(collection, key);
    const [row] = await this.versioned.getMany(collection, at, [key], false);
    return row;
  }

  /** Puts records read from the database into the cache, if the read is recent enough. */
  private populate(started: number, collection: Collection, records: readonly StoredRecord[]): void {
    if (records.length === 0 || this.clock.now() - started > POPULATE_WINDOW_MS) return;
    void this.cache.storeRecords(
      collection,
      records.map((record) => ({ key: record.key, revision: record.revision, state: 'live', record })),
      'read',
    );
  }

  private static checkPut(input: PutRecordInput, collection: Collection): PutInput {
    validateKey(input.key);
    const condition = input.condition ?? { kind: 'always' };
    if (condition.kind === 'revision') validateRevision(condition.revision);
    assertValueSize(input.value.byteLength, collection.maxValueBytes);
    return { key: input.key, value: input.value, contentType: normalizeContentType(input.contentType), condition };
  }

  async put(address: CollectionAddress, input: PutRecordInput): Promise<{ record: RecordMeta; created: boolean }> {
    validateKey(input.key);
    const { collection, at } = await this.locate(address);
    const put = RecordService.checkPut(input, collection);
    if (at !== undefined) {
      const written = await this.versioned.putBatch(collection, at, [put]);
      if (written.kind === 'condition-failed') throw conditionFailed(put.condition, put.key);
      return { record: written.records[0] as RecordMeta, created: written.createdCount === 1 };
    }
    const outcome = await this.records.put(collection, put);
    if (outcome.kind === 'condition-failed') throw conditionFailed(put.condition, put.key);
    await this.cache.storeRecords(
      collection,
      [{ key: put.key, revision: outcome.record.revision, state: 'changed' }],
      'write',
    );
    return { record: outcome.record, created: outcome.created };
  }

  async delete(
    address: CollectionAddress,
    key: string,
    expectedRevision: number | undefined,
  ): Promise<{ deleted: boolean; revision: number }> {
    validateKey(key);
    if (expectedRevision !== undefined) validateRevision(expectedRevision);
    const { collection, at } = await this.locate(address);
    const outcome =
      at === undefined
        ? await this.records.delete(collection, key, expectedRevision)
        : await this.versioned.delete(collection, at, key, expectedRevision);
    if (outcome.kind === 'condition-failed') {
      throw conditionFailed({ kind: 'revision', revision: expectedRevision ?? 0 }, key);
    }
    if (outcome.kind === 'absent') return { deleted: false, revision: 0 };
    if (at === undefined) {
      await this.cache.storeRecords(collection, [{ key, revision: outcome.revision, state: 'deleted' }], 'write');
    }
    return { deleted: true, revision: outcome.revision };
  }

  /** All entries are checked before anything is written; then one transaction writes them all or none. */
  async batchPut(
    address: CollectionAddress,
    entries: readonly PutRecordInput[],
  ): Promise<{ records: RecordMeta[]; createdCount: number }> {
    validateBatchKeys(entries.map((e) => e.key));
    const { collection, at } = await this.locate(address);
    const puts = entries.map((entry) => RecordService.checkPut(entry, collection));
    const total = puts.reduce((sum, p) => sum + p.value.byteLength, 0);
    if (total > this.options.maxBatchBytes) {
      throw invalid(
        'VALUE_TOO_LARGE',
        `the batch holds ${total} bytes of values; the limit is ${this.options.maxBatchBytes}`,
      );
    }
    const outcome =
      at === undefined
        ? await this.records.putBatch(collection, puts)
        : await this.versioned.putBatch(collection, at, puts);
    if (outcome.kind === 'condition-failed') {
      const failed = puts.find((p) => p.key === outcome.key) as PutInput;
      throw conditionFailed(failed.condition, failed.key);
    }
    if (at === undefined) {
      await this.cache.storeRecords(
        collection,
        outcome.records.map((record) => ({ key: record.key, revision: record.revision, state: 'changed' })),
        'write',
      );
    }
    return { records: outcome.records, createdCount: outcome.createdCount };
  }

  /**
   * One result per requested key, in order; undefined where no record has the key. The cache
   * answers what it holds in one round trip; the database, in one query, what it does not.
   */
  async batchGet(
    address: CollectionAddress,
    keys: readonly string[],
    withValues: boolean,
  ): Promise<Array<ScannedRecord | undefined>> {
    return (await this.readMany(address, keys, withValues, undefined)).records;
  }

  /**
   * A batch read that also leases the records the cache answered to `holder` (see
   * RecordCache.lookup): `leased` tells which, one per key (empty when none), for `leaseMs`.
   * Only the live, unversioned records the cache held can be leased.
   */
  async leasedBatchGet(address: CollectionAddress, keys: readonly string[], holder: string): Promise<LeasedRecords> {
    return this.readMany(address, keys, true, holder);
  }

  private async readMany(
    address: CollectionAddress,
    keys: readonly string[],
    withValues: boolean,
    holder: string | undefined,
  ): Promise<LeasedRecords> {
    CollectionResolver.validate(address);
    if (keys.length > MAX_BATCH_GET_KEYS) throw invalid('BATCH_TOO_LARGE', `at most ${MAX_BATCH_GET_KEYS} keys`);
    keys.forEach(validateKey);
    const unleased = (records: Array<ScannedRecord | undefined>): LeasedRecords => ({
      records,
      leased: [],
      leaseMs: 0,
    });
    if (address.version !== undefined) {
      const { collection, at } = await this.locate(address);
      if (at !== undefined) return unleased(await this.versionedBatchGet(collection, at, keys, withValues));
    }
    const unique = [...new Set(keys)];
    const found = new Map<string, StoredRecord | undefined>();
    const leased = new Set<string>();
    let missing = unique;
    let collection: Collection;
    const hit = await this.cache.lookup(address.space, address.name, unique, holder);
    if (hit?.collection === undefined) {
      collection = await this.resolver.resolve(address);
      if (collection.versioned) {
        return unleased(await this.versionedBatchGet(collection, await this.masterLeaf(collection), keys, withValues));
      }
    } else {
      if (hit.collection.value === undefined) throw await this.resolver.notFound(address);
      collection = hit.collection.value;
      if (collection.versioned) {
        return unleased(await this.versionedBatchGet(collection, await this.masterLeaf(collection), keys, withValues));
      }
      missing = unique.filter((key, i) => {
        const cached = hit.records[i];
        if (cached !== undefined) found.set(key, cached.value);
        if (hit.leased?.[i] === true) leased.add(key);
        return cached === undefined;
      });
    }
    if (missing.length > 0) {
      const started = this.clock.now();
      const loaded = (await this.records.getMany(collection, missing, true)).map((row): StoredRecord => ({
        ...row,
        value: row.value ?? new Uint8Array(0),
      }));
      for (const record of loaded) found.set(record.key, record);
      this.populate(started, collection, loaded);
    }
    return {
      records: keys.map((key) => {
        const record = found.get(key);
        if (record === undefined) return undefined;
        return { ...record, size: record.value.byteLength, value: withValues ? record.value : undefined };
      }),
      leased: leased.size === 0 ? [] : keys.map((key) => leased.has(key)),
      leaseMs: leased.size === 0 ? 0 : this.cache.leaseMs,
    };
  }

  private async versionedBatchGet(
    collection: Collection,
    at: VersionPlace,
    keys: readonly string[],
    withValues: boolean,
  ): Promise<Array<ScannedRecord | undefined>> {
    const rows = await this.versioned.getMany(collection, at, [...new Set(keys)], withValues);
    const found = new Map(rows.map((row) => [row.key, row]));
    return keys.map((key) => found.get(key));
  }

  /**
   * Streams the matching records page by page: a page is read only when the consumer asks for
   * the next chunk, so memory stays flat and a consumer that stops stops the reads.
   */
  async *scan(address: CollectionAddress, input: ScanInput): AsyncGenerator<ScanChunk> {
    validateLimit(input.limit);
    const filter = parseFilter(input.filter);
    let after = input.cursor ? decodeCursor(input.cursor, input.order, input.reverse) : undefined;
    const { collection, at } = await this.locate(address);
    const readPage = (query: ScanPageQuery) =>
      at === undefined ? this.records.scanPage(collection, query) : this.versioned.scanPage(collection, at, query);
    let remaining = input.limit;
    if (remaining === 0) {
      yield { records: [], done: true, nextCursor: '' };
      return;
    }
    for (;;) {
      // On the last page, ask for one row more than needed: it tells whether a next page exists.
      const want =
        remaining === undefined ? this.options.scanPageSize : Math.min(this.options.scanPageSize, remaining + 1);
      const rows = await readPage({
        filter,
        order: input.order,
        reverse: input.reverse,
        after,
        limit: want,
        keysOnly: input.keysOnly,
        valueBudgetBytes: this.options.scanPageBytes,
      });
      let usable = input.keysOnly ? rows : rows.slice(0, firstWithoutValue(rows));
      if (remaining !== undefined) usable = usable.slice(0, remaining);
      const more = rows.length > usable.length || rows.length === want;
      const last = usable[usable.length - 1];
      if (remaining !== undefined) remaining -= usable.length;
      if (last === undefined || !more) {
        yield { records: usable, done: true, nextCursor: '' };
        return;
      }
      if (remaining === 0) {
        yield { records: usable, done: true, nextCursor: encodeCursor(positionOf(input.order, last), input.reverse) };
        return;
      }
      after = positionOf(input.order, last);
      yield { records: usable, done: false, nextCursor: '' };
    }
  }

  async count(address: CollectionAddress, filterInput: RecordFilterInput): Promise<number> {
    const filter = parseFilter(filterInput);
    const { collection, at } = await this.locate(address);
    return at === undefined ? this.records.count(collection, filter) : this.versioned.count(collection, at, filter);
  }

  /**
   * How many records match, for a job's `total`: exact up to `exactCountLimit`, Postgres's
   * estimate past it, so that starting a job over any number of records answers at once.
   */
  async estimateCount(address: CollectionAddress, filterInput: RecordFilterInput): Promise<number> {
    const filter = parseFilter(filterInput);
    const { collection, at } = await this.locate(address);
    const limit = this.options.exactCountLimit;
    return at === undefined
      ? this.records.estimate(collection, filter, limit)
      : this.versioned.estimate(collection, at, filter, limit);
  }

  /** Deletes one bounded batch of matching records in one transaction. */
  async deleteMatching(
    address: CollectionAddress,
    filterInput: RecordFilterInput,
    batchSize: number | undefined,
  ): Promise<{ deleted: number; more: boolean }> {
    const filter = parseFilter(filterInput);
    const size = batchSize || this.options.defaultDeleteBatch;
    if (!Number.isSafeInteger(size) || size < 1 || size > this.options.maxDeleteBatch) {
      throw invalid('INVALID_ARGUMENT', `batch size must be from 1 to ${this.options.maxDeleteBatch}`);
    }
    const { collection, at } = await this.locate(address);
    if (at !== undefined) {
      const { deleted, more } = await this.versioned.deleteMatching(collection, at, filter, size);
      return { deleted: deleted.length, more };
    }
    const { deleted, more } = await this.records.deleteMatching(collection, filter, size);
    await this.cache.storeRecords(
      collection,
      deleted.map(({ key, revision }) => ({ key, revision, state: 'deleted' })),
      'write',
    );
    return { deleted: deleted.length, more };
  }

  /**
   * One step of bulk-delete job `jobId` on the collection whose id is `collectionId` (another
   * collection since created under its name is not the job's: COLLECTION_NOT_FOUND).
   */
  async deleteStep(
    address: CollectionAddress,
    filterInput: RecordFilterInput,
    collectionId: number,
    jobId: number,
    batchSize: number,
  ): Promise<JobStep | undefined> {
    const filter = parseFilter(filterInput);
    const { collection, at } = await this.placeOf(address, collectionId);
    if (at !== undefined) return this.versioned.deleteStep(collection, at, filter, jobId, batchSize);
    const step = await this.records.deleteStep(collection, filter, jobId, batchSize);
    if (step !== undefined) {
      await this.cache.storeRecords(
        collection,
        step.deleted.map(({ key, revision }) => ({ key, revision, state: 'deleted' })),
        'write',
      );
    }
    return step;
  }

  /**
   * The collection (and version place) of a job: the one whose id is `collectionId`; another
   * collection since created under its name is not the job's (COLLECTION_NOT_FOUND).
   */
  async placeOf(
    address: CollectionAddress,
    collectionId: number,
  ): Promise<{ collection: Collection; at: VersionPlace | undefined }> {
    const place = await this.locate(address);
    if (place.collection.id !== collectionId) throw await this.resolver.notFound(address);
    return place;
  }

  /**
   * One step of restore job `jobId` into an unversioned collection: `entries`, in strictly
   * ascending key order after `afterKey` (the job's position), written in one transaction with
   * the job's progress, and marked in the cache.
   */
  async restoreStep(
    address: CollectionAddress,
    collectionId: number,
    jobId: number,
    afterKey: string | null,
    entries: readonly PutRecordInput[],
    last: { readonly nextPhase: 'delete' | 'verify' } | undefined,
  ): Promise<RestoreStep | undefined> {
    if (entries.length > MAX_RESTORE_STEP)
      throw invalid('BATCH_TOO_LARGE', `at most ${MAX_RESTORE_STEP} records per step`);
    let previous = afterKey === null ? undefined : Buffer.from(afterKey);
    for (const entry of entries) {
      validateKey(entry.key);
      const key = Buffer.from(entry.key);
      if (previous !== undefined && Buffer.compare(previous, key) >= 0) {
        throw invalid(
          'INVALID_ARGUMENT',
          `restore keys must ascend after the job's position; "${entry.key.slice(0, 100)}" does not`,
        );
      }
      previous = key;
    }
    const { collection, at } = await this.placeOf(address, collectionId);
    if (at !== undefined) throw invalid('INVALID_ARGUMENT', 'snapshots restore into unversioned collections');
    const puts = entries.map((entry) => RecordService.checkPut(entry, collection));
    const step = await this.records.restoreStep(collection, puts, jobId, last);
    if (step !== undefined) {
      await this.cache.storeRecords(
        collection,
        step.written.map(({ key, revision }) => ({ key, revision, state: 'changed' })),
        'write',
      );
    }
    return step;
  }

  /** A versioned collection at a version, for the version operations. */
  private async versionAt(address: CollectionAddress): Promise<{ collection: Collection; at: VersionPlace }> {
    const { collection, at } = await this.locate(address);
    if (at === undefined) {
      throw invalid('INVALID_ARGUMENT', `collection "${collection.name}" is not versioned`);
    }
    return { collection, at };
  }

  private static pageSize(limit: number | undefined): number {
    const size = limit || VERSION_PAGE;
    if (!Number.isSafeInteger(size) || size < 1 || size > MAX_VERSION_PAGE) {
      throw invalid('INVALID_ARGUMENT', `limit must be from 1 to ${MAX_VERSION_PAGE}`);
    }
    return size;
  }

  /** What a version itself wrote and deleted, by key. */
  async versionChanges(address: CollectionAddress, afterKey: string, limit: number | undefined) {
    const size = RecordService.pageSize(limit);
    const { collection, at } = await this.versionAt(address);
    return this.versioned.changes(collection, at, afterKey, size);
  }

  /** Keys whose records differ between the version `fromVersion` and the one addressed. */
  async diff(address: CollectionAddress, fromVersion: string, afterKey: string, limit: number | undefined) {
    const size = RecordService.pageSize(limit);
    const { collection, at } = await this.versionAt(address);
    const from = await this.versionAt({ ...address, version: fromVersion });
    return this.versioned.diff(collection, from.at, at, afterKey, size);
  }
}

function firstWithoutValue(rows: readonly ScannedRecord[]): number {
  const i = rows.findIndex((r) => r.value === undefined);
  return i === -1 ? rows.length : i;
}
