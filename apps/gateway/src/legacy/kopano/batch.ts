import { invalid, MAX_BATCH_ENTRIES } from '@rosetta/core';
import { isJsonTyped } from './envelope';
import { decodeString, JsonSyntaxError, scanString, skipSpace, skipValue } from './json-scan';

/**
 * The body of `PUT …?batch=1`: a JSON array of `{"key", "value", "content_type"}`, read as the
 * original's Go code reads it (encoding/json into a struct: field names matched
 * case-insensitively, unknown fields ignored, the last duplicate field wins, `null` for a
 * string changes nothing, anything after the first JSON value ignored). Every refusal is one
 * INVALID_ARGUMENT (the dialect's 400), raised before anything is written.
 */

/** One write of a batch, ready for BatchPut. */
export interface BatchEntry {
  readonly key: string;
  readonly value: Uint8Array;
  readonly contentType: string;
}

/** Largest batch body: the original's 16 KiB × 500. */
export const MAX_BATCH_BODY_BYTES = 8_192_000;

const QUOTE = 0x22;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const COMMA = 0x2c;
const COLON = 0x3a;
const NULL = Buffer.from('null');

const refused = (why: string) => invalid('INVALID_ARGUMENT', `batch refused: ${why}`);

/** An entry as decoded; fields the body did not set are undefined. */
interface RawEntry {
  key: string | undefined;
  /** The value's JSON text, exactly as sent. */
  value: Uint8Array | undefined;
  contentType: string;
}

type Field = 'key' | 'value' | 'content_type';
const FIELDS: readonly Field[] = ['key', 'value', 'content_type'];

/**
 * The struct field a JSON member name fills, matched as Go's encoding/json does: exactly, or
 * case-insensitively with the Kelvin sign (U+212A) folding to `k` and the long s (U+017F) to `s`.
 */
export function fieldOf(name: string): Field | undefined {
  const folded = name
    .replace(/[A-Z]/g, (c) => c.toLowerCase())
    .replace(/\u212a/g, 'k')
    .replace(/\u017f/g, 's');
  return FIELDS.find((field) => field === folded);
}

function isNull(bytes: Uint8Array, start: number, end: number): boolean {
  return end - start === 4 && NULL.equals(bytes.subarray(start, end));
}

/** A string member's text; a non-string is Go's UnmarshalTypeError. */
function stringAt(bytes: Uint8Array, start: number, end: number, field: string): string {
  if (bytes[start] !== QUOTE) throw refused(`"${field}" must be a string`);
  return decodeString(bytes, start, end);
}

/** Reads one `{…}` element starting at `pos`; returns it and the position after it. */
function readEntry(bytes: Uint8Array, pos: number): [RawEntry, number] {
  const entry: RawEntry = { key: undefined, value: undefined, contentType: '' };
  if (bytes[pos] !== OPEN_BRACE) throw refused('every element must be an object');
  pos = skipSpace(bytes, pos + 1);
  if (bytes[pos] === CLOSE_BRACE) return [entry, pos + 1];
  for (;;) {
    const nameEnd = scanString(bytes, pos);
    const field = fieldOf(decodeString(bytes, pos, nameEnd));
    pos = skipSpace(bytes, nameEnd);
    if (bytes[pos] !== COLON) throw new JsonSyntaxError(pos);
    const start = skipSpace(bytes, pos + 1);
    const end = skipValue(bytes, start);
    const nullValue = isNull(bytes, start, end);
    if (field === 'key') entry.key = nullValue ? undefined : stringAt(bytes, start, end, field);
    else if (field === 'content_type' && !nullValue) entry.contentType = stringAt(bytes, start, end, field);
    else if (field === 'value') entry.value = bytes.subarray(start, end);
    pos = skipSpace(bytes, end);
    if (bytes[pos] === CLOSE_BRACE) return [entry, pos + 1];
    if (bytes[pos] !== COMMA) throw new JsonSyntaxError(pos);
    pos = skipSpace(bytes, pos + 1);
  }
}

/** The elements of the body's first JSON value: an array of objects, or `null` (no elements). */
function readEntries(body: Uint8Array): RawEntry[] {
  let pos = skipSpace(body, 0);
  if (body[pos] === undefined) throw refused('the body is empty');
  if (body[pos] !== OPEN_BRACKET) {
    const end = skipValue(body, pos);
    if (isNull(body, pos, end)) return [];
    throw refused('the body must be a JSON array');
  }
  const entries: RawEntry[] = [];
  pos = skipSpace(body, pos + 1);
  if (body[pos] === CLOSE_BRACKET) return entries;
  for (;;) {
    const [entry, end] = readEntry(body, pos);
    entries.push(entry);
    pos = skipSpace(body, end);
    if (body[pos] === CLOSE_BRACKET) return entries;
    if (body[pos] !== COMMA) throw new JsonSyntaxError(pos);
    pos = skipSpace(body, pos + 1);
  }
}

/** Go's base64.StdEncoding: padding required, `\r` and `\n` skipped anywhere. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function decodeBase64(text: string): Uint8Array | undefined {
  const compact = text.replace(/[\r\n]/g, '');
  return BASE64.test(compact) ? Buffer.from(compact, 'base64') : undefined;
}

/**
 * A JSON-typed entry stores the value's JSON text as sent (not checked, as in the original);
 * any other value must be a JSON string of standard Base64, stored decoded.
 */
function valueOf(raw: RawEntry, storedKey: string): Uint8Array {
  if (isJsonTyped(raw.contentType)) return raw.value ?? new Uint8Array();
  const { value } = raw;
  const bytes =
    value !== undefined && value[0] === QUOTE ? decodeBase64(decodeString(value, 0, value.length)) : undefined;
  if (bytes === undefined) throw refused(`the value of "${storedKey}" is not a Base64 string`);
  return bytes;
}

/**
 * The writes of a batch body under `urlKey`: each entry's key becomes `<urlKey>/<key>`. Later
 * entries of the same key replace earlier ones (the original upserts them in turn; BatchPut
 * wants distinct keys). Refused: bad JSON, a non-array, an entry without a string key, a
 * non-JSON value that is not Base64, more than MAX_BATCH_ENTRIES distinct keys.
 */
export function parseBatch(body: Uint8Array, urlKey: string): BatchEntry[] {
  let raws: RawEntry[];
  try {
    raws = readEntries(body);
  } catch (error) {
    if (error instanceof JsonSyntaxError) throw refused(error.message);
    throw error;
  }
  const entries = new Map<string, BatchEntry>();
  for (const raw of raws) {
    if (raw.key === undefined) throw refused('every entry needs a string "key"');
    const key = `${urlKey}/${raw.key}`;
    entries.delete(key);
    entries.set(key, { key, value: valueOf(raw, key), contentType: raw.contentType });
  }
  if (entries.size > MAX_BATCH_ENTRIES) throw refused(`more than ${MAX_BATCH_ENTRIES} keys`);
  return [...entries.values()];
}
