import fc from 'fast-check';
import { decodeJson, encodeJson } from './json-codec';
import { serializeLua, storedForm } from './lua-codec';
import { CodecError, formatG, LuaTable, type LuaValue } from './lua-value';

const decode = (text: string) => decodeJson(Buffer.from(text, 'latin1'));
const encode = (value: LuaValue) => encodeJson(value).toString('latin1');

/** A canonical text for a value, blind to the order of table entries and exact about integer/float and -0. */
function canonical(value: LuaValue): string {
  if (value instanceof LuaTable) {
    const entries = [...value.entries()].map(([key, item]) => `${canonical(key)}=${canonical(item)}`);
    return `{${entries.sort().join(',')}}`;
  }
  if (typeof value === 'bigint') return `int:${value}`;
  if (typeof value === 'number') return Number.isFinite(value) ? `float:${formatG(value, 17)}` : `float:${value}`;
  if (typeof value === 'string') return `str:${Buffer.from(value, 'latin1').toString('hex')}`;
  return String(value);
}

function table(entries: [LuaValue, LuaValue][]): LuaTable {
  const result = new LuaTable();
  for (const [key, value] of entries) result.set(key, value);
  return result;
}

function expectRefused(text: string): void {
  expect(() => decode(text)).toThrow(CodecError);
}

