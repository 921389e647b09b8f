// Seeds the store through the /v1 API, as a client would.
import { performance } from 'node:perf_hooks';
import {
  EXPORT_BATCH,
  EXPORT_COLLECTION,
  GRAPHQL_COLLECTION,
  GRAPHQL_HOT_KEY,
  GRAPHQL_RECORDS,
  HOT_COLLECTION,
  LIST_RECORDS,
  SPACE,
  VALUE_BYTES,
} from './config.mjs';
import { graphqlPageKey } from './graphql.mjs';
import { httpRequest, jsonRequest } from './http.mjs';
import { valueOf } from './value.mjs';

const VALUE = valueOf(VALUE_BYTES);

function collectionsUrl(base) {
  return `${base}/v1/spaces/${SPACE}/collections`;
}

export async function ensureCollection(base, name) {
  await jsonRequest('POST', collectionsUrl(base), { name }, [201]);
}

/** One `POST …/batch` of `keys`, each with the 1 KiB value; fails unless every record was written. */
export async function batch(base, collection, keys) {
  const url = `${collectionsUrl(base)}/${collection}/batch`;
  const result = await jsonRequest('POST', url, { records: keys.map((key) => ({ key, value: VALUE })) }, [200]);
  if (result?.records?.length !== keys.length)
    throw new Error(`batch to ${collection} wrote ${result?.records?.length} of ${keys.length}`);
}

export async function count(base, collection, prefix) {
  const url = `${collectionsUrl(base)}/${collection}/count?prefix=${encodeURIComponent(prefix)}`;
  return (await jsonRequest('GET', url, undefined, [200])).count;
}

/** The hot record and the 1000-record list under `list/` in collection `bench`. */
export async function seedHotAndList(base) {
  await ensureCollection(base, HOT_COLLECTION);
  const hot = `${collectionsUrl(base)}/${HOT_COLLECTION}/records/hot`;
  const put = await httpRequest('PUT', hot, { body: VALUE, headers: { 'content-type': 'application/octet-stream' } });
  if (put.status !== 201 && put.status !== 200) throw new Error(`PUT hot answered ${put.status}: ${put.body}`);
  const get = await httpRequest('GET', hot);
  if (get.status !== 200 || get.body.length !== VALUE_BYTES)
    throw new Error(`GET hot answered ${get.status} with ${get.body.length} bytes`);
  const keys = Array.from({ length: LIST_RECORDS }, (_, i) => `list/${String(i).padStart(4, '0')}`);
  await batch(base, HOT_COLLECTION, keys);
  const n = await count(base, HOT_COLLECTION, 'list/');
  if (n !== LIST_RECORDS) throw new Error(`expected ${LIST_RECORDS} records under list/, found ${n}`);
}

/**
 * For the GraphQL workloads (after seedHotAndList): the 1 KiB record `graphql-hot` in `bench`,
 * as text (GraphQL's `value` is null for the hot record's application/octet-stream), and
 * collection `graphql` with GRAPHQL_RECORDS text records of 1 KiB under `page/`, in one batch.
 */
export async function seedGraphql(base) {
  const url = `${collectionsUrl(base)}/${HOT_COLLECTION}/records/${GRAPHQL_HOT_KEY}`;
  const put = await httpRequest('PUT', url, {
    body: VALUE,
    headers: { 'content-type': 'text/plain; charset=utf-8' },
  });
  if (put.status !== 201 && put.status !== 200)
    throw new Error(`PUT ${GRAPHQL_HOT_KEY} answered ${put.status}: ${put.body}`);
  await ensureCollection(base, GRAPHQL_COLLECTION);
  const keys = Array.from({ length: GRAPHQL_RECORDS }, (_, i) => graphqlPageKey(i));
  await batch(base, GRAPHQL_COLLECTION, keys);
  const n = await count(base, GRAPHQL_COLLECTION, 'page/');
  if (n !== GRAPHQL_RECORDS) throw new Error(`expected ${GRAPHQL_RECORDS} records under page/, found ${n}`);
}

/** `total` records under `export/` in collection `export`, in batches of 1000, two at a time. */
export async function seedExport(base, total, onProgress) {
  await ensureCollection(base, EXPORT_COLLECTION);
  const started = performance.now();
  const batches = Math.ceil(total / EXPORT_BATCH);
  let nextBatch = 0;
  let done = 0;
  const lane = async () => {
    while (nextBatch < batches) {
      const b = nextBatch++;
      const from = b * EXPORT_BATCH;
      const to = Math.min(total, from + EXPORT_BATCH);
      const keys = [];
      for (let i = from; i < to; i++) keys.push(`export/${String(i).padStart(7, '0')}`);
      await batch(base, EXPORT_COLLECTION, keys);
      done += keys.length;
      onProgress?.(done);
    }
  };
  await Promise.all([lane(), lane()]);
  const seconds = (performance.now() - started) / 1000;
  const n = await count(base, EXPORT_COLLECTION, 'export/');
  if (n !== total) throw new Error(`expected ${total} records under export/, found ${n}`);
  return { records: total, seconds, recordsPerSecond: total / seconds };
}
