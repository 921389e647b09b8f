import type { ServerResponse } from 'node:http';
import { create, toBinary } from '@bufbuild/protobuf';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { KeyValueSchema } from '@rosetta/proto';
import { pack, type Pack } from 'tar-stream';
import { writeChunk } from '../../http/write-chunk';
import { DvidError, goQuote } from './errors';

/** The three shapes of `/keyrangevalues` and `GET /keyvalues` answers. */
export type OutputFormat = 'json' | 'tar' | 'protobuf';

export interface OutputChoice {
  readonly format: OutputFormat;
  /** `check=true`: JSON values are validated (DVID's code checks only when asked, whatever its help says). */
  readonly check: boolean;
}

export const FORMAT_CONTENT_TYPES: Readonly<Record<OutputFormat, string>> = {
  json: 'application/json',
  tar: 'application/tar',
  protobuf: 'application/octet-stream',
};

/**
 * The output format a query asks for. A flag counts only when its (first) value is exactly
 * `true`, as DVID compares it. Protobuf is the default, so `protobuf=true` changes nothing and
 * is not read; neither is `check` outside JSON, where DVID ignores it too.
 */
export function outputChoice(query: URLSearchParams): OutputChoice {
  const flag = (name: string) => query.get(name) === 'true';
  const tar = flag('tar') || flag('jsontar');
  const json = flag('json');
  if (tar && json) throw new DvidError(400, 'can only specify tar or json output, not both');
  return { format: json ? 'json' : tar ? 'tar' : 'protobuf', check: flag('check') };
}

/** One entry of an answer; `value` undefined for a requested key that was not found. */
export interface KeyValueEntry {
  readonly key: string;
  readonly value: Uint8Array | undefined;
}

export type Entries = AsyncIterable<KeyValueEntry> | Iterable<KeyValueEntry>;

/** Bytes gathered before a write: few large chunks on the wire rather than several per entry. */
const FLUSH_BYTES = 64 * 1024;

/**
 * A 200 answer written in chunks with back-pressure. Nothing is sent until 64 KiB are waiting,
 * so a failure before then (a bad value under `check`, a storage error) can still be answered
 * as an error, and a short answer goes out whole with its Content-Length.
 */
class Output {
  private pending: Uint8Array[] = [];
  private size = 0;

  constructor(
    private readonly res: ServerResponse,
    private readonly contentType: string,
  ) {}

  /** Queues a chunk; resolves false once the client has gone (stop producing then). */
  async push(chunk: Uint8Array): Promise<boolean> {
    this.pending.push(chunk);
    this.size += chunk.byteLength;
    if (this.size < FLUSH_BYTES) return true;
    if (!this.res.headersSent) this.res.writeHead(200, { 'content-type': this.contentType });
    const chunks = this.pending;
    this.pending = [];
    this.size = 0;
    // Small pieces are joined into one write; a large value goes out as it is, not copied.
    if (chunk.byteLength < FLUSH_BYTES) return writeChunk(this.res, Buffer.concat(chunks));
    const before = chunks.slice(0, -1);
    if (before.length > 0 && !(await writeChunk(this.res, Buffer.concat(before)))) return false;
    return writeChunk(this.res, chunk);
  }

  end(): void {
    if (!this.res.headersSent) {
      this.res.writeHead(200, { 'content-type': this.contentType, 'content-length': String(this.size) });
    }
    this.res.end(Buffer.concat(this.pending));
  }
}

const EMPTY_OBJECT = Buffer.from('{}');
// The byte-order mark is kept so that it fails, as in Go; invalid UTF-8 becomes U+FFFD, which
// JSON.parse accepts exactly where Go's scanner accepts the raw bytes (inside strings).
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

/**
 * Whether a value is one JSON text, as Go's `json.Valid` judges it: surrounding JSON whitespace
 * is fine, a byte-order mark is not, invalid UTF-8 only inside strings.
 */
export function validJsonValue(bytes: Uint8Array): boolean {
  try {
    JSON.parse(utf8.decode(bytes));
    return true;
  } catch {
    return false;
  }
}

/**
 * JSON by splicing, as DVID writes it: `{"<key>":<value bytes verbatim>,…}`, stored whitespace
 * kept. An empty or missing value is written `{}`. The key is escaped with JSON.stringify (DVID
 * writes it raw, which breaks on `"`; ordinary keys come out the same). With `check`, a value
 * that is not JSON throws before anything of its entry is written; callers that must answer
 * 400 rather than cut a started stream validate first with `validJsonValue`.
 */
