import {
  MAX_EVENT_VALUE_BYTES,
  type Collection,
  type PutInput,
  type RecordFilter,
  type RecordMeta,
  type StoredRecord,
} from '@rosetta/core';
import type {
  BatchPutOutcome,
  CollectionWithRecord,
  DeleteOutcome,
  JobStep,
  PutOutcome,
  RecordsRepository,
  RestoreStep,
  ScanPageQuery,
  ScannedRecord,
} from '../services/ports';
import { collectionColumns, toCollection, type CollectionRow } from './collections-repository';
import {
  advanceJob,
  DELETE_PHASES,
  JOB,
  lockRunnableJob,
  toJob,
  type JobRow,
  type RunnableJob,
} from './jobs-repository';
import { Params, estimateRows, filterConditions, us } from './sql-fragments';
import type { SqlClient, SqlExecutor } from './sql';

export interface MetaRow {
  key: string;
  content_type: string;
  created: number;
  updated: number;
  revision: number;
  created_revision: number;
  size: number;
}

export interface RecordRow extends MetaRow {
  value: Uint8Array | null;
}

export const META = `key, content_type, ${us('created')} AS created, ${us('updated')} AS updated, revision, created_revision, octet_length(value)::int8 AS size`;
const META_T = `t.key, t.content_type, ${us('t.created')} AS created, ${us('t.updated')} AS updated, t.revision, t.created_revision, octet_length(t.value)::int8 AS size`;

export const toMeta = (row: MetaRow): RecordMeta => ({
  key: row.key,
  contentType: row.content_type,
  created: row.created,
  updated: row.updated,
  revision: row.revision,
  createdRevision: row.created_revision,
  size: row.size,
});

const toRecord = (row: RecordRow): StoredRecord => ({
  key: row.key,
  value: row.value ?? new Uint8Array(0),
  contentType: row.content_type,
  created: row.created,
  updated: row.updated,
  revision: row.revision,
  createdRevision: row.created_revision,
});

export const toScanned = (row: RecordRow): ScannedRecord => ({ ...toMeta(row), value: row.value ?? undefined });

/** The value carried by a change event: small values travel with it, larger ones are read by key. */
const eventValue = (value: Uint8Array) => (value.byteLength <= MAX_EVENT_VALUE_BYTES ? value : null);

// The put's change event. $1 collection id, $2 node id, $6 space, $7 collection name, $8 version
// uuid, $9 event value (or NULL), $10 value size.
const PUT_EVENT = `ev AS (
  INSERT INTO change_events (revision, op, space, collection, collection_id, node_id, version, key, content_type, size, value)
  SELECT revision, 'put', $6, $7, $1, $2, $8, key, content_type, $10, $9::bytea FROM up
)`;

const INSERT_RECORD = `INSERT INTO records AS t
    (collection_id, node_id, key, value, content_type, created, updated, revision, created_revision)`;

// Revisions of one key must grow in commit order: the cache keeps the entry with the highest
// revision, and compare-and-set relies on it. A revision taken before the row lock could lose
// that order (a writer that took revision N waits on one that took N+1 and commits after it),
// so every write over an existing row — and a delete leaves its row, as a tombstone — takes a
// fresh revision in its SET, which runs once the row is locked. A new key's first write has no
// row to wait for, so the revision taken up front is safe.
//
// A write over a live record keeps its creation; over a tombstone the key is born again.
const UPSERT = `ON CONFLICT (collection_id, node_id, key) DO UPDATE SET
    (value, content_type, updated, revision, created, created_revision, tombstone) = (
      SELECT EXCLUDED.value, EXCLUDED.content_type, EXCLUDED.updated, fresh.r,
        CASE WHEN t.tombstone THEN EXCLUDED.created ELSE t.created END,
        CASE WHEN t.tombstone THEN fresh.r ELSE t.created_revision END,
        false
      FROM (SELECT nextval('revision_seq') AS r) AS fresh
    )`;

/** One record, always (`onlyIfAbsent` false) or only when the key is new (or a tombstone). */
const putOne = (onlyIfAbsent: boolean) => ({
  name: onlyIfAbsent ? 'records.put-absent' : 'records.put',
  text: `WITH rev AS (SELECT nextval('revision_seq') AS r),
up AS (
  ${INSERT_RECORD}
  SELECT $1, $2, $3, $4, $5, now(), now(), rev.r, rev.r FROM rev
  ${UPSERT}${onlyIfAbsent ? ' WHERE t.tombstone' : ''}
  RETURNING ${META_T}
), ${PUT_EVENT}
SELECT * FROM up`,
});
const PUT_ALWAYS = putOne(false);
const PUT_ABSENT = putOne(true);

