import {
  DomainError,
  MAX_EVENT_VALUE_BYTES,
  type Collection,
  type PutInput,
  type RecordFilter,
  type RecordMeta,
} from '@rosetta/core';
import type {
  BatchPutOutcome,
  DeleteOutcome,
  JobStep,
  ScanPageQuery,
  ScannedRecord,
  VersionedRecordsRepository,
  VersionPlace,
} from '../services/ports';
import {
  META,
  PUT_MANY,
  offsets,
  pageSql,
  toMeta,
  toScanned,
  type MetaRow,
  type RecordRow,
} from './records-repository';
import { advanceJob, DELETE_PHASES, lockRunnableJob } from './jobs-repository';
import { Params, estimateRows, filterConditions } from './sql-fragments';
import type { SqlClient, SqlExecutor } from './sql';

/**
 * What a version sees, as a FROM item: for each key of the records matching `where` (over
 * `r`), the entry of the nearest node of the path `$2` (tombstones included). Node ids grow
 * from parent to child, so an entry counts when no node of the path with a larger id has one
 * for its key: an anti-join that keeps the primary key's order, so ranges stream without
 * sorting. `node_id + 0` keeps the planner on the primary key (key, node) and off the
 * (collection, node) index, which, misjudged before a bulk load is analyzed, reads a whole
 * node's entries for every row.
 */
const nearest = (where: readonly string[]) =>
  `(SELECT * FROM records r WHERE ${where.join(' AND ')} AND r.node_id + 0 = ANY($2::int8[]) AND NOT EXISTS (
    SELECT 1 FROM records n
    WHERE n.collection_id = $1 AND n.key = r.key AND n.node_id > r.node_id AND n.node_id + 0 = ANY($2::int8[])
  )) AS resolved`;

const GET_MANY_FROM = nearest(['r.collection_id = $1', 'r.key = ANY($3::text[])']);

// Tombstones at the node for keys that a version still sees: the entry hides its ancestors'.
const TOMBSTONES = `WITH input AS (
  SELECT k, ct, nextval('revision_seq') AS r FROM unnest($3::text[], $4::text[]) AS i (k, ct)
),
del AS (
  INSERT INTO records AS t (collection_id, node_id, key, value, content_type, created, updated, revision,
    created_revision, tombstone)
  SELECT $1, $2, k, ''::bytea, ct, now(), now(), r, r, true FROM input
  ON CONFLICT (collection_id, node_id, key) DO UPDATE SET
    tombstone = true, value = ''::bytea, content_type = EXCLUDED.content_type, updated = now(),
    revision = nextval('revision_seq')
  RETURNING key, content_type, revision
),
ev AS (
  INSERT INTO change_events (revision, op, space, collection, collection_id, node_id, version, key, content_type)
  SELECT revision, 'delete', $5, $6, $1, $2, $7, key, content_type FROM del
  RETURNING key, revision
)
SELECT key, revision FROM ev`;

/** Splits a filter into its key conditions (pushed into the resolution) and the rest. */
function splitFilter(filter: RecordFilter): { keys: RecordFilter; rest: RecordFilter } {
  const { prefix, start, end, pattern, ...rest } = filter;
  return { keys: { prefix, start, end, pattern }, rest };
}

/**
 * Records of versioned collections. A node's entries are stored at the node; a read at a node
 * takes, for each key, the entry of the nearest node on its ancestry (node ids grow from parent
 * to child, so the nearest is the one with the largest id), and a tombstone there hides the key.
 * With the primary key (collection_id, key, node_id) that is one index descent per key plus its
 * few versions, whatever the depth of the DAG.
 */
export class SqlVersionedRecordsRepository implements VersionedRecordsRepository {
  constructor(private readonly db: SqlClient) {}

