import { invalid } from './errors';
import { validateKey } from './keys';

/** A stored record. Times are microseconds since the Unix epoch (UTC). */
export interface StoredRecord {
  readonly key: string;
  readonly value: Uint8Array;
  readonly contentType: string;
  readonly created: number;
  readonly updated: number;
  /** Revision of the last write, from the one global sequence. */
  readonly revision: number;
  /** Revision of the write that created the key: orders records by first creation. */
  readonly createdRevision: number;
}

/** A record without its value (keys-only listings, HEAD, write acknowledgements). */
export type RecordMeta = Omit<StoredRecord, 'value'> & { readonly size: number };

/** When a write may happen. */
export type WriteCondition =
  | { readonly kind: 'always' }
  /** Only if the record exists with exactly this revision (compare-and-set, `If-Match`). */
  | { readonly kind: 'revision'; readonly revision: number }
  /** Only if no record has the key (`If-None-Match: *`). */
  | { readonly kind: 'absent' }
  /** Only if a record has the key, whatever its revision (`If-Match: *`). */
  | { readonly kind: 'present' };

export interface PutInput {
  readonly key: string;
  readonly value: Uint8Array;
  readonly contentType: string;
  readonly condition: WriteCondition;
}

/** Most entries in one transactional batch. */
export const MAX_BATCH_ENTRIES = 10_000;
/** Most keys in one batch get. */
export const MAX_BATCH_GET_KEYS = 10_000;

/** A batch is all-or-nothing, so every entry is checked before anything is written. */
export function validateBatchKeys(keys: readonly string[], max = MAX_BATCH_ENTRIES): void {
  if (keys.length > max) throw invalid('BATCH_TOO_LARGE', `a batch holds at most ${max} entries`);
  const seen = new Set<string>();
  for (const key of keys) {
    validateKey(key);
    if (seen.has(key)) throw invalid('DUPLICATE_KEY', `key "${key.slice(0, 100)}" appears twice in the batch`);
    seen.add(key);
  }
}

export function validateRevision(revision: number): void {
  if (!Number.isSafeInteger(revision) || revision < 1) {
    throw invalid('INVALID_ARGUMENT', 'a revision is a positive integer');
  }
}
