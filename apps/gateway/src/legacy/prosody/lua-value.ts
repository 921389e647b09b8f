/*
 * The values Prosody's `mod_data_access` stores, modelled on Lua 5.4, plus the few Lua number and
 * byte-string rules both codecs (JSON and Lua text) share.
 */

/**
 * A Lua 5.4 value as Prosody stores it. Integers are bigint (Lua integer subtype, int64), floats are number,
 * strings are BYTE strings: a JS string whose every char code is 0..255 (one char per byte, 'latin1').
 * There is no nil value: a missing value is `undefined`.
 */
export type LuaValue = boolean | bigint | number | string | LuaTable;

/** A table key: never nil, never NaN; integral floats that fit int64 are normalised to bigint, as Lua does. */
export type LuaKey = boolean | bigint | number | string | LuaTable;

/** Every decode failure throws this, so the routes can answer 400 for it and 500 for anything else. */
export class CodecError extends Error {
  override name = 'CodecError';
}

/**
 * The deepest table nesting Prosody's writer accepts (the top-level table is depth 1). Our decoders refuse
 * deeper documents, so a decoded value can always be stored.
 */
export const MAX_DEPTH = 127;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const TWO_POW_63 = 2 ** 63;

/**
 * Lua's key normalisation: a float key with an integral value that fits int64 becomes that integer (so
 * `t[2.0]` is `t[2]`), and NaN cannot be a key ("table index is NaN" in Lua, a CodecError here).
 */
function normalizeKey(key: LuaKey): LuaKey {
  if (typeof key !== 'number') return key;
  if (Number.isNaN(key)) throw new CodecError('table index is NaN');
  return Number.isInteger(key) && key >= -TWO_POW_63 && key < TWO_POW_63 ? BigInt(key) : key;
}

/**
 * A Lua table. Keys compare like Lua keys: numbers and strings by value, tables by identity.
 *
 * Like Lua, it keeps an array part for the keys 1..k (always all present), so sequences cost no hashing, and a
 * hash part for every other key, in insertion order (Prosody's order is undefined; ours is deterministic). Only
 * appending key k+1 grows the array part, and removing a key inside it moves the keys after it to the hash part
 * (where they count as inserted then), so any sequence of operations stays linear.
 */
export class LuaTable {
  private items: LuaValue[] = [];
  /** Created on first use: JSON `null`s and sequences need none. */
  private hash: Map<LuaKey, LuaValue> | undefined;

  get(key: LuaKey): LuaValue | undefined {
    if (typeof key === 'number' && Number.isNaN(key)) return undefined;
    const normalized = normalizeKey(key);
    const index = this.arrayIndex(normalized);
    return index !== undefined && index < this.items.length ? this.items[index] : this.hash?.get(normalized);
  }

  /** Assigning undefined (nil) removes the entry, as in Lua. */
  set(key: LuaKey, value: LuaValue | undefined): void {
    const normalized = normalizeKey(key);
    const index = this.arrayIndex(normalized);
    if (index !== undefined && index < this.items.length) this.setItem(index, value);
    else if (index === this.items.length && value !== undefined && !this.hash?.has(normalized)) this.items.push(value);
    else if (value === undefined) this.hash?.delete(normalized);
    else (this.hash ??= new Map()).set(normalized, value);
  }

  get size(): number {
    return this.items.length + (this.hash?.size ?? 0);
  }

  /** Entries in Lua `next()` order as Prosody's writer sees it: positional 1..n first, in order, then the rest in insertion order. */
  *entries(): IterableIterator<[LuaKey, LuaValue]> {
    const length = this.sequenceLength();
    for (let index = 0; index < this.items.length; index++) {
      yield [BigInt(index + 1), this.items[index] as LuaValue];
    }
    for (let key = BigInt(this.items.length + 1); key <= BigInt(length); key++) {
      yield [key, this.hash?.get(key) as LuaValue];
    }
    for (const entry of this.hash ?? []) {
      if (!isPositional(entry[0], length)) yield entry;
    }
  }

