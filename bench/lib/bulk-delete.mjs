// The bulk-delete workload: a collection of BENCH_BULK_RECORDS records of 1 KiB under `bulk/`
// (and KEEP_RECORDS under `keep/`), seeded straight into Postgres, then one delete job over
// `bulk/` started through /v1 and polled until it succeeded. The job's own started and finished
// times give its rate; the POST's answer and the poll that saw it finished, the rate a client sees.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { DB_NAME, SPACE, VALUE_BYTES } from './config.mjs';
import { withClient, withRedis } from './backends.mjs';
import { jsonRequest } from './http.mjs';
import { count, ensureCollection } from './seed.mjs';
import { valueOf } from './value.mjs';

/** Each round deletes in a collection of its own, `bulk-r<round>`. */
export const BULK_COLLECTION = 'bulk';
export const BULK_PREFIX = 'bulk/';
/** Records beside the deleted ones, which must survive. */
export const KEEP_PREFIX = 'keep/';
export const KEEP_RECORDS = 1000;
/** How often the job is asked how it stands. */
export const POLL_MS = 100;
/** A job slower than this many records per second is given up (and cancelled). */
const SLOWEST_RATE = 1000;

const VALUE = Buffer.from(valueOf(VALUE_BYTES));
/** What the /v1 batch route stores a string value as. */
const CONTENT_TYPE = 'text/plain; charset=utf-8';
const FINISHED = new Set(['succeeded', 'failed', 'cancelled']);

const COLLECTION_SQL = `SELECT c.id, c.root_node_id FROM collections c JOIN spaces s ON s.id = c.space_id
WHERE s.name = $1 AND c.name = $2`;
// Keys <prefix><8 digits> at the collection's root node, each with a revision of its own as a
// write takes one (created_revision = revision). No change events: there is nothing to relay.
const INSERT_SQL = `INSERT INTO records
  (collection_id, node_id, key, value, content_type, created, updated, revision, created_revision)
SELECT $1, $2, $3 || lpad(i::text, 8, '0'), $4, $5, now(), now(), r, r
FROM (SELECT i, nextval('revision_seq') AS r FROM generate_series(0, $6 - 1) AS i) AS g`;
const DELETE_EVENTS_SQL = `SELECT count(*)::int AS n FROM change_events
WHERE space = $1 AND collection = $2 AND op = 'delete'`;
/** The newest event in feed order, as the relay's cursor names a position (`txid.id`). */
const NEWEST_EVENT_SQL = `SELECT txid::text || '.' || id AS position FROM change_events ORDER BY txid DESC, id DESC LIMIT 1`;

/** How long a delete of `records` may take, in seconds, before it is given up. */
export const deadlineSeconds = (records) => Math.ceil(records / SLOWEST_RATE) + 60;

const collectionUrl = (base, collection) => `${base}/v1/spaces/${SPACE}/collections/${collection}`;

/** Whether feed position `a` (`txid.id`) is at or past `b`. */
function reached(a, b) {
  const [[txA, idA], [txB, idB]] = [a, b].map((p) => p.split('.').map(BigInt));
  return txA > txB || (txA === txB && idA >= idB);
}

/** Microseconds since the epoch of an instant as /v1 writes it (`…T10:20:30.123456Z`). */
const micros = (text) => Date.parse(`${text.slice(0, 23)}Z`) * 1000 + Number(text.slice(23, 26));

/**
 * The collection, `records` records under `bulk/` and KEEP_RECORDS under `keep/`: one
 * INSERT … SELECT generate_series each, then VACUUM ANALYZE of the records table (as after a
 * bulk load; a later round's also clears the rows an earlier round's delete left behind).
 * Resolves with the seconds it took.
 */
