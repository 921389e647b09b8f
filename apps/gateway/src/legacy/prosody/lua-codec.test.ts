import fc from 'fast-check';
import { parseLua, serializeLua, storedForm } from './lua-codec';
import { CodecError, LuaTable, type LuaValue } from './lua-value';

const parse = (text: string) => parseLua(Buffer.from(text, 'latin1'));
const serialize = (value: LuaValue) => serializeLua(value).toString('latin1');

/** Plain data for Jest: tables become their entries in order, so `toEqual` checks order, types, -0 and NaN. */
type Plain = boolean | bigint | number | string | { entries: [Plain, Plain][] };

function plain(value: LuaValue | undefined): Plain | undefined {
  if (!(value instanceof LuaTable)) return value;
  return { entries: [...value.entries()].map(([key, item]) => [plain(key) as Plain, plain(item) as Plain]) };
}

function table(entries: [LuaValue, LuaValue][]): LuaTable {
  const result = new LuaTable();
  for (const [key, value] of entries) result.set(key, value);
  return result;
}

function expectRefused(text: string): void {
  expect(() => parse(text)).toThrow(CodecError);
}

describe('serializeLua', () => {
  it('writes the spec examples byte for byte', () => {
    expect(serialize(new LuaTable())).toBe('{}');
    expect(serialize(table([['a', 1n]]))).toBe('{\n\t["a"] = 1;\n}');
    expect(serialize(LuaTable.fromArray(['x', 'y']))).toBe('{\n\t"x";\n\t"y";\n}');
    const document = table([
      ['name', 'caf\xc3\xa9'],
      ['tags', LuaTable.fromArray(['a', 'b'])],
      [5n, true],
    ]);
    expect(serialize(document)).toBe(
      '{\n\t["name"] = "caf\\195\\169";\n\t["tags"] = {\n\t\t"a";\n\t\t"b";\n\t};\n\t[5] = true;\n}',
    );
  });

  it.each<[LuaValue, string]>([
    [true, 'true'],
    [false, 'false'],
    [-5n, '-5'],
    [-9223372036854775808n, '-9223372036854775808'],
    [0.1, '0.100000000000000006'],
    [2, '2'],
    [-0, '-0'],
    [1e17, '100000000000000000'],
    [1e18, '1e+18'],
    [1e20, '1e+20'],
    [1e-5, '1.00000000000000008e-05'],
    [2 ** 63, '9.22337203685477581e+18'],
    [5e-324, '4.94065645841246544e-324'],
    [Infinity, '(1/0)'],
    [-Infinity, '(-1/0)'],
    [NaN, '(0/0)'],
  ])('writes %p as %s', (value, expected) => {
    expect(serialize(value)).toBe(expected);
  });

  it("escapes strings byte by byte with named escapes, \\' and three-digit decimals", () => {
    expect(serialize('a\x00\x07\b\t\n\v\f\r\x1b"\\\'\x7f\x80\xff ~/')).toBe(
      '"a\\000\\a\\b\\t\\n\\v\\f\\r\\027\\"\\\\\\\'\\127\\128\\255 ~/"',
    );
  });

  it('keys everything but the positional run, in brackets, tables in place one level deeper', () => {
    const keyTable = LuaTable.fromArray([1n]);
    const mixed = table([
      [1n, 'a'],
      [3n, 'c'],
      [true, 'yes'],
      [1.5, 'half'],
      [keyTable, LuaTable.fromArray([2n])],
    ]);
    expect(serialize(mixed)).toBe(
      '{\n\t"a";\n\t[3] = "c";\n\t[true] = "yes";\n\t[1.5] = "half";\n\t[{\n\t\t1;\n\t}] = {\n\t\t2;\n\t};\n}',
    );
  });

  it('writes 127 levels of tables and refuses 128, a table appearing twice, and a cycle', () => {
    const nest = (depth: number): LuaTable => (depth === 1 ? new LuaTable() : LuaTable.fromArray([nest(depth - 1)]));
    expect(() => serializeLua(nest(127))).not.toThrow();
    expect(() => serializeLua(nest(128))).toThrow('max table depth reached');
    const shared = new LuaTable();
    expect(() => serializeLua(LuaTable.fromArray([shared, shared]))).toThrow('multiple references');
    const cyclic = new LuaTable();
    cyclic.set('self', cyclic);
    expect(() => serializeLua(cyclic)).toThrow('multiple references');
    expect(() => serializeLua('€')).toThrow('not a byte string');
  });
});

