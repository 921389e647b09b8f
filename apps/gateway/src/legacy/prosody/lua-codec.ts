import {
  assertByteString,
  CodecError,
  formatG,
  type LuaKey,
  LuaTable,
  luaToNumber,
  type LuaValue,
  MAX_DEPTH,
  utf8Bytes,
} from './lua-value';

// ---------------------------------------------------------------------------------------------------------------
// Writer: Prosody's `util.serialization` with default options (spec §10.1)

/**
 * The Lua text Prosody writes for a value (what `GET …/lua` returns and what its data files hold after `return `):
 * tab-indented tables with `;` after every item, positional items 1..n without keys, every other key in brackets
 * (`["name"] = `), strings escaped byte by byte, floats as `%.18g` and `(1/0)`, `(-1/0)`, `(0/0)`.
 * Non-positional entries come in insertion order (Prosody's order is undefined). Throws a plain Error, as Prosody
 * does, for a table nested deeper than 127 levels or appearing twice (our decoders build neither).
 */
export function serializeLua(value: LuaValue): Buffer {
  return Buffer.from(valueText(value, 1, new Set()), 'latin1');
}

/** Texts are built by concatenation, which V8 keeps as ropes: cheaper than joining millions of small pieces. */
function valueText(value: LuaValue, depth: number, seen: Set<LuaTable>): string {
  return value instanceof LuaTable ? tableText(value, depth, seen) : scalarText(value);
}

/**
 * `{`, then for each entry a newline, `depth` tabs, the key part (none for the next positional index), the value
 * and `;`; then a newline, `depth - 1` tabs and `}`. An empty table is `{}`.
 */
function tableText(table: LuaTable, depth: number, seen: Set<LuaTable>): string {
  enterTable(table, depth, seen);
  const itemStart = `\n${'\t'.repeat(depth)}`;
  let text = '{';
  let nextPositional = 1n;
  for (const [key, value] of table.entries()) {
    let keyPart = '';
    if (key === nextPositional) nextPositional++;
    else keyPart = `[${valueText(key, depth + 1, seen)}] = `;
    text += `${itemStart}${keyPart}${valueText(value, depth + 1, seen)};`;
  }
  return text === '{' ? '{}' : `${text}\n${'\t'.repeat(depth - 1)}}`;
}

/**
 * Prosody's writer marks every table it has written and refuses to see one again, and stops at 127 levels; both
 * also keep a cyclic value from looping forever.
 */
function enterTable(table: LuaTable, depth: number, seen: Set<LuaTable>): void {
  if (seen.has(table)) throw new Error("Can't serialize table: table has multiple references");
  if (depth > MAX_DEPTH) throw new Error("Can't serialize table: max table depth reached");
  seen.add(table);
}