  /** n such that 1..n are all present (the positional part). */
  sequenceLength(): number {
    let length = this.items.length;
    while (this.hash?.has(BigInt(length + 1))) length++;
    return length;
  }

  static fromArray(items: LuaValue[]): LuaTable {
    const table = new LuaTable();
    table.items = items.slice();
    return table;
  }

  /** The array-part index of a key in 1..(array length + 1), else undefined. */
  private arrayIndex(key: LuaKey): number | undefined {
    return typeof key === 'bigint' && key >= 1n && key <= BigInt(this.items.length + 1) ? Number(key) - 1 : undefined;
  }

  /** Sets or removes an array-part key; removing one moves the keys after it to the hash part. */
  private setItem(index: number, value: LuaValue | undefined): void {
    if (value !== undefined) {
      this.items[index] = value;
      return;
    }
    const moved = this.items.splice(index).slice(1);
    moved.forEach((item, offset) => (this.hash ??= new Map()).set(BigInt(index + offset + 2), item));
  }
}

/** Whether a key is one of 1..length, i.e. written without a key by Prosody's writer. */
export function isPositional(key: LuaKey, length: number): boolean {
  return typeof key === 'bigint' && key >= 1n && key <= BigInt(length);
}

// ---------------------------------------------------------------------------------------------------------------
// Numbers

/**
 * Lua's `tonumber` on a string without surrounding spaces (`luaO_str2num`): an optional sign, then a decimal or
 * hexadecimal integer (an integer when it fits: decimal overflow falls back to a float, hex wraps modulo 2^64)
 * or float (decimal or hex, `inf`/`nan` refused). Undefined when the text is not a number. Linear in the text
 * (no backtracking regular expressions: the caller allows 10 MiB bodies).
 */
export function luaToNumber(text: string): bigint | number | undefined {
  let index = 0;
  let negative = false;
  if (text[0] === '-' || text[0] === '+') {
    negative = text[0] === '-';
    index = 1;
  }
  const hex = text[index] === '0' && (text[index + 1] === 'x' || text[index + 1] === 'X');
  const numeral = scanNumeral(text, hex ? index + 2 : index, hex);
  if (numeral === undefined) return undefined;
  if (numeral.fraction === undefined && numeral.exponent === undefined) {
    return hex ? hexInteger(numeral.whole, negative) : decimalInteger(text.slice(index), negative);
  }
  if (hex) return signed(hexFloat(numeral), negative);
  return signed(Number(text.slice(index)), negative);
}

interface Numeral {
  whole: string;
  fraction: string | undefined;
  exponent: string | undefined;
}

/**
 * Splits `digits [. digits] [exp [sign] decimal-digits]` (at least one mantissa digit, nothing left over) as C's
 * `strtod` and Lua's integer reader accept it; the exponent mark is `e` for decimal and `p` for hex.
 */
function scanNumeral(text: string, start: number, hex: boolean): Numeral | undefined {
  const isDigit = hex ? isHexDigit : isDecimalDigit;
  let index = start;
  while (index < text.length && isDigit(text.charCodeAt(index))) index++;
  const whole = text.slice(start, index);
  let fraction: string | undefined;
  if (text[index] === '.') {
    const fractionStart = ++index;
    while (index < text.length && isDigit(text.charCodeAt(index))) index++;
    fraction = text.slice(fractionStart, index);
  }
  if (whole === '' && (fraction === undefined || fraction === '')) return undefined;
  let exponent: string | undefined;
  const mark = text[index]?.toLowerCase();
  if (mark === (hex ? 'p' : 'e')) {
    const exponentStart = ++index;
    if (text[index] === '+' || text[index] === '-') index++;
    const digitsStart = index;
    while (index < text.length && isDecimalDigit(text.charCodeAt(index))) index++;
    if (index === digitsStart) return undefined;
    exponent = text.slice(exponentStart, index);
  }
  return index === text.length ? { whole, fraction, exponent } : undefined;
}

function isDecimalDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

function isHexDigit(code: number): boolean {
  return isDecimalDigit(code) || (code >= 0x41 && code <= 0x46) || (code >= 0x61 && code <= 0x66);
}

