import type { IncomingMessage, ServerResponse } from 'node:http';
import { encodeCursor as nativeCursor, MAX_BATCH_ENTRIES } from '@rosetta/core';
import type { Record as RecordMessage } from '@rosetta/proto';
import type { Caller } from '../../auth/callers';
import { toHttpFailure } from '../../errors';
import { openStream } from '../../http/overload';
import { ChunkBuilder, writeChunk } from '../../http/write-chunk';
import type { OpenFnOptions } from '../config';
import type { DialectContext } from '../dialect';
import { scanRecords, type Place } from '../store';
import type { Params } from './body';
import { encodeCursor, globOf, parseListQuery, type ListQuery } from './query';
import { deleted, errorBody, formatTimestamp, itemJson, LIST_OPEN, listClose, upserted, type Item } from './render';
import { CACHE_CONTROL, send } from './respond';

/** What every item handler gets: the resolved collection and the authenticated caller. */
export interface ItemsRequest {
  readonly context: DialectContext;
  readonly options: OpenFnOptions;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly caller: Caller;
  readonly place: Place;
  readonly rawQuery: string;
  readonly params: Params;
}

/** OpenFn values are opaque text: stored as UTF-8 with this type, so /v1 readers see text. */
export const VALUE_CONTENT_TYPE = 'text/plain; charset=utf-8';
/**
 * Lightning's limits: values of at most 1,000,000 characters, keys of 255. Ecto counts a value's
 * graphemes; we count code points (never fewer), because segmenting a megabyte into graphemes
 * takes seconds of CPU.
 */
export const MAX_VALUE_CHARS = 1_000_000;
export const MAX_KEY_CHARS = 255;
/** Items per chunk of a streamed listing, as Lightning writes them. */
const CHUNK_ITEMS = 100;

const FORMAT_ERROR = 'Format error';

const codeOf = (error: unknown) => toHttpFailure(error).code;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/** Code points, counted only when the UTF-16 length could exceed the limit. */
const longerThan = (text: string, max: number) => text.length > max && codePoints(text) > max;

function codePoints(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    // A high surrogate and its low one are one code point (the text is well-formed by now).
    if (unit < 0xd800 || unit > 0xdbff) count++;
  }
  return count;
}

/** A key Lightning would store and Rosetta can: 1–255 characters (code points), no NUL. */
export function validItemKey(key: unknown): key is string {
  if (typeof key !== 'string' || key === '' || key.includes('\u0000') || !key.isWellFormed()) return false;
  return !longerThan(key, MAX_KEY_CHARS);
}

const itemOf = (record: RecordMessage, withValue: boolean): Item => ({
  key: record.key,
  value: withValue ? decoder.decode(record.value) : undefined,
  created: Number(record.createdUs),
  updated: Number(record.updatedUs),
});

const micros = (us: number | undefined) => (us === undefined ? undefined : BigInt(us));

/** The contract's filter for a listing's key pattern and time bounds; undefined when it matches nothing. */
function filterOf(query: ListQuery, options: OpenFnOptions) {
  const pattern = query.key === undefined ? undefined : globOf(query.key, options.underscoreWildcard);
  if (query.key !== undefined && pattern === undefined) return undefined;
  return {
    pattern,
    createdAfterUs: micros(query.createdAfter),
    createdBeforeUs: micros(query.createdBefore),
    updatedAfterUs: micros(query.updatedAfter),
    updatedBeforeUs: micros(query.updatedBefore),
  };
}

/**
 * `GET /collections/:name`: items in order of first creation, streamed while they are read
 * (one more than `limit` is asked for: it tells whether a cursor is due), in chunks of up to
 * 100 items, with back-pressure. `keys_only=true` (ours) leaves the values out.
 */
export async function listItems(request: ItemsRequest): Promise<void> {
  const { context, res, caller, place } = request;
  const query = parseListQuery(request.rawQuery);
  const { keysOnly } = query;
  const filter = filterOf(query, request.options);
  openStream(res);
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': CACHE_CONTROL });
  if (!(await writeChunk(res, LIST_OPEN))) return;
  let sent = 0;
  let last: RecordMessage | undefined;
  let more = false;
  const chunk = new ChunkBuilder();
  const flush = () => writeChunk(res, chunk.take());
  if (filter !== undefined && query.limit > 0) {
    const records = scanRecords(context, caller, place, {
      filter,
      order: 1,
      limit: BigInt(query.limit + 1),
      keysOnly,
      cursor:
        query.after !== undefined && query.after > 0
          ? nativeCursor({ order: 'created', createdRevision: query.after }, false)
          : '',
    });
    for await (const record of records) {
      if (sent === query.limit) {
        more = true;
        break;
      }
      const json = itemJson(itemOf(record, !keysOnly));
      chunk.add(sent > 0 ? `,${json}` : json);
      sent++;
      last = record;
      if (chunk.pieces === CHUNK_ITEMS && !(await flush())) return;
    }
  }
  if (chunk.pieces > 0 && !(await flush())) return;
  const cursor = more && last !== undefined ? encodeCursor(Number(last.createdRevision)) : null;
  res.end(listClose(cursor));
}

/** `GET /collections/:name/:key`: the item, or 204 with no body. */
export async function getItem(request: ItemsRequest, key: string): Promise<void> {
  const record = await request.context.reader.get(request.caller, request.place, key);
  if (record === undefined) {
    request.res.writeHead(204, { 'cache-control': CACHE_CONTROL });
    request.res.end();
    return;
  }
  send(request.res, 200, itemJson(itemOf(record, true)));
}

