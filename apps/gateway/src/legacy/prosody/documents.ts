import { isUtf8 } from 'node:buffer';
import { invalid } from '@rosetta/core';
import type { Record as RecordMessage } from '@rosetta/proto';
import { decodeJson, encodeJson } from './json-codec';
import { parseLua, serializeLua, storedForm } from './lua-codec';
import { CodecError, LuaTable, luaToString, type LuaValue } from './lua-value';
import { MEDIA_TYPES } from './negotiate';
import type { DataFormat } from './paths';

/** What a stored value is: its bytes and the content type /v1 readers see. */
export interface StoredEntry {
  readonly value: Buffer;
  readonly contentType: string;
}

/**
 * A PUT/POST body as the module decodes it (spec §5): by its Content-Type, compared exactly
 * (`application/json` or `text/x-lua`, no parameters). Anything else, an undecodable body, and a
 * body meaning nil or false are 400. The value is returned as storage keeps it: reading back
 * a stored value gives this form (integral floats as integers and so on).
 */
export function decodeUpload(contentType: string | undefined, body: Buffer): LuaValue {
  let value: LuaValue | undefined;
  try {
    if (contentType === MEDIA_TYPES.json) value = decodeJson(body);
    else if (contentType === MEDIA_TYPES.lua) value = parseLua(body);
    else throw invalid('INVALID_ARGUMENT', 'Content-Type must be exactly application/json or text/x-lua');
  } catch (error) {
    if (error instanceof CodecError) throw invalid('INVALID_ARGUMENT', `the body does not decode: ${error.message}`);
    throw error;
  }
  if (value === undefined || value === false) throw invalid('INVALID_ARGUMENT', 'the body is nil or false');
  return storedForm(value);
}

/** Whether a document is an empty table: Prosody deletes the file instead of keeping it. */
export const isEmptyTable = (value: LuaValue): boolean => value instanceof LuaTable && value.size === 0;

/** Whether a float survives Prosody's JSON: written with 14 digits, read back by `strtod`. */
const isFaithfulFloat = (x: number): boolean => Number.isFinite(x) && Number(luaToString(x)) === x;

/**
 * Whether Prosody's JSON of a value decodes back to the same value, strings aside: every float
 * (value or key) survives its 14-digit form, and no table is used as a key (it would come back
 * as a different table). Integers, booleans, string keys (`__array` and `__hash` included) and
 * the split of a table into members, `__hash` and `__array` all come back as they were.
 */
function isFaithfulShape(value: LuaValue): boolean {
  if (typeof value === 'number') return isFaithfulFloat(value);
  if (!(value instanceof LuaTable)) return true;
  for (const [key, item] of value.entries()) {
    if (key instanceof LuaTable || (typeof key === 'number' && !isFaithfulFloat(key))) return false;
    if (!isFaithfulShape(item)) return false;
  }
  return true;
}

/**
 * The value's Prosody JSON when that is standard JSON that decodes back to the very same value:
 * UTF-8 throughout (every string and key is in the text), no inf or NaN, no precision lost;
 * undefined otherwise. Checked on the value rather than by decoding the text again, which
 * would double the cost of every write.
 */
function faithfulJson(value: LuaValue): Buffer | undefined {
  if (!isFaithfulShape(value)) return undefined;
  const json = encodeJson(value);
  return isUtf8(json) ? json : undefined;
}

/**
 * How a value is stored: as Prosody JSON (`application/json`) whenever that keeps it exactly, so
 * /v1 readers mostly see JSON, otherwise as Prosody's Lua text (`text/x-lua`), which keeps every
 * value. Either way a GET in the stored format copies the bytes.
 */
export function storedEntry(value: LuaValue): StoredEntry {
  const json = faithfulJson(value);
  return json === undefined
    ? { value: serializeLua(value), contentType: MEDIA_TYPES.lua }
    : { value: json, contentType: MEDIA_TYPES.json };
}

const bytesOf = (record: RecordMessage): Buffer =>
  Buffer.from(record.value.buffer, record.value.byteOffset, record.value.byteLength);

const essence = (contentType: string): string => (contentType.split(';', 1)[0] ?? '').trim().toLowerCase();

/**
 * What a stored record means: its JSON or Lua text decoded by its content type (and taken as
 * storage keeps it). A record written through /v1 with any other type, or one that does not
 * decode to a value other than nil and false, is the byte string of its value.
 */
export function storedValue(record: RecordMessage): LuaValue {
  const bytes = bytesOf(record);
  const type = essence(record.contentType);
  let value: LuaValue | undefined;
  try {
    if (type === MEDIA_TYPES.json) value = decodeJson(bytes);
    else if (type === MEDIA_TYPES.lua) value = parseLua(bytes);
  } catch (error) {
    if (!(error instanceof CodecError)) throw error;
  }
  return value === undefined || value === false ? bytes.toString('latin1') : storedForm(value);
}

/** A value in a format: Prosody's JSON encoder or its Lua writer. */
export const encodeAs = (format: DataFormat, value: LuaValue): Buffer =>
  format === 'json' ? encodeJson(value) : serializeLua(value);

/**
 * A stored record in a format: its bytes when it was stored in that very format (what every
 * record written through this dialect is), else decoded and encoded again.
 */
export function render(record: RecordMessage, format: DataFormat): Buffer {
  return record.contentType === MEDIA_TYPES[format] ? bytesOf(record) : encodeAs(format, storedValue(record));
}

/** How a list is framed around its items in each format. */
export interface ListFraming {
  readonly open: string;
  readonly separator: string;
  readonly close: string;
  /** An item's text as it appears inside the list. */
  item(record: RecordMessage): Buffer;
}

/**
 * The list of a store as Prosody encodes the table `{item1, item2, …}`: a JSON array, or a Lua
 * table one level deep, where each item is its own text with one more tab after every newline
 * (the writer's only newlines are its indentation: strings escape theirs).
 */
export const LIST_FRAMING: Readonly<Record<DataFormat, ListFraming>> = {
  json: { open: '[', separator: ',', close: ']', item: (record) => render(record, 'json') },
  lua: {
    open: '{\n\t',
    separator: ';\n\t',
    close: ';\n}',
    item: (record) => Buffer.from(render(record, 'lua').toString('latin1').replaceAll('\n', '\n\t'), 'latin1'),
  },
};