describe('decodeJson', () => {
  it('stores the spec example as Prosody does (insertion order a, b; null becomes {})', () => {
    const stored = storedForm(decode('{"a":1,"b":[true,null]}'));
    expect(serializeLua(stored).toString('latin1')).toBe('{\n\t["a"] = 1;\n\t["b"] = {\n\t\ttrue;\n\t\t{};\n\t};\n}');
    expect(encode(stored)).toBe('{"a":1,"b":[true,{}]}');
  });

  it.each<[string, LuaValue]>([
    ['true', true],
    ['false', false],
    ['"x"', 'x'],
    ['123', 123n],
    ['-0', 0n],
    ['01', 1n],
    ['1.0', 1],
    ['5.', 5],
    ['-.5', -0.5],
    ['1e3', 1000],
    ['1E+2', 100],
    ['-1.5e-3', -0.0015],
    ['-0.0', -0],
    ['9223372036854775807', 9223372036854775807n],
    ['9223372036854775808', 9223372036854775808],
    ['-9223372036854775808', -9223372036854775808n],
    ['-9223372036854775809', -(2 ** 63)],
    ['1e999', Infinity],
    [' \t\r\n7\n', 7n],
  ])('reads %j as Lua would', (text, expected) => {
    expect(decode(text)).toEqual(expected);
  });

  it.each(['1-2', '-', '1e', '1.2.3', '1ee2', '--1', '+1', '.5', '0x10', '1.5e+'])(
    'refuses the number %j (Lua tonumber fails on the run)',
    expectRefused,
  );

  it.each(['', ' ', 'nul', 'tru', 'fals', 'nullx', 'True', '1 2', '{} x', '\f1', '"a" "b"', "'a'", 'undefined'])(
    'refuses %j',
    expectRefused,
  );

  it('reads null as a new empty table each time, however many there are', () => {
    const top = decode('null');
    expect(top).toBeInstanceOf(LuaTable);
    expect((top as LuaTable).size).toBe(0);
    const pair = decode('{"a":null,"b":null}') as LuaTable;
    expect(pair.get('a')).toBeInstanceOf(LuaTable);
    expect(pair.get('a')).not.toBe(pair.get('b'));
    expect(serializeLua(pair).toString('latin1')).toBe('{\n\t["a"] = {};\n\t["b"] = {};\n}');
  });

  describe('strings', () => {
    it.each<[string, string]>([
      ['"\\"\\\\\\/\\b\\f\\n\\r\\t"', '"\\/\b\f\n\r\t'],
      ['"\\u0041\\u00e9\\u20AC"', 'A\xc3\xa9\xe2\x82\xac'],
      ['"\\ud83d\\ude00"', '\xf0\x9f\x98\x80'],
      ['"\\uDBFF\\uDFFF"', '\xf4\x8f\xbf\xbf'],
      ['"\\u0000"', '\x00'],
      ['"\\x\\q\\\'"', "\\x\\q\\'"],
      ['"\\\\u0041"', '\\u0041'],
      ['"tab\there\x01\x7f"', 'tab\there\x01\x7f'],
      ['"line\nbreak"', 'line\nbreak'],
    ])('decodes %j', (text, expected) => {
      expect(decode(text)).toBe(expected);
    });

    it('keeps UTF-8 (and any other byte) as bytes', () => {
      expect(decodeJson(Buffer.from('"café"', 'utf8'))).toBe('caf\xc3\xa9');
      expect(decodeJson(Buffer.from([0x22, 0xff, 0xfe, 0x22]))).toBe('\xff\xfe');
    });

    it.each([
      '"\\ud800"',
      '"\\udc00"',
      '"\\ud800\\u0041"',
      '"\\ud800x"',
      '"\\u12"',
      '"\\u12G4"',
      '"abc',
      '"abc\\"',
      '"\\',
    ])('refuses %j', expectRefused);
  });

  describe('arrays and objects', () => {
    it('reads arrays as sequences and objects as tables', () => {
      expect(canonical(decode('[1, "a", [true]]'))).toBe(
        canonical(LuaTable.fromArray([1n, 'a', LuaTable.fromArray([true])])),
      );
      expect(canonical(decode('{"a":1,"b":{"c":[]}}'))).toBe(
        canonical(
          table([
            ['a', 1n],
            ['b', table([['c', new LuaTable()]])],
          ]),
        ),
      );
    });

    it.each(['[]', '[ ]', '{}', '{ }', '{"a":1,}', '{"a":1 , }'])('accepts %j', (text) => {
      expect(decode(text)).toBeInstanceOf(LuaTable);
    });

    it.each([
      '[1,]',
      '[,1]',
      '[1,,2]',
      '[1 2]',
      '{,}',
      '{"a":1,,}',
      '{"a" 1}',
      '{a:1}',
      '{1:1}',
      '{"a":}',
      '[',
      '{"a":1',
    ])('refuses %j', expectRefused);

    it('lets the last of duplicate keys win', () => {
      expect((decode('{"a":1,"a":2}') as LuaTable).get('a')).toBe(2n);
    });

    it('accepts nesting 127 deep and refuses 128, without overflowing the stack', () => {
      expect(decode('['.repeat(127) + ']'.repeat(127))).toBeInstanceOf(LuaTable);
      expectRefused('['.repeat(128) + ']'.repeat(128));
      expectRefused('[{"a":'.repeat(64) + '1' + '}]'.repeat(64));
      expectRefused('['.repeat(1_000_000));
    });
  });

  describe('__array and __hash members', () => {
    it('folds them into positional items and arbitrary keys', () => {
      const folded = decode('{"x":1,"__array":["a","b"],"__hash":[3,"c",true,"t",1.5,"f",{"k":1},"table key"]}');
      expect(canonical(folded)).toBe(
        canonical(
          table([
            ['x', 1n],
            [1n, 'a'],
            [2n, 'b'],
            [3n, 'c'],
            [true, 't'],
            [1.5, 'f'],
            [table([['k', 1n]]), 'table key'],
          ]),
        ),
      );
    });

    it('applies __hash after __array, so its keys win', () => {
      expect(canonical(decode('{"__array":["a"],"__hash":[1,"b"]}'))).toBe(canonical(LuaTable.fromArray(['b'])));
    });

    it('drops an odd last __hash key, as Prosody does', () => {
      expect(canonical(decode('{"__hash":["k","v","dangling"]}'))).toBe(canonical(table([['k', 'v']])));
    });

    it('does not fold when the object ends with a trailing comma (Prosody returns it before its fix-up)', () => {
      const unfolded = decode('{"__array":[1],}') as LuaTable;
      expect(unfolded.get('__array')).toBeInstanceOf(LuaTable);
      expect(unfolded.get(1n)).toBeUndefined();
    });

    it('follows Lua truthiness and ipairs on odd member values', () => {
      expect((decode('{"__array":"abc"}') as LuaTable).size).toBe(0);
      expect((decode('{"__array":false}') as LuaTable).get('__array')).toBe(false);
      expect((decode('{"__array":null}') as LuaTable).size).toBe(0);
      expect(canonical(decode('{"__array":{"x":1,"__array":[7]}}'))).toBe(canonical(LuaTable.fromArray([7n])));
      expectRefused('{"__array":5}');
      expectRefused('{"__hash":true}');
    });
  });
});

