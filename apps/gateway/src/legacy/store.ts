import type { MessageInitShape } from '@bufbuild/protobuf';
import type { Record as RecordMessage, ScanRequestSchema } from '@rosetta/proto';
import type { Caller } from '../auth/callers';
import { STREAM_TIMEOUT_MS } from '../clients/record-api';
import { toHttpFailure } from '../errors';
import type { DialectContext } from './dialect';

/** Where a dialect keeps a caller's records: a space and a collection in it. */
export interface Place {
  readonly space: string;
  readonly collection: string;
}

const codeOf = (error: unknown) => toHttpFailure(error).code;

/**
 * Runs a write, creating the collection first when the write finds none: dialects have no
 * notion of creating collections, so their first write does it (with the service's defaults).
 */
export async function creatingCollection<T>(
  context: DialectContext,
  caller: Caller,
  place: Place,
  write: () => Promise<T>,
): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (codeOf(error) !== 'COLLECTION_NOT_FOUND') throw error;
  }
  try {
    await context.api.collections.createCollection(
      { collection: { space: place.space, collection: place.collection } },
      { headers: caller.headers },
    );
  } catch (error) {
    if (codeOf(error) !== 'COLLECTION_EXISTS') throw error;
  }
  return write();
}

/** One record (through the shared read batcher), or undefined when it, or its collection, does not exist. */
export async function getRecord(
  context: DialectContext,
  caller: Caller,
  place: Place,
  key: string,
): Promise<RecordMessage | undefined> {
  try {
    return await context.reader.get(caller, { space: place.space, collection: place.collection }, key);
  } catch (error) {
    if (codeOf(error) === 'COLLECTION_NOT_FOUND') return undefined;
    throw error;
  }
}

type ScanInit = Omit<MessageInitShape<typeof ScanRequestSchema>, 'collection' | '$typeName'>;

/**
 * The records a scan finds, streamed chunk by chunk; none when the collection does not exist.
 * Stops early when the consumer does (a `break` cancels the stream).
 */
export async function* scanRecords(
  context: DialectContext,
  caller: Caller,
  place: Place,
  request: ScanInit,
): AsyncGenerator<RecordMessage> {
  const controller = new AbortController();
  const chunks = context.api.records.scan(
    { ...request, collection: { space: place.space, collection: place.collection } },
    { signal: controller.signal, timeoutMs: STREAM_TIMEOUT_MS, headers: caller.headers },
  );
  try {
    for await (const chunk of chunks) yield* chunk.records;
  } catch (error) {
    if (codeOf(error) !== 'COLLECTION_NOT_FOUND') throw error;
  } finally {
    controller.abort();
  }
}