function scalarText(value: boolean | bigint | number | string): string {
  if (typeof value === 'string') return quoteString(value);
  if (typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (Number.isNaN(value)) return '(0/0)';
  if (value === Infinity) return '(1/0)';
  if (value === -Infinity) return '(-1/0)';
  return formatG(value, 18);
}

/** The bytes with a two-character escape; other control bytes, DEL and bytes ≥ 0x80 get `\ddd`. */
const NAMED_STRING_ESCAPES: ReadonlyMap<string, string> = new Map([
  ['\x07', '\\a'],
  ['\b', '\\b'],
  ['\t', '\\t'],
  ['\n', '\\n'],
  ['\v', '\\v'],
  ['\f', '\\f'],
  ['\r', '\\r'],
  ['"', '\\"'],
  ["'", "\\'"],
  ['\\', '\\\\'],
]);

/** Byte by byte: the named escapes (the single quote too), else three decimal digits (`\027`, `\195\169`). */
function quoteString(text: string): string {
  assertByteString(text);
  const escaped = text.replace(
    // eslint-disable-next-line no-control-regex -- control bytes are what gets escaped
    /[\x00-\x1f"'\\\x7f-\xff]/g,
    (char) => NAMED_STRING_ESCAPES.get(char) ?? `\\${String(char.charCodeAt(0)).padStart(3, '0')}`,
  );
  return `"${escaped}"`;
}

/**
 * Prosody's storage round trip: what reading a stored value back gives (serialize, then parse), computed without
 * the text. Floats whose `%.18g` text looks integral (integral values below 1e18, and -0) come back as integers,
 * the integer -2^63 comes back as a float (Lua reads `-9223372036854775808` as minus a float literal), tables
 * are copied with their entries in the same order, and everything else is unchanged.
 */
export function storedForm(value: LuaValue): LuaValue {
  return storedValue(value, 1, new Set());
}

const INT64_MIN = -(2n ** 63n);

function storedValue(value: LuaValue, depth: number, seen: Set<LuaTable>): LuaValue {
  if (value instanceof LuaTable) return storedTable(value, depth, seen);
  if (typeof value === 'number') return storedFloat(value);
  return value === INT64_MIN ? Number(value) : value;
}

function storedFloat(value: number): bigint | number {
  if (!Number.isFinite(value)) return value;
  const text = formatG(value, 18);
  return /^-?[0-9]+$/.test(text) ? BigInt(text) : value;
}

/** Keys need no change but tables: key -2^63 reads back as a float, which the table normalises back to it. */
function storedTable(table: LuaTable, depth: number, seen: Set<LuaTable>): LuaTable {
  enterTable(table, depth, seen);
  const copy = new LuaTable();
  for (const [key, value] of table.entries()) {
    const storedKey: LuaKey = key instanceof LuaTable ? storedTable(key, depth + 1, seen) : key;
    copy.set(storedKey, storedValue(value, depth + 1, seen));
  }
  return copy;
}

// ---------------------------------------------------------------------------------------------------------------
// Reader: a safe parser for the data subset of Lua 5.4 (spec §10.2)

/**
 * Reads a Lua data text as Prosody would evaluate `return <body>`, keeping the first value, but without running
 * anything: only literals, table constructors, parentheses, unary minus on numbers and `(a/b)` divisions of
 * numerals are accepted; any name, call, index or other operator is a CodecError. Undefined when the first
 * expression is nil. An empty body is a CodecError (the grammar requires an expression; Prosody would read nil,
 * which the routes refuse just the same). Tables and parentheses/minus signs are each capped at 127 levels of
 * nesting, so the parser cannot overflow the stack.
 */
export function parseLua(body: Buffer): LuaValue | undefined {
  return new LuaReader(body.toString('latin1')).readBody();
}

const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d, 0x0b, 0x0c]);

const RESERVED_WORDS = new Set([
  'and',
  'break',
  'do',
  'else',
  'elseif',
  'end',
  'false',
  'for',
  'function',
  'goto',
  'if',
  'in',
  'local',
  'nil',
  'not',
  'or',
  'repeat',
  'return',
  'then',
  'true',
  'until',
  'while',
]);

/** Single-character escapes in short strings. */
const SHORT_ESCAPES: ReadonlyMap<string, string> = new Map([
  ['a', '\x07'],
  ['b', '\b'],
  ['f', '\f'],
  ['n', '\n'],
  ['r', '\r'],
  ['t', '\t'],
  ['v', '\v'],
  ['\\', '\\'],
  ['"', '"'],
  ["'", "'"],
]);

function isDigit(char: string | undefined): boolean {
  return char !== undefined && char >= '0' && char <= '9';
}

function isHexDigit(char: string | undefined): boolean {
  return isDigit(char) || (char !== undefined && ((char >= 'a' && char <= 'f') || (char >= 'A' && char <= 'F')));
}

/** ASCII letters and `_` only, as Lua's lexer (its `lislalpha`) in the C locale. */
function isNameStart(char: string | undefined): boolean {
  return char !== undefined && ((char >= 'a' && char <= 'z') || (char >= 'A' && char <= 'Z') || char === '_');
}

function isNameChar(char: string | undefined): boolean {
  return isNameStart(char) || isDigit(char);
}

/** A recursive-descent reader over a byte string; every failure is a CodecError naming the byte offset. */
class LuaReader {
  private position = 0;
  private tableDepth = 0;
  private expressionDepth = 0;