const putIfPresent = (withRevision: boolean) => ({
  name: withRevision ? 'records.put-if-revision' : 'records.put-if-present',
  text: `WITH up AS (
  UPDATE records AS t SET value = $4, content_type = $5, updated = now(), revision = nextval('revision_seq')
  WHERE t.collection_id = $1 AND t.node_id = $2 AND t.key = $3 AND NOT t.tombstone${withRevision ? ' AND t.revision = $11' : ''}
  RETURNING ${META_T}
), ${PUT_EVENT}
SELECT * FROM up`,
});
const PUT_IF_REVISION = putIfPresent(true);
const PUT_IF_PRESENT = putIfPresent(false);

// The values travel as one bytea, cut by offsets and lengths: node-postgres sends a Buffer in
// binary, but a bytea[] as hex text, twice the size and costly to build and to parse. Prepared
// once per connection: its planning (~0.3 ms) is a seventh of a coalesced PUT's statement.
export const PUT_MANY = {
  name: 'records.put-many',
  text: `WITH input AS (
  SELECT k, substring($7::bytea FROM o FOR l) AS v, ct, nextval('revision_seq') AS r
  FROM unnest($6::text[], $10::int4[], $11::int4[], $8::text[]) WITH ORDINALITY AS i (k, o, l, ct, ord)
),
up AS (
  ${INSERT_RECORD}
  SELECT $1, $2, k, v, ct, now(), now(), r, r FROM input
  ${UPSERT}
  RETURNING ${META_T}, CASE WHEN octet_length(t.value) <= $9 THEN t.value END AS event_value
),
ev AS (
  INSERT INTO change_events (revision, op, space, collection, collection_id, node_id, version, key, content_type, size, value)
  SELECT revision, 'put', $3, $4, $1, $2, $5, key, content_type, size, event_value FROM up
)
SELECT key, content_type, created, updated, revision, created_revision, size FROM up`,
};

// A delete leaves its row as a tombstone (value emptied), so that a write racing it finds the
// row, waits for it, and takes a later revision (see UPSERT).
const TOMBSTONE = `tombstone = true, value = ''::bytea, updated = now(), revision = nextval('revision_seq')`;

const deleteSql = (withRevision: boolean) => ({
  name: withRevision ? 'records.delete-if-revision' : 'records.delete',
  text: `WITH del AS (
  UPDATE records SET ${TOMBSTONE}
  WHERE collection_id = $1 AND node_id = $2 AND key = $3 AND NOT tombstone${withRevision ? ' AND revision = $7' : ''}
  RETURNING key, content_type, revision
),
ev AS (
  INSERT INTO change_events (revision, op, space, collection, collection_id, node_id, version, key, content_type)
  SELECT revision, 'delete', $4, $5, $1, $2, $6, key, content_type FROM del
  RETURNING revision
)
SELECT revision FROM ev`,
});

const GET = {
  name: 'records.get',
  text: `SELECT ${META}, value FROM records WHERE collection_id = $1 AND node_id = $2 AND key = $3 AND NOT tombstone`,
};

const HEAD = {
  name: 'records.head',
  text: `SELECT ${META} FROM records WHERE collection_id = $1 AND node_id = $2 AND key = $3 AND NOT tombstone`,
};

const FIND_WITH_RECORD = {
  name: 'records.find-with-record',
  text: `SELECT ${collectionColumns('c', 's.name', 'n')},
  r.key AS r_key, r.value AS r_value, r.content_type AS r_content_type, ${us('r.created')} AS r_created,
  ${us('r.updated')} AS r_updated, r.revision AS r_revision, r.created_revision AS r_created_revision
FROM spaces s
JOIN collections c ON c.space_id = s.id
JOIN version_nodes n ON n.id = c.root_node_id
LEFT JOIN records r ON r.collection_id = c.id AND r.node_id = c.root_node_id AND r.key = $3 AND NOT r.tombstone
WHERE s.name = $1 AND c.name = $2`,
};

interface FindWithRecordRow extends CollectionRow {
  r_key: string | null;
  r_value: Uint8Array | null;
  r_content_type: string;
  r_created: number;
  r_updated: number;
  r_revision: number;
  r_created_revision: number;
}

