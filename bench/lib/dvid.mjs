// The DVID keyvalue workloads: protobuf batch ingest through POST /keyvalues, GETs of single keys
// at the root of a repo and at the leaf of a chain of versions, and one streamed keyrangevalues
// over a whole instance at that leaf.
import { performance } from 'node:perf_hooks';
import { AUTH_HEADERS, VALUE_BYTES } from './config.mjs';
import { httpRequest, jsonRequest } from './http.mjs';
import { runLoad } from './loadgen.mjs';
import { sendInBatches } from './lanes.mjs';
import { streamCounted } from './stream.mjs';
import { valueOf } from './value.mjs';

/** Records per POST /keyvalues, and POSTs in flight. */
export const DVID_BATCH = 1000;
export const DVID_LANES = 4;
/** Keys each version of the chain overwrites. */
export const DVID_OVERWRITES = 300;
/**
 * The overwrites fall on every DVID_STRIDE-th key only, so that those keys carry several versions
 * along the path (3 each with the defaults) rather than one at most.
 */
export const DVID_STRIDE = 10;
/** The keyvalue instance of both repos. */
export const DVID_INSTANCE = 'kv';

/** Key `i` of an instance: fixed width, so that byte order is numeric order. */
export const keyOf = (i, prefix = '') => `${prefix}k${String(i).padStart(7, '0')}`;

/** The VALUE_BYTES value written at version `v` (0: the root): the bench value, marked with its version. */
export function valueAt(v) {
  const value = Buffer.from(valueOf(VALUE_BYTES));
  value.write(`v${v}|`, 0, 'latin1');
  return value;
}

const varintLength = (n) => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5);

