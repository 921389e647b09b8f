// What the job workloads (bulk-delete, snapshot) share: collections seeded straight into Postgres,
// a job started through /v1 and polled until it succeeded, and the wait for the worker's relay to
// publish the change events a job wrote. The job's own started and finished times give its rate;
// the POST's answer and the poll that saw it finished, the rate a client sees.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { DB_NAME, SPACE, VALUE_BYTES } from './config.mjs';
import { withClient, withRedis } from './backends.mjs';
import { jsonRequest } from './http.mjs';
import { count, ensureCollection } from './seed.mjs';
import { valueOf } from './value.mjs';

/** How often a job is asked how it stands. */
export const POLL_MS = 100;
/** A job slower than this many records per second is given up (and cancelled). */
const SLOWEST_RATE = 1000;
/** Digits of the number after the prefix in a seeded key (`bulk/00000042`). */
export const KEY_DIGITS = 8;

const VALUE = Buffer.from(valueOf(VALUE_BYTES));
/** What the /v1 batch route stores a string value as. */
const CONTENT_TYPE = 'text/plain; charset=utf-8';
const FINISHED = new Set(['succeeded', 'failed', 'cancelled']);

const COLLECTION_SQL = `SELECT c.id, c.root_node_id FROM collections c JOIN spaces s ON s.id = c.space_id
WHERE s.name = $1 AND c.name = $2`;
// Keys <prefix><KEY_DIGITS digits> at the collection's root node, each with a revision of its own
// as a write takes one (created_revision = revision). No change events: there is nothing to relay.
const INSERT_SQL = `INSERT INTO records
  (collection_id, node_id, key, value, content_type, created, updated, revision, created_revision)
SELECT $1, $2, $3 || lpad(i::text, ${KEY_DIGITS}, '0'), $4, $5, now(), now(), r, r
FROM (SELECT i, nextval('revision_seq') AS r FROM generate_series(0, $6 - 1) AS i) AS g`;
/** The newest event in feed order, as the relay's cursor names a position (`txid.id`). */
const NEWEST_EVENT_SQL = `SELECT txid::text || '.' || id AS position FROM change_events ORDER BY txid DESC, id DESC LIMIT 1`;

export const collectionUrl = (base, collection) => `${base}/v1/spaces/${SPACE}/collections/${collection}`;

/** How long a job over `records` may take, in seconds, before it is given up. */
export const deadlineSeconds = (records) => Math.ceil(records / SLOWEST_RATE) + 60;

/** Whether feed position `a` (`txid.id`) is at or past `b`. */
function reached(a, b) {
  const [[txA, idA], [txB, idB]] = [a, b].map((p) => p.split('.').map(BigInt));
  return txA > txB || (txA === txB && idA >= idB);
}

/** Microseconds since the epoch of an instant as /v1 writes it (`…T10:20:30.123456Z`). */
const micros = (text) => Date.parse(`${text.slice(0, 23)}Z`) * 1000 + Number(text.slice(23, 26));

/**
 * Creates the collection through /v1 and writes, for each `[prefix, n]` of `parts`, n records of
 * 1 KiB straight into Postgres (one INSERT … SELECT generate_series each), then VACUUM ANALYZE
 * of the records table (as after a bulk load; it also clears the rows an earlier delete left
 * behind). Each prefix must then count n through /v1. Resolves with the seconds the writes took.
 */
export async function seedStraight(base, collection, parts) {
  await ensureCollection(base, collection);
  const started = performance.now();
  await withClient(DB_NAME, async (client) => {
    const target = (await client.query(COLLECTION_SQL, [SPACE, collection])).rows[0];
    for (const [prefix, n] of parts)
      await client.query(INSERT_SQL, [target.id, target.root_node_id, prefix, VALUE, CONTENT_TYPE, n]);
    await client.query('VACUUM ANALYZE records');
  });
  const seconds = (performance.now() - started) / 1000;
  const counts = [];
  for (const [prefix] of parts) counts.push(await count(base, collection, prefix));
  if (counts.some((n, i) => n !== parts[i][1]))
    throw new Error(
      `seeded ${collection}: ${parts.map(([prefix, n], i) => `${counts[i]} records under ${prefix} (of ${n})`).join(', ')}`,
    );
  return seconds;
}

/**
 * POSTs `body` to `url`, which answers 202 with a job (`jobOf` finds it in the answer), and polls
 * the job every POLL_MS until it succeeded (a job that failed, was cancelled or outlived its
 * deadline fails the run; one still going is cancelled). The job must have done `records`
 * records. Resolves with the POST's answer, the job as last seen, when it was seen succeeded
 * (`seenAt`, performance.now()) and the figures: the job's time (started → finished), the
 * client's (POST answered → seen succeeded), the POST's and the wait before the job started.
 */
export async function runJob(base, url, body, records, jobOf = (answer) => answer) {
  const posted = performance.now();
  const answer = await jsonRequest('POST', url, body, [202]);
  const answered = performance.now();
  let job = jobOf(answer);
  const jobUrl = `${base}/v1/spaces/${SPACE}/jobs/${job.id}`;
  const deadline = answered + deadlineSeconds(records) * 1000;
  try {
    while (job.state !== 'succeeded') {
      if (FINISHED.has(job.state))
        throw new Error(
          `${job.kind} job ${job.id} ${job.state}${job.error ? `: ${job.error.code} ${job.error.message}` : ''}`,
        );
      if (performance.now() > deadline)
        throw new Error(
          `${job.kind} job ${job.id} still ${job.state} after ${deadlineSeconds(records)} s (${job.progress.done} done)`,
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
    throw new Error(`${job.kind} job ${job.id} did ${job.progress.done} of ${records} records`);
  const [created, started, finished] = [job.created, job.started, job.finished].map(micros);
  const jobMs = (finished - started) / 1000;
  const clientMs = seenAt - answered;
  return {
    answer,
    job,
    seenAt,
    figures: {
      records,
      recordsPerSecond: records / (jobMs / 1000),
      jobMs,
      clientRecordsPerSecond: records / (clientMs / 1000),
      clientMs,
      postMs: answered - posted,
      queuedMs: (started - created) / 1000,
    },
  };
}

/**
 * Waits until the worker's relay has published the newest change event (a job's last write) to
 * the event bus, as its cursor in Redis shows; resolves with the milliseconds from `since`. A
 * relay that has not caught up within the deadline of a job over `records` fails the run.
 */
export async function waitForRelay(redisPrefix, records, since) {
  const newest = await withClient(DB_NAME, async (client) => (await client.query(NEWEST_EVENT_SQL)).rows[0].position);
  const deadline = performance.now() + deadlineSeconds(records) * 1000;
  return withRedis(async (redis) => {
    for (;;) {
      const cursor = await redis.get(`${redisPrefix}relay:cursor`);
      if (cursor !== null && reached(cursor, newest)) return performance.now() - since;
      if (performance.now() > deadline)
        throw new Error(`the relay was at ${cursor} of ${newest} ${deadlineSeconds(records)} s after the job`);
      await sleep(POLL_MS);
    }
  });
}
