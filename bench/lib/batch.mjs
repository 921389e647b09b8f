// The native API's batch write and its raw limit: records of 1 KiB through the transactional
// `POST …/batch` (BATCH_SIZE a request, BATCH_LANES in flight, fresh keys each run), and a COPY of
// the same rows straight into a fresh Postgres table.
import { SPACE, VALUE_BYTES } from './config.mjs';
import { copyRows, withClient } from './backends.mjs';
import { sendInBatches } from './lanes.mjs';
import { batch, count, ensureCollection } from './seed.mjs';
import { valueOf } from './value.mjs';

export const BATCH_COLLECTION = 'batch';
/** Records per POST, and POSTs in flight. */
export const BATCH_SIZE = 1000;
export const BATCH_LANES = 4;
/** The path the batch runs POST to, for the record of the command. */
export const BATCH_PATH = `/v1/spaces/${SPACE}/collections/${BATCH_COLLECTION}/batch`;
const VALUE = valueOf(VALUE_BYTES);

const keyOf = (prefix, i) => `${prefix}${String(i).padStart(7, '0')}`;

/** The collection the batch runs write to. */
export function prepareBatch(base) {
  return ensureCollection(base, BATCH_COLLECTION);
}

/**
 * Writes `total` records `<prefix><n>` in POSTs of BATCH_SIZE, BATCH_LANES in flight; then counts
 * them under `prefix` (not timed). Resolves with records/s and the POSTs' p50/p99.
 */
export async function upsertBatches(base, total, prefix) {
  const { totalMs, p50Ms, p99Ms } = await sendInBatches(
    total,
    BATCH_SIZE,
    BATCH_LANES,
    (from, to) => Array.from({ length: to - from }, (_, i) => keyOf(prefix, from + i)),
    (keys) => batch(base, BATCH_COLLECTION, keys),
  );
  const stored = await count(base, BATCH_COLLECTION, prefix);
  if (stored !== total) throw new Error(`batch upsert wrote ${total} records under ${prefix}, ${stored} counted`);
  return { records: total, totalMs, recordsPerSecond: total / (totalMs / 1000), p50Ms, p99Ms };
}

/**
 * The raw limit of the batch upsert: the same rows (`<prefix><n>`, the 1 KiB value as text) in
 * one `COPY … FROM STDIN` into a new table `table (k text PRIMARY KEY, v text)` of `database`,
 * dropped afterwards. The rows are built before the clock starts; it runs from the COPY's first
 * byte to its completion (the commit).
 */
export async function copyBatch(database, table, total, prefix) {
  const chunks = [];
  for (let from = 0; from < total; from += BATCH_SIZE) {
    let text = '';
    for (let i = from; i < Math.min(total, from + BATCH_SIZE); i++) text += `${keyOf(prefix, i)}\t${VALUE}\n`;
    chunks.push(Buffer.from(text));
  }
  await withClient(database, (c) => c.query(`CREATE TABLE ${table} (k text PRIMARY KEY, v text NOT NULL)`));
  try {
    const { rows, ms } = await copyRows(database, `COPY ${table} (k, v) FROM STDIN`, chunks);
    if (rows !== total) throw new Error(`COPY into ${table} copied ${rows} of ${total} rows`);
    return {
      records: total,
      totalMs: ms,
      recordsPerSecond: total / (ms / 1000),
      bytes: chunks.reduce((a, chunk) => a + chunk.length, 0),
    };
  } finally {
    await withClient(database, (c) => c.query(`DROP TABLE IF EXISTS ${table}`));
  }
}