  constructor(private readonly text: string) {}

  /** `exp {, exp} [;]` and nothing else; every expression must be valid, the first is the result. */
  readBody(): LuaValue | undefined {
    const first = this.readExpression();
    this.skipTrivia();
    while (this.peek() === ',') {
      this.position++;
      this.readExpression();
      this.skipTrivia();
    }
    if (this.peek() === ';') {
      this.position++;
      this.skipTrivia();
    }
    if (this.position < this.text.length) this.fail('unexpected text after the value');
    return first;
  }

  private readExpression(): LuaValue | undefined {
    this.skipTrivia();
    const char = this.peek();
    if (char === '{') return this.readTable();
    if (char === '(') return this.nested(() => this.readParenthesised());
    if (char === '-') return this.nested(() => this.readNegation());
    if (char === '"' || char === "'") return this.readShortString(char);
    const longBracket = this.longBracketLevel();
    if (longBracket !== undefined) return this.readLongString(longBracket);
    if (isDigit(char) || (char === '.' && isDigit(this.text[this.position + 1]))) return this.readNumeral();
    if (isNameStart(char)) return this.readKeywordValue();
    return this.fail('unexpected symbol (only data is accepted)');
  }

  /** Parentheses and minus signs nest without a table; they get their own cap. */
  private nested(read: () => LuaValue | undefined): LuaValue | undefined {
    if (++this.expressionDepth > MAX_DEPTH) this.fail(`expression nested deeper than ${MAX_DEPTH} levels`);
    const value = read();
    this.expressionDepth--;
    return value;
  }

  /** `- exp`, only when exp is a number: integers wrap as in Lua (`-math.mininteger` is itself). */
  private readNegation(): LuaValue {
    this.position++;
    const value = this.readExpression();
    if (typeof value === 'bigint') return BigInt.asIntN(64, -value);
    if (typeof value === 'number') return -value;
    return this.fail('unary minus on a non-number');
  }

  /** `( exp )`, or `( numexp / numexp )` for `(1/0)`, `(-1/0)`, `(0/0)`: Lua's `/` always divides as floats. */
  private readParenthesised(): LuaValue | undefined {
    this.position++;
    this.skipTrivia();
    const start = this.position;
    const dividend = this.readNumericOperand();
    this.skipTrivia();
    if (dividend !== undefined && this.peek() === '/') {
      this.position++;
      this.skipTrivia();
      const divisor = this.readNumericOperand() ?? this.fail('number expected after /');
      this.skipTrivia();
      this.expect(')');
      return Number(dividend) / Number(divisor);
    }
    this.position = start;
    const value = this.readExpression();
    this.skipTrivia();
    this.expect(')');
    return value;
  }

  /** `["-"] NUMBER`, or undefined (position unspecified) when the text is not one. */
  private readNumericOperand(): bigint | number | undefined {
    const negative = this.peek() === '-';
    if (negative) {
      this.position++;
      this.skipTrivia();
    }
    const char = this.peek();
    if (!isDigit(char) && !(char === '.' && isDigit(this.text[this.position + 1]))) return undefined;
    const value = this.readNumeral();
    if (!negative) return value;
    return typeof value === 'bigint' ? BigInt.asIntN(64, -value) : -value;
  }

  /**
   * A numeral, scanned like Lua's lexer (digits, hex digits, `.`, exponent marks with a sign, and one touching
   * letter), then converted by Lua's rules, so `3x`, `1e` and `0x` are malformed.
   */
  private readNumeral(): bigint | number {
    const start = this.position;
    const hex = this.peek() === '0' && (this.text[this.position + 1] === 'x' || this.text[this.position + 1] === 'X');
    this.position += hex ? 2 : 1;
    const exponentMarks = hex ? 'pP' : 'eE';
    for (;;) {
      const char = this.peek();
      if (char !== undefined && exponentMarks.includes(char)) {
        this.position++;
        if (this.peek() === '+' || this.peek() === '-') this.position++;
      } else if (isHexDigit(char) || char === '.') {
        this.position++;
      } else {
        break;
      }
    }
    if (isNameStart(this.peek())) this.position++;
    return luaToNumber(this.text.slice(start, this.position)) ?? this.fail('malformed number');
  }

