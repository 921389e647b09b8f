import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { Client } from '@connectrpc/connect';
import { SnapshotMissing, type SnapshotStore } from '@rosetta/platform';
import type { Job, JobService, RecordService, Snapshot, SnapshotService } from '@rosetta/proto';
import { isFinished, runDeleteJob } from './bulk-delete';
import {
  headerLine,
  readSnapshot,
  recordLine,
  SNAPSHOT_FORMAT,
  SNAPSHOT_FORMAT_VERSION,
  SnapshotChecksum,
  SnapshotUnreadable,
} from './snapshot-format';

/** Records per restore step at most, and bytes of values per step at most. */
export const RESTORE_STEP_RECORDS = 1000;
export const RESTORE_STEP_BYTES = 4 * 1024 * 1024;
/** Records per chunk of an export. */
const EXPORT_CHUNK = 1000;
/** Deadline of an export or a read-back: long enough for collections of many millions of records. */
const STREAM_TIMEOUT_MS = 12 * 60 * 60 * 1000;

export interface SnapshotJobDeps {
  readonly snapshots: Client<typeof SnapshotService>;
  readonly jobs: Pick<Client<typeof JobService>, 'runJobStep' | 'failJob'>;
  readonly records: Pick<Client<typeof RecordService>, 'scan'>;
  readonly store: SnapshotStore;
  /** Records per step of a restore's delete phase. */
  readonly deleteBatch: number;
  readonly signal?: AbortSignal | undefined;
}

async function snapshotOf(deps: SnapshotJobDeps, job: Job): Promise<Snapshot> {
  const { snapshot } = await deps.snapshots.getSnapshot({ space: job.space, id: job.snapshotId });
  if (snapshot === undefined) throw new Error(`the record service answered no snapshot ${job.snapshotId}`);
  return snapshot;
}

/**
 * Makes a snapshot: reads the collection through ExportSnapshot (one consistent view of the
 * database), writes it gzipped to the store under the snapshot's object name, and reports its
 * figures (FinishSnapshot). A run that dies leaves no partial object (the store writes whole
 * objects only) and the next run starts over. If the job was cancelled meanwhile, the object is
 * deleted again; the objects of snapshots its schedule no longer keeps are deleted too.
 */
export async function takeSnapshot(deps: SnapshotJobDeps, job: Job): Promise<Job | undefined> {
  const snapshot = await snapshotOf(deps, job);
  const checksum = new SnapshotChecksum();
  let records = 0n;
  async function* lines(): AsyncGenerator<string> {
    yield headerLine({
      format: SNAPSHOT_FORMAT,
      version: SNAPSHOT_FORMAT_VERSION,
      space: job.space,
      collection: job.collection,
      at: job.version,
      snapshot: String(snapshot.id),
      taken: new Date().toISOString(),
    });
    const chunks = deps.snapshots.exportSnapshot(
      { jobId: job.id, chunkRecords: EXPORT_CHUNK },
      { signal: deps.signal, timeoutMs: STREAM_TIMEOUT_MS },
    );
    let whole = false;
    for await (const chunk of chunks) {
      for (const record of chunk.records) {
        const line = recordLine(record);
        checksum.add(line);
        records += 1n;
        yield line;
      }
      whole = chunk.last;
    }
    if (!whole) throw new Error(`the export of job ${job.id} ended before its last chunk`);
  }
  // Read as the store takes it: a failure on either side ends both (and the export's stream).
  const gzip = createGzip();
  const [bytes] = await Promise.all([deps.store.write(snapshot.object, gzip), pipeline(Readable.from(lines()), gzip)]);
  const done = await deps.snapshots.finishSnapshot({
    jobId: job.id,
    records,
    bytes: BigInt(bytes),
    checksum: checksum.hex(),
  });
  if (done.job?.state !== 'succeeded') await deps.store.delete(snapshot.object);
  for (const expired of done.expired) await deps.store.delete(expired.object);
  return done.job;
}