/**
 * `PUT /collections/:name/:key` with `{"value": "…"}`. A value Lightning's changeset refuses
 * (empty, blank, too long) is a 200 with `upserted: 0`; a value that is not a string, or a key
 * it could not store, a 422 (Lightning crashes on both).
 */
export async function putItem(request: ItemsRequest, key: string): Promise<void> {
  const { res, params } = request;
  if (!('value' in params)) {
    send(res, 422, errorBody('Missing required field: value'));
    return;
  }
  const { value } = params;
  if (typeof value !== 'string' || !validItemKey(key)) {
    send(res, 422, upserted(0, FORMAT_ERROR));
    return;
  }
  if (value.trim() === '' || longerThan(value, MAX_VALUE_CHARS)) {
    send(res, 200, upserted(0, FORMAT_ERROR));
    return;
  }
  try {
    await request.context.writer.put(request.caller, request.place, {
      key,
      value: encoder.encode(value),
      contentType: VALUE_CONTENT_TYPE,
      condition: undefined,
    });
  } catch (error) {
    if (codeOf(error) !== 'VALUE_TOO_LARGE') throw error;
    send(res, 200, upserted(0, FORMAT_ERROR));
    return;
  }
  send(res, 200, upserted(1, null));
}

/** Why a batch cannot be written, in Lightning's words; undefined when it can. */
function batchProblem(items: unknown): string | undefined {
  if (!Array.isArray(items)) return FORMAT_ERROR;
  if (items.length > MAX_BATCH_ENTRIES) return `Too many items: at most ${MAX_BATCH_ENTRIES} per request`;
  const seen = new Set<string>();
  let duplicate = false;
  for (const item of items as unknown[]) {
    if (typeof item !== 'object' || item === null) return FORMAT_ERROR;
    const { key, value } = item as { key?: unknown; value?: unknown };
    if (!validItemKey(key) || typeof value !== 'string' || longerThan(value, MAX_VALUE_CHARS)) return FORMAT_ERROR;
    if (seen.has(key)) duplicate = true;
    seen.add(key);
  }
  return duplicate ? 'Duplicate key found' : undefined;
}

/**
 * `POST /collections/:name` with `{"items": [{"key", "value"}, …]}`: one transaction, all or
 * nothing, every item stamped with the same time.
 */
export async function postItems(request: ItemsRequest): Promise<void> {
  const { res, params } = request;
  if (!('items' in params)) {
    send(res, 422, errorBody('Missing required field: items'));
    return;
  }
  const problem = batchProblem(params.items);
  if (problem !== undefined) {
    send(res, 422, upserted(0, problem));
    return;
  }
  const items = params.items as ReadonlyArray<{ key: string; value: string }>;
  // An empty batch goes to the record service too: it is where write access is checked.
  try {
    await request.context.api.records.batchPut(
      {
        collection: request.place,
        entries: items.map((item) => ({
          key: item.key,
          value: encoder.encode(item.value),
          contentType: VALUE_CONTENT_TYPE,
        })),
        omitRecords: true,
      },
      { headers: request.caller.headers },
    );
  } catch (error) {
    if (codeOf(error) !== 'VALUE_TOO_LARGE') throw error;
    send(res, 422, upserted(0, FORMAT_ERROR));
    return;
  }
  send(res, 200, upserted(items.length, null));
}

/** `DELETE /collections/:name/:key`: 200 either way, `deleted: 0` with an error when it was not there. */
export async function deleteItem(request: ItemsRequest, key: string): Promise<void> {
  const found =
    validItemKey(key) &&
    (
      await request.context.api.records.deleteRecord(
        { collection: request.place, key },
        { headers: request.caller.headers },
      )
    ).deleted;
  send(request.res, 200, found ? deleted(key, 1, null) : deleted(key, 0, 'Item Not Found'));
}

/**
 * `DELETE /collections/:name`: every item matching `key` (from the body or the query), or
 * every item when there is none, in bounded batches; other parameters are ignored.
 */
export async function deleteItems(request: ItemsRequest, pattern: string | undefined): Promise<void> {
  const glob = pattern === undefined ? undefined : globOf(pattern, request.options.underscoreWildcard);
  let total = 0;
  if (pattern === undefined || glob !== undefined) {
    for (let more = true; more;) {
      const answer = await request.context.api.records.deleteMatching(
        { collection: request.place, filter: { pattern: glob } },
        { headers: request.caller.headers },
      );
      total += Number(answer.deleted);
      more = answer.more;
    }
  }
  send(request.res, 200, deleted(pattern ?? null, total, null));
}

/**
 * `HEAD /collections/:name` (ours): how many items match the listing's filters, in
 * `X-Item-Count`; without filters also the collection's bytes and last change.
 */
export async function countItems(request: ItemsRequest): Promise<void> {
  const { context, res, caller, place } = request;
  const query = parseListQuery(request.rawQuery);
  const filter = filterOf(query, request.options);
  const headers: Record<string, string> = {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': CACHE_CONTROL,
  };
  const unfiltered = filter !== undefined && Object.values(filter).every((v) => v === undefined);
  if (unfiltered) {
    const stats = await context.api.collections.collectionStats({ collection: place }, { headers: caller.headers });
    const lastModified = Number(stats.lastModifiedUs);
    headers['x-item-count'] = String(stats.records);
    headers['x-item-bytes'] = String(stats.bytes);
    headers['x-last-modified'] = formatTimestamp(lastModified);
    headers['last-modified'] = new Date(Math.floor(lastModified / 1000)).toUTCString();
  } else {
    const count =
      filter === undefined
        ? 0n
        : (await context.api.records.count({ collection: place, filter }, { headers: caller.headers })).count;
    headers['x-item-count'] = String(count);
  }
  res.writeHead(200, headers);
  res.end();
}