describe('storedForm', () => {
  it.each<[LuaValue, LuaValue]>([
    [2, 2n],
    [-0, 0n],
    [-5, -5n],
    [1e17, 100000000000000000n],
    [1e18, 1e18],
    [0.1, 0.1],
    [Infinity, Infinity],
    [NaN, NaN],
    [-9223372036854775808n, -9223372036854775808],
    [9223372036854775807n, 9223372036854775807n],
    ['x', 'x'],
  ])('reads %p back as %p', (value, expected) => {
    expect(storedForm(value)).toEqual(expected);
  });

  it('converts inside tables, keys included, keeping the order', () => {
    const value = table([
      ['b', 2],
      [LuaTable.fromArray([3]), 'key'],
      ['a', -9223372036854775808n],
    ]);
    expect(plain(storedForm(value))).toEqual(
      plain(
        table([
          ['b', 2n],
          [LuaTable.fromArray([3n]), 'key'],
          ['a', -9223372036854775808],
        ]),
      ),
    );
  });
});

describe('parseLua', () => {
  it.each<[string, LuaValue | undefined]>([
    ['nil', undefined],
    ['true', true],
    ['false', false],
    ['  "x"  ', 'x'],
    ['1, 2', 1n],
    ['nil, 2', undefined],
    ['"a";', 'a'],
    ['3 , {} ;', 3n],
    ['--[[ comment ]] 1 -- trailing', 1n],
    ['--[==[ ]] still ]=] comment ]==]1', 1n],
    ['--[= not long\n1', 1n],
    ['\v\f\r\n\t 1', 1n],
  ])('reads the body %j', (text, expected) => {
    expect(parse(text)).toEqual(expected);
  });

  it.each<[string, LuaValue]>([
    ['"\\a\\b\\f\\n\\r\\t\\v\\\\\\"\\\'"', '\x07\b\f\n\r\t\v\\"\''],
    ['\'single "quotes"\'', 'single "quotes"'],
    ['"\\x41\\x6a\\xFF"', 'Aj\xff'],
    ['"\\65\\0651\\255\\0"', 'AA1\xff\x00'],
    ['"a\\z  \n\t b"', 'ab'],
    ['"a\\\nb\\\r\nc\\\n\rd\\\re"', 'a\nb\nc\nd\ne'],
    ['"\\u{41}\\u{e9}\\u{20AC}\\u{1F600}"', 'A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80'],
    ['"\\u{0000000041}\\u{7FFFFFFF}"', 'A\xfd\xbf\xbf\xbf\xbf\xbf'],
    ['"caf\xc3\xa9"', 'caf\xc3\xa9'],
    ['[[raw \\n "text"]]', 'raw \\n "text"'],
    ['[==[\n]]a]=]b]==]', ']]a]=]b'],
    ['[[\r\nfirst\r\nsecond\n\rthird\rfourth\n\nfifth]]', 'first\nsecond\nthird\nfourth\n\nfifth'],
  ])('reads the string %j', (text, expected) => {
    expect(parse(text)).toBe(expected);
  });

  it.each<[string, LuaValue]>([
    ['0', 0n],
    ['123', 123n],
    ['9223372036854775807', 9223372036854775807n],
    ['9223372036854775808', 9223372036854775808],
    ['1.5', 1.5],
    ['.5', 0.5],
    ['5.', 5],
    ['1e10', 1e10],
    ['1E-3', 0.001],
    ['1e400', Infinity],
    ['0xff', 255n],
    ['0XFF', 255n],
    ['0xFFFFFFFFFFFFFFFF', -1n],
    ['0x10000000000000000', 0n],
    ['0x1p4', 16],
    ['0x.8', 0.5],
    ['0xA.8p1', 21],
    ['0x1p-1074', 5e-324],
    ['0x1p-1075', 0],
    ['0x3p-1076', 5e-324],
    ['-1', -1n],
    ['- 1.5', -1.5],
    ['-0', 0n],
    ['-0.0', -0],
    ['- -1', 1n],
    ['-(2)', -2n],
    ['-9223372036854775808', -9223372036854775808],
    ['-0x8000000000000000', -9223372036854775808n],
    ['(1)', 1n],
    ['((("x")))', 'x'],
    ['(1/0)', Infinity],
    ['(-1/0)', -Infinity],
    ['(0/0)', NaN],
    ['( - 1 / 0 )', -Infinity],
    ['(4/2)', 2],
    ['(1/-0)', Infinity],
    ['(1/-0.0)', -Infinity],
    ['-(1/0)', -Infinity],
  ])('reads the number %j', (text, expected) => {
    expect(parse(text)).toEqual(expected);
  });

  it('reads table constructors: keyed, named and positional fields with , or ; and a trailing separator', () => {
    const value = parse('{ "a", ["k"] = 1; name = {}, [true] = false, [1.5] = "f", "b"; }');
    expect(plain(value)).toEqual(
      plain(
        table([
          [1n, 'a'],
          [2n, 'b'],
          ['k', 1n],
          ['name', new LuaTable()],
          [true, false],
          [1.5, 'f'],
        ]),
      ),
    );
    expect(plain(parse('{}'))).toEqual(plain(new LuaTable()));
    expect(plain(parse('{[ [[k]] ] = [[v]]}'))).toEqual(plain(table([['k', 'v']])));
  });

  it('lets positional items win over explicit keys, counts nil items and omits nil values', () => {
    expect(plain(parse('{[1] = "keyed", "positional"}'))).toEqual(plain(LuaTable.fromArray(['positional'])));
    expect(plain(parse('{"positional", [1] = "keyed"}'))).toEqual(plain(LuaTable.fromArray(['positional'])));
    expect(plain(parse('{nil, 2}'))).toEqual(plain(table([[2n, 2n]])));
    expect(plain(parse('{[2] = "x", 1, nil}'))).toEqual(plain(LuaTable.fromArray([1n])));
    expect(plain(parse('{a = 1, a = nil, b = nil, [3] = 3}'))).toEqual(plain(table([[3n, 3n]])));
    expect(plain(parse('{[3] = 3, 1, 2}'))).toEqual(plain(LuaTable.fromArray([1n, 2n, 3n])));
  });

  it('normalises integral float keys that fit int64 to integers', () => {
    const value = parse('{[2.0] = "two", [(4/2)] = "again", [-0.0] = "zero", [0x1p70] = "big"}');
    expect(plain(value)).toEqual(
      plain(
        table([
          [2n, 'again'],
          [0n, 'zero'],
          [2 ** 70, 'big'],
        ]),
      ),
    );
  });

  it.each([
    '',
    ' -- only a comment',
    ';',
    'os.exit()',
    'function() end',
    'a.b',
    'x',
    '1+1',
    '1 2',
    '1;;',
    '"a".."b"',
    '#"a"',
    '("a"):rep(3)',
    'return 1',
    'not true',
    '{a}',
    '{a == 1}',
    '{nil = 1}',
    '{true = 1}',
    '{end = 1}',
    '{,}',
    '{1,,2}',
    '{;}',
    '{1 2}',
    '{[1] 2}',
    '{[1] == 2}',
    '{[nil] = 1}',
    '{[nil] = nil}',
    '{[(0/0)] = 1}',
    '{[[k]] = 1}',
    '{[=k] = 1}',
    '-"1"',
    '-{}',
    '- true',
    '-nil',
    '(1/x)',
    '(1/)',
    '(1',
    '(1/0',
    '()',
    '[=[x]]',
    '[x]',
    '3x',
    '1e',
    '0x',
    '1..2',
    '0x1g',
    '"unterminated',
    '\'unterminated"',
    '"line\nbreak"',
    '"line\rbreak"',
    '"\\q"',
    '"\\x4"',
    '"\\xG1"',
    '"\\256"',
    '"\\u41"',
    '"\\u{}"',
    '"\\u{41"',
    '"\\u{80000000}"',
    '"\\',
    '[[unterminated',
    '--[[ unterminated comment',
    'é',
  ])('refuses %j', expectRefused);

  it('accepts 127 nested tables and refuses 128, and refuses deep parentheses and minus signs without overflowing', () => {
    expect(parse('{'.repeat(127) + '}'.repeat(127))).toBeInstanceOf(LuaTable);
    expectRefused('{'.repeat(128) + '}'.repeat(128));
    expectRefused('{'.repeat(1_000_000));
    expectRefused('{['.repeat(500_000));
    expectRefused('('.repeat(1_000_000));
    expectRefused('- '.repeat(1_000_000) + '1');
    expect(parse('('.repeat(100) + '1' + ')'.repeat(100))).toBe(1n);
  });
});

