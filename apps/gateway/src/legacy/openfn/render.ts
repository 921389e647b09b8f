import { formatMicros } from '@rosetta/core';

/** An item as OpenFn shows it. */
export interface Item {
  readonly key: string;
  /** Undefined in a keys-only listing (ours): the member is left out. */
  readonly value: string | undefined;
  /** Microseconds since the epoch, UTC. */
  readonly created: number;
  readonly updated: number;
}

/**
 * `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC, always 6 fractional digits) from microseconds since the epoch.
 * The safe integers (the years 1684–2255) are what `formatMicros` writes. Values past them are
 * split into milliseconds (for `Date`) and the remaining microseconds in BigInt, where it is
 * exact for any integral number.
 */
export function formatTimestamp(us: number): string {
  if (Number.isSafeInteger(us)) return formatMicros(us);
  if (!Number.isInteger(us)) throw new RangeError(`timestamp ${us} is not a whole number of microseconds`);
  const total = BigInt(us);
  let ms = total / 1000n;
  let rest = total % 1000n;
  if (rest < 0n) {
    ms -= 1n;
    rest += 1000n;
  }
  const date = new Date(Number(ms));
  const iso = Number.isNaN(date.getTime()) ? '' : date.toISOString();
  // Years outside 0000–9999 come out as `±YYYYYY-…`, which no OpenFn client reads.
  if (iso.length !== 24) throw new RangeError(`timestamp ${us} is outside the years 0000–9999`);
  return `${iso.slice(0, 23)}${String(rest).padStart(3, '0')}Z`;
}

/**
 * One item's JSON exactly as Lightning's Jason encoder writes it: keys sorted
 * (`{"created":…,"key":…,"updated":…,"value":…}`), no spaces, strings escaped as JSON.stringify does.
 */
export function itemJson(item: Item): string {
  return (
    `{"created":"${formatTimestamp(item.created)}","key":${JSON.stringify(item.key)},` +
    `"updated":"${formatTimestamp(item.updated)}"` +
    (item.value === undefined ? '}' : `,"value":${JSON.stringify(item.value)}}`)
  );
}

/** The streamed list's framing (§10): first chunk and last chunk around the comma-joined items. */
export const LIST_OPEN = '{"items": [';

export function listClose(cursor: string | null): string {
  return `], "cursor":${JSON.stringify(cursor)}}`;
}

/** Bodies of the error catalogue (§12), with keys sorted as Jason writes maps. */
export const UNAUTHORIZED = '{"error":"Unauthorized"}';
export const NOT_FOUND = '{"error":"Not Found"}';
export const BAD_REQUEST = '{"error":"Bad Request"}';
export const AMBIGUOUS =
  '{"error":"Multiple collections found with this name. Add ?project_id=<uuid> to disambiguate."}';

export function upserted(count: number, error: string | null): string {
  return `{"error":${JSON.stringify(error)},"upserted":${count}}`;
}

export function deleted(key: string | null, count: number, error: string | null): string {
  return `{"deleted":${count},"error":${JSON.stringify(error)},"key":${JSON.stringify(key)}}`;
}

export function errorBody(message: string): string {
  return `{"error":${JSON.stringify(message)}}`;
}