function signed(value: number, negative: boolean): number {
  return negative ? -value : value;
}

/** Decimal digits: an integer if the value fits int64 (with its sign), else the float `strtod` gives. */
function decimalInteger(digits: string, negative: boolean): bigint | number {
  if (digits.length <= 18) return BigInt(negative ? `-${digits}` : digits);
  const significant = digits.replace(/^0+/, '');
  if (significant.length <= 19) {
    const magnitude = BigInt(significant === '' ? '0' : significant);
    const value = negative ? -magnitude : magnitude;
    if (value >= INT64_MIN && value <= INT64_MAX) return value;
  }
  return signed(Number(digits), negative);
}

/** Hex integers wrap modulo 2^64, so only the last 16 digits matter. */
function hexInteger(digits: string, negative: boolean): bigint {
  const value = BigInt.asIntN(64, BigInt(`0x${digits.slice(-16)}`));
  return negative ? BigInt.asIntN(64, -value) : value;
}

/** Mantissa digits kept for rounding a hex float; 128 bits and a sticky digit decide any double exactly. */
const HEX_MANTISSA_DIGITS = 32;

/** A hex float (`0x1p4`, `0x.8`, `0xA.8p-1`), rounded to the nearest double like glibc's `strtod`. */
function hexFloat(numeral: Numeral): number {
  let digits = (numeral.whole + (numeral.fraction ?? '')).replace(/^0+/, '');
  let binaryExponent = clampedExponent(numeral.exponent) - 4 * (numeral.fraction?.length ?? 0);
  if (digits === '') return 0;
  if (digits.length > HEX_MANTISSA_DIGITS) {
    const dropped = digits.slice(HEX_MANTISSA_DIGITS);
    binaryExponent += 4 * (dropped.length - 1);
    digits = digits.slice(0, HEX_MANTISSA_DIGITS) + (/[^0]/.test(dropped) ? '1' : '0');
  }
  return scaleByPowerOfTwo(BigInt(`0x${digits}`), binaryExponent);
}

/** The exponent of a hex float, capped at ±1e10 (far past infinity or zero) so a long one costs nothing. */
function clampedExponent(exponent: string | undefined): number {
  if (exponent === undefined) return 0;
  const digits = exponent.replace(/^[+-]?0*/, '');
  const magnitude = digits.length > 10 ? 1e10 : Number(digits);
  return exponent.startsWith('-') ? -magnitude : magnitude;
}

/** mantissa × 2^exponent rounded to the nearest double, ties to even (subnormals included). */
function scaleByPowerOfTwo(mantissa: bigint, exponent: number): number {
  const bits = mantissa.toString(2).length;
  const topExponent = bits - 1 + exponent;
  if (topExponent > 1023) return Infinity;
  const precision = topExponent >= -1022 ? 53 : topExponent + 1075;
  if (precision < 0) return 0;
  const drop = bits - precision;
  let kept: bigint;
  if (drop > 0) {
    kept = mantissa >> BigInt(drop);
    const remainder = mantissa - (kept << BigInt(drop));
    const half = 1n << BigInt(drop - 1);
    if (remainder > half || (remainder === half && (kept & 1n) === 1n)) kept++;
  } else {
    kept = mantissa << BigInt(-drop);
  }
  return Number(kept) * 2 ** (exponent + drop);
}

/**
 * C's `printf("%.<precision>g", x)` for a finite double, digit for digit with glibc: the exact binary value is
 * rounded half-to-even (JS's toPrecision rounds ties up, so it is not used).
 */