describe('properties', () => {
  const byteString = fc.uint8Array({ maxLength: 10 }).map((bytes) => Buffer.from(bytes).toString('latin1'));
  const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
  const float = fc.oneof(fc.double(), fc.constantFrom(2, -0, 0.1, 1e17, 1e18, -(2 ** 63), 2 ** 63, 5e-324));
  const scalar = fc.oneof(fc.boolean(), int64, float, byteString);
  const key = fc.oneof(
    fc.boolean(),
    int64,
    fc.bigInt({ min: 1n, max: 4n }),
    float.filter((value) => !Number.isNaN(value)),
    byteString,
  );

  const { value: luaValue } = fc.letrec<{ value: LuaValue; table: LuaTable }>((tie) => ({
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

  /** Whether the value holds (not as a key) a float -0 or the integer -2^63: the two the writer cannot keep. */
  function holdsUnstableNumber(value: LuaValue): boolean {
    if (value instanceof LuaTable) {
      return [...value.entries()].some(
        ([entryKey, item]) =>
          (entryKey instanceof LuaTable && holdsUnstableNumber(entryKey)) || holdsUnstableNumber(item),
      );
    }
    return Object.is(value, -0) || value === -9223372036854775808n;
  }

  it('parseLua(serializeLua(v)) is storedForm(v): same entries, order, integer/float types', () => {
    fc.assert(
      fc.property(luaValue, (value) => {
        const text = serializeLua(value);
        const reread = parseLua(text);
        expect(plain(reread)).toEqual(plain(storedForm(value)));
        expect(serializeLua(reread as LuaValue).equals(serializeLua(storedForm(value)))).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it('a stored value is stable: storedForm is idempotent and its text reads back to the same text', () => {
    fc.assert(
      fc.property(luaValue, (value) => {
        const stored = storedForm(value);
        expect(plain(storedForm(stored))).toEqual(plain(stored));
        const text = serializeLua(stored);
        expect(serializeLua(parseLua(text) as LuaValue).equals(text)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('storing does not change the text, except for a float -0 or the integer -2^63 held as a value', () => {
    fc.assert(
      fc.property(
        luaValue.filter((value) => !holdsUnstableNumber(value)),
        (value) => {
          expect(serializeLua(storedForm(value)).equals(serializeLua(value))).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
    expect(serialize(storedForm(-0))).toBe('0');
    expect(serialize(storedForm(-9223372036854775808n))).toBe('-9.22337203685477581e+18');
  });

  const luaTokens = [
    '{',
    '}',
    '[',
    ']',
    '[[',
    ']]',
    '[=[',
    ']=]',
    '(',
    ')',
    '=',
    '==',
    ',',
    ';',
    '"',
    "'",
    '\\',
    '\\z',
    '\\u{',
    '\\x',
    '\\9',
    '-',
    '--',
    '--[[',
    '/',
    '.',
    '..',
    'nil',
    'true',
    'x',
    'end',
    '1',
    '0x',
    'p',
    'e',
    '1e',
    '0x1p',
    ' ',
    '\n',
    '\r',
    '(1/0)',
    'os.exit()',
    'function() end',
    '\xff',
  ];
  const luaish = fc.array(fc.constantFrom(...luaTokens), { maxLength: 40 }).map((tokens) => tokens.join(''));

  it.each<[string, fc.Arbitrary<Buffer>]>([
    ['strings', fc.string({ maxLength: 200 }).map((text) => Buffer.from(text, 'utf8'))],
    ['full-unicode strings', fc.string({ unit: 'binary', maxLength: 100 }).map((text) => Buffer.from(text, 'utf8'))],
    ['bytes', fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes))],
    ['spliced Lua tokens', luaish.map((text) => Buffer.from(text, 'latin1'))],
  ])('on arbitrary %s, parseLua returns a storable value or throws CodecError', (_, bodies) => {
    fc.assert(
      fc.property(bodies, (body) => {
        let value: LuaValue | undefined;
        try {
          value = parseLua(body);
        } catch (error) {
          expect(error).toBeInstanceOf(CodecError);
          return;
        }
        if (value !== undefined) expect(() => serializeLua(value)).not.toThrow();
      }),
      { numRuns: 500 },
    );
  });
});
