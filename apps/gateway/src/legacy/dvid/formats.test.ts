import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { KeysSchema, KeyValuesSchema } from '@rosetta/proto';
import fc from 'fast-check';
import { extract, type Header } from 'tar-stream';
import { DvidError, renderDvidError } from './errors';
import {
  outputChoice,
  validJsonValue,
  writeEntries,
  writeJsonEntries,
  writeProtobufEntries,
  writeTarEntries,
  type Entries,
  type KeyValueEntry,
} from './formats';

const bytes = (text: string) => new Uint8Array(Buffer.from(text));
const hex = (data: Uint8Array) => Buffer.from(data).toString('hex');
const entry = (key: string, value?: string | Uint8Array): KeyValueEntry => ({
  key,
  value: typeof value === 'string' ? bytes(value) : value,
});

async function* lazily(entries: readonly KeyValueEntry[]): AsyncGenerator<KeyValueEntry> {
  for (const item of entries) yield item;
}

/**
 * Serves one request with `respond` and returns what the client read. A failure is handled as
 * the route layer does: rendered while nothing was sent, the connection cut after.
 */
async function exchange(respond: (res: ServerResponse) => Promise<void>) {
  let settled: Promise<unknown> = Promise.resolve();
  const server = createServer((_req, res) => {
    settled = respond(res).catch((error: unknown) => {
      if (!(error instanceof DvidError) || res.headersSent) res.destroy();
      else renderDvidError(res, error, '/x');
      return error;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const res = await fetch(`http://127.0.0.1:${port}/x`);
    const body = Buffer.from(await res.arrayBuffer());
    return { status: res.status, headers: Object.fromEntries(res.headers), body, failure: await settled };
  } finally {
    server.close();
  }
}

/**
 * A response that takes a chunk per millisecond, keeping a small buffer, so that
 * writers meet back-pressure; it records the largest backlog it was handed.
 */
class SlowResponse extends Writable {
  readonly chunks: Buffer[] = [];
  status: number | undefined;
  headers: Record<string, string> | undefined;
  maxBacklog = 0;

  constructor(private readonly onChunk: (res: SlowResponse) => void = () => undefined) {
    super({ highWaterMark: 1024 });
  }

  get headersSent(): boolean {
    return this.status !== undefined;
  }

  writeHead(status: number, headers: Record<string, string>): this {
    this.status = status;
    this.headers = headers;
    return this;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.chunks.push(chunk);
    this.maxBacklog = Math.max(this.maxBacklog, this.writableLength);
    this.onChunk(this);
    setTimeout(callback, 1);
  }

  /** Everything written, once the writer has ended the response and every chunk was taken. */
  async body(): Promise<Buffer> {
    if (!this.writableFinished) await once(this, 'finish');
    return Buffer.concat(this.chunks);
  }

  asResponse(): ServerResponse {
    return this as unknown as ServerResponse;
  }
}

/** Entries without end that count how many were taken and whether the producer was closed. */
function endless(valueBytes: number) {
  const state = { pulled: 0, closed: false };
  async function* entries(): AsyncGenerator<KeyValueEntry> {
    try {
      for (;;) {
        state.pulled += 1;
        yield entry(`k${state.pulled}`, new Uint8Array(valueBytes).fill(0x31));
      }
    } finally {
      state.closed = true;
    }
  }
  return { state, entries: entries() };
}

async function untar(archive: Uint8Array): Promise<{ header: Header; body: Buffer }[]> {
  const extractor = extract();
  const found: { header: Header; body: Buffer }[] = [];
  const reading = (async () => {
    for await (const source of extractor) {
      const chunks: Buffer[] = [];
      for await (const chunk of source as unknown as AsyncIterable<Buffer>) chunks.push(chunk);
      found.push({ header: source.header, body: Buffer.concat(chunks) });
    }
  })();
  extractor.end(Buffer.from(archive));
  await reading;
  return found;
}

describe('outputChoice', () => {
  it.each([
    ['', { format: 'protobuf', check: false }],
    ['protobuf=true', { format: 'protobuf', check: false }],
    ['json=true', { format: 'json', check: false }],
    ['json=true&check=true', { format: 'json', check: true }],
    ['json=true&check=false', { format: 'json', check: false }],
    ['json=true&check=1', { format: 'json', check: false }],
    ['tar=true', { format: 'tar', check: false }],
    ['jsontar=true', { format: 'tar', check: false }],
    ['tar=true&protobuf=true', { format: 'tar', check: false }],
    ['json=TRUE', { format: 'protobuf', check: false }],
    ['json=1', { format: 'protobuf', check: false }],
    ['json', { format: 'protobuf', check: false }],
    ['json=false&json=true', { format: 'protobuf', check: false }],
    ['tar=false&json=true', { format: 'json', check: false }],
    ['u=alice&app=neuclease&json=true', { format: 'json', check: false }],
  ])('%s → %j', (query, choice) => {
    expect(outputChoice(new URLSearchParams(query))).toEqual(choice);
  });

  it.each(['json=true&tar=true', 'json=true&jsontar=true', 'jsontar=true&tar=true&json=true'])(
    'refuses %s with DVID’s message',
    (query) => {
      expect(() => outputChoice(new URLSearchParams(query))).toThrow(
        expect.objectContaining({ status: 400, message: 'can only specify tar or json output, not both' }),
      );
    },
  );
});

describe('validJsonValue', () => {
  it.each(['[1, 2, 3]', ' {"a": {"b": null}}\n', '"text"', '1', '-0.5e3', 'null', 'true', '\t[]\r\n', '"é"'])(
    'accepts %j',
    (text) => {
      expect(validJsonValue(bytes(text))).toBe(true);
    },
  );

  it.each(['', ' ', '{', '[1,]', '{} {}', "'a'", 'NaN', '{"a":1,}', 'tru', '"\u0001"', '\ufeff{}', '01'])(
    'refuses %j',
    (text) => {
      expect(validJsonValue(bytes(text))).toBe(false);
    },
  );

  it('lets invalid UTF-8 through inside strings only, as Go’s json.Valid does', () => {
    expect(validJsonValue(new Uint8Array([0x22, 0xff, 0xc3, 0x22]))).toBe(true);
    expect(validJsonValue(new Uint8Array([0x5b, 0xff, 0x5d]))).toBe(false);
  });

  it('refuses nesting deep enough to overflow the parser instead of throwing', () => {
    expect(validJsonValue(bytes('['.repeat(1_000_000)))).toBe(false);
  });
});

describe('the protobuf messages (spec 5.10 worked examples)', () => {
  it('encodes Keys{keys:["k1","zz"]} byte for byte', () => {
    expect(hex(toBinary(KeysSchema, create(KeysSchema, { keys: ['k1', 'zz'] })))).toBe('0a026b310a027a7a');
  });

  it('encodes KeyValues{kvs:[{k1:v1},{zz}]} byte for byte', () => {
    const message = create(KeyValuesSchema, { kvs: [{ key: 'k1', value: bytes('v1') }, { key: 'zz' }] });
    expect(hex(toBinary(KeyValuesSchema, message))).toBe('0a080a026b31120276310a040a027a7a');
  });

  it('decodes key ranges (DVID master) and refuses invalid UTF-8 in a key, which callers answer with 400', () => {
    const keys = create(KeysSchema, { keys: ['a'], keyRanges: [{ key: 'b', byteStart: 1n, byteEnd: 2n }] });
    expect(fromBinary(KeysSchema, toBinary(KeysSchema, keys)).keyRanges[0]).toMatchObject({ key: 'b', byteEnd: 2n });
    expect(() => fromBinary(KeysSchema, new Uint8Array([0x0a, 0x01, 0xff]))).toThrow();
  });
});

describe('writeProtobufEntries', () => {
  it('streams the worked example byte for byte', async () => {
    const res = await exchange((r) => writeProtobufEntries(r, lazily([entry('k1', 'v1'), entry('zz')])));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    expect(hex(res.body)).toBe('0a080a026b31120276310a040a027a7a');
  });

  it('answers no entries with an empty body', async () => {
    const res = await exchange((r) => writeProtobufEntries(r, []));
    expect(res).toMatchObject({ status: 200, headers: { 'content-length': '0' } });
    expect(res.body.byteLength).toBe(0);
  });

  it('writes exactly what toBinary makes of the whole message, for any entries', async () => {
    const entries = fc.array(
      fc.record({
        key: fc.string({ unit: 'grapheme' }),
        value: fc.option(fc.uint8Array({ maxLength: 300 }), { nil: undefined }),
      }),
      { maxLength: 20 },
    );
    await fc.assert(
      fc.asyncProperty(entries, async (items) => {
        const res = new SlowResponse();
        await writeProtobufEntries(res.asResponse(), items);
        const whole = toBinary(KeyValuesSchema, create(KeyValuesSchema, { kvs: items }));
        const body = await res.body();
        expect(hex(body)).toBe(hex(whole));
        const decoded = fromBinary(KeyValuesSchema, body);
        expect(decoded.kvs.map(({ key, value }) => [key, hex(value)])).toEqual(
          items.map(({ key, value }) => [key, hex(value ?? new Uint8Array(0))]),
        );
      }),
      { numRuns: 50 },
    );
  });

  it('streams values larger than a chunk, with a length prefix of several bytes', async () => {
    const big = new Uint8Array(200_000).fill(7);
    const res = await exchange((r) => writeProtobufEntries(r, lazily([entry('a', big), entry('b', 'x')])));
    expect(res.headers['transfer-encoding']).toBe('chunked');
    const decoded = fromBinary(KeyValuesSchema, res.body);
    expect(decoded.kvs.map((kv) => [kv.key, kv.value.byteLength])).toEqual([
      ['a', 200_000],
      ['b', 1],
    ]);
  });
});

describe('writeJsonEntries', () => {
  it('splices the stored bytes verbatim and writes an empty or missing value as {}', async () => {
    const res = await exchange((r) =>
      writeJsonEntries(r, lazily([entry('key1', '[1, 2, 3]'), entry('key2', ''), entry('key3')]), false),
    );
    expect(res).toMatchObject({ status: 200, headers: { 'content-type': 'application/json' } });
    expect(res.body.toString()).toBe('{"key1":[1, 2, 3],"key2":{},"key3":{}}');
    expect(res.headers['content-length']).toBe(String(res.body.byteLength));
  });

  it('keeps whitespace and nested objects of the stored values', async () => {
    const res = await exchange((r) =>
      writeJsonEntries(r, [entry('a', ' {\n  "x": [ 1 ]\n}\n'), entry('b', '"s"')], true),
    );
    expect(res.body.toString()).toBe('{"a": {\n  "x": [ 1 ]\n}\n,"b":"s"}');
  });

  it('answers no entries with {}', async () => {
    const res = await exchange((r) => writeJsonEntries(r, [], true));
    expect(res).toMatchObject({ status: 200, headers: { 'content-length': '2' } });
    expect(res.body.toString()).toBe('{}');
  });

  it('escapes keys as JSON strings', async () => {
    const keys = ['a"b', 'back\\slash', 'new\nline', 'é', '<&>', '\u0000'];
    const res = await exchange((r) =>
      writeJsonEntries(
        r,
        keys.map((key) => entry(key, '1')),
        false,
      ),
    );
    expect(res.body.toString()).toBe('{"a\\"b":1,"back\\\\slash":1,"new\\nline":1,"é":1,"<&>":1,"\\u0000":1}');
    expect(Object.keys(JSON.parse(res.body.toString()) as object)).toEqual(keys);
  });

  it('repeats duplicate keys as given', async () => {
    const res = await exchange((r) => writeJsonEntries(r, [entry('a', '1'), entry('a', '2')], false));
    expect(res.body.toString()).toBe('{"a":1,"a":2}');
  });

  it('writes values that are not JSON as they are without check', async () => {
    const res = await exchange((r) => writeJsonEntries(r, [entry('a', 'not json')], false));
    expect(res.body.toString()).toBe('{"a":not json}');
  });

  it('with check, refuses a value that is not JSON before anything is sent', async () => {
    const res = await exchange((r) => writeJsonEntries(r, lazily([entry('good', '{}'), entry('b"ad', '{')]), true));
    expect(res.status).toBe(400);
    expect(res.body.toString()).toBe('bad JSON for key "b\\"ad" (/x).\n');
  });

  it('with check, throws before writing any byte of the bad entry once output has started', async () => {
    const res = new SlowResponse();
    const big = `[${'1,'.repeat(40_000)}1]`;
    const writing = writeJsonEntries(res.asResponse(), lazily([entry('big', big), entry('bad', '[')]), true);
    await expect(writing).rejects.toEqual(new DvidError(400, 'bad JSON for key "bad"'));
    expect(res.headersSent).toBe(true);
    expect(Buffer.concat(res.chunks).toString()).toBe(`{"big":${big}`);
  });

  it('streams a large answer in chunks, waiting for the reader', async () => {
    const items = Array.from({ length: 2000 }, (_, i) => entry(`key-${i}`, `"${'v'.repeat(500)}"`));
    const res = new SlowResponse();
    await writeJsonEntries(res.asResponse(), lazily(items), true);
    expect(res.status).toBe(200);
    expect(res.headers).toEqual({ 'content-type': 'application/json' });
    expect(Object.keys(JSON.parse((await res.body()).toString()) as object)).toHaveLength(2000);
    // Without back-pressure the whole megabyte would wait in the response's buffer.
    expect(res.maxBacklog).toBeLessThan(200 * 1024);
  });

  it('stops pulling entries once the client has gone', async () => {
    const { state, entries } = endless(1000);
    const res = new SlowResponse((r) => r.destroy());
    await writeJsonEntries(res.asResponse(), entries, false);
    expect(state.closed).toBe(true);
    expect(state.pulled).toBeLessThan(200);
  });
});

describe('writeTarEntries', () => {
  it('writes one regular file per key, named by the key, with DVID’s header fields', async () => {
    const res = await exchange((r) => writeTarEntries(r, lazily([entry('a', 'alpha'), entry('b/c', 'x')])));
    expect(res).toMatchObject({ status: 200, headers: { 'content-type': 'application/tar' } });
    expect(res.body.byteLength % 512).toBe(0);
    const files = await untar(res.body);
    expect(files.map(({ header, body }) => [header.name, header.size, body.toString()])).toEqual([
      ['a', 5, 'alpha'],
      ['b/c', 1, 'x'],
    ]);
    for (const { header } of files) {
      expect(header).toMatchObject({ type: 'file', mode: 0o755, uid: 0, gid: 0, uname: '', gname: '' });
      expect(header.mtime.getTime()).toBe(0);
    }
    // USTAR magic and version, and the '0' type flag of a regular file.
    expect(res.body.subarray(257, 265).toString('latin1')).toBe('ustar\u000000');
    expect(res.body[156]).toBe(0x30);
  });

  it('writes a missing key or an empty value as an entry of size 0', async () => {
    const res = await exchange((r) => writeTarEntries(r, [entry('gone'), entry('empty', ''), entry('z', 'z')]));
    const files = await untar(res.body);
    expect(files.map(({ header, body }) => [header.name, header.size, body.byteLength])).toEqual([
      ['gone', 0, 0],
      ['empty', 0, 0],
      ['z', 1, 1],
    ]);
  });

  it('answers no entries with the end marker alone', async () => {
    const res = await exchange((r) => writeTarEntries(r, lazily([])));
    expect(res).toMatchObject({ status: 200, headers: { 'content-length': '1024' } });
    expect(res.body.equals(Buffer.alloc(1024))).toBe(true);
  });

  it.each([
    ['a 300-character name', 'n'.repeat(300)],
    ['a long name with slashes', `${'d'.repeat(120)}/${'f'.repeat(90)}`],
    ['a name that is not ASCII', 'clé-日本-😀'],
    ['a name with a newline', 'line\nbreak'],
  ])('round-trips %s', async (_, name) => {
    const res = await exchange((r) => writeTarEntries(r, [entry(name, 'v'), entry('next', 'w')]));
    const files = await untar(res.body);
    expect(files.map(({ header, body }) => [header.name, body.toString()])).toEqual([
      [name, 'v'],
      ['next', 'w'],
    ]);
  });

  it('takes values that are plain Uint8Arrays or views into a larger buffer', async () => {
    const backing = new Uint8Array([9, 1, 2, 3, 9]);
    const res = await exchange((r) =>
      writeTarEntries(r, [entry('view', backing.subarray(1, 4)), entry('plain', new Uint8Array([4, 5]))]),
    );
    const files = await untar(res.body);
    expect(files.map(({ body }) => [...body])).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
  });

  it('streams values larger than a chunk, waiting for the reader', async () => {
    const items = Array.from({ length: 10 }, (_, i) => entry(`big-${i}`, new Uint8Array(100_000).fill(0x41 + i)));
    const res = new SlowResponse();
    await writeTarEntries(res.asResponse(), lazily([...items, entry('small', 's')]));
    const files = await untar(await res.body());
    expect(files.map(({ header, body }) => [header.name, header.size, body[0]])).toEqual([
      ...items.map((_, i) => [`big-${i}`, 100_000, 0x41 + i]),
      ['small', 1, 0x73],
    ]);
    expect(res.headers).toEqual({ 'content-type': 'application/tar' });
    // Without back-pressure the whole megabyte would wait in the response's buffer.
    expect(res.maxBacklog).toBeLessThan(300 * 1024);
  });

  it('fails with the producer’s error, unsent when nothing had gone out', async () => {
    async function* failing(): AsyncGenerator<KeyValueEntry> {
      yield entry('a', 'x');
      throw new DvidError(400, 'storage went away');
    }
    const res = await exchange((r) => writeTarEntries(r, failing()));
    expect(res.status).toBe(400);
    expect(res.body.toString()).toBe('storage went away (/x).\n');
  });

  it('passes on a failure that is not an Error as one', async () => {
    const failing: Entries = {
      [Symbol.iterator]: () => ({
        next: () => {
          throw 'plain text';
        },
      }),
    };
    await expect(writeTarEntries(new SlowResponse().asResponse(), failing)).rejects.toThrow('plain text');
  });

  it('stops pulling entries once the client has gone', async () => {
    const { state, entries } = endless(1000);
    const res = new SlowResponse((r) => r.destroy());
    await writeTarEntries(res.asResponse(), entries);
    expect(state.closed).toBe(true);
    expect(state.pulled).toBeLessThan(200);
  });
});

describe('writeEntries', () => {
  const items = [entry('k1', '"v1"'), entry('zz')];

  it.each([
    [{ format: 'json', check: true } as const, 'application/json', '{"k1":"v1","zz":{}}'],
    [{ format: 'protobuf', check: false } as const, 'application/octet-stream', '0a0a0a026b311204227631220a040a027a7a'],
  ])('writes %j', async (choice, contentType, expected) => {
    const res = await exchange((r) => writeEntries(r, choice, items));
    expect(res.headers['content-type']).toBe(contentType);
    expect(choice.format === 'json' ? res.body.toString() : hex(res.body)).toBe(expected);
  });

  it('writes tar', async () => {
    const res = await exchange((r) => writeEntries(r, { format: 'tar', check: true }, items));
    expect(res.headers['content-type']).toBe('application/tar');
    expect((await untar(res.body)).map(({ header }) => header.name)).toEqual(['k1', 'zz']);
  });

  it('passes check on to JSON', async () => {
    const res = await exchange((r) => writeEntries(r, { format: 'json', check: true }, [entry('x', '{')]));
    expect(res.status).toBe(400);
  });
});