  async getMany(
    collection: Collection,
    at: VersionPlace,
    keys: readonly string[],
    withValues: boolean,
    db: SqlExecutor = this.db,
  ): Promise<ScannedRecord[]> {
    const { rows } = await db.query<RecordRow>(
      {
        name: withValues ? 'versioned.get-many' : 'versioned.head-many',
        text: `SELECT ${META}${withValues ? ', value' : ''} FROM ${GET_MANY_FROM} WHERE NOT tombstone`,
      },
      [collection.id, at.path, keys],
    );
    return rows.map(toScanned);
  }

  /**
   * Runs a write at the node under a lock of the node's row: a commit waits for writes in
   * flight, and writes after it see the node committed. Writes that check what the version
   * sees (conditions, deletes) lock it exclusively, so nothing changes between their check and
   * their write; plain writes share it and run side by side.
   */
  private write<T>(at: VersionPlace, exclusive: boolean, work: (tx: SqlExecutor) => Promise<T>) {
    return this.db.transaction(async (tx) => {
      const { rows } = await tx.query<{ locked: boolean }>(
        exclusive
          ? { name: 'versioned.lock-node', text: 'SELECT locked FROM version_nodes WHERE id = $1 FOR UPDATE' }
          : { name: 'versioned.share-node', text: 'SELECT locked FROM version_nodes WHERE id = $1 FOR SHARE' },
        [at.nodeId],
      );
      if (rows[0]?.locked !== false) {
        throw new DomainError('VERSION_LOCKED', `version ${at.uuid} is committed`, {
          publicMessage: `version ${at.uuid} is committed and refuses writes`,
        });
      }
      return work(tx);
    });
  }

  async putBatch(collection: Collection, at: VersionPlace, entries: readonly PutInput[]): Promise<BatchPutOutcome> {
    if (entries.length === 0) return { kind: 'written', records: [], createdCount: 0 };
    const keys = entries.map((e) => e.key);
    const conditional = entries.some((e) => e.condition.kind !== 'always');
    // What the version sees before the write decides conditions and which keys are created. At a
    // root, whose only entries are its own, the write itself tells what it created.
    const lookBefore = conditional || at.path.length > 1;
    return this.write(at, conditional, async (tx) => {
      const seen = new Map(
        lookBefore ? (await this.getMany(collection, at, keys, false, tx)).map((r) => [r.key, r]) : [],
      );
      for (const entry of entries) {
        const current = seen.get(entry.key);
        const { condition } = entry;
        const ok =
          condition.kind === 'always' ||
          (condition.kind === 'absent' && current === undefined) ||
          (condition.kind === 'present' && current !== undefined) ||
          (condition.kind === 'revision' && current?.revision === condition.revision);
        if (!ok) return { kind: 'condition-failed' as const, key: entry.key };
      }
      const { rows } = await tx.query<MetaRow>(PUT_MANY, [
        collection.id,
        at.nodeId,
        collection.space,
        collection.name,
        at.uuid,
        keys,
        Buffer.concat(entries.map((e) => e.value)),
        entries.map((e) => e.contentType),
        MAX_EVENT_VALUE_BYTES,
        offsets(entries),
        entries.map((e) => e.value.byteLength),
      ]);
      const byKey = new Map(rows.map((row) => [row.key, toMeta(row)]));
      const created = lookBefore
        ? keys.filter((key) => !seen.has(key)).length
        : rows.filter((row) => row.created_revision === row.revision).length;
      return {
        kind: 'written' as const,
        records: keys.map((key) => byKey.get(key) as RecordMeta),
        createdCount: created,
      };
    });
  }

  async delete(
    collection: Collection,
    at: VersionPlace,
    key: string,
    expectedRevision: number | undefined,
  ): Promise<DeleteOutcome> {
    return this.write(at, true, async (tx) => {
      const [current] = await this.getMany(collection, at, [key], false, tx);
      if (current === undefined)
        return expectedRevision === undefined ? { kind: 'absent' } : { kind: 'condition-failed' };
      if (expectedRevision !== undefined && current.revision !== expectedRevision) return { kind: 'condition-failed' };
      const [deleted] = await this.tombstones(tx, collection, at, [current]);
      return { kind: 'deleted', revision: (deleted as { revision: number }).revision };
    });
  }