describe('encodeJson', () => {
  it.each<[LuaValue, string]>([
    [true, 'true'],
    [false, 'false'],
    [42n, '42'],
    [-9223372036854775808n, '-9223372036854775808'],
    [5, '5.0'],
    [-0, '-0.0'],
    [0.1, '0.1'],
    [3.141592653589793, '3.1415926535898'],
    [1e14, '1e+14'],
    [123456789012345, '1.2345678901234e+14'],
    [1e20, '1e+20'],
    [1e-7, '1e-07'],
    [2 ** 63, '9.2233720368548e+18'],
    [Infinity, 'inf'],
    [-Infinity, '-inf'],
    [NaN, '-nan'],
  ])('writes the number %p as Lua tostring does: %s', (value, expected) => {
    expect(encode(value)).toBe(expected);
  });

  it('shows 5 and 3.1415926535898 for uploaded 5.0 and 3.141592653589793 once stored', () => {
    expect(encode(storedForm(decode('5.0')))).toBe('5');
    expect(encode(storedForm(decode('3.141592653589793')))).toBe('3.1415926535898');
  });

  it('escapes strings as Prosody does: named escapes, upper-case \\u00XX, the rest raw', () => {
    expect(encode('"\\\b\f\n\r\t\x00\x1b\x1f/\x7f')).toBe('"\\"\\\\\\b\\f\\n\\r\\t\\u0000\\u001B\\u001F/\x7f"');
    expect([...encodeJson('caf\xc3\xa9\xff')]).toEqual([0x22, 0x63, 0x61, 0x66, 0xc3, 0xa9, 0xff, 0x22]);
  });

  it('writes empty tables as {}, sequences as arrays and everything else as objects', () => {
    expect(encode(new LuaTable())).toBe('{}');
    expect(encode(LuaTable.fromArray([1n, 'a', new LuaTable()]))).toBe('[1,"a",{}]');
    expect(
      encode(
        table([
          ['b', 1n],
          ['a', LuaTable.fromArray([true])],
        ]),
      ),
    ).toBe('{"b":1,"a":[true]}');
  });

  it('puts other keys in __hash after the members and the items in __array last', () => {
    const mixed = table([
      [3n, 'c'],
      ['x', 1n],
      [true, 't'],
      [2n, 'b'],
      [1n, 'a'],
      [LuaTable.fromArray([9n]), 'table key'],
      [0.5, 'half'],
    ]);
    expect(encode(mixed)).toBe('{"x":1,"__hash":[true,"t",[9],"table key",0.5,"half"],"__array":["a","b","c"]}');
    expect(
      encode(
        table([
          [1n, 'a'],
          [3n, 'c'],
        ]),
      ),
    ).toBe('{"__hash":[3,"c"],"__array":["a"]}');
  });

  it('writes string keys named __array and __hash inside __hash, as Prosody 0.12 does, so they survive', () => {
    const magic = table([
      ['__array', 1n],
      ['__hash', 2n],
      ['x', 3n],
    ]);
    expect(encode(magic)).toBe('{"x":3,"__hash":["__array",1,"__hash",2]}');
    expect(canonical(decodeJson(encodeJson(magic)))).toBe(canonical(magic));
  });

  it('refuses a string that is not a byte string and a cyclic table, instead of corrupting or looping', () => {
    expect(() => encode('€')).toThrow('not a byte string');
    const cyclic = new LuaTable();
    cyclic.set('self', cyclic);
    expect(() => encode(cyclic)).toThrow('nested deeper than 127');
  });
});

