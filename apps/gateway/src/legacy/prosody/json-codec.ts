import {
  assertByteString,
  CodecError,
  isPositional,
  type LuaKey,
  LuaTable,
  luaToNumber,
  luaToString,
  type LuaValue,
  MAX_DEPTH,
  utf8Bytes,
} from './lua-value';

/**
 * Prosody 0.12's `util.json`, as `mod_data_access` uses it (spec §9), over byte strings: the body's bytes are
 * read one char per byte, so UTF-8 text becomes its UTF-8 bytes and invalid UTF-8 passes through unchecked,
 * as in Prosody.
 *
 * Decisions where we differ from Prosody on purpose:
 * - `null` decodes to a fresh empty table each time. Prosody uses one shared sentinel table, which its
 *   storage writer refuses to store twice (a raw 500); we accept any number of nulls, and each one reads back
 *   as `{}` as a single null does in Prosody. A top-level `null` is an empty table too ("nothing stored").
 * - Documents nested deeper than 127 arrays/objects are refused: Prosody could not store them anyway.
 * - A `__array` or `__hash` member holding a number or a boolean `true` is refused; Prosody's `ipairs` on it
 *   raises a Lua error (raw 500).
 */
export function decodeJson(body: Buffer): LuaValue {
  const reader = new JsonReader(body.toString('latin1'));
  const value = reader.readValue(0);
  reader.expectEnd();
  return value;
}

const WHITESPACE = new Set([0x20, 0x09, 0x0d, 0x0a]);

/** Characters Prosody's number reader takes as one run before handing it to Lua's `tonumber`. */
const NUMBER_RUN = /[0-9.eE+-]+/y;

/** `\x` for the escapes Prosody decodes to one byte; `u` is handled apart, anything else is kept verbatim. */
const SIMPLE_UNESCAPES: ReadonlyMap<string, string> = new Map([
  ['"', '"'],
  ['\\', '\\'],
  ['/', '/'],
  ['b', '\b'],
  ['f', '\f'],
  ['n', '\n'],
  ['r', '\r'],
  ['t', '\t'],
]);

/** A recursive-descent reader with Prosody's leniencies, capped at MAX_DEPTH so it cannot overflow the stack. */
class JsonReader {
  private position = 0;

  constructor(private readonly text: string) {}

  readValue(depth: number): LuaValue {
    this.skipWhitespace();
    const char = this.text[this.position];
    switch (char) {
      case '{':
        return this.readObject(depth + 1);
      case '[':
        return this.readArray(depth + 1);
      case '"':
        return this.readString();
      case 'n':
        this.readWord('null');
        return new LuaTable();
      case 't':
        this.readWord('true');
        return true;
      case 'f':
        this.readWord('false');
        return false;
      default:
        if (char === '-' || (char !== undefined && char >= '0' && char <= '9')) return this.readNumber();
        throw new CodecError('JSON: value expected');
    }
  }

  expectEnd(): void {
    this.skipWhitespace();
    if (this.position < this.text.length) throw new CodecError('JSON: garbage at end of document');
  }

  /**
   * An object. A trailing comma is accepted (`{"a":1,}`), and then, as in Prosody, the `__array`/`__hash`
   * members are NOT folded: Prosody returns such an object before its fix-up step.
   */
  private readObject(depth: number): LuaTable {
    this.checkDepth(depth);
    const table = new LuaTable();
    this.position++;
    for (;;) {
      this.skipWhitespace();
      if (this.text[this.position] === '}') {
        this.position++;
        return table;
      }
      if (this.text[this.position] !== '"') throw new CodecError('JSON: object key expected');
      const key = this.readString();
      this.skipWhitespace();
      if (this.text[this.position] !== ':') throw new CodecError('JSON: colon expected');
      this.position++;
      table.set(key, this.readValue(depth));
      this.skipWhitespace();
      const next = this.text[this.position++];
      if (next === '}') return foldMagicMembers(table);
      if (next !== ',') throw new CodecError('JSON: comma or end of object expected');
    }
  }

  /** An array: `[]` and `[ ]` are empty, a trailing comma is refused. */
  private readArray(depth: number): LuaTable {
    this.checkDepth(depth);
    const items: LuaValue[] = [];
    this.position++;
    this.skipWhitespace();
    if (this.text[this.position] === ']') {
      this.position++;
      return new LuaTable();
    }
    for (;;) {
      items.push(this.readValue(depth));
      this.skipWhitespace();
      const next = this.text[this.position++];
      if (next === ']') return LuaTable.fromArray(items);
      if (next !== ',') throw new CodecError('JSON: comma or end of array expected');
    }
  }

