import { invalid, MAX_KEY_BYTES, utf8ByteLength } from '@rosetta/core';

/** Rivet's `LIMIT`: the listing size when `limit` is missing, unparsable, zero or negative. */
export const DEFAULT_LIST_LIMIT = 10_000n;

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

/**
 * `limit` as Go's `strconv.ParseInt(s, 10, 64)` reads it (an optional sign and decimal digits,
 * within int64), falling back to Rivet's default as the original does. No upper cap.
 */
export function parseLimit(text: string | null): bigint {
  if (text === null || !/^[+-]?[0-9]+$/.test(text)) return DEFAULT_LIST_LIMIT;
  const value = BigInt(text);
  if (value > INT64_MAX || value < INT64_MIN || value <= 0n) return DEFAULT_LIST_LIMIT;
  return value;
}

/**
 * Where a listing starts for Rivet's inclusive `offset` (the first key ≥ offset, in byte order).
 * The store's scan bound must itself be a valid key; an offset that is not one (longer than
 * 1024 bytes, or holding a NUL) starts at its longest valid prefix instead, and `exact` is false:
 * the keys below the offset that this lets through must then be skipped by the caller.
 */
export interface ScanStart {
  readonly start: string | undefined;
  readonly exact: boolean;
}

export function scanStart(offset: string): ScanStart {
  const nul = offset.indexOf('\u0000');
  const start = longestKeyPrefix(nul === -1 ? offset : offset.slice(0, nul));
  return { start: start === '' ? undefined : start, exact: start === offset };
}

/** The longest prefix of `text`, in whole characters, that fits in a key's 1024 bytes. */
function longestKeyPrefix(text: string): string {
  let bytes = 0;
  let end = 0;
  for (const char of text) {
    bytes += utf8ByteLength(char);
    if (bytes > MAX_KEY_BYTES) break;
    end += char.length;
  }
  return text.slice(0, end);
}

/** Whether `key` sorts at or after `offset` in byte order (Rivet's cursor seek). */
export const atOrAfter = (key: string, offset: string): boolean =>
  Buffer.compare(Buffer.from(key, 'utf8'), Buffer.from(offset, 'utf8')) >= 0;

/** What `GET /store/<user>` asks for. */
export interface ListQuery {
  readonly limit: bigint;
  /** Empty: from the first key. */
  readonly offset: string;
  /** Rosetta's extension (the first item of Rivet's to-do list): only keys starting with it. */
  readonly prefix: string;
}

/**
 * The listing's parameters. A prefix no key can start with (over 1024 bytes, or holding a NUL)
 * is refused (400) rather than sent to the store.
 */
export function parseListQuery(query: URLSearchParams): ListQuery {
  const prefix = query.get('prefix') ?? '';
  if (prefix.includes('\u0000') || utf8ByteLength(prefix) > MAX_KEY_BYTES) {
    throw invalid('INVALID_ARGUMENT', `prefix must be at most ${MAX_KEY_BYTES} bytes, without NUL`);
  }
  return { limit: parseLimit(query.get('limit')), offset: query.get('offset') ?? '', prefix };
}

/** `?read_only=1` (or `true`) asks `/login` for a read-only session. */
export function readOnlyRequested(query: URLSearchParams): boolean {
  const value = (query.get('read_only') ?? '').toLowerCase();
  return value === '1' || value === 'true';
}