  private async tombstones(
    tx: SqlExecutor,
    collection: Collection,
    at: VersionPlace,
    records: ReadonlyArray<Pick<RecordMeta, 'key' | 'contentType'>>,
  ): Promise<Array<{ key: string; revision: number }>> {
    const { rows } = await tx.query<{ key: string; revision: number }>(
      { name: 'versioned.tombstones', text: TOMBSTONES },
      [
        collection.id,
        at.nodeId,
        records.map((r) => r.key),
        records.map((r) => r.contentType),
        collection.space,
        collection.name,
        at.uuid,
      ],
    );
    return rows;
  }

  /** The resolved view of the records matching `filter`, as a FROM item and conditions on it. */
  private static resolvedView(
    collection: Collection,
    at: VersionPlace,
    filter: RecordFilter,
    reverse = false,
    after?: string,
  ): { params: Params; from: string; where: string[] } {
    const { keys, rest } = splitFilter(filter);
    const params = new Params(collection.id, at.path);
    const inner = ['r.collection_id = $1'];
    filterConditions(keys, params, inner);
    if (after !== undefined) inner.push(`key ${reverse ? '<' : '>'} ${params.add(after)}`);
    const from = nearest(inner);
    const where = ['NOT tombstone'];
    filterConditions(rest, params, where);
    return { params, from, where };
  }

  async scanPage(collection: Collection, at: VersionPlace, query: ScanPageQuery): Promise<ScannedRecord[]> {
    if (query.order !== 'key') {
      throw new DomainError('INVALID_ARGUMENT', 'versioned collections list in key order only', {
        publicMessage: 'a versioned collection lists in key order only',
      });
    }
    const after = query.after?.order === 'key' ? query.after.key : undefined;
    const { params, from, where } = SqlVersionedRecordsRepository.resolvedView(
      collection,
      at,
      query.filter,
      query.reverse,
      after,
    );
    const { rows } = await this.db.orderedQuery<RecordRow>(
      pageSql(from, where, params, { ...query, after: undefined }),
      params.values,
    );
    return rows.map(toScanned);
  }

  async count(collection: Collection, at: VersionPlace, filter: RecordFilter): Promise<number> {
    const { params, from, where } = SqlVersionedRecordsRepository.resolvedView(collection, at, filter);
    const { rows } = await this.db.query<{ n: number }>(
      `SELECT count(*)::int8 AS n FROM ${from} WHERE ${where.join(' AND ')}`,
      params.values,
    );
    return rows[0]?.n ?? 0;
  }

  estimate(collection: Collection, at: VersionPlace, filter: RecordFilter, exactUpTo: number): Promise<number> {
    const { params, from, where } = SqlVersionedRecordsRepository.resolvedView(collection, at, filter);
    return estimateRows(this.db, from, where, params, exactUpTo);
  }

  async deleteMatching(collection: Collection, at: VersionPlace, filter: RecordFilter, batchSize: number) {
    const { params, from, where } = SqlVersionedRecordsRepository.resolvedView(collection, at, filter);
    const victims = await this.db.orderedQuery<{ key: string; content_type: string }>(
      `SELECT key, content_type FROM ${from} WHERE ${where.join(' AND ')} ORDER BY key LIMIT ${params.add(batchSize + 1)}`,
      params.values,
    );
    const batch = victims.rows.slice(0, batchSize);
    if (batch.length === 0) return { deleted: [], more: false };
    const keys = batch.map((v) => v.key);
    const deleted = await this.write(at, true, async (tx) => {
      // What the version still sees under the lock: a concurrent delete may have won.
      const live = await this.getMany(collection, at, keys, false, tx);
      return live.length === 0 ? [] : this.tombstones(tx, collection, at, live);
    });
    return { deleted, more: victims.rows.length > batchSize };
  }