  /**
   * A string, ending at the first unescaped `"`. Escapes as in Prosody: the JSON ones, `\uXXXX` as UTF-8
   * (surrogate pairs combined, a lone surrogate refused), and an unknown escape such as `\x` kept as is.
   * Raw control characters are accepted.
   */
  private readString(): string {
    const { text } = this;
    const parts: string[] = [];
    let index = this.position + 1;
    let runStart = index;
    for (;;) {
      const code = text.charCodeAt(index);
      if (Number.isNaN(code)) throw new CodecError('JSON: unterminated string');
      if (code === 0x22) break;
      if (code !== 0x5c) {
        index++;
        continue;
      }
      const escape = text[index + 1];
      if (escape === undefined) throw new CodecError('JSON: unterminated string');
      const simple = SIMPLE_UNESCAPES.get(escape);
      if (simple === undefined && escape !== 'u') {
        index += 2; // an unknown escape stays in the text as it is
        continue;
      }
      parts.push(text.slice(runStart, index));
      if (simple === undefined) {
        const { bytes, length } = readUnicodeEscape(text, index);
        parts.push(bytes);
        index += length;
      } else {
        parts.push(simple);
        index += 2;
      }
      runStart = index;
    }
    parts.push(text.slice(runStart, index));
    this.position = index + 1;
    return parts.join('');
  }

  /** The longest run of number characters, converted by Lua's `tonumber` (so `1-2` is refused). */
  private readNumber(): bigint | number {
    NUMBER_RUN.lastIndex = this.position;
    const run = NUMBER_RUN.exec(this.text)?.[0] ?? '';
    const value = luaToNumber(run);
    if (value === undefined) throw new CodecError(`JSON: invalid number`);
    this.position += run.length;
    return value;
  }

  private readWord(word: string): void {
    if (!this.text.startsWith(word, this.position)) throw new CodecError(`JSON: ${word} expected`);
    this.position += word.length;
  }

  private skipWhitespace(): void {
    while (WHITESPACE.has(this.text.charCodeAt(this.position))) this.position++;
  }

  private checkDepth(depth: number): void {
    if (depth > MAX_DEPTH) throw new CodecError(`JSON: nested deeper than ${MAX_DEPTH} levels`);
  }
}

/** Reads `\uXXXX` (and a following low surrogate escape) at `index`; returns the UTF-8 bytes and the length read. */
function readUnicodeEscape(text: string, index: number): { bytes: string; length: number } {
  const unit = hexUnit(text, index);
  if (unit === undefined) throw new CodecError('JSON: invalid \\u escape');
  if (unit >= 0xd800 && unit <= 0xdbff) {
    const low = hexUnit(text, index + 6);
    if (low !== undefined && low >= 0xdc00 && low <= 0xdfff) {
      return { bytes: utf8Bytes(0x10000 + (unit - 0xd800) * 0x400 + (low - 0xdc00)), length: 12 };
    }
  }
  if (unit >= 0xd800 && unit <= 0xdfff) throw new CodecError('JSON: lone surrogate in \\u escape');
  return { bytes: utf8Bytes(unit), length: 6 };
}

/** The code unit of `\uXXXX` at `index` (exactly four hex digits), or undefined. */
function hexUnit(text: string, index: number): number | undefined {
  if (text[index] !== '\\' || text[index + 1] !== 'u') return undefined;
  const digits = text.slice(index + 2, index + 6);
  return /^[0-9a-fA-F]{4}$/.test(digits) ? parseInt(digits, 16) : undefined;
}

/**
 * Prosody's `_fixobject`: a truthy `__array` member is removed and its items appended as 1..n (the object has
 * no integer keys yet, so appending starts at 1); then a truthy `__hash` member is removed and read as
 * key, value, key, value… (an odd last key is dropped).
 */
