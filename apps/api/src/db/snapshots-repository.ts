import type { Collection } from '@rosetta/core';
import type {
  JobRecord,
  NewJobInput,
  ScannedRecord,
  ScheduleRecord,
  SnapshotReader,
  SnapshotRecord,
  SnapshotsRepository,
  VersionPlace,
} from '../services/ports';
import { createJob, JOB, toJob, type JobRow } from './jobs-repository';
import { SqlRecordsRepository } from './records-repository';
import { us } from './sql-fragments';
import type { SqlClient } from './sql';
import { SqlVersionedRecordsRepository } from './versioned-records-repository';

interface SnapshotRow {
  id: number;
  space: string;
  collection: string;
  version: string;
  state: SnapshotRecord['state'];
  records: number;
  bytes: number;
  checksum: string;
  object: string;
  job_id: number;
  schedule_id: number | null;
  created: number;
  finished: number | null;
}

interface ScheduleRow {
  id: number;
  collection_id: number;
  space: string;
  collection: string;
  every_seconds: number;
  keep: number;
  created: number;
}

const SNAPSHOT = `id, space, collection, version, state, records, bytes, checksum, object, job_id, schedule_id,
  ${us('created')} AS created, ${us('finished')} AS finished`;

const SCHEDULE = `id, collection_id, space, collection, every_seconds, keep, ${us('created')} AS created`;

const toSnapshot = (row: SnapshotRow): SnapshotRecord => ({
  id: row.id,
  space: row.space,
  collection: row.collection,
  version: row.version,
  state: row.state,
  records: row.records,
  bytes: row.bytes,
  checksum: row.checksum,
  object: row.object,
  jobId: row.job_id,
  scheduleId: row.schedule_id ?? 0,
  created: row.created,
  finished: row.finished ?? 0,
});

const toSchedule = (row: ScheduleRow): ScheduleRecord => ({
  id: row.id,
  collectionId: row.collection_id,
  space: row.space,
  collection: row.collection,
  everySeconds: row.every_seconds,
  keep: row.keep,
  created: row.created,
});

/** Where a snapshot's object goes: by space, collection and job, so that a retried job rewrites its own. */
const objectName = (job: JobRecord) =>
  `${encodeURIComponent(job.space)}/${encodeURIComponent(job.collection)}/${job.id}.ndjson.gz`;

export class SqlSnapshotsRepository implements SnapshotsRepository {
  constructor(private readonly db: SqlClient) {}

  async start(input: NewJobInput, scheduleId: number | undefined) {
    return this.db.transaction(async (tx) => {
      const job = await createJob(tx, input);
      const { rows } = await tx.query<SnapshotRow>(
        `INSERT INTO snapshots (space_id, space, collection, version, state, object, job_id, schedule_id)
         SELECT space_id, space, collection, version, 'creating', $2, id, $3 FROM jobs WHERE id = $1
         RETURNING ${SNAPSHOT}`,
        [job.id, objectName(job), scheduleId ?? null],
      );
      const snapshot = toSnapshot(rows[0] as SnapshotRow);
      const updated = await tx.query<JobRow>(
        `UPDATE jobs SET params = jsonb_build_object('snapshotId', $2::int8) WHERE id = $1 RETURNING ${JOB}`,
        [job.id, snapshot.id],
      );
      return { job: toJob(updated.rows[0] as JobRow), snapshot };
    });
  }

  async get(id: number, space: string) {
    const { rows } = await this.db.query<SnapshotRow>(
      `SELECT ${SNAPSHOT} FROM snapshots WHERE id = $1 AND space = $2`,
      [id, space],
    );
    return rows[0] === undefined ? undefined : toSnapshot(rows[0]);
  }

  async byJob(jobId: number) {
    const { rows } = await this.db.query<SnapshotRow>(`SELECT ${SNAPSHOT} FROM snapshots WHERE job_id = $1`, [jobId]);
    return rows[0] === undefined ? undefined : toSnapshot(rows[0]);
  }

  async list(space: string, collection: string | undefined, beforeId: number | undefined, limit: number) {
    const { rows } = await this.db.query<SnapshotRow>(
      `SELECT ${SNAPSHOT} FROM snapshots
       WHERE space = $1 AND ($2::text IS NULL OR collection = $2) AND ($3::int8 IS NULL OR id < $3)
       ORDER BY id DESC LIMIT $4`,
      [space, collection ?? null, beforeId ?? null, limit],
    );
    return rows.map(toSnapshot);
  }

  async delete(id: number, space: string) {
    const { rows } = await this.db.query<SnapshotRow>(
      `DELETE FROM snapshots WHERE id = $1 AND space = $2 AND state <> 'creating' RETURNING ${SNAPSHOT}`,
      [id, space],
    );
    if (rows[0] !== undefined) return toSnapshot(rows[0]);
    return (await this.get(id, space)) === undefined ? undefined : ('creating' as const);
  }

