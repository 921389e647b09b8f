import { parseGlob } from '@rosetta/core';
/** Thrown for every malformed list query; the dialect renders it as 400 {"error":"Bad Request"}. */
export class BadQuery extends Error {
  override readonly name = 'BadQuery';
}

export const DEFAULT_LIMIT = 1000;

export interface ListQuery {
  /** The OpenFn `key` pattern as given (undefined: every item). */
  readonly key: string | undefined;
  /** Items in this response; no maximum (any non-negative safe integer). */
  readonly limit: number;
  /** From `cursor`: list items whose creation sequence is greater than this (undefined: from the start). */
  readonly after: number | undefined;
  /** Microseconds since the epoch, UTC. `*After` inclusive, `*Before` exclusive (the caller applies them). */
  readonly createdAfter: number | undefined;
  readonly createdBefore: number | undefined;
  readonly updatedAfter: number | undefined;
  readonly updatedBefore: number | undefined;
  /** Lower-cased UUID from `project_id`, undefined when absent. */
  readonly projectId: string | undefined;
  /** Ours, not Lightning's: `keys_only=true` lists keys and times without values. */
  readonly keysOnly: boolean;
}

const LIST_PARAMETERS: ReadonlySet<string> = new Set([
  'key',
  'cursor',
  'limit',
  'created_after',
  'created_before',
  'updated_after',
  'updated_before',
  'project_id',
  'keys_only',
]);

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

/**
 * One name or value as Plug's `URI.decode_www_form` reads it: `+` is a space and escapes are
 * bytes of UTF-8. Plug refuses what does not decode, where URLSearchParams would guess.
 */
function decodeComponent(text: string): string {
  if (!text.isWellFormed()) throw new BadQuery('the query is not valid UTF-8');
  if (!text.includes('%')) return text.replaceAll('+', ' ');
  const bytes: number[] = [];
  let run = '';
  const flushRun = () => {
    for (const byte of utf8Encoder.encode(run)) bytes.push(byte);
    run = '';
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '%') {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw new BadQuery('malformed percent-escape in the query');
      flushRun();
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else {
      run += c === '+' ? ' ' : c;
    }
  }
  flushRun();
  try {
    return utf8.decode(new Uint8Array(bytes));
  } catch (error) {
    throw new BadQuery('the query is not valid UTF-8', { cause: error });
  }
}

/** Parameters by decoded name; a repeated name keeps its last value, as Plug does. */
function decodeQuery(rawQuery: string): Map<string, string> {
  const parameters = new Map<string, string>();
  for (const pair of rawQuery.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = decodeComponent(eq === -1 ? pair : pair.slice(0, eq));
    parameters.set(name, eq === -1 ? '' : decodeComponent(pair.slice(eq + 1)));
  }
  return parameters;
}

/** The parameter Plug files a bracketed name under (`key[]` and `key[a]` are both `key`). */
function rootOf(name: string): string {
  const open = name.indexOf('[');
  return name.endsWith(']') && open > 0 ? name.slice(0, open) : name;
}

const INTEGER = /^[+-]?[0-9]+$/;

/** Elixir's `Integer.parse` over the whole text, within the safe integers. */
function parseInteger(text: string, what: string): number {
  if (!INTEGER.test(text)) throw new BadQuery(`${what} is not an integer`);
  const value = BigInt(text);
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < -BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new BadQuery(`${what} is out of range`);
  }
  return Number(value);
}

function parseFlag(text: string): boolean {
  if (text !== 'true' && text !== 'false') throw new BadQuery('keys_only is true or false');
  return text === 'true';
}

function parseLimit(text: string): number {
  const limit = parseInteger(text, 'limit');
  // Lightning answers -1 like 0 and lower values with a 500; a 400 is the honest answer.
  if (limit < 0) throw new BadQuery('limit is negative');
  return limit;
}

/** Parses the raw query string (the part after `?`, may be ''), strictly, as §5.1 says. */
export function parseListQuery(rawQuery: string): ListQuery {
  const parameters = decodeQuery(rawQuery);
  for (const name of parameters.keys()) {
    if (!LIST_PARAMETERS.has(name)) throw new BadQuery(`unknown list parameter ${JSON.stringify(name)}`);
  }
  const optional = <T>(name: string, parse: (text: string) => T): T | undefined => {
    const text = parameters.get(name);
    return text === undefined ? undefined : parse(text);
  };
  return {
    key: parameters.get('key'),
    limit: optional('limit', parseLimit) ?? DEFAULT_LIMIT,
    after: optional('cursor', decodeCursor),
    createdAfter: optional('created_after', parseTimestamp),
    createdBefore: optional('created_before', parseTimestamp),
    updatedAfter: optional('updated_after', parseTimestamp),
    updatedBefore: optional('updated_before', parseTimestamp),
    projectId: optional('project_id', parseProjectId),
    keysOnly: optional('keys_only', parseFlag) ?? false,
  };
}