/**
 * A page of a scan over `from` (the records table, or a version's resolved view of it) where
 * `where` holds; the position after which the page starts is added here.
 */
export function pageSql(from: string, where: string[], params: Params, query: ScanPageQuery): string {
  const column = query.order === 'key' ? 'key' : 'created_revision';
  const direction = query.reverse ? 'DESC' : 'ASC';
  if (query.after !== undefined) {
    const position = query.after.order === 'key' ? query.after.key : query.after.createdRevision;
    where.push(`${column} ${query.reverse ? '<' : '>'} ${params.add(position)}`);
  }
  const limit = params.add(query.limit);
  return query.keysOnly
    ? `SELECT ${META} FROM ${from} WHERE ${where.join(' AND ')} ORDER BY ${column} ${direction} LIMIT ${limit}`
    : // Values only for the rows that fit the budget: octet_length reads a TOASTed value's size
      // without fetching it, and rows past the budget never have theirs detoasted.
      `SELECT key, content_type, created, updated, revision, created_revision, size,
         CASE WHEN running - size < ${params.add(query.valueBudgetBytes)} THEN value END AS value
       FROM (
         SELECT ${META}, value,
           sum(octet_length(value)) OVER (ORDER BY ${column} ${direction} ROWS UNBOUNDED PRECEDING) AS running
         FROM ${from} WHERE ${where.join(' AND ')} ORDER BY ${column} ${direction} LIMIT ${limit}
       ) page ORDER BY ${column} ${direction}`;
}

/** Common head of every record query: the collection's live records on its storage node. */
function base(collection: Collection): { params: Params; where: string[] } {
  const params = new Params(collection.id, collection.rootNodeId);
  return { params, where: ['collection_id = $1', 'node_id = $2', 'NOT tombstone'] };
}

export class SqlRecordsRepository implements RecordsRepository {
  constructor(private readonly db: SqlClient) {}

  async findWithRecord(space: string, name: string, key: string): Promise<CollectionWithRecord | undefined> {
    const { rows } = await this.db.query<FindWithRecordRow>(FIND_WITH_RECORD, [space, name, key]);
    const row = rows[0];
    if (row === undefined) return undefined;
    const record =
      row.r_key === null
        ? undefined
        : toRecord({
            key: row.r_key,
            value: row.r_value,
            content_type: row.r_content_type,
            created: row.r_created,
            updated: row.r_updated,
            revision: row.r_revision,
            created_revision: row.r_created_revision,
            size: row.r_value?.byteLength ?? 0,
          });
    return { collection: toCollection(row), record };
  }

  async get(collection: Collection, key: string): Promise<StoredRecord | undefined> {
    const { rows } = await this.db.query<RecordRow>(GET, [collection.id, collection.rootNodeId, key]);
    return rows[0] === undefined ? undefined : toRecord(rows[0]);
  }

  async head(collection: Collection, key: string): Promise<RecordMeta | undefined> {
    const { rows } = await this.db.query<MetaRow>(HEAD, [collection.id, collection.rootNodeId, key]);
    return rows[0] === undefined ? undefined : toMeta(rows[0]);
  }

  async getMany(collection: Collection, keys: readonly string[], withValues: boolean): Promise<ScannedRecord[]> {
    const { rows } = await this.db.query<RecordRow>(
      {
        name: withValues ? 'records.get-many' : 'records.head-many',
        text: `SELECT ${META}${withValues ? ', value' : ''} FROM records
       WHERE collection_id = $1 AND node_id = $2 AND key = ANY($3::text[]) AND NOT tombstone`,
      },
      [collection.id, collection.rootNodeId, keys],
    );
    return rows.map(toScanned);
  }

  put(collection: Collection, input: PutInput): Promise<PutOutcome> {
    return this.putWith(this.db, collection, input);
  }

  private async putWith(db: SqlExecutor, collection: Collection, input: PutInput): Promise<PutOutcome> {
    const { condition } = input;
    const params = [
      collection.id,
      collection.rootNodeId,
      input.key,
      input.value,
      input.contentType,
      collection.space,
      collection.name,
      collection.rootVersion,
      eventValue(input.value),
      input.value.byteLength,
    ];
    const { rows } =
      condition.kind === 'revision'
        ? await db.query<MetaRow>(PUT_IF_REVISION, [...params, condition.revision])
        : await db.query<MetaRow>(
            condition.kind === 'absent' ? PUT_ABSENT : condition.kind === 'present' ? PUT_IF_PRESENT : PUT_ALWAYS,
            params,
          );
    const row = rows[0];
    if (row === undefined) return { kind: 'condition-failed' };
    return { kind: 'written', record: toMeta(row), created: row.created_revision === row.revision };
  }