  async finish(jobId: number, figures: { records: number; bytes: number; checksum: string }) {
    return this.db.transaction(async (tx) => {
      const { rows } = await tx.query<JobRow>(
        `UPDATE jobs SET state = 'succeeded', done = $2, total = $2, started = coalesce(started, now()),
           finished = now(), updated = now()
         WHERE id = $1 AND kind = 'snapshot' AND state IN ('queued', 'running') RETURNING ${JOB}`,
        [jobId, figures.records],
      );
      if (rows[0] === undefined) return undefined;
      const snapshot = await tx.query<SnapshotRow>(
        `UPDATE snapshots SET state = 'ready', records = $2, bytes = $3, checksum = $4, finished = now()
         WHERE job_id = $1 RETURNING ${SNAPSHOT}`,
        [jobId, figures.records, figures.bytes, figures.checksum],
      );
      const made = toSnapshot(snapshot.rows[0] as SnapshotRow);
      const expired = await tx.query<SnapshotRow>(
        `DELETE FROM snapshots WHERE id IN (
           SELECT id FROM snapshots WHERE schedule_id = $1 AND state = 'ready'
           ORDER BY id DESC OFFSET (SELECT keep FROM snapshot_schedules WHERE id = $1)
         ) RETURNING ${SNAPSHOT}`,
        [made.scheduleId === 0 ? null : made.scheduleId],
      );
      return { job: toJob(rows[0]), snapshot: made, expired: expired.rows.map(toSnapshot) };
    });
  }

  async schedule(collection: Collection, everySeconds: number, keep: number, most: number) {
    const { rows } = await this.db.query<ScheduleRow>(
      `INSERT INTO snapshot_schedules (collection_id, space, collection, every_seconds, keep)
       SELECT $1, $2, $3, $4, $5 WHERE (SELECT count(*) FROM snapshot_schedules WHERE collection_id = $1) < $6
       RETURNING ${SCHEDULE}`,
      [collection.id, collection.space, collection.name, everySeconds, keep, most],
    );
    return rows[0] === undefined ? ('limit-reached' as const) : toSchedule(rows[0]);
  }

  async schedules(collectionId: number | undefined) {
    const { rows } = await this.db.query<ScheduleRow>(
      `SELECT ${SCHEDULE} FROM snapshot_schedules WHERE $1::int8 IS NULL OR collection_id = $1 ORDER BY id`,
      [collectionId ?? null],
    );
    return rows.map(toSchedule);
  }

  async scheduleById(id: number) {
    const { rows } = await this.db.query<ScheduleRow>(`SELECT ${SCHEDULE} FROM snapshot_schedules WHERE id = $1`, [id]);
    return rows[0] === undefined ? undefined : toSchedule(rows[0]);
  }

  async deleteSchedule(id: number, collectionId: number) {
    const { rowCount } = await this.db.query('DELETE FROM snapshot_schedules WHERE id = $1 AND collection_id = $2', [
      id,
      collectionId,
    ]);
    return rowCount > 0;
  }
}

/**
 * Reads a collection (at a version) from one consistent view of the database, page by page in
 * key order: what a snapshot holds is the collection at one instant, however long it takes.
 */
export class SqlSnapshotReader implements SnapshotReader {
  constructor(private readonly db: SqlClient) {}

  async read(
    collection: Collection,
    at: VersionPlace | undefined,
    pageSize: number,
    onPage: (records: readonly ScannedRecord[]) => Promise<void>,
  ): Promise<void> {
    await this.db.readSnapshot(async (view) => {
      const plain = new SqlRecordsRepository(view);
      const versioned = new SqlVersionedRecordsRepository(view);
      let after: string | undefined;
      for (;;) {
        const query = {
          filter: {},
          order: 'key' as const,
          reverse: false,
          after: after === undefined ? undefined : { order: 'key' as const, key: after },
          limit: pageSize,
          keysOnly: false,
          valueBudgetBytes: PAGE_VALUE_BUDGET,
        };
        const page =
          at === undefined ? await plain.scanPage(collection, query) : await versioned.scanPage(collection, at, query);
        // Rows past the page's value budget come without their value: the next page starts at
        // the first of them (the first row of a page always has its value).
        const whole = page.filter((r) => r.value !== undefined);
        const last = whole[whole.length - 1];
        if (last === undefined) return;
        await onPage(whole);
        if (page.length < pageSize && whole.length === page.length) return;
        after = last.key;
      }
    });
  }
}

/** Values read per page of a snapshot, at most (one record's value always comes, however large). */
const PAGE_VALUE_BUDGET = 32 * 1024 * 1024;
