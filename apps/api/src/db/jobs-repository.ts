import type { JobKind, JobState, RecordFilterInput } from '@rosetta/core';
import { currentTraceparent } from '@rosetta/platform';
import type { JobParams, JobQuery, JobRecord, JobsRepository, NewJobInput } from '../services/ports';
import { Params, us } from './sql-fragments';
import type { SqlClient, SqlExecutor } from './sql';

export interface JobRow {
  id: number;
  kind: JobKind;
  state: JobState;
  space: string;
  collection: string;
  collection_id: number | null;
  version: string;
  filter: RecordFilterInput;
  params: JobParams;
  phase: string;
  below_revision: number;
  after_key: string | null;
  done: number;
  total: number;
  error_code: string;
  error_message: string;
  created_by: string;
  created: number;
  started: number | null;
  finished: number | null;
  updated: number;
  traceparent: string;
}

export const JOB = `id, kind, state, space, collection, collection_id, version, filter, params, phase, below_revision, after_key,
  done, total, error_code, error_message, created_by, ${us('created')} AS created, ${us('started')} AS started,
  ${us('finished')} AS finished, ${us('updated')} AS updated, traceparent`;

const UNFINISHED = `state IN ('queued', 'running')`;

export const toJob = (row: JobRow): JobRecord => ({
  id: row.id,
  kind: row.kind,
  state: row.state,
  space: row.space,
  collection: row.collection,
  collectionId: row.collection_id,
  version: row.version,
  filter: row.filter,
  params: row.params,
  phase: row.phase,
  belowRevision: row.below_revision,
  afterKey: row.after_key,
  done: row.done,
  total: row.total,
  errorCode: row.error_code,
  errorMessage: row.error_message,
  createdBy: row.created_by,
  created: row.created,
  started: row.started ?? 0,
  finished: row.finished ?? 0,
  updated: row.updated,
  traceparent: row.traceparent,
});

/** Where a job step starts: the job's row, locked for the step's transaction. */
export interface RunnableJob {
  readonly afterKey: string | null;
  readonly belowRevision: number;
}

/** The phases a bulk-delete step works in: a bulk delete's only one, a restore's delete phase. */
export const DELETE_PHASES: readonly string[] = ['', 'delete'];

/**
 * Locks a job's row for one step; undefined when the job is no longer queued or running, or not
 * in one of `phases`. A cancel waits for a step in progress, and no step starts after it.
 */
export async function lockRunnableJob(
  tx: SqlExecutor,
  id: number,
  phases: readonly string[],
): Promise<RunnableJob | undefined> {
  const { rows } = await tx.query<{ after_key: string | null; below_revision: number }>(
    {
      name: 'jobs.lock-runnable',
      text: `SELECT after_key, below_revision FROM jobs WHERE id = $1 AND ${UNFINISHED} AND phase = ANY($2) FOR UPDATE`,
    },
    [id, phases],
  );
  const row = rows[0];
  return row === undefined ? undefined : { afterKey: row.after_key, belowRevision: row.below_revision };
}

/**
 * Records a step in the transaction that did its work: `deleted` more records, the job now past
 * `lastKey` (the step's last key; null: it found none), and, when nothing was left (`finished`),
 * done — a restore's delete phase goes on to its verify phase instead.
 */
export async function advanceJob(
  tx: SqlExecutor,
  id: number,
  deleted: number,
  lastKey: string | null,
  finished: boolean,
): Promise<JobRecord> {
  const { rows } = await tx.query<JobRow>(
    {
      name: 'jobs.advance',
      text: `UPDATE jobs SET done = done + $2,
        after_key = CASE WHEN $4 AND kind = 'restore' THEN NULL ELSE coalesce($3, after_key) END,
        state = CASE WHEN $4 AND kind <> 'restore' THEN 'succeeded' ELSE 'running' END,
        phase = CASE WHEN $4 AND kind = 'restore' THEN 'verify' ELSE phase END,
        started = coalesce(started, now()), finished = CASE WHEN $4 AND kind <> 'restore' THEN now() END,
        updated = now()
      WHERE id = $1 RETURNING ${JOB}`,
    },
    [id, deleted, lastKey, finished],
  );
  return toJob(rows[0] as JobRow);
}

/** Ends a job that makes a snapshot: the snapshot it was making failed with it. */
const SNAPSHOT_FAILED = (jobs: string) =>
  `snap AS (UPDATE snapshots SET state = 'failed', finished = now() FROM ${jobs} j WHERE snapshots.job_id = j.id AND snapshots.state = 'creating')`;

/**
 * Adds a queued job; it takes the next revision as its horizon, and the trace of the call that
 * made it (which the worker's run continues).
 */