  async deleteStep(collection: Collection, at: VersionPlace, filter: RecordFilter, jobId: number, batchSize: number) {
    return this.write(at, true, async (tx): Promise<JobStep | undefined> => {
      const job = await lockRunnableJob(tx, jobId, DELETE_PHASES);
      if (job === undefined) return undefined;
      const view = SqlVersionedRecordsRepository.resolvedView(collection, at, filter, false, job.afterKey ?? undefined);
      const { params, from, where } = view;
      where.push(`revision < ${params.add(job.belowRevision)}`);
      await tx.exec('SET LOCAL enable_sort = off; SET LOCAL jit = off');
      const victims = await tx.query<{ key: string; content_type: string }>(
        `SELECT key, content_type FROM ${from} WHERE ${where.join(' AND ')} ORDER BY key LIMIT ${params.add(batchSize)}`,
        params.values,
      );
      const batch = victims.rows.map((v) => ({ key: v.key, contentType: v.content_type }));
      const deleted = batch.length === 0 ? [] : await this.tombstones(tx, collection, at, batch);
      const last = batch.length === 0 ? null : (batch[batch.length - 1] as { key: string }).key;
      return { job: await advanceJob(tx, jobId, deleted.length, last, batch.length < batchSize), deleted };
    });
  }

  async changes(collection: Collection, at: VersionPlace, afterKey: string, limit: number) {
    const { rows } = await this.db.query<MetaRow & { tombstone: boolean }>(
      `SELECT ${META}, tombstone FROM records
       WHERE collection_id = $1 AND node_id = $2 AND key > $3 ORDER BY key LIMIT $4`,
      [collection.id, at.nodeId, afterKey, limit],
    );
    return {
      changes: rows.map((row) => ({ key: row.key, record: row.tombstone ? undefined : toMeta(row) })),
      nextKey: rows.length === limit ? (rows[rows.length - 1]?.key ?? '') : '',
    };
  }

  async diff(collection: Collection, from: VersionPlace, to: VersionPlace, afterKey: string, limit: number) {
    // Only keys written on a node of one ancestry and not the other can differ; each such key is
    // resolved at both versions.
    const shared = new Set(from.path.filter((id) => to.path.includes(id)));
    const apart = [...from.path, ...to.path].filter((id) => !shared.has(id));
    if (apart.length === 0) return { diffs: [], nextKey: '' };
    // One key at a time, the nearest entry is simply the last one of the path.
    const side = (alias: string, path: string) => `LEFT JOIN LATERAL (
        SELECT ${META}, tombstone FROM records
        WHERE collection_id = $1 AND key = c.key AND node_id + 0 = ANY(${path}::int8[])
        ORDER BY node_id DESC LIMIT 1
      ) ${alias} ON NOT ${alias}.tombstone`;
    const { rows } = await this.db.query<{ key: string; from: MetaRow | null; to: MetaRow | null }>(
      `WITH c AS (
         SELECT DISTINCT key FROM records WHERE collection_id = $1 AND node_id = ANY($2::int8[]) AND key > $3
         ORDER BY key LIMIT $4
       )
       SELECT c.key, CASE WHEN f.key IS NULL THEN NULL ELSE to_jsonb(f) END AS from,
         CASE WHEN t.key IS NULL THEN NULL ELSE to_jsonb(t) END AS to
       FROM c ${side('f', '$5')} ${side('t', '$6')}
       ORDER BY c.key`,
      [collection.id, apart, afterKey, limit, from.path, to.path],
    );
    return {
      diffs: rows
        .filter((row) => row.from !== null || row.to !== null)
        .map((row) => ({
          key: row.key,
          from: row.from === null ? undefined : toMeta(row.from),
          to: row.to === null ? undefined : toMeta(row.to),
        })),
      nextKey: rows.length === limit ? (rows[rows.length - 1]?.key ?? '') : '',
    };
  }
}