export async function writeJsonEntries(res: ServerResponse, entries: Entries, check: boolean): Promise<void> {
  const output = new Output(res, FORMAT_CONTENT_TYPES.json);
  let separator = '{';
  for await (const { key, value } of entries) {
    const raw = value === undefined || value.byteLength === 0 ? EMPTY_OBJECT : value;
    if (check && raw !== EMPTY_OBJECT && !validJsonValue(raw)) {
      throw new DvidError(400, `bad JSON for key ${goQuote(key)}`);
    }
    if (!(await output.push(Buffer.from(`${separator}${JSON.stringify(key)}:`)))) return;
    if (!(await output.push(raw))) return;
    separator = ',';
  }
  if (await output.push(Buffer.from(separator === '{' ? '{}' : '}'))) output.end();
}

/**
 * The header of a key's entry, as DVID's Go `archive/tar` writes it: a regular file named
 * exactly the key, mode 0755, owned by uid/gid 0 with no names, dated the epoch. tar-stream
 * moves names that do not fit USTAR (over 100 bytes without a `/` to split at, or not ASCII)
 * into a PAX header, as Go does.
 */
function tarHeader(key: string, size: number) {
  return {
    name: key,
    type: 'file',
    mode: 0o755,
    uid: 0,
    gid: 0,
    uname: '',
    gname: '',
    mtime: new Date(0),
    size,
  } as const;
}

/** tar-stream takes only Buffers as entry bodies; a view of the same bytes needs no copy. */
const asBuffer = (value: Uint8Array) => Buffer.from(value.buffer, value.byteOffset, value.byteLength);

/**
 * Adds the entries to the archive, each once the previous one has been read out of it (the
 * entry callback waits for that), then closes it. A failure, the reader's included, destroys
 * the archive: the reading side then ends with that error, or stops if it stopped first.
 */
async function packEntries(archive: Pack, entries: Entries): Promise<void> {
  try {
    for await (const { key, value } of entries) {
      const body = asBuffer(value ?? new Uint8Array(0));
      await new Promise<void>((resolve, reject) => {
        archive.entry(tarHeader(key, body.byteLength), body, (error) => (error ? reject(error) : resolve()));
      });
    }
    archive.finalize();
  } catch (error) {
    archive.destroy(error instanceof Error ? error : new Error(String(error)));
  }
}

/**
 * A tar archive with one entry per key, in the order given; a missing key is an entry of size 0
 * and no entries at all make an archive of only the end marker (two zero blocks).
 */
export async function writeTarEntries(res: ServerResponse, entries: Entries): Promise<void> {
  const output = new Output(res, FORMAT_CONTENT_TYPES.tar);
  const archive = pack();
  const packing = packEntries(archive, entries);
  try {
    for await (const chunk of archive as AsyncIterable<Uint8Array>) {
      if (!(await output.push(chunk))) return;
    }
  } finally {
    archive.destroy();
    await packing;
  }
  output.end();
}

/**
 * A `KeyValues` message, streamed: its encoding is the concatenation of its `kvs` fields, so each
 * entry goes out as tag 1 (length-delimited) with its length and its encoded `KeyValue`. A
 * missing key has only `key` set. No entries make an empty body.
 */
export async function writeProtobufEntries(res: ServerResponse, entries: Entries): Promise<void> {
  const output = new Output(res, FORMAT_CONTENT_TYPES.protobuf);
  for await (const { key, value } of entries) {
    const encoded = toBinary(KeyValueSchema, create(KeyValueSchema, { key, value }));
    const prefix = new BinaryWriter().tag(1, WireType.LengthDelimited).uint32(encoded.byteLength).finish();
    if (!(await output.push(prefix)) || !(await output.push(encoded))) return;
  }
  output.end();
}

/** Writes the entries in the chosen format. */
export function writeEntries(res: ServerResponse, choice: OutputChoice, entries: Entries): Promise<void> {
  switch (choice.format) {
    case 'json':
      return writeJsonEntries(res, entries, choice.check);
    case 'tar':
      return writeTarEntries(res, entries);
    case 'protobuf':
      return writeProtobufEntries(res, entries);
  }
}
