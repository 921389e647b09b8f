/**
 * A byte-level JSON scanner with Go's encoding/json grammar. The Kopano dialect needs what
 * JSON.parse cannot give: the exact source bytes of sub-values (a batch stores each `value`'s
 * text as sent) and a walk that re-emits a document in Go's layout (the GET envelope). It works
 * on bytes, so text that is not UTF-8 inside strings passes through untouched, as in Go, and it
 * never recurses, so deep nesting cannot overflow the stack.
 */

/** Deepest nesting accepted: Go's scanner limit since 1.15, and a bound on pretty-printing. */
export const MAX_DEPTH = 10_000;

export class JsonSyntaxError extends Error {
  constructor(readonly offset: number) {
    super(`invalid JSON at byte ${offset}`);
  }
}

/** The bytes the grammar is made of. */
const Byte = {
  Tab: 0x09,
  Newline: 0x0a,
  Return: 0x0d,
  Space: 0x20,
  Quote: 0x22,
  Plus: 0x2b,
  Comma: 0x2c,
  Minus: 0x2d,
  Dot: 0x2e,
  Zero: 0x30,
  Nine: 0x39,
  Colon: 0x3a,
  OpenBracket: 0x5b,
  Backslash: 0x5c,
  CloseBracket: 0x5d,
  OpenBrace: 0x7b,
  CloseBrace: 0x7d,
} as const;

const isSpace = (b: number | undefined) =>
  b === Byte.Space || b === Byte.Tab || b === Byte.Newline || b === Byte.Return;
const isDigit = (b: number | undefined) => b !== undefined && b >= Byte.Zero && b <= Byte.Nine;
const isHex = (b: number | undefined) =>
  b !== undefined && (isDigit(b) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66));
/** The characters Go accepts after a backslash: `"` `\` `/` b f n r t u. */
const ESCAPES = new Set([0x22, 0x5c, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74, 0x75]);

/** The position of the first byte at or after `pos` that is not JSON whitespace. */
export function skipSpace(bytes: Uint8Array, pos: number): number {
  while (isSpace(bytes[pos])) pos++;
  return pos;
}

/** The end (exclusive) of the string starting with the quote at `pos`. */
export function scanString(bytes: Uint8Array, pos: number): number {
  if (bytes[pos] !== Byte.Quote) throw new JsonSyntaxError(pos);
  for (let i = pos + 1; ; i++) {
    const b = bytes[i];
    if (b === undefined || b < 0x20) throw new JsonSyntaxError(i);
    if (b === Byte.Quote) return i + 1;
    if (b !== Byte.Backslash) continue;
    i++;
    if (!ESCAPES.has(bytes[i] ?? -1)) throw new JsonSyntaxError(i);
    if (bytes[i] === 0x75) {
      for (let h = 1; h <= 4; h++) if (!isHex(bytes[i + h])) throw new JsonSyntaxError(i + h);
      i += 4;
    }
  }
}

/** The end of the number starting at `pos`: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`. */
function scanNumber(bytes: Uint8Array, pos: number): number {
  let i = pos;
  if (bytes[i] === Byte.Minus) i++;
  if (bytes[i] === Byte.Zero) i++;
  else if (isDigit(bytes[i])) while (isDigit(bytes[i])) i++;
  else throw new JsonSyntaxError(i);
  if (bytes[i] === Byte.Dot) {
    i++;
    if (!isDigit(bytes[i])) throw new JsonSyntaxError(i);
    while (isDigit(bytes[i])) i++;
  }
  if (bytes[i] === 0x65 || bytes[i] === 0x45) {
    i++;
    if (bytes[i] === Byte.Plus || bytes[i] === Byte.Minus) i++;
    if (!isDigit(bytes[i])) throw new JsonSyntaxError(i);
    while (isDigit(bytes[i])) i++;
  }
  return i;
}

const LITERALS = ['true', 'false', 'null'].map((word) => Buffer.from(word));

function scanLiteral(bytes: Uint8Array, pos: number): number {
  const literal = LITERALS.find((word) => word[0] === bytes[pos]);
  if (literal === undefined) throw new JsonSyntaxError(pos);
  for (let k = 1; k < literal.length; k++) if (bytes[pos + k] !== literal[k]) throw new JsonSyntaxError(pos + k);
  return pos + literal.length;
}

