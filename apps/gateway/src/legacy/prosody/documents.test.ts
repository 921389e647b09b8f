import { create } from '@bufbuild/protobuf';
import { DomainError } from '@rosetta/core';
import { RecordSchema, type Record as RecordMessage } from '@rosetta/proto';
import fc from 'fast-check';
import { decodeUpload, isEmptyTable, LIST_FRAMING, render, storedEntry, storedValue } from './documents';
import { decodeJson, encodeJson } from './json-codec';
import { parseLua, serializeLua, storedForm } from './lua-codec';
import { LuaTable, type LuaKey, type LuaValue } from './lua-value';

const bytes = (text: string) => Buffer.from(text, 'latin1');
const record = (value: Buffer | string, contentType: string): RecordMessage =>
  create(RecordSchema, { key: 'k', value: typeof value === 'string' ? bytes(value) : value, contentType });

function table(entries: [LuaKey, LuaValue][]): LuaTable {
  const result = new LuaTable();
  for (const [key, value] of entries) result.set(key, value);
  return result;
}

/** A value as order-free plain data: tables become their entries sorted by key, NaN a marker. */
type Plain = boolean | string | { n: string } | { i: string } | { t: [Plain, Plain][] };
function plain(value: LuaValue): Plain {
  if (value instanceof LuaTable) {
    const entries = [...value.entries()].map(([k, v]): [Plain, Plain] => [plain(k), plain(v)]);
    return { t: entries.sort((a, b) => (JSON.stringify(a[0]) < JSON.stringify(b[0]) ? -1 : 1)) };
  }
  if (typeof value === 'bigint') return { i: value.toString() };
  if (typeof value === 'number') return { n: Object.is(value, -0) ? '-0' : String(value) };
  return value;
}

/** Stored values: byte strings (UTF-8 text or any bytes), Lua integers and floats, booleans, nested tables. */
const byteString = fc.oneof(
  fc.string({ maxLength: 8 }).map((text) => Buffer.from(text, 'utf8').toString('latin1')),
  fc.uint8Array({ maxLength: 6 }).map((b) => Buffer.from(b).toString('latin1')),
);
const scalar = fc.oneof(
  byteString,
  fc.boolean(),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.double(),
  fc.constantFrom(0.1, 5.5, 1e20, 3.141592653589793, Infinity, -Infinity, NaN),
);
const key = fc.oneof(
  byteString,
  fc.bigInt({ min: -3n, max: 8n }),
  fc.boolean(),
  fc.double({ noNaN: true }),
  fc.constantFrom(1.5, 1e300, 0.1, '__array', '__hash'),
);
const { value } = fc.letrec<{ value: LuaValue; table: LuaValue }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, tie('table')),
  table: fc.oneof(
    fc.array(tie('value'), { maxLength: 4 }).map((items) => LuaTable.fromArray(items)),
    fc.array(fc.tuple(key, tie('value')), { maxLength: 4 }).map((entries) => table(entries)),
  ),
}));
const stored = value.map((v) => storedForm(v));
/** What an upload can store: anything but false (nil cannot be a value). */
const storable = stored.filter((v) => v !== false);

const decodeEntry = (entry: { value: Buffer; contentType: string }) =>
  entry.contentType === 'application/json' ? decodeJson(entry.value) : parseLua(entry.value);

describe('decodeUpload', () => {
  it('decodes JSON and Lua by their exact content type, as storage keeps them', () => {
    expect(plain(decodeUpload('application/json', bytes('{"a":5.0,"b":[true,null]}')))).toEqual(
      plain(
        table([
          ['a', 5n],
          ['b', LuaTable.fromArray([true, new LuaTable()])],
        ]),
      ),
    );
    expect(decodeUpload('text/x-lua', bytes('{ ["a"] = 1; "x" }'))).toBeInstanceOf(LuaTable);
    expect(decodeUpload('application/json', bytes('"x"'))).toBe('x');
    expect(decodeUpload('text/x-lua', bytes('5'))).toBe(5n);
  });

  it.each([
    ['application/json; charset=utf-8', '{}'],
    ['Application/JSON', '{}'],
    ['text/plain', '{}'],
    [undefined, '{}'],
    ['application/json', '{"a":}'],
    ['application/json', ''],
    ['application/json', 'false'],
    ['text/x-lua', 'nil'],
    ['text/x-lua', 'false'],
    ['text/x-lua', ''],
    ['text/x-lua', 'os.exit()'],
  ])('refuses %j %j with INVALID_ARGUMENT', (contentType, body) => {
    try {
      decodeUpload(contentType, bytes(body));
      throw new Error('accepted');
    } catch (error) {
      expect(error).toBeInstanceOf(DomainError);
      expect((error as DomainError).code).toBe('INVALID_ARGUMENT');
    }
  });

  it('never fails otherwise on any body', () => {
    fc.assert(
      fc.property(fc.constantFrom('application/json', 'text/x-lua'), fc.uint8Array({ maxLength: 64 }), (type, body) => {
        try {
          decodeUpload(type, Buffer.from(body));
        } catch (error) {
          expect((error as DomainError).code).toBe('INVALID_ARGUMENT');
        }
      }),
    );
  });

  it('knows empty tables', () => {
    expect(isEmptyTable(decodeUpload('application/json', bytes('null')))).toBe(true);
    expect(isEmptyTable(decodeUpload('application/json', bytes('[]')))).toBe(true);
    expect(isEmptyTable(decodeUpload('text/x-lua', bytes('{}')))).toBe(true);
    expect(isEmptyTable(decodeUpload('application/json', bytes('[{}]')))).toBe(false);
    expect(isEmptyTable(decodeUpload('application/json', bytes('""')))).toBe(false);
  });
});