function writeVarint(buffer, offset, n) {
  while (n >= 0x80) {
    buffer[offset++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  buffer[offset++] = n;
  return offset;
}

/**
 * A protobuf `KeyValues` (repeated field 1 of `KeyValue{key = 1 string, value = 2 bytes}`),
 * encoded by hand: per entry, tag 0x0a, the KeyValue's length, then 0x0a len key 0x12 len value.
 */
export function encodeKeyValues(entries) {
  let size = 0;
  const sized = entries.map(({ key, value }) => {
    const keyBytes = Buffer.from(key, 'utf8');
    const inner = 1 + varintLength(keyBytes.length) + keyBytes.length + 1 + varintLength(value.length) + value.length;
    size += 1 + varintLength(inner) + inner;
    return { keyBytes, value, inner };
  });
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const { keyBytes, value, inner } of sized) {
    out[at++] = 0x0a;
    at = writeVarint(out, at, inner);
    out[at++] = 0x0a;
    at = writeVarint(out, at, keyBytes.length);
    at += keyBytes.copy(out, at);
    out[at++] = 0x12;
    at = writeVarint(out, at, value.length);
    at += value.copy(out, at);
  }
  return out;
}

/**
 * One request that must answer 200. With `retries`, a 401 is tried again up to `retries.max`
 * times (counted in `retries.used`): the seeding uses it, as a long POST /keyvalues can outlive
 * its caller's grant (see docs/benchmarks.md); the measured runs do not.
 */
async function expectOk(method, url, body, retries) {
  let res;
  for (let attempt = 0; ; attempt++) {
    res = await httpRequest(method, url, {
      body,
      headers: body === undefined ? {} : { 'content-type': 'application/octet-stream' },
    });
    if (res.status !== 401 || retries === undefined || attempt >= retries.max) break;
    retries.used++;
  }
  if (res.status !== 200)
    throw new Error(`${method} ${url} answered ${res.status}: ${res.body.toString('utf8', 0, 300)}`);
  return res;
}

/** A repo (in the caller's personal space) with one versioned keyvalue instance; resolves with its root UUID. */
export async function createRepo(base, alias) {
  const { root } = await jsonRequest('POST', `${base}/api/repos`, { alias, description: 'rosetta bench' }, [200]);
  await jsonRequest(
    'POST',
    `${base}/api/repo/${root}/instance`,
    { typename: 'keyvalue', dataname: DVID_INSTANCE, versioned: true },
    [200],
  );
  return root;
}

const nodeUrl = (base, uuid) => `${base}/api/node/${uuid}/${DVID_INSTANCE}`;

/**
 * Writes `total` keys `<prefix>k…` at node `uuid` with `value`, DVID_BATCH per POST /keyvalues
 * and DVID_LANES POSTs in flight. Resolves with records/s and the POSTs' p50/p99.
 */
export async function ingest(base, uuid, total, { prefix = '', value = valueAt(0), onProgress, retries } = {}) {
  const url = `${nodeUrl(base, uuid)}/keyvalues`;
  let done = 0;
  let bytes = 0;
  const { totalMs, p50Ms, p99Ms } = await sendInBatches(
    total,
    DVID_BATCH,
    DVID_LANES,
    (from, to) =>
      encodeKeyValues(Array.from({ length: to - from }, (_, i) => ({ key: keyOf(from + i, prefix), value }))),
    async (body, count) => {
      await expectOk('POST', url, body, retries);
      bytes += body.length;
      done += count;
      onProgress?.(done);
    },
  );
  const seconds = totalMs / 1000;
  return {
    records: total,
    bytes,
    seconds,
    totalMs,
    recordsPerSecond: total / seconds,
    mbPerSecond: bytes / 1e6 / seconds,
    p50Ms,
    p99Ms,
  };
}

/** The keys of `[first, last]` at a node, as `GET …/keyrange` lists them. */
async function keyRange(base, uuid, first, last) {
  return jsonRequest('GET', `${nodeUrl(base, uuid)}/keyrange/${first}/${last}`, undefined, [200]);
}

/** Checks that `key` reads back at `uuid` as exactly `expected`. */
export async function expectValue(base, uuid, key, expected) {
  const res = await expectOk('GET', `${nodeUrl(base, uuid)}/key/${key}`);
  if (!res.body.equals(expected)) {
    throw new Error(
      `GET ${key} at ${uuid} read ${res.body.length} bytes starting "${res.body.toString('latin1', 0, 8)}", ` +
        `expected "${expected.toString('latin1', 0, 8)}"`,
    );
  }
}

/** After an ingest: the first key is listed by `keyrange` and the last one reads back. */
export async function spotCheck(base, uuid, total, prefix, value) {
  const first = keyOf(0, prefix);
  const listed = await keyRange(base, uuid, first, first);
  if (listed.length !== 1 || listed[0] !== first)
    throw new Error(`keyrange ${first}/${first} at ${uuid} listed ${JSON.stringify(listed)}`);
  await expectValue(base, uuid, keyOf(total - 1, prefix), value);
}

/** The keys version `v` (1…) of the chain overwrites. */
function overwrittenBy(v, records) {
  const candidates = Math.ceil(records / DVID_STRIDE);
  const keys = new Set();
  for (let j = 0; j < DVID_OVERWRITES; j++) keys.add((((v - 1) * DVID_OVERWRITES + j) % candidates) * DVID_STRIDE);
  return [...keys];
}

/**
 * The repo the reads go to: `records` keys at its root, then `versions` times: commit the node,
 * make a child, overwrite DVID_OVERWRITES keys in it. Resolves with the root, the leaf (depth
 * `versions`, left open) and the seconds each part took; checks a few values on the way out.
 */
export async function seedVersions(base, { records, versions }, onProgress) {
  const root = await createRepo(base, 'bench-versions');
  const retries = { max: 3, used: 0 };
  const seeded = await ingest(base, root, records, { onProgress, retries });
  await spotCheck(base, root, records, '', valueAt(0));
  const listed = await keyRange(base, root, keyOf(0), keyOf(records - 1));
  if (listed.length !== records) throw new Error(`the root lists ${listed.length} keys, expected ${records}`);
  const chainStarted = performance.now();
  let node = root;
  /** The version that last wrote key 0 (the others along the stride are alike). */
  let key0 = 0;
  let overwrites = 0;
  for (let v = 1; v <= versions; v++) {
    await jsonRequest('POST', `${base}/api/node/${node}/commit`, { note: `bench version ${v - 1}` }, [200]);
    ({ child: node } = await jsonRequest('POST', `${base}/api/node/${node}/newversion`, {}, [200]));
    const keys = overwrittenBy(v, records);
    const value = valueAt(v);
    await expectOk(
      'POST',
      `${nodeUrl(base, node)}/keyvalues`,
      encodeKeyValues(keys.map((i) => ({ key: keyOf(i), value }))),
      retries,
    );
    overwrites += keys.length;
    if (keys.includes(0)) key0 = v;
    if (v % 25 === 0) onProgress?.(records, v);
  }
  const chainSeconds = (performance.now() - chainStarted) / 1000;
  await expectValue(base, node, keyOf(0), valueAt(key0));
  await expectValue(base, root, keyOf(0), valueAt(0));
  await expectValue(base, node, keyOf(1), valueAt(0));
  return { root, leaf: node, records, versions, overwrites, seed: seeded, chainSeconds, retried: retries.used };
}

/**
 * wrk GETs of random keys among `records` at node `uuid` (bench/lua/dvid-get.lua: each thread
 * seeds its generator with its number, so runs at the root and at the leaf read the same keys).
 */
export function runRandomGets(loadgen, { base, uuid, records, duration, connections, threads }, { onStart } = {}) {
  const path = `/api/node/${uuid}/${DVID_INSTANCE}/key/`;
  return runLoad(
    loadgen,
    {
      url: `${base}${path}${keyOf(0)}`,
      method: 'GET',
      headers: AUTH_HEADERS,
      script: 'dvid-get',
      scriptArgs: [path, String(records)],
      duration,
      connections,
      threads,
    },
    { onStart },
  );
}

/**
 * GETs `url` (a protobuf `KeyValues`, streamed) on a fresh connection and counts its entries by
 * their framing (tag 0x0a, varint length, skipped) without decoding them. Resolves with records,
 * bytes, headersMs, ttfbMs, totalMs, rates, and whether the body ended on an entry boundary.
 */
export function streamKeyValues(url, { timeoutMs = 900_000 } = {}) {
  let records = 0;
  let malformed = false;
  /** Bytes of the current entry still to skip; the varint of its length while it is being read. */
  let skip = 0;
  let inHeader = false;
  let length = 0;
  let shift = 0;
  return streamCounted(
    url,
    { timeoutMs },
    {
      add(chunk) {
        let i = 0;
        while (i < chunk.length && !malformed) {
          if (skip > 0) {
            const n = Math.min(skip, chunk.length - i);
            skip -= n;
            i += n;
          } else if (!inHeader) {
            if (chunk[i++] !== 0x0a) malformed = true;
            inHeader = true;
            length = 0;
            shift = 0;
          } else {
            const b = chunk[i++];
            length += (b & 0x7f) * 2 ** shift;
            shift += 7;
            if (b < 0x80) {
              inHeader = false;
              skip = length;
              records++;
            }
          }
        }
      },
      finish: () => ({ records, complete: !malformed && !inHeader && skip === 0 }),
    },
  );
}
