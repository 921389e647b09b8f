import type { IncomingMessage, ServerResponse } from 'node:http';
import { DEFAULT_CONTENT_TYPE, normalizeContentType, validateKey, type ErrorCode } from '@rosetta/core';
import type { Record as RecordMessage } from '@rosetta/proto';
import type { Caller } from '../../auth/callers';
import { toHttpFailure } from '../../errors';
import { header } from '../../http/headers';
import { openStream } from '../../http/overload';
import { readBody } from '../../http/read-body';
import type { DialectContext } from '../dialect';
import { creatingCollection, getRecord, scanRecords, type Place } from '../store';
import { writeKeyLines } from './key-lines';
import { atOrAfter, scanStart, type ListQuery } from './query';
import { writeError, writeText } from './render';

/** The collection that holds a Rivet user's store in their personal space. */
export const RIVET_COLLECTION = 'rivet';

/** A request on one key of a user's store, by an authenticated session. */
export interface KeyRequest {
  readonly context: DialectContext;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly caller: Caller;
  readonly place: Place;
  readonly key: string;
}

const codeOf = (error: unknown): ErrorCode => toHttpFailure(error).code;

/** Where a Rivet user's records live: their space (their account's personal space), collection `rivet`. */
export const placeOf = (user: string): Place => ({ space: user, collection: RIVET_COLLECTION });

/**
 * The content type stored with a value: the request's when it is a valid media type, else
 * application/octet-stream. Rivet ignored it and served everything as text/plain; keeping it
 * lets /v1 readers get a sensible type.
 */
export function storedContentType(value: string | undefined): string {
  try {
    return normalizeContentType(value);
  } catch {
    return DEFAULT_CONTENT_TYPE;
  }
}

const isStorableKey = (key: string): boolean => {
  try {
    validateKey(key);
    return true;
  } catch {
    return false;
  }
};

/** Whether a failure is the store refusing the empty key, which Rivet answers per method (§7). */
const refusedEmptyKey = (request: KeyRequest, error: unknown): boolean =>
  request.key === '' && codeOf(error) === 'INVALID_KEY';

/**
 * The keys a listing answers: at most `limit`, and, when the scan could not start exactly at
 * the offset (see `scanStart`), none below it.
 */
async function* listedKeys(
  records: AsyncIterable<RecordMessage>,
  offset: string | undefined,
  limit: bigint,
): AsyncGenerator<string> {
  let left = limit;
  for await (const record of records) {
    if (offset !== undefined && !atOrAfter(record.key, offset)) continue;
    yield record.key;
    left -= 1n;
    if (left === 0n) return;
  }
}

/**
 * `GET /store/<user>`: the keys in byte order from the inclusive `offset`, at most `limit`,
 * only those starting with `prefix` (the extension), one per line.
 */
export async function listKeys(
  context: DialectContext,
  res: ServerResponse,
  caller: Caller,
  place: Place,
  query: ListQuery,
): Promise<void> {
  const { start, exact } = scanStart(query.offset);
  openStream(res);
  const records = scanRecords(context, caller, place, {
    filter: { prefix: query.prefix, ...(start === undefined ? {} : { start }) },
    keysOnly: true,
    ...(exact && query.limit <= BigInt(Number.MAX_SAFE_INTEGER) ? { limit: query.limit } : {}),
  });
  await writeKeyLines(res, listedKeys(records, exact ? undefined : query.offset, query.limit));
}

/**
 * One record, or undefined. A key the store refuses goes to the record service as it is, so
 * that access is checked first (another user's store is 401 whatever the key), as for any key.
 */
async function readRecord(request: KeyRequest): Promise<RecordMessage | undefined> {
  const { context, caller, place, key } = request;
  if (isStorableKey(key)) return getRecord(context, caller, place, key);
  const { record } = await context.api.records.getRecord({ collection: place, key }, { headers: caller.headers });
  return record;
}

/** `GET`: the value's bytes, always labelled text/plain as Rivet does; 404 when missing (or for the empty key). */
export async function getValue(request: KeyRequest): Promise<void> {
  const { req, res } = request;
  let record: RecordMessage | undefined;
  try {
    record = await readRecord(request);
  } catch (error) {
    if (!refusedEmptyKey(request, error)) throw error;
  }
  if (record === undefined) writeError(req, res, 404);
  else writeText(res, 200, record.value);
}

/**
 * `POST`: create or overwrite, 201 when the key is new, 200 when it existed; the body is the
 * key. The first write creates the user's collection. The empty key is Rivet's 500 `key
 * required` (bbolt's error), once the record service has checked access.
 */
export async function createOrReplace(request: KeyRequest): Promise<void> {
  const { context, req, res, caller, place, key } = request;
  if (key === '') {
    try {
      await context.api.records.putRecord({ collection: place, key }, { headers: caller.headers });
    } catch (error) {
      if (!refusedEmptyKey(request, error)) throw error;
      writeError(req, res, 500, { message: 'key required' });
      return;
    }
    throw new Error('the record service accepted an empty key');
  }
  const value = await readBody(req, context.maxBodyBytes);
  const entry = { key, value, contentType: storedContentType(header(req, 'content-type')), condition: undefined };
  const { created } = await creatingCollection(context, caller, place, () => context.writer.put(caller, place, entry));
  writeText(res, created ? 201 : 200, key);
}

/** Failures of a must-exist write that mean "the key is not there": Rivet's PUT answers 404. */
const ABSENT: readonly ErrorCode[] = ['REVISION_MISMATCH', 'KEY_NOT_FOUND', 'COLLECTION_NOT_FOUND'];

/** `PUT`: overwrite an existing key only (never creates); 404 when it is missing; the body is the key. */
export async function replace(request: KeyRequest): Promise<void> {
  const { context, req, res, caller, place, key } = request;
  const value = key === '' ? new Uint8Array() : await readBody(req, context.maxBodyBytes);
  try {
    await context.api.records.putRecord(
      {
        collection: place,
        key,
        value,
        contentType: storedContentType(header(req, 'content-type')),
        condition: { kind: { case: 'mustExist', value: true } },
      },
      { headers: caller.headers },
    );
  } catch (error) {
    if (!refusedEmptyKey(request, error) && !ABSENT.includes(codeOf(error))) throw error;
    writeError(req, res, 404);
    return;
  }
  writeText(res, 200, key);
}

/** `DELETE`: 200 with the key whether or not it existed (and an empty body for the empty key), as Rivet answers. */
export async function deleteKey(request: KeyRequest): Promise<void> {
  const { context, res, caller, place, key } = request;
  try {
    await context.api.records.deleteRecord({ collection: place, key }, { headers: caller.headers });
  } catch (error) {
    if (!refusedEmptyKey(request, error) && codeOf(error) !== 'COLLECTION_NOT_FOUND') throw error;
  }
  writeText(res, 200, key);
}
