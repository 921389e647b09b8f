// The bulk-delete workload: a collection of BENCH_BULK_RECORDS records of 1 KiB under `bulk/`
// (and KEEP_RECORDS under `keep/`), seeded straight into Postgres, then one delete job over
// `bulk/` started through /v1 and polled until it succeeded (bench/lib/jobs.mjs).
import { DB_NAME, SPACE } from './config.mjs';
import { withClient } from './backends.mjs';
import { collectionUrl, runJob, seedStraight } from './jobs.mjs';
import { count } from './seed.mjs';

/** Each round deletes in a collection of its own, `bulk-r<round>`. */
export const BULK_COLLECTION = 'bulk';
export const BULK_PREFIX = 'bulk/';
/** Records beside the deleted ones, which must survive. */
export const KEEP_PREFIX = 'keep/';
export const KEEP_RECORDS = 1000;

const DELETE_EVENTS_SQL = `SELECT count(*)::int AS n FROM change_events
WHERE space = $1 AND collection = $2 AND op = 'delete'`;

/**
 * The collection, `records` records under `bulk/` and KEEP_RECORDS under `keep/`, seeded straight
 * into Postgres. Resolves with the seconds it took.
 */
export const seedBulk = (base, collection, records) =>
  seedStraight(base, collection, [
    [BULK_PREFIX, records],
    [KEEP_PREFIX, KEEP_RECORDS],
  ]);

/** Starts the delete job over `bulk/` and polls it until it succeeded; resolves with `seenAt` and its figures. */
export async function deleteAndWatch(base, collection, records) {
  const { seenAt, figures } = await runJob(
    base,
    `${collectionUrl(base, collection)}/delete-jobs`,
    { prefix: BULK_PREFIX },
    records,
  );
  return { seenAt, figures };
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
