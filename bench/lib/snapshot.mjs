// The snapshot workloads (docs/api.md#snapshots): a collection of BENCH_SNAPSHOT_RECORDS records of
// 1 KiB under `snap/`, seeded straight into Postgres once; then, each round, a snapshot of it taken
// (a job the worker runs), restored into a collection of the round's own (another job), and its
// object downloaded through the gateway. The jobs are started and polled as in bench/lib/jobs.mjs.
import { SPACE, VALUE_BYTES } from './config.mjs';
import { jsonRequest } from './http.mjs';
import { KEY_DIGITS, collectionUrl, runJob, seedStraight } from './jobs.mjs';
import { count } from './seed.mjs';
import { streamCounted } from './stream.mjs';

export const SNAPSHOT_COLLECTION = 'snapshot';
export const SNAPSHOT_PREFIX = 'snap/';
/** Each round restores into a collection of its own, `snapshot-restore-r<round>`. */
export const RESTORE_COLLECTION = 'snapshot-restore';
/** A download that receives nothing for this long is given up. */
const DOWNLOAD_IDLE_MS = 60_000;

const snapshotUrl = (base, id) => `${base}/v1/spaces/${SPACE}/snapshots/${id}`;

/**
 * The bytes of the keys and values of `records` seeded records (what a snapshot holds before
 * JSON, base64 and gzip), and their MB per second over `ms`.
 */
function dataRate(records, ms) {
  const dataBytes = records * (SNAPSHOT_PREFIX.length + KEY_DIGITS + VALUE_BYTES);
  return { dataBytes, mbPerSecond: dataBytes / 1e6 / (ms / 1000) };
}

/** The collection the snapshots are taken of; resolves with the seconds the seeding took. */
export const seedSnapshotSource = (base, records) =>
  seedStraight(base, SNAPSHOT_COLLECTION, [[SNAPSHOT_PREFIX, records]]);

/**
 * Takes a snapshot of the seeded collection and polls its job until it succeeded; the snapshot
 * must then be `ready` with every record. Resolves with the snapshot and the job's figures: its
 * rate in records, in MB of keys and values, and in MB of the gzipped object per second.
 */
export async function takeSnapshot(base, records) {
  const { answer, figures } = await runJob(
    base,
    `${collectionUrl(base, SNAPSHOT_COLLECTION)}/snapshots`,
    {},
    records,
    (started) => started.job,
  );
  const snapshot = await jsonRequest('GET', snapshotUrl(base, answer.snapshot.id), undefined, [200]);
  if (snapshot.state !== 'ready' || snapshot.records !== records)
    throw new Error(`snapshot ${snapshot.id} is ${snapshot.state} with ${snapshot.records} of ${records} records`);
  return {
    snapshot,
    figures: {
      ...figures,
      ...dataRate(records, figures.jobMs),
      bytes: snapshot.bytes,
      objectMbPerSecond: snapshot.bytes / 1e6 / (figures.jobMs / 1000),
    },
  };
}

/**
 * Restores the snapshot into the new collection `collection` and polls the job until it
 * succeeded, which a restore does only in its verify phase, when the collection read back had
 * the snapshot's checksum. Resolves with when it was seen succeeded (`seenAt`) and its figures.
 */
export async function restoreSnapshot(base, snapshot, collection) {
  const { job, seenAt, figures } = await runJob(
    base,
    `${snapshotUrl(base, snapshot.id)}/restore`,
    { collection },
    snapshot.records,
    (started) => started.job,
  );
  if (job.phase !== 'verify') throw new Error(`restore job ${job.id} succeeded in its ${job.phase} phase`);
  return { seenAt, figures: { ...figures, ...dataRate(snapshot.records, figures.jobMs), bytes: snapshot.bytes } };
}

/** After the restore: the collection holds as many records as the snapshot. */
export async function checkRestored(base, snapshot, collection) {
  const restored = await count(base, collection, SNAPSHOT_PREFIX);
  if (restored !== snapshot.records)
    throw new Error(`${collection} holds ${restored} records after the restore of ${snapshot.records}`);
}

/**
 * Streams the snapshot's object through the gateway and discards it; it must be the snapshot's
 * `bytes` long. Its rate in MB of keys and values per second counts the records the object holds.
 */
export async function downloadSnapshot(base, snapshot) {
  const r = await streamCounted(
    `${snapshotUrl(base, snapshot.id)}/download`,
    { timeoutMs: DOWNLOAD_IDLE_MS, label: `download of snapshot ${snapshot.id}` },
    { add() {}, finish: () => ({ records: snapshot.records }) },
  );
  if (r.bytes !== snapshot.bytes)
    throw new Error(`the download of snapshot ${snapshot.id} sent ${r.bytes} of its ${snapshot.bytes} bytes`);
  return { ...r, ...dataRate(snapshot.records, r.totalMs), objectMbPerSecond: r.mbPerSecond };
}