export async function createJob(db: SqlExecutor, input: NewJobInput): Promise<JobRecord> {
  const { collection } = input;
  const { rows } = await db.query<JobRow>(
    `INSERT INTO jobs (kind, state, space_id, space, collection_id, collection, version, filter, params, phase,
       below_revision, total, created_by, traceparent)
     SELECT $1, 'queued', c.space_id, $2, c.id, $3, $4, $5::jsonb, $6::jsonb, $7, nextval('revision_seq'), $8, $9, $11
     FROM collections c WHERE c.id = $10
     RETURNING ${JOB}`,
    [
      input.kind,
      collection.space,
      collection.name,
      input.version,
      JSON.stringify(input.filter),
      JSON.stringify(input.params ?? {}),
      input.phase ?? '',
      input.total,
      input.createdBy,
      collection.id,
      currentTraceparent(),
    ],
  );
  const row = rows[0];
  if (row === undefined) throw new Error(`collection ${collection.id} went away while its job was created`);
  return toJob(row);
}

export class SqlJobsRepository implements JobsRepository {
  constructor(private readonly db: SqlClient) {}

  create(input: NewJobInput): Promise<JobRecord> {
    return createJob(this.db, input);
  }

  async get(id: number, space?: string): Promise<JobRecord | undefined> {
    const { rows } =
      space === undefined
        ? await this.db.query<JobRow>(`SELECT ${JOB} FROM jobs WHERE id = $1`, [id])
        : await this.db.query<JobRow>(`SELECT ${JOB} FROM jobs WHERE id = $1 AND space = $2`, [id, space]);
    return rows[0] === undefined ? undefined : toJob(rows[0]);
  }

  async list(query: JobQuery): Promise<JobRecord[]> {
    const params = new Params();
    const where: string[] = [];
    if (query.space !== undefined) where.push(`space = ${params.add(query.space)}`);
    if (query.collection !== undefined) where.push(`collection = ${params.add(query.collection)}`);
    if (query.state !== undefined) where.push(`state = ${params.add(query.state)}`);
    if (query.beforeId !== undefined) where.push(`id < ${params.add(query.beforeId)}`);
    const { rows } = await this.db.query<JobRow>(
      `SELECT ${JOB} FROM jobs ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`}
       ORDER BY id DESC LIMIT ${params.add(query.limit)}`,
      params.values,
    );
    return rows.map(toJob);
  }

  async unfinished(limit: number): Promise<JobRecord[]> {
    const { rows } = await this.db.query<JobRow>(
      { name: 'jobs.unfinished', text: `SELECT ${JOB} FROM jobs WHERE ${UNFINISHED} ORDER BY id LIMIT $1` },
      [limit],
    );
    return rows.map(toJob);
  }

  async cancel(id: number, space: string): Promise<JobRecord | undefined> {
    const { rows } = await this.db.query<JobRow>(
      `WITH j AS (
         UPDATE jobs SET state = 'cancelled', finished = now(), updated = now()
         WHERE id = $1 AND space = $2 AND ${UNFINISHED} RETURNING ${JOB}
       ), ${SNAPSHOT_FAILED('j')}
       SELECT * FROM j`,
      [id, space],
    );
    return rows[0] === undefined ? undefined : toJob(rows[0]);
  }

  async fail(id: number, code: string, message: string): Promise<JobRecord | undefined> {
    const { rows } = await this.db.query<JobRow>(
      `WITH j AS (
         UPDATE jobs SET state = 'failed', error_code = $2, error_message = $3, finished = now(), updated = now()
         WHERE id = $1 AND ${UNFINISHED} RETURNING ${JOB}
       ), ${SNAPSHOT_FAILED('j')}
       SELECT * FROM j`,
      [id, code, message],
    );
    return rows[0] === undefined ? undefined : toJob(rows[0]);
  }

  async begin(id: number): Promise<JobRecord | undefined> {
    const { rows } = await this.db.query<JobRow>(
      `UPDATE jobs SET state = 'running', started = coalesce(started, now()), updated = now()
       WHERE id = $1 AND ${UNFINISHED} RETURNING ${JOB}`,
      [id],
    );
    return rows[0] === undefined ? undefined : toJob(rows[0]);
  }

  async verify(id: number, matches: boolean): Promise<JobRecord | undefined> {
    const { rows } = await this.db.query<JobRow>(
      `UPDATE jobs SET state = CASE WHEN $2 THEN 'succeeded' ELSE 'failed' END,
         error_code = CASE WHEN $2 THEN '' ELSE 'SNAPSHOT_CORRUPT' END,
         error_message = CASE WHEN $2 THEN '' ELSE 'the restored collection does not match the snapshot''s checksum' END,
         finished = now(), updated = now()
       WHERE id = $1 AND kind = 'restore' AND phase = 'verify' AND ${UNFINISHED} RETURNING ${JOB}`,
      [id, matches],
    );
    return rows[0] === undefined ? undefined : toJob(rows[0]);
  }
}