/** The checksum of a snapshot object's records; SnapshotUnreadable when it is not a whole snapshot. */
async function checksumOfObject(store: SnapshotStore, object: string): Promise<string> {
  const checksum = new SnapshotChecksum();
  for await (const { line } of readSnapshot(await store.read(object))) checksum.add(line);
  return checksum.hex();
}

/** The checksum of a collection's records as they are now, read in key order. */
async function checksumOfCollection(deps: SnapshotJobDeps, job: Job, signal: AbortSignal | undefined): Promise<string> {
  const checksum = new SnapshotChecksum();
  const chunks = deps.records.scan(
    { collection: { space: job.space, collection: job.collection } },
    { signal, timeoutMs: STREAM_TIMEOUT_MS },
  );
  for await (const chunk of chunks) for (const record of chunk.records) checksum.add(recordLine(record));
  return checksum.hex();
}

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/**
 * Restores a snapshot, phase by phase, each resumable: `write` checks the whole object against
 * its checksum before the first record is written, then writes the records after the job's
 * position in steps; `delete` (over an existing collection) deletes what the snapshot does not
 * hold; `verify` reads the collection back and has the record service compare its checksum with
 * the snapshot's. A missing or corrupt object fails the job before anything is written.
 */
export async function restoreSnapshot(deps: SnapshotJobDeps, start: Job): Promise<Job | undefined> {
  const { signal } = deps;
  let job: Job | undefined = start;
  const snapshot = await snapshotOf(deps, start);
  const fail = async (message: string) =>
    (await deps.jobs.failJob({ id: start.id, errorCode: 'SNAPSHOT_CORRUPT', errorMessage: message })).job;
  try {
    if (job.phase === 'write') {
      if (job.position === '' && (await checksumOfObject(deps.store, snapshot.object)) !== snapshot.checksum) {
        return await fail(`snapshot ${snapshot.id} does not match its checksum`);
      }
      job = await writeRecords(deps, job, snapshot);
    }
    while (job !== undefined && !isFinished(job) && job.phase === 'delete' && signal?.aborted !== true) {
      job = await runDeleteJob({
        jobs: deps.jobs,
        id: start.id,
        batch: deps.deleteBatch,
        signal,
        until: (j) => j.phase !== 'delete',
      });
    }
    if (job !== undefined && !isFinished(job) && job.phase === 'verify' && signal?.aborted !== true) {
      const checksum = await checksumOfCollection(deps, job, signal);
      job = (await deps.snapshots.verifyRestore({ jobId: start.id, checksum })).job;
    }
    return job;
  } catch (error) {
    if (error instanceof SnapshotMissing) return fail(`snapshot ${snapshot.id}'s object is missing from the store`);
    if (error instanceof SnapshotUnreadable) return fail(`snapshot ${snapshot.id} cannot be read: ${error.message}`);
    throw error;
  }
}

/** The write phase: the object's records after the job's position, in steps; the last step says so. */
async function writeRecords(deps: SnapshotJobDeps, start: Job, snapshot: Snapshot): Promise<Job | undefined> {
  let job: Job | undefined = start;
  let batch: Array<{ key: string; value: Uint8Array; contentType: string }> = [];
  let bytes = 0;
  for await (const { record } of readSnapshot(await deps.store.read(snapshot.object))) {
    if (start.position !== '' && byteOrder(record.key, start.position) <= 0) continue;
    batch.push({ key: record.key, value: record.value, contentType: record.contentType });
    bytes += record.value.byteLength;
    if (batch.length >= RESTORE_STEP_RECORDS || bytes >= RESTORE_STEP_BYTES) {
      job = (await deps.snapshots.restoreStep({ jobId: start.id, entries: batch, last: false })).job;
      batch = [];
      bytes = 0;
      // Stopped (handed back) or cancelled: the next run goes on from the job's position.
      if (job === undefined || isFinished(job) || deps.signal?.aborted === true) return job;
    }
  }
  return (await deps.snapshots.restoreStep({ jobId: start.id, entries: batch, last: true })).job;
}
