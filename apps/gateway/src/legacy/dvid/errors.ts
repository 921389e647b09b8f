import type { ServerResponse } from 'node:http';

/** What Go's `http.Error` puts on every DVID error answer. */
export const TEXT_CONTENT_TYPE = 'text/plain; charset=utf-8';

/**
 * A DVID error answer that handlers throw and the route layer renders (`renderDvidError`). Most
 * DVID errors go through its `BadRequest`, which appends ` (<path>).` to the message; a few
 * (`Bad API call …`, `Key "…" not found`) are written without it: `withPath: false`.
 */
export class DvidError extends Error {
  readonly status: number;
  readonly withPath: boolean;

  constructor(status: number, message: string, options: { withPath?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DvidError';
    this.status = status;
    this.withPath = options.withPath ?? true;
  }
}

/** Go's `http.Error`: the text and a newline, never sniffed by browsers. */
function sendText(res: ServerResponse, status: number, text: string): void {
  const body = `${text}\n`;
  res.writeHead(status, {
    'content-type': TEXT_CONTENT_TYPE,
    'x-content-type-options': 'nosniff',
    'content-length': String(Buffer.byteLength(body)),
  });
  res.end(body);
}

/** DVID's `BadRequest`: 400 with `<message> (<decoded request path>).` and a newline. */
export function badRequest(res: ServerResponse, message: string, path: string): void {
  sendText(res, 400, `${message} (${path}).`);
}

/** An error answer without the path suffix; the newline is appended, as Go's `http.Error` does. */
export function plainError(res: ServerResponse, status: number, message: string): void {
  sendText(res, status, message);
}

/** `GET /key/<key>` for a key that does not resolve to a value. */
export function keyNotFound(res: ServerResponse, key: string): void {
  sendText(res, 404, `Key ${goQuote(key)} not found`);
}

/** Renders a thrown `DvidError` for the request at (decoded) `path`. */
export function renderDvidError(res: ServerResponse, error: DvidError, path: string): void {
  sendText(res, error.status, error.withPath ? `${error.message} (${path}).` : error.message);
}

/**
 * Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space. Other
 * spaces (U+00A0, U+2028, …) are not printable, so `%q` escapes them.
 */
export function isGoPrintable(codePoint: number): boolean {
  return codePoint === 0x20 || /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(String.fromCodePoint(codePoint));
}

const SHORT_ESCAPES: ReadonlyMap<number, string> = new Map([
  [0x07, '\\a'],
  [0x08, '\\b'],
  [0x0c, '\\f'],
  [0x0a, '\\n'],
  [0x0d, '\\r'],
  [0x09, '\\t'],
  [0x0b, '\\v'],
]);

const hex = (value: number, digits: number) => value.toString(16).padStart(digits, '0');

/**
 * Go's `strconv.Quote` (`%q`), which DVID uses to render keys and names in its messages. A lone
 * surrogate cannot come from UTF-8, but Go would meet its three WTF-8 bytes as invalid UTF-8 and
 * write each as `\x..`, so it is rendered that way.
 */
export function goQuote(text: string): string {
  let out = '"';
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if (char === '"' || char === '\\') out += `\\${char}`;
    else if (code >= 0xd800 && code <= 0xdfff) {
      out += `\\x${hex(0xe0 | (code >> 12), 2)}\\x${hex(0x80 | ((code >> 6) & 0x3f), 2)}\\x${hex(0x80 | (code & 0x3f), 2)}`;
    } else if (isGoPrintable(code)) out += char;
    else out += SHORT_ESCAPES.get(code) ?? goEscape(code);
  }
  return `${out}"`;
}

function goEscape(code: number): string {
  if (code < 0x20 || code === 0x7f) return `\\x${hex(code, 2)}`;
  if (code < 0x10000) return `\\u${hex(code, 4)}`;
  return `\\U${hex(code, 8)}`;
}