describe('properties', () => {
  const byteString = fc.uint8Array({ maxLength: 10 }).map((bytes) => Buffer.from(bytes).toString('latin1'));
  /** Floats JSON carries exactly: `%.14g` prints at most 8 significant digits of these back unchanged. */
  const jsonFloat = fc.oneof(
    fc
      .tuple(fc.integer({ min: -99_999_999, max: 99_999_999 }), fc.integer({ min: -30, max: 30 }))
      .map(([mantissa, exponent]) => Number(`${mantissa}e${exponent}`)),
    fc.constantFrom(-0, 5, 1e20, 1e-7),
  );
  const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
  const scalar = fc.oneof(fc.boolean(), int64, jsonFloat, byteString);
  const key = fc.oneof(scalar, fc.bigInt({ min: 1n, max: 4n }), fc.constantFrom('__array', '__hash'));

  const { value: jsonValue } = fc.letrec<{ value: LuaValue; table: LuaTable }>((tie) => ({
    value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, tie('table')),
    table: fc
      .tuple(
        fc.array(tie('value'), { maxLength: 4 }),
        fc.array(fc.tuple(fc.oneof({ depthSize: 'small' }, key, tie('table')), tie('value')), { maxLength: 4 }),
      )
      .map(([items, entries]) => {
        const result = LuaTable.fromArray(items);
        for (const [entryKey, entryValue] of entries) result.set(entryKey, entryValue);
        return result;
      }),
  }));

  it('decodeJson(encodeJson(v)) gives v back for every value JSON can carry (no inf/NaN, floats of ≤ 14 digits)', () => {
    fc.assert(
      fc.property(jsonValue, (value) => {
        expect(canonical(decodeJson(encodeJson(value)))).toBe(canonical(value));
      }),
      { numRuns: 300 },
    );
  });

  const jsonTokens = [
    '{',
    '}',
    '[',
    ']',
    ',',
    ':',
    ' ',
    '\n',
    '"',
    '"a"',
    '"__array"',
    '"__hash"',
    '\\',
    '\\u',
    'd83d',
    '\\ude00',
    '\\n',
    'null',
    'true',
    'false',
    'nul',
    '1',
    '-',
    '0',
    '.',
    'e',
    '+',
    '1e999',
    '9223372036854775808',
    '\x00',
    '\xff',
  ];
  const jsonish = fc.array(fc.constantFrom(...jsonTokens), { maxLength: 40 }).map((tokens) => tokens.join(''));

  it.each<[string, fc.Arbitrary<Buffer>]>([
    ['strings', fc.string({ maxLength: 200 }).map((text) => Buffer.from(text, 'utf8'))],
    ['full-unicode strings', fc.string({ unit: 'binary', maxLength: 100 }).map((text) => Buffer.from(text, 'utf8'))],
    ['bytes', fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes))],
    ['spliced JSON tokens', jsonish.map((text) => Buffer.from(text, 'latin1'))],
  ])('on arbitrary %s, decodeJson returns a storable value or throws CodecError', (_, bodies) => {
    fc.assert(
      fc.property(bodies, (body) => {
        let value: LuaValue;
        try {
          value = decodeJson(body);
        } catch (error) {
          expect(error).toBeInstanceOf(CodecError);
          return;
        }
        expect(() => serializeLua(value)).not.toThrow();
        expect(() => encodeJson(value)).not.toThrow();
      }),
      { numRuns: 500 },
    );
  });
});