  async putBatch(collection: Collection, entries: readonly PutInput[]): Promise<BatchPutOutcome> {
    if (entries.length === 0) return { kind: 'written', records: [], createdCount: 0 };
    // One statement is one transaction: unconditional writes alone need no BEGIN and COMMIT
    // (two round trips fewer for the gateway's coalesced PUTs).
    if (entries.every((e) => e.condition.kind === 'always')) {
      return inEntryOrder(entries, (await this.putMany(this.db, collection, entries)).map(toMeta));
    }
    return this.db
      .transaction(async (tx) => {
        const records: RecordMeta[] = [];
        // Conditional entries go one by one, so that each condition is checked under the row's
        // lock; the unconditional rest is one statement.
        for (const entry of entries) {
          if (entry.condition.kind === 'always') continue;
          const outcome = await this.putWith(tx, collection, entry);
          if (outcome.kind === 'condition-failed') throw new BatchConditionFailed(entry.key);
          records.push(outcome.record);
        }
        const plain = entries.filter((e) => e.condition.kind === 'always');
        if (plain.length > 0) records.push(...(await this.putMany(tx, collection, plain)).map(toMeta));
        return inEntryOrder(entries, records);
      })
      .catch((error: unknown) => {
        if (error instanceof BatchConditionFailed) return { kind: 'condition-failed' as const, key: error.key };
        throw error;
      });
  }

  /** Unconditional writes in one statement: their rows, in no particular order. */
  private async putMany(db: SqlExecutor, collection: Collection, plain: readonly PutInput[]): Promise<MetaRow[]> {
    const { rows } = await db.query<MetaRow>(PUT_MANY, [
      collection.id,
      collection.rootNodeId,
      collection.space,
      collection.name,
      collection.rootVersion,
      plain.map((e) => e.key),
      Buffer.concat(plain.map((e) => e.value)),
      plain.map((e) => e.contentType),
      MAX_EVENT_VALUE_BYTES,
      offsets(plain),
      plain.map((e) => e.value.byteLength),
    ]);
    return rows;
  }

  async delete(collection: Collection, key: string, expectedRevision: number | undefined): Promise<DeleteOutcome> {
    const params = [
      collection.id,
      collection.rootNodeId,
      key,
      collection.space,
      collection.name,
      collection.rootVersion,
    ];
    const withRevision = expectedRevision !== undefined;
    const { rows } = await this.db.query<{ revision: number }>(
      deleteSql(withRevision),
      withRevision ? [...params, expectedRevision] : params,
    );
    const row = rows[0];
    if (row !== undefined) return { kind: 'deleted', revision: row.revision };
    return withRevision ? { kind: 'condition-failed' } : { kind: 'absent' };
  }

  async scanPage(collection: Collection, query: ScanPageQuery): Promise<ScannedRecord[]> {
    const { params, where } = base(collection);
    filterConditions(query.filter, params, where);
    const { rows } = await this.db.orderedQuery<RecordRow>(pageSql('records', where, params, query), params.values);
    return rows.map(toScanned);
  }

  async count(collection: Collection, filter: RecordFilter): Promise<number> {
    const { params, where } = base(collection);
    filterConditions(filter, params, where);
    const { rows } = await this.db.query<{ n: number }>(
      `SELECT count(*)::int8 AS n FROM records WHERE ${where.join(' AND ')}`,
      params.values,
    );
    return rows[0]?.n ?? 0;
  }

  estimate(collection: Collection, filter: RecordFilter, exactUpTo: number): Promise<number> {
    const { params, where } = base(collection);
    filterConditions(filter, params, where);
    return estimateRows(this.db, 'records', where, params, exactUpTo);
  }