export async function seedBulk(base, collection, records) {
  await ensureCollection(base, collection);
  const started = performance.now();
  await withClient(DB_NAME, async (client) => {
    const target = (await client.query(COLLECTION_SQL, [SPACE, collection])).rows[0];
    for (const [prefix, n] of [
      [BULK_PREFIX, records],
      [KEEP_PREFIX, KEEP_RECORDS],
    ])
      await client.query(INSERT_SQL, [target.id, target.root_node_id, prefix, VALUE, CONTENT_TYPE, n]);
    await client.query('VACUUM ANALYZE records');
  });
  const seconds = (performance.now() - started) / 1000;
  const [bulk, keep] = [await count(base, collection, BULK_PREFIX), await count(base, collection, KEEP_PREFIX)];
  if (bulk !== records || keep !== KEEP_RECORDS)
    throw new Error(
      `seeded ${collection}: ${bulk} records under ${BULK_PREFIX} (of ${records}), ${keep} under ${KEEP_PREFIX}`,
    );
  return seconds;
}

/**
 * Starts the delete job over `bulk/` and polls it every POLL_MS until it succeeded (a job that
 * failed, was cancelled or outlived its deadline fails the run; one still going is cancelled).
 */
export async function deleteAndWatch(base, collection, records) {
  const posted = performance.now();
  let job = await jsonRequest('POST', `${collectionUrl(base, collection)}/delete-jobs`, { prefix: BULK_PREFIX }, [202]);
  const answered = performance.now();
  const jobUrl = `${base}/v1/spaces/${SPACE}/jobs/${job.id}`;
  const deadline = answered + deadlineSeconds(records) * 1000;
  try {
    while (job.state !== 'succeeded') {
      if (FINISHED.has(job.state))
        throw new Error(`job ${job.id} ${job.state}${job.error ? `: ${job.error.code} ${job.error.message}` : ''}`);
      if (performance.now() > deadline)
        throw new Error(
          `job ${job.id} still ${job.state} after ${deadlineSeconds(records)} s (${job.progress.done} done)`,
        );
      await sleep(POLL_MS);
      job = await jsonRequest('GET', jobUrl, undefined, [200]);
    }
  } finally {
    // The run's own error is the one to report, not the cancel's.
    if (!FINISHED.has(job.state)) await jsonRequest('POST', `${jobUrl}/cancel`, undefined, [200]).catch(() => {});
  }
  const seenAt = performance.now();
  if (job.progress.done !== records)
    throw new Error(`job ${job.id} deleted ${job.progress.done} of ${records} records`);
  const [created, started, finished] = [job.created, job.started, job.finished].map(micros);
  const jobMs = (finished - started) / 1000;
  const clientMs = seenAt - answered;
  return {
    records,
    recordsPerSecond: records / (jobMs / 1000),
    jobMs,
    clientRecordsPerSecond: records / (clientMs / 1000),
    clientMs,
    postMs: answered - posted,
    queuedMs: (started - created) / 1000,
    seenAt,
  };
}

/**
 * Waits until the worker's relay has published the newest change event (the job's last delete)
 * to the event bus, as its cursor in Redis shows; resolves with the milliseconds from `since`.
 * A relay that has not caught up by the delete's deadline fails the run.
 */
export async function waitForRelay(redisPrefix, records, since) {
  const newest = await withClient(DB_NAME, async (client) => (await client.query(NEWEST_EVENT_SQL)).rows[0].position);
  const deadline = performance.now() + deadlineSeconds(records) * 1000;
  return withRedis(async (redis) => {
    for (;;) {
      const cursor = await redis.get(`${redisPrefix}relay:cursor`);
      if (cursor !== null && reached(cursor, newest)) return performance.now() - since;
      if (performance.now() > deadline)
        throw new Error(`the relay was at ${cursor} of ${newest} ${deadlineSeconds(records)} s after the delete`);
      await sleep(POLL_MS);
    }
  });
}

/** After the delete: nothing left under `bulk/`, every `keep/` record there, one delete event per record. */
export async function checkBulk(base, collection, records) {
  const [bulk, keep] = [await count(base, collection, BULK_PREFIX), await count(base, collection, KEEP_PREFIX)];
  const events = await withClient(
    DB_NAME,
    async (client) => (await client.query(DELETE_EVENTS_SQL, [SPACE, collection])).rows[0].n,
  );
  if (bulk !== 0 || keep !== KEEP_RECORDS || events !== records)
    throw new Error(
      `after the delete of ${collection}: ${bulk} records left under ${BULK_PREFIX}, ${keep} of ${KEEP_RECORDS} under ${KEEP_PREFIX}, ` +
        `${events} delete events for ${records} records`,
    );
  return events;
}