  /** `nil`, `true`, `false`; any other name is a variable, call or statement, none of which is data. */
  private readKeywordValue(): boolean | undefined {
    const start = this.position;
    const name = this.readName();
    if (name === 'nil') return undefined;
    if (name === 'true') return true;
    if (name === 'false') return false;
    this.position = start;
    return this.fail(`name "${name}" (only data is accepted)`);
  }

  private readName(): string {
    const start = this.position;
    while (isNameChar(this.peek())) this.position++;
    return this.text.slice(start, this.position);
  }

  /**
   * `{ field {sep field} [sep] }`. Keyed fields are assigned in order; positional values are assigned after
   * them, so a positional item wins over an explicit key with the same index (a nil item removes it), as in
   * Lua's constructor (except after 50 items, where Lua flushes early: not emulated).
   */
  private readTable(): LuaTable {
    if (++this.tableDepth > MAX_DEPTH) this.fail(`tables nested deeper than ${MAX_DEPTH} levels`);
    this.position++;
    const table = new LuaTable();
    const positional: (LuaValue | undefined)[] = [];
    for (;;) {
      this.skipTrivia();
      if (this.peek() === '}') break;
      this.readField(table, positional);
      this.skipTrivia();
      const separator = this.peek();
      if (separator === ',' || separator === ';') this.position++;
      else if (separator !== '}') this.fail("',', ';' or '}' expected in table");
    }
    this.position++;
    positional.forEach((value, index) => table.set(BigInt(index + 1), value));
    this.tableDepth--;
    return table;
  }

  /** `[exp] = exp`, `name = exp` or a positional `exp`. */
  private readField(table: LuaTable, positional: (LuaValue | undefined)[]): void {
    if (this.peek() === '[' && this.longBracketLevel() === undefined) {
      this.position++;
      const key = this.readExpression();
      this.skipTrivia();
      this.expect(']');
      this.skipTrivia();
      this.expectAssignment();
      const value = this.readExpression();
      if (key === undefined) this.fail('table index is nil');
      table.set(key, value);
      return;
    }
    if (isNameStart(this.peek())) {
      const start = this.position;
      const name = this.readName();
      this.skipTrivia();
      if (!RESERVED_WORDS.has(name) && this.isAssignment()) {
        this.position++;
        table.set(name, this.readExpression());
        return;
      }
      this.position = start;
    }
    positional.push(this.readExpression());
  }

  private readShortString(quote: string): string {
    const { text } = this;
    const parts: string[] = [];
    this.position++;
    let runStart = this.position;
    for (;;) {
      const char = text[this.position];
      if (char === quote) break;
      if (char === undefined || char === '\n' || char === '\r') this.fail('unfinished string');
      if (char === '\\') {
        parts.push(text.slice(runStart, this.position), this.readEscape());
        runStart = this.position;
      } else {
        this.position++;
      }
    }
    parts.push(text.slice(runStart, this.position));
    this.position++;
    return parts.join('');
  }

  /** One escape sequence, starting at its backslash; returns the bytes it stands for. */
  private readEscape(): string {
    const char = this.text[this.position + 1];
    if (char === undefined) return this.fail('unfinished string');
    const simple = SHORT_ESCAPES.get(char);
    if (simple !== undefined) {
      this.position += 2;
      return simple;
    }
    if (char === '\n' || char === '\r') {
      this.position++;
      this.skipNewline();
      return '\n';
    }
    if (char === 'x') return this.readHexEscape();
    if (char === 'z') return this.readSkipEscape();
    if (char === 'u') return this.readUtf8Escape();
    if (isDigit(char)) return this.readDecimalEscape();
    return this.fail('invalid escape sequence');
  }

  /** `\xHH`: exactly two hex digits. */
  private readHexEscape(): string {
    const digits = this.text.slice(this.position + 2, this.position + 4);
    if (!/^[0-9a-fA-F]{2}$/.test(digits)) this.fail('hexadecimal digit expected');
    this.position += 4;
    return String.fromCharCode(parseInt(digits, 16));
  }

