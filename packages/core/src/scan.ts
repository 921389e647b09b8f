import { invalid } from './errors';
import { MAX_KEY_BYTES, validateKey } from './keys';
import { parseGlob, type GlobPattern } from './patterns';
import { utf8ByteLength } from './utf8';

/**
 * Which records a scan, count or delete-matching addresses. All given conditions must hold.
 * Time bounds are microseconds: `*After` is inclusive, `*Before` exclusive.
 */
export interface RecordFilter {
  readonly prefix?: string | undefined;
  /** Inclusive lower key bound. */
  readonly start?: string | undefined;
  /** Inclusive upper key bound. */
  readonly end?: string | undefined;
  readonly pattern?: GlobPattern | undefined;
  readonly createdAfter?: number | undefined;
  readonly createdBefore?: number | undefined;
  readonly updatedAfter?: number | undefined;
  readonly updatedBefore?: number | undefined;
}

export interface RecordFilterInput {
  prefix?: string | undefined;
  start?: string | undefined;
  end?: string | undefined;
  pattern?: string | undefined;
  createdAfter?: number | undefined;
  createdBefore?: number | undefined;
  updatedAfter?: number | undefined;
  updatedBefore?: number | undefined;
}

function checkTime(name: string, value: number | undefined): void {
  if (value !== undefined && !Number.isSafeInteger(value)) {
    throw invalid('INVALID_ARGUMENT', `${name} must be a whole number of microseconds`);
  }
}

export function parseFilter(input: RecordFilterInput): RecordFilter {
  const { prefix, start, end } = input;
  if (
    prefix !== undefined &&
    (utf8ByteLength(prefix) > MAX_KEY_BYTES || !prefix.isWellFormed() || prefix.includes('\u0000'))
  ) {
    throw invalid('INVALID_ARGUMENT', `prefix must be valid UTF-8 of at most ${MAX_KEY_BYTES} bytes, without NUL`);
  }
  if (start !== undefined) validateKey(start);
  if (end !== undefined) validateKey(end);
  checkTime('createdAfter', input.createdAfter);
  checkTime('createdBefore', input.createdBefore);
  checkTime('updatedAfter', input.updatedAfter);
  checkTime('updatedBefore', input.updatedBefore);
  return {
    prefix: prefix === '' ? undefined : prefix,
    start,
    end,
    pattern: input.pattern === undefined ? undefined : parseGlob(input.pattern),
    createdAfter: input.createdAfter,
    createdBefore: input.createdBefore,
    updatedAfter: input.updatedAfter,
    updatedBefore: input.updatedBefore,
  };
}

/** Order of a scan: by key bytes, or by first creation (the order OpenFn lists items in). */
export type ScanOrder = 'key' | 'created';

/** Where a scan resumes: strictly after this key, or after this creation revision. */
export type ScanPosition =
  { readonly order: 'key'; readonly key: string } | { readonly order: 'created'; readonly createdRevision: number };

export interface ScanQuery {
  readonly filter: RecordFilter;
  readonly order: ScanOrder;
  readonly reverse: boolean;
  /** Most records to return; undefined streams every match. */
  readonly limit: number | undefined;
  readonly after: ScanPosition | undefined;
  readonly keysOnly: boolean;
}

interface CursorBody {
  v: 1;
  o: 'k' | 'c';
  r: 0 | 1;
  k?: string;
  c?: number;
}

/**
 * Cursors are opaque to callers: base64url of a small JSON document naming the order, the
 * direction and the last position returned. Decoding checks all three, so a cursor cannot be
 * replayed against a scan of another order or direction.
 */
export function encodeCursor(position: ScanPosition, reverse: boolean): string {
  const body: CursorBody =
    position.order === 'key'
      ? { v: 1, o: 'k', r: reverse ? 1 : 0, k: position.key }
      : { v: 1, o: 'c', r: reverse ? 1 : 0, c: position.createdRevision };
  return Buffer.from(JSON.stringify(body)).toString('base64url');
}

export function decodeCursor(cursor: string, order: ScanOrder, reverse: boolean): ScanPosition {
  const bad = () => invalid('INVALID_CURSOR', 'cursor is not valid for this listing');
  if (cursor.length > 4 * MAX_KEY_BYTES || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw bad();
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (typeof body !== 'object' || body === null) throw bad();
  const b = body as Partial<CursorBody>;
  if (b.v !== 1 || b.r !== (reverse ? 1 : 0)) throw bad();
  if (order === 'key' && b.o === 'k' && typeof b.k === 'string') {
    try {
      validateKey(b.k);
    } catch {
      throw bad();
    }
    return { order: 'key', key: b.k };
  }
  if (order === 'created' && b.o === 'c' && Number.isSafeInteger(b.c) && (b.c as number) >= 0) {
    return { order: 'created', createdRevision: b.c as number };
  }
  throw bad();
}

export function validateLimit(limit: number | undefined): void {
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 0)) {
    throw invalid('INVALID_ARGUMENT', 'limit must be a non-negative integer');
  }
}

/** The cursor of a listing by name (collections) that resumes after `name`. */
export function encodeNameCursor(name: string): string {
  return Buffer.from(name).toString('base64url');
}

export function decodeNameCursor(cursor: string): string {
  const name = /^[A-Za-z0-9_-]+$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  if (name === '' || !name.isWellFormed()) throw invalid('INVALID_CURSOR', 'cursor is not valid for this listing');
  return name;
}