/**
 * The query of the routes other than the list (§5.2–§5.6): only `project_id` is read (and
 * validated: not a UUID → BadQuery) and `key` is returned raw (DELETE many uses it); everything
 * else is ignored, not validated.
 *
 * A bracketed `key[…]` or `project_id[…]` is refused rather than ignored: Plug gives Lightning a
 * list or map there, which it cannot use, whereas ignoring a bracketed `key` would turn a DELETE
 * meant for some items into one for all of them.
 */
export function parseLooseQuery(rawQuery: string): { projectId: string | undefined; key: string | undefined } {
  const parameters = decodeQuery(rawQuery);
  for (const name of parameters.keys()) {
    const root = rootOf(name);
    if (root !== name && (root === 'key' || root === 'project_id')) {
      throw new BadQuery(`${root} must be a single value`);
    }
  }
  const projectId = parameters.get('project_id');
  return { projectId: projectId === undefined ? undefined : parseProjectId(projectId), key: parameters.get('key') };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `project_id`: a hyphenated UUID (8-4-4-4-12 hex digits, either case) → lower-cased; else BadQuery. */
export function parseProjectId(text: string): string {
  if (!UUID.test(text)) throw new BadQuery('project_id is not a UUID');
  return text.toLowerCase();
}

/**
 * Elixir's `DateTime.from_iso8601` (extended format, years 0000–9999): a date, `T` or a space, a
 * time with an optional fraction, then a required offset.
 */
const TIMESTAMP =
  /^([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:[.,]([0-9]+))?(Z|([+-])([0-9]{2})(?::?([0-9]{2}))?)$/;

const isLeap = (year: number) => year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);

function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeap(year) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** ISO 8601 date-time WITH an offset → microseconds since the epoch; anything else → BadQuery. */
export function parseTimestamp(text: string): number {
  const match = TIMESTAMP.exec(text);
  if (match === null) throw new BadQuery('not an ISO 8601 date-time with an offset');
  const [, y, mo, d, h, mi, s, fraction = '', zone, sign, offsetHours = '0', offsetMinutes = '0'] = match;
  const [year, month, day, hour, minute, second] = [y, mo, d, h, mi, s].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) throw new BadQuery('no such date');
  if (hour > 23 || minute > 59 || second > 59) throw new BadQuery('no such time');
  // Elixir refuses `-00:00` (RFC 3339's "offset unknown") but takes `-0000` and `-00`.
  if (zone === '-00:00') throw new BadQuery('the offset -00:00 is not a known offset');
  const offsetH = Number(offsetHours);
  const offsetM = Number(offsetMinutes);
  if (offsetH > 23 || offsetM > 59) throw new BadQuery('no such offset');
  const offsetSeconds = (sign === '-' ? -1 : 1) * (offsetH * 3600 + offsetM * 60);
  // setUTCFullYear, unlike Date.UTC, does not read years 0–99 as 1900–1999.
  const midnight = new Date(0);
  midnight.setUTCFullYear(year, month - 1, day);
  const seconds = midnight.getTime() / 1000 + hour * 3600 + minute * 60 + second - offsetSeconds;
  // Microseconds after 2255 exceed the safe integers: the sum is exact in BigInt, then rounded once.
  return Number(BigInt(seconds) * 1_000_000n + BigInt(fraction.slice(0, 6).padEnd(6, '0')));
}

/** The OpenFn cursor of a position: standard Base64 (with padding) of the decimal integer. */
export function encodeCursor(sequence: number): string {
  if (!Number.isSafeInteger(sequence)) throw new RangeError(`cursor position ${sequence} is not a safe integer`);
  return Buffer.from(String(sequence), 'latin1').toString('base64');
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Inverse of encodeCursor; BadQuery when not strict padded standard Base64 or not a whole integer after decoding. */
export function decodeCursor(cursor: string): number {
  if (cursor === '' || !BASE64.test(cursor)) throw new BadQuery('cursor is not Base64');
  return parseInteger(Buffer.from(cursor, 'base64').toString('latin1'), 'cursor');
}

/**
 * An OpenFn key pattern as our glob (for parseGlob): `*` stays a wildcard; `_` becomes `?` (one
 * character) when `underscoreWildcard` (Lightning's quirk, §6), else a literal `_`; our own
 * special characters `?` and `\` are escaped so that they match themselves; everything else is
 * literal. Returns undefined for the empty pattern, which matches only the empty key — i.e.
 * nothing here (keys are never empty). A pattern past the store's limits (MAX_PATTERN_WILDCARDS,
 * MAX_PATTERN_BYTES) throws INVALID_PATTERN here, before a listing's answer has started.
 */
export function globOf(pattern: string, underscoreWildcard: boolean): string | undefined {
  if (pattern === '') return undefined;
  let glob = '';
  for (const c of pattern) {
    if (c === '?' || c === '\\') glob += `\\${c}`;
    else if (c === '_' && underscoreWildcard) glob += '?';
    else glob += c;
  }
  parseGlob(glob);
  return glob;
}