describe('storedEntry', () => {
  it('stores JSON when it keeps the value', () => {
    const entry = storedEntry(decodeUpload('application/json', Buffer.from('{"name":"café","n":[1,2.5]}')));
    expect(entry.contentType).toBe('application/json');
    expect(entry.value.toString('utf8')).toBe('{"name":"café","n":[1,2.5]}');
  });

  it.each<[string, LuaValue]>([
    ['a float JSON would shorten', 3.141592653589793],
    ['bytes that are not UTF-8', '\xff\xfe'],
    ['infinity', Infinity],
    ['NaN', NaN],
    ['a table as a key', table([[new LuaTable(), true]])],
  ])('stores Lua text for %s', (_, v) => {
    const entry = storedEntry(v);
    expect(entry.contentType).toBe('text/x-lua');
    expect(entry.value.toString('latin1')).toBe(serializeLua(v).toString('latin1'));
  });

  it('stores every value so that reading it back gives the same value, JSON only when it is standard', () => {
    fc.assert(
      fc.property(stored, (v) => {
        const entry = storedEntry(v);
        expect(plain(decodeEntry(entry) as LuaValue)).toEqual(plain(v));
        if (entry.contentType === 'application/json') {
          expect(
            () => JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(entry.value)) as unknown,
          ).not.toThrow();
        }
      }),
      { numRuns: 3000 },
    );
  });
  it('stores ordinary JSON documents as the same JSON, compacted', () => {
    const { doc } = fc.letrec<{ doc: unknown }>((tie) => ({
      doc: fc.oneof(
        { depthSize: 'small' },
        fc.integer(),
        fc.string({ unit: 'grapheme' }),
        fc.boolean(),
        fc.constantFrom(0.5, -2.25, 1e-7, 1e21),
        fc.array(tie('doc'), { minLength: 1, maxLength: 4 }),
        fc.dictionary(fc.stringMatching(/^[a-z]{1,5}$/), tie('doc'), { maxKeys: 4 }),
      ),
    }));
    fc.assert(
      fc.property(
        doc.filter((document) => document !== false),
        (document) => {
          const text = JSON.stringify(document, null, 1);
          const entry = storedEntry(decodeUpload('application/json', Buffer.from(text)));
          expect(entry.contentType).toBe('application/json');
          expect(JSON.parse(entry.value.toString('utf8'))).toEqual(document);
        },
      ),
    );
  });
});

describe('storedValue and render', () => {
  it('copies the bytes of a record stored in the asked format', () => {
    const json = record('{"a":1}', 'application/json');
    expect(render(json, 'json')).toEqual(bytes('{"a":1}'));
    expect(render(json, 'lua').toString('latin1')).toBe('{\n\t["a"] = 1;\n}');
    const lua = record('{\n\t["a"] = 1;\n}', 'text/x-lua');
    expect(render(lua, 'lua').toString('latin1')).toBe('{\n\t["a"] = 1;\n}');
    expect(render(lua, 'json').toString('latin1')).toBe('{"a":1}');
  });

  it('shows the 14 digits of Prosody’s JSON for a float kept as Lua', () => {
    const entry = storedEntry(3.141592653589793);
    const kept = record(entry.value, entry.contentType);
    expect(render(kept, 'json').toString()).toBe('3.1415926535898');
    expect(render(kept, 'lua').toString()).toBe('3.14159265358979312');
  });

  it('reads records of other types, and JSON or Lua that does not decode, as the string of their bytes', () => {
    expect(storedValue(record('hello', 'text/plain'))).toBe('hello');
    expect(storedValue(record('{oops', 'application/json'))).toBe('{oops');
    expect(storedValue(record('nil', 'text/x-lua'))).toBe('nil');
    expect(storedValue(record('false', 'application/json'))).toBe('false');
    expect(storedValue(record('[1]', 'application/json; charset=utf-8'))).toBeInstanceOf(LuaTable);
    expect(render(record('caf\xc3\xa9', 'text/plain'), 'json').toString('latin1')).toBe('"caf\xc3\xa9"');
    expect(render(record('a"b', 'application/octet-stream'), 'lua').toString('latin1')).toBe('"a\\"b"');
  });
});

describe('LIST_FRAMING', () => {
  it('frames items exactly as Prosody encodes the table of them', () => {
    fc.assert(
      fc.property(fc.array(storable, { minLength: 1, maxLength: 5 }), (items) => {
        const records = items.map((item) => {
          const entry = storedEntry(item);
          return record(entry.value, entry.contentType);
        });
        const list = LuaTable.fromArray(records.map((r) => storedValue(r)));
        for (const [format, framing] of Object.entries(LIST_FRAMING)) {
          const text =
            framing.open +
            records.map((r) => framing.item(r).toString('latin1')).join(framing.separator) +
            framing.close;
          const expected = format === 'json' ? encodeJson(list) : serializeLua(list);
          expect(text).toBe(expected.toString('latin1'));
        }
      }),
    );
  });

  it('writes the spec’s list shapes', () => {
    const records = [record('"x"', 'application/json'), record('{"a":[1]}', 'application/json')];
    const lua = LIST_FRAMING.lua;
    expect(lua.open + records.map((r) => lua.item(r).toString()).join(lua.separator) + lua.close).toBe(
      '{\n\t"x";\n\t{\n\t\t["a"] = {\n\t\t\t1;\n\t\t};\n\t};\n}',
    );
  });
});