/** The end of the scalar (string, number or literal) starting at `pos`. */
function scanScalar(bytes: Uint8Array, pos: number): number {
  const b = bytes[pos];
  if (b === Byte.Quote) return scanString(bytes, pos);
  if (b === Byte.Minus || isDigit(b)) return scanNumber(bytes, pos);
  return scanLiteral(bytes, pos);
}

/** What a walk reports, in document order: the events Go's Indent reacts to. */
export interface JsonVisitor {
  open(bracket: number): void;
  close(bracket: number): void;
  comma(): void;
  colon(): void;
  /** A string, number or literal: its bytes are `bytes[start, end)`. */
  scalar(start: number, end: number): void;
}

/** What the walk expects next. */
type Expect = 'value' | 'name' | 'after-value';

/**
 * A resumable walk over one JSON value starting at `start`: each `step` reports a few events
 * and returns false once the value is complete (`end` is then just past it). A syntax error,
 * or nesting deeper than MAX_DEPTH, throws JsonSyntaxError.
 */
export class JsonWalker {
  private pos: number;
  /** The open containers: the closing bracket each one waits for. */
  private readonly stack: number[] = [];
  private expect: Expect = 'value';
  private done = false;

  constructor(
    private readonly bytes: Uint8Array,
    start: number,
  ) {
    this.pos = start;
  }

  get end(): number {
    return this.pos;
  }

  step(visitor: JsonVisitor): boolean {
    if (this.done) return false;
    const { bytes } = this;
    this.pos = skipSpace(bytes, this.pos);
    const b = bytes[this.pos];
    if (this.expect === 'value') {
      if (b === Byte.OpenBrace || b === Byte.OpenBracket) {
        if (this.stack.length === MAX_DEPTH) throw new JsonSyntaxError(this.pos);
        visitor.open(b);
        this.pos = skipSpace(bytes, this.pos + 1);
        const closing = b === Byte.OpenBrace ? Byte.CloseBrace : Byte.CloseBracket;
        if (bytes[this.pos] === closing) {
          visitor.close(closing);
          this.pos++;
          this.expect = 'after-value';
        } else {
          this.stack.push(closing);
          this.expect = b === Byte.OpenBrace ? 'name' : 'value';
        }
      } else {
        const end = scanScalar(bytes, this.pos);
        visitor.scalar(this.pos, end);
        this.pos = end;
        this.expect = 'after-value';
      }
    } else if (this.expect === 'name') {
      const end = scanString(bytes, this.pos);
      visitor.scalar(this.pos, end);
      this.pos = skipSpace(bytes, end);
      if (bytes[this.pos] !== Byte.Colon) throw new JsonSyntaxError(this.pos);
      visitor.colon();
      this.pos++;
      this.expect = 'value';
    } else {
      const closing = this.stack[this.stack.length - 1];
      if (closing === undefined) {
        this.done = true;
        return false;
      }
      if (b === Byte.Comma) {
        visitor.comma();
        this.pos++;
        this.expect = closing === Byte.CloseBrace ? 'name' : 'value';
      } else if (b === closing) {
        this.stack.pop();
        visitor.close(closing);
        this.pos++;
      } else {
        throw new JsonSyntaxError(this.pos);
      }
    }
    if (this.expect === 'after-value' && this.stack.length === 0) this.done = true;
    return !this.done;
  }
}

const IGNORE: JsonVisitor = { open() {}, close() {}, comma() {}, colon() {}, scalar() {} };

/** The end of the JSON value starting at `start` (after any whitespace), checking its syntax on the way. */
export function skipValue(bytes: Uint8Array, start: number): number {
  const walker = new JsonWalker(bytes, start);
  while (walker.step(IGNORE));
  return walker.end;
}

/** Whether the bytes are exactly one JSON value, with optional whitespace around it (Go's json.Valid). */
export function isValidJson(bytes: Uint8Array): boolean {
  try {
    return skipSpace(bytes, skipValue(bytes, 0)) === bytes.length;
  } catch (error) {
    if (error instanceof JsonSyntaxError) return false;
    throw error;
  }
}

/**
 * The text of the (syntax-checked) string token `bytes[start, end)`, decoded as Go does it:
 * bytes that are not UTF-8, and lone surrogate escapes, become U+FFFD.
 */
export function decodeString(bytes: Uint8Array, start: number, end: number): string {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('utf8');
  return (JSON.parse(text) as string).toWellFormed();
}
