import { randomUUID } from 'node:crypto';
import { ScanOrder, type Record as RecordMessage } from '@rosetta/proto';
import type { Caller } from '../../auth/callers';
import { toHttpFailure } from '../../errors';
import type { DialectContext } from '../dialect';
import { creatingCollection, getRecord, scanRecords, type Place } from '../store';
import type { StoredEntry } from './documents';

/** The collection that holds every store of an account, in its personal space. */
export const PROSODY_COLLECTION = 'prosody';

/** Where the stores of the account `<user>@<host>` live: its personal space, collection `prosody`. */
export const placeOf = (space: string): Place => ({ space, collection: PROSODY_COLLECTION });

/**
 * Keys of a store: its key/value document is the record `<store>`, and each item of its list the
 * record `<store>/<unique id>`. Store names are letters and `_` only, so no store's prefix is
 * another's.
 */
const itemPrefix = (store: string): string => `${store}/`;

const isMissingCollection = (error: unknown): boolean => toHttpFailure(error).code === 'COLLECTION_NOT_FOUND';

/** A store request: who asks, where the store is, and its name. */
export interface StoreRef {
  readonly context: DialectContext;
  readonly caller: Caller;
  readonly place: Place;
  readonly store: string;
}

/** The store's key/value document, or undefined. */
export const getDocument = (ref: StoreRef): Promise<RecordMessage | undefined> =>
  getRecord(ref.context, ref.caller, ref.place, ref.store);

/** The store's list items, streamed in append order (the order of their creation). */
export const listItems = (ref: StoreRef): AsyncGenerator<RecordMessage> =>
  scanRecords(ref.context, ref.caller, ref.place, {
    filter: { prefix: itemPrefix(ref.store) },
    order: ScanOrder.CREATED,
  });

/** Replaces the document (an unconditional write, coalesced with its neighbours); the first write creates the collection. */
export async function putDocument(ref: StoreRef, entry: StoredEntry): Promise<void> {
  const { context, caller, place, store } = ref;
  await creatingCollection(context, caller, place, () =>
    context.writer.put(caller, place, { key: store, ...entry, condition: undefined }),
  );
}

/** Removes the document, if any: PUT of an empty table, as Prosody deletes an empty file. */
export async function deleteDocument(ref: StoreRef): Promise<void> {
  const { context, caller, place, store } = ref;
  try {
    await context.api.records.deleteRecord({ collection: place, key: store }, { headers: caller.headers });
  } catch (error) {
    if (!isMissingCollection(error)) throw error;
  }
}

/**
 * Appends one item to the list: a record of its own under a fresh id, written only if new, so
 * an append never rewrites (nor reads) the rest of the list.
 */
export async function appendItem(ref: StoreRef, entry: StoredEntry): Promise<void> {
  const { context, caller, place, store } = ref;
  await creatingCollection(context, caller, place, () =>
    context.api.records.putRecord(
      {
        collection: place,
        key: `${itemPrefix(store)}${randomUUID()}`,
        value: entry.value,
        contentType: entry.contentType,
        condition: { kind: { case: 'createOnly', value: true } },
      },
      { headers: caller.headers },
    ),
  );
}

/** Removes the document, then the list in the service's bounded batches until none is left. */
export async function clearStore(ref: StoreRef): Promise<void> {
  const { context, caller, place, store } = ref;
  await deleteDocument(ref);
  try {
    let more = true;
    while (more) {
      ({ more } = await context.api.records.deleteMatching(
        { collection: place, filter: { prefix: itemPrefix(store) } },
        { headers: caller.headers },
      ));
    }
  } catch (error) {
    if (!isMissingCollection(error)) throw error;
  }
}
