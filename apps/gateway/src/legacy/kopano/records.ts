import type { IncomingMessage, ServerResponse } from 'node:http';
import { validateKey } from '@rosetta/core';
import type { Record as RecordMessage } from '@rosetta/proto';
import type { Caller } from '../../auth/callers';
import { toHttpFailure } from '../../errors';
import { header } from '../../http/headers';
import { readBody } from '../../http/read-body';
import type { DialectContext } from '../dialect';
import { creatingCollection, getRecord, scanRecords, type Place } from '../store';
import { MAX_BATCH_BODY_BYTES, parseBatch } from './batch';
import { renderEnvelope } from './envelope';
import { openStream } from '../../http/overload';
import { writeChunk } from '../../http/write-chunk';
import { EMPTY_ERROR, NOT_FOUND_PAGE, sendEmpty, sendText } from './responses';

/** Largest single document: the original's 16 KiB. */
export const MAX_VALUE_BYTES = 16_384;
/** Most documents a recursive GET returns, as the original's query limit. */
export const MAX_RECURSE = 500;
/** The collection of every caller's personal space that holds the kvs documents. */
export const KVS_COLLECTION = 'kvs';

/** A kvs request after authentication: who asks, where their documents are, which key. */
export interface KvsRequest {
  readonly context: DialectContext;
  readonly caller: Caller;
  readonly place: Place;
  readonly key: string;
}

const toBuffer = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** `GET key` (the envelope) and `GET key?raw=1` (the stored bytes under the stored type). */
export async function getDocument(request: KvsRequest, res: ServerResponse, raw: boolean): Promise<void> {
  const record = await getRecord(request.context, request.caller, request.place, request.key);
  if (record === undefined) {
    sendText(res, 404, NOT_FOUND_PAGE);
    return;
  }
  if (raw) {
    res.writeHead(200, { 'content-type': record.contentType, 'content-length': String(record.value.byteLength) });
    res.end(toBuffer(record.value));
    return;
  }
  const envelope = renderEnvelope(record);
  if (envelope === undefined) sendText(res, 500, EMPTY_ERROR);
  else await sendChunks(res, envelope);
}

/**
 * A 200 JSON answer from chunks: one chunk (any small document) goes out with its length, more
 * are streamed as the socket takes them.
 */
async function sendChunks(res: ServerResponse, chunks: Iterable<Buffer>): Promise<void> {
  const iterator = chunks[Symbol.iterator]();
  let current = iterator.next();
  let next = current.done === true ? current : iterator.next();
  if (next.done === true) {
    const body = current.done === true ? Buffer.alloc(0) : current.value;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length) });
    res.end(body);
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  while (current.done !== true) {
    if (!(await writeChunk(res, current.value))) return;
    current = next;
    next = current.done === true ? current : iterator.next();
  }
  res.end();
}

/** `PUT key`: up to 16 KiB, stored with the request's Content-Type; 200 for create and replace alike. */
export async function putDocument(request: KvsRequest, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { context, caller, place, key } = request;
  validateKey(key);
  const value = await readBody(req, MAX_VALUE_BYTES);
  const contentType = header(req, 'content-type') ?? '';
  await creatingCollection(context, caller, place, () =>
    context.writer.put(caller, place, { key, value, contentType, condition: undefined }),
  );
  sendEmpty(res, 200);
}

/** `PUT key?batch=1`: every entry under `key/`, in one all-or-nothing BatchPut. */
export async function putBatch(request: KvsRequest, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { context, caller, place, key } = request;
  const entries = parseBatch(await readBody(req, MAX_BATCH_BODY_BYTES), key);
  if (entries.length > 0) {
    await creatingCollection(context, caller, place, () =>
      context.api.records.batchPut({ collection: place, entries, omitRecords: true }, { headers: caller.headers }),
    );
  }
  sendEmpty(res, 200);
}

/** `DELETE key`: 200 when a document went, 404 (empty) when there was none; never recursive. */
export async function deleteDocument(request: KvsRequest, res: ServerResponse): Promise<void> {
  const { context, caller, place, key } = request;
  validateKey(key);
  let deleted = false;
  try {
    ({ deleted } = await context.api.records.deleteRecord({ collection: place, key }, { headers: caller.headers }));
  } catch (error) {
    if (toHttpFailure(error).code !== 'COLLECTION_NOT_FOUND') throw error;
  }
  sendEmpty(res, deleted ? 200 : 404);
}

/** How a recursive GET finds its documents: a key prefix, and a test for what the prefix cannot say. */
export interface RecursePlan {
  readonly prefix: string;
  readonly accepts?: (key: string) => boolean;
}

/**
 * The original lists the rows of the URL key's "collection" (the part before its first `/`,
 * or `''` for a key without one), keeping those that start with the URL key when it has a
 * `/`. A key's collection is that same part of the key, so: a URL key with a `/` is the prefix
 * itself; `c` means `c/`; the empty key means every key whose collection is `''` — without a
 * `/` or starting with one — which no prefix expresses, so those are tested one by one.
 */
export function recursePlan(urlKey: string): RecursePlan {
  if (urlKey.includes('/')) return { prefix: urlKey };
  if (urlKey !== '') return { prefix: `${urlKey}/` };
  return { prefix: '', accepts: (key) => key.indexOf('/') <= 0 };
}

/**
 * The documents of a recursive GET, in key order, filtered by the plan. The scan has no limit:
 * the listing stops it (a `break` cancels the stream) once it has enough envelopes.
 */
async function* recursiveRecords(request: KvsRequest): AsyncGenerator<RecordMessage> {
  const plan = recursePlan(request.key);
  const records = scanRecords(request.context, request.caller, request.place, { filter: { prefix: plan.prefix } });
  for await (const record of records) if (plan.accepts === undefined || plan.accepts(record.key)) yield record;
}

/**
 * `GET key?recurse=1`: always 200, `[\n`, the envelopes joined by `,\n`, then `]\n` (the
 * original's hand-made layout). At most MAX_RECURSE envelopes; documents without one (JSON-typed
 * but not JSON) are left out. Streams: headers go out with the first document, so a store
 * failure before it is still a clean 500.
 */
export async function listDocuments(request: KvsRequest, res: ServerResponse): Promise<void> {
  openStream(res);
  let listed = 0;
  const start = () => {
    res.writeHead(200, { 'content-type': 'application/json' });
    return writeChunk(res, Buffer.from('[\n'));
  };
  for await (const record of recursiveRecords(request)) {
    const envelope = renderEnvelope(record);
    if (envelope === undefined) continue;
    const separator = listed === 0 ? await start() : await writeChunk(res, Buffer.from(',\n'));
    if (!separator) return;
    for (const chunk of envelope) if (!(await writeChunk(res, chunk))) return;
    if (++listed === MAX_RECURSE) break;
  }
  if (listed === 0 && !(await start())) return;
  res.end(']\n');
}