  /** `\z`: skips the whitespace that follows, newlines included. */
  private readSkipEscape(): string {
    this.position += 2;
    while (WHITESPACE.has(this.text.charCodeAt(this.position))) this.position++;
    return '';
  }

  /** `\u{H…}`: the UTF-8 bytes of a code point up to 0x7FFFFFFF (leading zeros allowed). */
  private readUtf8Escape(): string {
    this.position += 2;
    this.expect('{');
    if (!isHexDigit(this.peek())) this.fail('hexadecimal digit expected');
    let codePoint = 0;
    while (isHexDigit(this.peek())) {
      if (codePoint > 0x7ffffff) this.fail('UTF-8 value too large');
      codePoint = codePoint * 16 + parseInt(this.peek() ?? '', 16);
      this.position++;
    }
    this.expect('}');
    return utf8Bytes(codePoint);
  }

  /** `\ddd`: one to three decimal digits, at most 255. */
  private readDecimalEscape(): string {
    const start = this.position + 1;
    let end = start;
    while (end < start + 3 && isDigit(this.text[end])) end++;
    const byte = Number(this.text.slice(start, end));
    if (byte > 255) this.fail('decimal escape too large');
    this.position = end;
    return String.fromCharCode(byte);
  }

  /** `[[…]]` or `[==[…]==]`: no escapes; a first newline is dropped; CR, CRLF and LFCR become LF. */
  private readLongString(level: number): string {
    const content = this.readLongBracket(level, 'unfinished long string');
    return content.replace(/^(?:\r\n|\n\r|\r|\n)/, '').replace(/\r\n|\n\r|\r|\n/g, '\n');
  }

  /** The raw text of the long bracket at the position (which must open one); moves past its closing bracket. */
  private readLongBracket(level: number, unfinished: string): string {
    const contentStart = this.position + level + 2;
    const closing = `]${'='.repeat(level)}]`;
    const end = this.text.indexOf(closing, contentStart);
    if (end === -1) this.fail(unfinished);
    this.position = end + closing.length;
    return this.text.slice(contentStart, end);
  }

  /** The number of `=` when the position opens a long bracket (`[[`, `[=[`, …), else undefined. */
  private longBracketLevel(): number | undefined {
    if (this.peek() !== '[') return undefined;
    let index = this.position + 1;
    while (this.text[index] === '=') index++;
    return this.text[index] === '[' ? index - this.position - 1 : undefined;
  }

  /** Whitespace, `--` line comments and `--[[ ]]` long comments (a `--[=` without its `[` is a line comment). */
  private skipTrivia(): void {
    for (;;) {
      if (WHITESPACE.has(this.text.charCodeAt(this.position))) {
        this.position++;
      } else if (this.text.startsWith('--', this.position)) {
        this.position += 2;
        const longBracket = this.longBracketLevel();
        if (longBracket === undefined) this.skipLine();
        else this.readLongBracket(longBracket, 'unfinished long comment');
      } else {
        return;
      }
    }
  }

  private skipLine(): void {
    while (this.position < this.text.length && this.peek() !== '\n' && this.peek() !== '\r') this.position++;
  }

  /** Skips one line ending: LF, CR, CRLF or LFCR. */
  private skipNewline(): void {
    const first = this.peek();
    this.position++;
    const second = this.peek();
    if ((second === '\n' || second === '\r') && second !== first) this.position++;
  }

  /** `=` but not `==`. */
  private isAssignment(): boolean {
    return this.peek() === '=' && this.text[this.position + 1] !== '=';
  }

  private expectAssignment(): void {
    if (!this.isAssignment()) this.fail("'=' expected");
    this.position++;
  }

  private expect(char: string): void {
    if (this.peek() !== char) this.fail(`'${char}' expected`);
    this.position++;
  }

  private peek(): string | undefined {
    return this.text[this.position];
  }

  private fail(message: string): never {
    throw new CodecError(`Lua text: ${message} at byte ${this.position}`);
  }
}
