// The OpenFn collections workloads: bulk upserts through POST /collections/<name>, and one
// streamed listing of a whole collection, as a workflow's `collections.each` would read it.
import { request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { AUTH_HEADERS } from './config.mjs';
import { jsonRequest } from './http.mjs';
import { sendInBatches } from './lanes.mjs';

/** The shared space that plays the OpenFn project, and its collections. */
export const OPENFN_SPACE = 'openfn-bench';
export const OPENFN_COLLECTIONS = { upsert: 'upserts', list: 'listing', list1m: 'listing-1m' };
/** Items per POST, the most the OpenFn client sends at once. */
export const OPENFN_BATCH = 1000;
/** POSTs in flight during an upsert run. */
export const OPENFN_LANES = 4;

/** A patient record as a workflow would store it: JSON text of about 256 bytes. */
function valueOf(i) {
  return JSON.stringify({
    id: i,
    name: `Patient ${i}`,
    born: '1984-02-29',
    district: 'North-West',
    visits: [{ at: '2026-11-01T09:30:00Z', ward: 'B', note: 'follow-up in two weeks, no complications noted' }],
    tags: ['registered', 'consented', 'sms-reminders'],
  });
}

/** The project and its collections (already there on a rerun is fine). */
export async function prepareOpenFn(base) {
  await jsonRequest('POST', `${base}/v1/spaces`, { name: OPENFN_SPACE }, [201, 409]);
  for (const name of Object.values(OPENFN_COLLECTIONS)) {
    await jsonRequest('POST', `${base}/v1/spaces/${OPENFN_SPACE}/collections`, { name }, [201, 409]);
  }
}

/**
 * Upserts `total` items with keys `<prefix><n>` into `collection`, OPENFN_BATCH per POST and
 * OPENFN_LANES POSTs in flight. Resolves with items/s and the batch latencies' p50/p99.
 */
export async function upsertItems(base, collection, total, prefix, onProgress) {
  const url = `${base}/collections/${collection}`;
  let done = 0;
  const { totalMs, p50Ms, p99Ms } = await sendInBatches(
    total,
    OPENFN_BATCH,
    OPENFN_LANES,
    (from, to) =>
      Array.from({ length: to - from }, (_, i) => ({ key: `${prefix}${from + i}`, value: valueOf(from + i) })),
    async (items) => {
      const answer = await jsonRequest('POST', url, { items }, [200]);
      if (answer?.upserted !== items.length) throw new Error(`${url} upserted ${answer?.upserted} of ${items.length}`);
      done += items.length;
      onProgress?.(done);
    },
  );
  const seconds = totalMs / 1000;
  return { items: total, seconds, itemsPerSecond: total / seconds, p50Ms, p99Ms };
}

const ITEM_START = Buffer.from('{"created":"');

/**
 * GETs a whole listing on a fresh connection and counts its items (the `{"created":"` that
 * opens each one) without parsing them. Resolves with items, bytes, ttfbMs, totalMs, rates, and
 * whether the body ended as a complete listing without a cursor.
 */
export function streamItems(url, { timeoutMs = 900_000 } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let ttfbMs;
    let bytes = 0;
    let items = 0;
    let carry = Buffer.alloc(0);
    const req = request(url, { agent: false, headers: AUTH_HEADERS }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`${url} answered ${res.statusCode}`));
        return;
      }
      res.on('data', (chunk) => {
        ttfbMs ??= performance.now() - t0;
        bytes += chunk.length;
        // The marker may straddle two chunks: search the previous chunk's tail with this one.
        const text = Buffer.concat([carry, chunk]);
        for (let i = text.indexOf(ITEM_START); i !== -1; i = text.indexOf(ITEM_START, i + ITEM_START.length)) items++;
        carry = text.subarray(Math.max(0, text.length - ITEM_START.length + 1));
      });
      res.on('end', () => {
        const totalMs = performance.now() - t0;
        resolve({
          items,
          bytes,
          complete: carry.toString('latin1').endsWith('null}'),
          ttfbMs,
          totalMs,
          itemsPerSecond: items / (totalMs / 1000),
          mbPerSecond: bytes / 1e6 / (totalMs / 1000),
        });
      });
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${url}: no progress in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}