export function formatG(x: number, precision: number): string {
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const sign = x < 0 ? '-' : '';
  const exact = exactDecimal(Math.abs(x));
  const { digits, exponent } = roundToDigits(exact.digits, exact.exponent, precision);
  if (exponent < -4 || exponent >= precision) {
    const fraction = digits.slice(1).replace(/0+$/, '');
    const exponentText = String(Math.abs(exponent)).padStart(2, '0');
    return `${sign}${digits[0]}${fraction ? `.${fraction}` : ''}e${exponent < 0 ? '-' : '+'}${exponentText}`;
  }
  const padded = exponent < 0 ? '0'.repeat(-exponent) + digits : digits;
  const pointAt = Math.max(exponent, 0) + 1;
  const fraction = padded.slice(pointAt).replace(/0+$/, '');
  return `${sign}${padded.slice(0, pointAt)}${fraction ? `.${fraction}` : ''}`;
}

/** All decimal digits of a positive double, and the power of ten of the first one. */
function exactDecimal(x: number): { digits: string; exponent: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const high = view.getUint32(0);
  const biasedExponent = (high >>> 20) & 0x7ff;
  let mantissa = (BigInt(high & 0xfffff) << 32n) | BigInt(view.getUint32(4));
  let binaryExponent = -1074;
  if (biasedExponent !== 0) {
    mantissa |= 1n << 52n;
    binaryExponent = biasedExponent - 1075;
  }
  if (binaryExponent >= 0) {
    const digits = (mantissa << BigInt(binaryExponent)).toString();
    return { digits, exponent: digits.length - 1 };
  }
  // mantissa / 2^k = mantissa * 5^k / 10^k
  const digits = (mantissa * 5n ** BigInt(-binaryExponent)).toString();
  return { digits, exponent: digits.length - 1 + binaryExponent };
}

/** Rounds a digit string to `precision` significant digits, half to even; a carry moves the exponent up. */
function roundToDigits(digits: string, exponent: number, precision: number): { digits: string; exponent: number } {
  if (digits.length <= precision) return { digits: digits.padEnd(precision, '0'), exponent };
  const head = digits.slice(0, precision);
  const next = digits.charCodeAt(precision) - 0x30;
  const tie = next === 5 && !/[1-9]/.test(digits.slice(precision + 1));
  const odd = (head.charCodeAt(precision - 1) - 0x30) % 2 === 1;
  if (next < 5 || (tie && !odd)) return { digits: head, exponent };
  const rounded = (BigInt(head) + 1n).toString();
  return rounded.length > precision
    ? { digits: rounded.slice(0, precision), exponent: exponent + 1 }
    : { digits: rounded, exponent };
}

/**
 * Lua 5.4's `tostring` for numbers (what Prosody's JSON encoder writes): integers in decimal, floats as `%.14g`
 * with `.0` appended when the result looks integral. NaN is written `-nan`: the only NaN stored data can hold
 * comes from reading `(0/0)`, which x86-64 computes as the negative default NaN and glibc prints as `-nan`.
 */
export function luaToString(value: bigint | number): string {
  if (typeof value === 'bigint') return value.toString();
  if (Number.isNaN(value)) return '-nan';
  if (value === Infinity) return 'inf';
  if (value === -Infinity) return '-inf';
  const text = formatG(value, 14);
  return /^[-0-9]+$/.test(text) ? `${text}.0` : text;
}

// ---------------------------------------------------------------------------------------------------------------
// Byte strings

/**
 * The bytes (as a byte string) Lua's `utf8esc` writes for a code point up to 0x7FFFFFFF: standard UTF-8 up to
 * U+10FFFF, the old 5- and 6-byte forms above, and no check for surrogates.
 */
export function utf8Bytes(codePoint: number): string {
  if (codePoint < 0x80) return String.fromCharCode(codePoint);
  const continuation: number[] = [];
  let rest = codePoint;
  let firstByteRoom = 0x3f;
  do {
    continuation.unshift(0x80 | (rest & 0x3f));
    rest = Math.floor(rest / 64);
    firstByteRoom >>= 1;
  } while (rest > firstByteRoom);
  const first = ((~firstByteRoom << 1) | rest) & 0xff;
  return String.fromCharCode(first, ...continuation);
}

/** Writers refuse a string that is not a byte string instead of silently truncating it to Latin-1. */
export function assertByteString(text: string): void {
  if (/[\u0100-\uffff]/.test(text)) throw new Error('not a byte string: a character above 0xFF');
}