  async deleteMatching(collection: Collection, filter: RecordFilter, batchSize: number) {
    const { params, where } = base(collection);
    filterConditions(filter, params, where);
    const filterParams = [...params.values];
    const { rows } = await this.db.query<{ key: string; revision: number }>(
      deleteBatchSql(collection, params, where, batchSize, 'FOR UPDATE SKIP LOCKED'),
      params.values,
    );
    const left = await this.db.query<{ more: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM records WHERE ${where.join(' AND ')}) AS more`,
      filterParams,
    );
    return { deleted: rows, more: left.rows[0]?.more ?? false };
  }

  async deleteStep(collection: Collection, filter: RecordFilter, jobId: number, batchSize: number) {
    return this.db.transaction(async (tx): Promise<JobStep | undefined> => {
      const job = await lockRunnableJob(tx, jobId, DELETE_PHASES);
      if (job === undefined) return undefined;
      const { params, where } = base(collection);
      filterConditions(filter, params, where);
      jobConditions(job, params, where);
      // Rows being written are waited for rather than skipped: the step moves past their keys.
      const { rows } = await tx.query<{ key: string; revision: number }>(
        deleteBatchSql(collection, params, where, batchSize, 'FOR UPDATE'),
        params.values,
      );
      const last = rows.length === 0 ? null : (rows[rows.length - 1] as { key: string }).key;
      return { job: await advanceJob(tx, jobId, rows.length, last, rows.length < batchSize), deleted: rows };
    });
  }

  async restoreStep(
    collection: Collection,
    entries: readonly PutInput[],
    jobId: number,
    last: { readonly nextPhase: 'delete' | 'verify' } | undefined,
  ) {
    return this.db.transaction(async (tx): Promise<RestoreStep | undefined> => {
      if ((await lockRunnableJob(tx, jobId, ['write'])) === undefined) return undefined;
      const written = entries.length > 0 ? await this.putMany(tx, collection, entries) : [];
      const { rows } = await tx.query<JobRow>(
        `UPDATE jobs SET done = done + $2, state = 'running', started = coalesce(started, now()), updated = now(),
           after_key = CASE WHEN $4::text IS NULL THEN coalesce($3, after_key) END,
           phase = coalesce($4, phase)
         WHERE id = $1 RETURNING ${JOB}`,
        [jobId, entries.length, entries[entries.length - 1]?.key ?? null, last?.nextPhase ?? null],
      );
      return { job: toJob(rows[0] as JobRow), written };
    });
  }
}

/** A bulk-delete job's bounds: keys after its last one, records older than the job. */
export function jobConditions(job: RunnableJob, params: Params, where: string[]): void {
  if (job.afterKey !== null) where.push(`key > ${params.add(job.afterKey)}`);
  where.push(`revision < ${params.add(job.belowRevision)}`);
}

/**
 * Tombstones up to `batchSize` records of `where` (conditions over the collection's storage node,
 * whose id and node are $1 and $2), first keys first, each with its change event; the deleted
 * keys and revisions come back in key order.
 */
function deleteBatchSql(
  collection: Collection,
  params: Params,
  where: readonly string[],
  batchSize: number,
  lock: string,
) {
  const [space, name, version] = [collection.space, collection.name, collection.rootVersion].map((v) => params.add(v));
  return `WITH victims AS (
      SELECT key FROM records WHERE ${where.join(' AND ')} ORDER BY key LIMIT ${params.add(batchSize)} ${lock}
    ),
    del AS (
      -- Keys as an array, probed through the primary key: joined instead, the planner hashes
      -- the whole collection on every batch.
      UPDATE records r SET ${TOMBSTONE}
      WHERE r.collection_id = $1 AND r.node_id = $2 AND r.key = ANY (ARRAY(SELECT key FROM victims))
      RETURNING r.key, r.content_type, r.revision
    ),
    ev AS (
      INSERT INTO change_events (revision, op, space, collection, collection_id, node_id, version, key, content_type)
      SELECT revision, 'delete', ${space}, ${name}, $1, $2, ${version}, key, content_type FROM del
      RETURNING key, revision
    )
    SELECT key, revision FROM ev ORDER BY key`;
}

/** The outcome of a batch: each entry's record, in the entries' order. */
function inEntryOrder(entries: readonly PutInput[], records: readonly RecordMeta[]): BatchPutOutcome {
  const byKey = new Map(records.map((record) => [record.key, record]));
  const inOrder = entries.map((e) => byKey.get(e.key) as RecordMeta);
  return {
    kind: 'written',
    records: inOrder,
    createdCount: inOrder.filter((record) => record.createdRevision === record.revision).length,
  };
}

/** 1-based start of each value in the concatenation of all of them (SQL substring positions). */
export function offsets(entries: readonly PutInput[]): number[] {
  let next = 1;
  return entries.map((e) => {
    const at = next;
    next += e.value.byteLength;
    return at;
  });
}

class BatchConditionFailed extends Error {
  constructor(readonly key: string) {
    super(`condition failed for ${key}`);
  }
}
