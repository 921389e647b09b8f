import { isValidJson, JsonWalker, type JsonVisitor } from './json-scan';

/**
 * The kvs GET envelope, byte for byte as the original's Go code writes it: `json.MarshalIndent`
 * with a two-space indent and no trailing newline, fields `key`, `value`, `content_type`, and
 * encoding/json's HTML-safe escaping (`<` `>` `&` U+2028 U+2029 as `\uXXXX`).
 */

/** What an envelope shows of a record. */
export interface EnvelopeRecord {
  readonly key: string;
  readonly value: Uint8Array;
  readonly contentType: string;
}

/** Chunks are handed out at about this size, so a huge document streams instead of piling up. */
const CHUNK_BYTES = 64 * 1024;

const SHORT_ESCAPES: Readonly<Record<string, string>> = {
  '"': '\\"',
  '\\': '\\\\',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};

/** A string as Go's encoding/json writes it with HTML escaping (Go 1.14: no `\b`/`\f` short forms). */
export function goJsonString(text: string): string {
  let out = '"';
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const char = text[i] as string;
    const escaped = code < 0x20 || code === 0x2028 || code === 0x2029 || '"\\<>&'.includes(char);
    if (!escaped) continue;
    out += text.slice(from, i) + (SHORT_ESCAPES[char] ?? `\\u${code.toString(16).padStart(4, '0')}`);
    from = i + 1;
  }
  return `${out}${text.slice(from)}"`;
}

/** Stored JSON is embedded (re-indented) when the stored type starts with this, case-sensitively, as in the original. */
export const isJsonTyped = (contentType: string) => contentType.startsWith('application/json');

/** Bytes gathered into chunks of about CHUNK_BYTES, copied into one buffer (tokens are small and many). */
class ChunkBuffer {
  private buffer = Buffer.allocUnsafe(2 * CHUNK_BYTES);
  private size = 0;

  private reserve(bytes: number): void {
    if (this.size + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(2 * this.buffer.length, this.size + bytes));
    this.buffer.copy(grown, 0, 0, this.size);
    this.buffer = grown;
  }

  writeByte(byte: number): void {
    this.reserve(1);
    this.buffer[this.size++] = byte;
  }

  /** Copies `bytes[start, end)`; short runs byte by byte, which beats making a view of them. */
  writeRange(bytes: Uint8Array, start: number, end: number): void {
    const length = end - start;
    this.reserve(length);
    if (length < 32) {
      const { buffer } = this;
      for (let i = start; i < end; i++) buffer[this.size++] = bytes[i] as number;
    } else {
      this.buffer.set(bytes.subarray(start, end), this.size);
      this.size += length;
    }
  }

  write(data: Uint8Array | string): void {
    if (typeof data === 'string') {
      this.reserve(Buffer.byteLength(data));
      this.size += this.buffer.write(data, this.size);
    } else {
      this.reserve(data.length);
      this.buffer.set(data, this.size);
      this.size += data.length;
    }
  }

  get full(): boolean {
    return this.size >= CHUNK_BYTES;
  }

  take(): Buffer {
    const chunk = this.buffer.subarray(0, this.size);
    this.buffer = Buffer.allocUnsafe(2 * CHUNK_BYTES);
    this.size = 0;
    return chunk;
  }
}

/**
 * Writes a JSON token as Go's compact does with escapeHTML: `<` `>` `&` and U+2028/U+2029
 * (E2 80 A8/A9) become escapes, every other byte is copied, whether UTF-8 or not.
 */
function writeHtmlSafe(out: ChunkBuffer, bytes: Uint8Array, start: number, end: number): void {
  let from = start;
  for (let i = start; i < end; i++) {
    const b = bytes[i] as number;
    if (b === 0x3c || b === 0x3e || b === 0x26) {
      out.writeRange(bytes, from, i);
      out.write(`\\u00${b.toString(16)}`);
      from = i + 1;
    } else if (b === 0xe2 && i + 2 < end && bytes[i + 1] === 0x80 && ((bytes[i + 2] as number) & ~1) === 0xa8) {
      out.writeRange(bytes, from, i);
      out.write(`\\u202${((bytes[i + 2] as number) & 0xf).toString(16)}`);
      i += 2;
      from = i + 1;
    }
  }
  out.writeRange(bytes, from, end);
}

const NEWLINES: Buffer[] = [];

/** A newline and the indentation of `depth` levels (remembered: the same few depths recur). */
function newlineAt(depth: number): Buffer {
  return (NEWLINES[depth] ??= Buffer.from(`\n${'  '.repeat(depth)}`));
}

/** Go's json.Indent (prefix "", indent "  "), applied to a document nested `depth` levels deep. */
class Indenter implements JsonVisitor {
  private needIndent = false;

  constructor(
    private readonly out: ChunkBuffer,
    private readonly bytes: Uint8Array,
    private depth: number,
  ) {}

  private newline(): void {
    this.out.write(newlineAt(this.depth));
  }

  /** An empty object or array stays `{}` / `[]`: the newline after an opening waits for content. */
  private indentIfPending(): void {
    if (!this.needIndent) return;
    this.needIndent = false;
    this.depth++;
    this.newline();
  }

  open(bracket: number): void {
    this.indentIfPending();
    this.out.writeByte(bracket);
    this.needIndent = true;
  }

  close(bracket: number): void {
    if (this.needIndent) {
      this.needIndent = false;
    } else {
      this.depth--;
      this.newline();
    }
    this.out.writeByte(bracket);
  }

  comma(): void {
    this.out.writeByte(0x2c);
    this.newline();
  }

  colon(): void {
    this.out.writeByte(0x3a);
    this.out.writeByte(0x20);
  }

  scalar(start: number, end: number): void {
    this.indentIfPending();
    writeHtmlSafe(this.out, this.bytes, start, end);
  }
}

function* envelopeChunks(record: EnvelopeRecord): Generator<Buffer> {
  const out = new ChunkBuffer();
  out.write(`{\n  "key": ${goJsonString(record.key)},\n  "value": `);
  if (isJsonTyped(record.contentType)) {
    const walker = new JsonWalker(record.value, 0);
    const indenter = new Indenter(out, record.value, 1);
    while (walker.step(indenter)) if (out.full) yield out.take();
  } else {
    out.write(`"${Buffer.from(record.value).toString('base64')}"`);
    if (record.contentType !== '') out.write(`,\n  "content_type": ${goJsonString(record.contentType)}`);
  }
  out.write('\n}');
  yield out.take();
}

/**
 * The envelope of a record, in chunks, or undefined when it has none: a JSON-typed value that
 * is not valid JSON (the original's encoder fails on it: 500 for one record, skipped in a
 * recursive listing). The check runs first, so a response never starts on a record that fails.
 */
export function renderEnvelope(record: EnvelopeRecord): Iterable<Buffer> | undefined {
  if (isJsonTyped(record.contentType) && !isValidJson(record.value)) return undefined;
  return envelopeChunks(record);
}