function foldMagicMembers(table: LuaTable): LuaTable {
  const array = table.get('__array');
  if (array !== undefined && array !== false) {
    table.set('__array', undefined);
    luaIpairs(array).forEach((item, index) => table.set(BigInt(index + 1), item));
  }
  const hash = table.get('__hash');
  if (hash !== undefined && hash !== false) {
    table.set('__hash', undefined);
    let pendingKey: LuaKey | undefined;
    for (const item of luaIpairs(hash)) {
      if (pendingKey === undefined) {
        pendingKey = item;
      } else {
        table.set(pendingKey, item);
        pendingKey = undefined;
      }
    }
  }
  return table;
}

/** The values Lua's `ipairs` visits: a table's 1..n; none for a string (indexing one gives nil); else an error. */
function luaIpairs(value: LuaValue): LuaValue[] {
  if (typeof value === 'string') return [];
  if (!(value instanceof LuaTable)) throw new CodecError('JSON: __array and __hash must be arrays');
  const length = value.sequenceLength();
  const items: LuaValue[] = [];
  for (const [, item] of value.entries()) {
    if (items.length === length) break;
    items.push(item);
  }
  return items;
}

// ---------------------------------------------------------------------------------------------------------------
// Encoding

/**
 * Prosody's JSON encoder on a stored value (spec §9): compact; numbers as Lua's `tostring` writes them, so
 * `inf`, `-inf` and `-nan` come out as Prosody writes them even though they are not JSON; bytes ≥ 0x80 written
 * raw. Tables carry no array tags: only 1..n → array; empty → `{}`; otherwise an object with the string keys as
 * members, then the other keys as `"__hash":[k1,v1,…]`, then the items 1..n as `"__array":[…]`. Members and
 * `__hash` pairs come in insertion order (Prosody's order is undefined; ours is deterministic).
 *
 * String keys named `__array` and `__hash` go into `__hash`, as Prosody 0.12's `tablesave` does (its
 * `special_keys` only keep them out of the members), so they survive a round trip.
 */
export function encodeJson(value: LuaValue): Buffer {
  return Buffer.from(jsonText(value, 1), 'latin1');
}

/** Texts are built by concatenation, which V8 keeps as ropes: cheaper than joining millions of small pieces. */
function jsonText(value: LuaValue, depth: number): string {
  if (value instanceof LuaTable) return tableText(value, depth);
  if (typeof value === 'string') return stringText(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  return luaToString(value);
}

/** The depth check only guards against a cyclic table (which our decoders never build) looping forever. */
function tableText(table: LuaTable, depth: number): string {
  if (depth > MAX_DEPTH) throw new Error(`Cannot encode a table nested deeper than ${MAX_DEPTH} levels`);
  const length = table.sequenceLength();
  const items: LuaValue[] = [];
  const members: [string, LuaValue][] = [];
  const hash: [LuaKey, LuaValue][] = [];
  for (const [key, value] of table.entries()) {
    if (isPositional(key, length)) items.push(value);
    else if (typeof key === 'string' && key !== '__array' && key !== '__hash') members.push([key, value]);
    else hash.push([key, value]);
  }
  if (members.length === 0 && hash.length === 0 && items.length > 0) return arrayText(items, depth);
  const parts = members.map(([key, value]) => `${stringText(key)}:${jsonText(value, depth + 1)}`);
  if (hash.length > 0) parts.push(`"__hash":${arrayText(hash.flat(), depth)}`);
  if (items.length > 0) parts.push(`"__array":${arrayText(items, depth)}`);
  return `{${parts.join(',')}}`;
}

function arrayText(items: LuaValue[], depth: number): string {
  let text = '';
  items.forEach((item, index) => {
    text += `${index > 0 ? ',' : ''}${jsonText(item, depth + 1)}`;
  });
  return `[${text}]`;
}

const NAMED_ESCAPES: ReadonlyMap<string, string> = new Map([
  ['"', '\\"'],
  ['\\', '\\\\'],
  ['\b', '\\b'],
  ['\f', '\\f'],
  ['\n', '\\n'],
  ['\r', '\\r'],
  ['\t', '\\t'],
]);

/** `"` and `\` escaped, `\b \f \n \r \t` named, other control bytes as upper-case `\u00XX`, the rest raw. */
function stringText(text: string): string {
  assertByteString(text);
  const escaped = text.replace(
    // eslint-disable-next-line no-control-regex -- control bytes are what gets escaped
    /[\x00-\x1f"\\]/g,
    (char) => NAMED_ESCAPES.get(char) ?? `\\u${char.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`,
  );
  return `"${escaped}"`;
}
