import type { JobKind, JobState, RecordFilterInput } from '@rosetta/core';
import type { JobQuery, JobRecord, JobsRepository, NewJobInput } from '../services/ports';
import { Params, us } from './sql-fragments';
import type { SqlClient, SqlExecutor } from './sql';

interface JobRow {
  id: number;
  kind: JobKind;
  state: JobState;
  space: string;
  collection: string;
  collection_id: number | null;
  version: string;
  filter: RecordFilterInput;
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
}

const JOB = `id, kind, state, space, collection, collection_id, version, filter, below_revision, after_key,
  done, total, error_code, error_message, created_by, ${us('created')} AS created, ${us('started')} AS started,
  ${us('finished')} AS finished, ${us('updated')} AS updated`;

const UNFINISHED = `state IN ('queued', 'running')`;

const toJob = (row: JobRow): JobRecord => ({
  id: row.id,
  kind: row.kind,
  state: row.state,
  space: row.space,
  collection: row.collection,
  collectionId: row.collection_id,
  version: row.version,
  filter: row.filter,
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
});

/** Where a job step starts: the job's row, locked for the step's transaction. */
export interface RunnableJob {
  readonly afterKey: string | null;
  readonly belowRevision: number;
}

/**
 * Locks a job's row for one step; undefined when the job is no longer queued or running (it was
 * cancelled, or finished). A cancel waits for a step in progress, and no step starts after it.
 */
export async function lockRunnableJob(tx: SqlExecutor, id: number): Promise<RunnableJob | undefined> {
  const { rows } = await tx.query<{ after_key: string | null; below_revision: number }>(
    {
      name: 'jobs.lock-runnable',
      text: `SELECT after_key, below_revision FROM jobs WHERE id = $1 AND ${UNFINISHED} FOR UPDATE`,
    },
    [id],
  );
  const row = rows[0];
  return row === undefined ? undefined : { afterKey: row.after_key, belowRevision: row.below_revision };
}

/**
 * Records a step in the transaction that did its work: `deleted` more records, the job now past
 * `lastKey` (the step's last key; null: it found none), succeeded when nothing was left.
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
      text: `UPDATE jobs SET done = done + $2, after_key = coalesce($3, after_key),
        state = CASE WHEN $4 THEN 'succeeded' ELSE 'running' END,
        started = coalesce(started, now()), finished = CASE WHEN $4 THEN now() END, updated = now()
      WHERE id = $1 RETURNING ${JOB}`,
    },
    [id, deleted, lastKey, finished],
  );
  return toJob(rows[0] as JobRow);
}

export class SqlJobsRepository implements JobsRepository {
  constructor(private readonly db: SqlClient) {}

  async create(input: NewJobInput): Promise<JobRecord> {
    const { collection } = input;
    const { rows } = await this.db.query<JobRow>(
      `INSERT INTO jobs (kind, state, space_id, space, collection_id, collection, version, filter, below_revision, total, created_by)
       SELECT $1, 'queued', c.space_id, $2, c.id, $3, $4, $5::jsonb, nextval('revision_seq'), $6, $7
       FROM collections c WHERE c.id = $8
       RETURNING ${JOB}`,
      [
        input.kind,
        collection.space,
        collection.name,
        input.version,
        JSON.stringify(input.filter),
        input.total,
        input.createdBy,
        collection.id,
      ],
    );
    const row = rows[0];
    if (row === undefined) throw new Error(`collection ${collection.id} went away while its job was created`);
    return toJob(row);
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
      `UPDATE jobs SET state = 'cancelled', finished = now(), updated = now()
       WHERE id = $1 AND space = $2 AND ${UNFINISHED} RETURNING ${JOB}`,
      [id, space],
    );
    return rows[0] === undefined ? undefined : toJob(rows[0]);
  }

  async fail(id: number, code: string, message: string): Promise<JobRecord | undefined> {
    const { rows } = await this.db.query<JobRow>(
      `UPDATE jobs SET state = 'failed', error_code = $2, error_message = $3, finished = now(), updated = now()
       WHERE id = $1 AND ${UNFINISHED} RETURNING ${JOB}`,
      [id, code, message],
    );
    return rows[0] === undefined ? undefined : toJob(rows[0]);
  }
}
