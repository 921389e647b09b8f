import {
  GraphQLError,
  GraphQLObjectType,
  GraphQLSchema,
  graphql,
  parseValue as parseValueLiteral,
  type GraphQLScalarType,
} from 'graphql';
import { DateTime, JSONScalar, Long } from './scalars';

/** What `run` threw (a test fails when it returns). */
function thrownBy(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

/** Asserts that `run` refuses its input as the caller's mistake. */
function expectBadInput(run: () => unknown, message?: string | RegExp) {
  const error = thrownBy(run);
  expect(error).toBeInstanceOf(GraphQLError);
  expect((error as GraphQLError).extensions.code).toBe('BAD_USER_INPUT');
  if (message !== undefined) expect((error as GraphQLError).message).toMatch(message);
}

const literal = (scalar: GraphQLScalarType, source: string, variables?: Record<string, unknown>) =>
  scalar.parseLiteral(parseValueLiteral(source), variables);

describe('DateTime', () => {
  it('serializes microseconds since the epoch as RFC 3339 in UTC with six fractional digits', () => {
    expect(DateTime.serialize(1733482368123456n)).toBe('2024-12-06T10:52:48.123456Z');
    expect(DateTime.serialize(1733482368000001n)).toBe('2024-12-06T10:52:48.000001Z');
    expect(DateTime.serialize(0n)).toBe('1970-01-01T00:00:00.000000Z');
    // Before the epoch, the microseconds still count forwards within their second.
    expect(DateTime.serialize(-1n)).toBe('1969-12-31T23:59:59.999999Z');
    // A number of microseconds serializes like the bigint.
    expect(DateTime.serialize(1733482368123456)).toBe('2024-12-06T10:52:48.123456Z');
  });

  it('refuses to serialize what is not an instant', () => {
    for (const value of ['2024-12-06T10:52:48Z', new Date(0), null, undefined, {}]) {
      const error = thrownBy(() => DateTime.serialize(value));
      expect(error).toBeInstanceOf(GraphQLError);
      expect((error as GraphQLError).message).toBe('DateTime: not an instant');
    }
  });

  it('parses RFC 3339 strings in UTC into microseconds, keeping every digit', () => {
    expect(DateTime.parseValue('2024-12-06T10:52:48.123456Z')).toBe(1733482368123456n);
    expect(DateTime.parseValue('2024-12-06T10:52:48Z')).toBe(1733482368000000n);
    expect(DateTime.parseValue('2024-12-06T10:52:48.1Z')).toBe(1733482368100000n);
    expect(DateTime.parseValue('1970-01-01T00:00:00.000001Z')).toBe(1n);
  });

  it('parses strings with an offset into the same instant', () => {
    const utc = 1733482368123456n;
    expect(DateTime.parseValue('2024-12-06T11:52:48.123456+01:00')).toBe(utc);
    expect(DateTime.parseValue('2024-12-06T05:22:48.123456-05:30')).toBe(utc);
    expect(DateTime.parseValue('2024-12-06T10:52:48.123456+00:00')).toBe(utc);
    // Crossing midnight with the offset.
    expect(DateTime.parseValue('2024-12-07T00:52:48.123456+14:00')).toBe(utc);
    // Lower-case separators are RFC 3339 too.
    expect(DateTime.parseValue('2024-12-06t10:52:48.123456z')).toBe(utc);
  });

  it('round-trips what it serializes', () => {
    for (const us of [0n, 1n, 1733482368123456n, 4102444799999999n]) {
      expect(DateTime.parseValue(DateTime.serialize(us))).toBe(us);
    }
  });

  it('parses string literals like variables', () => {
    expect(literal(DateTime, '"2024-12-06T11:52:48.123456+01:00"')).toBe(1733482368123456n);
  });

  it('refuses values that are not strings', () => {
    for (const value of [1733482368123456, 1733482368123456n, null, undefined, true, { at: 'now' }]) {
      expectBadInput(() => DateTime.parseValue(value), 'DateTime must be an RFC 3339 string');
    }
  });

  it('refuses literals that are not strings', () => {
    for (const source of ['1733482368123456', '1.5', 'true', 'null', 'NOW', '["2024-12-06T10:52:48Z"]']) {
      expectBadInput(() => literal(DateTime, source), 'DateTime must be an RFC 3339 string');
    }
  });

  it('refuses strings that are not RFC 3339 date-times with an offset, quoting them', () => {
    const garbage = [
      '',
      'yesterday',
      '2024-12-06',
      '2024-12-06T10:52:48', // no offset
      '2024-12-06T10:52Z', // no seconds
      '2024-02-30T00:00:00Z', // no such day
      '2024-13-01T00:00:00Z',
      '2024-12-06T25:00:00Z',
      '2024-12-06T10:52:48.Z',
      '2024-12-06T10:52:48.1234567890Z', // more than nine fractional digits
      '2024-12-06T10:52:48+0100', // offset without a colon
      ' 2024-12-06T10:52:48Z',
      'Fri, 06 Dec 2024 10:52:48 GMT',
    ];
    for (const text of garbage) {
      expectBadInput(() => DateTime.parseValue(text), `"${text}" is not an RFC 3339 date-time with an offset`);
      expectBadInput(() => literal(DateTime, JSON.stringify(text)), 'is not an RFC 3339 date-time');
    }
  });

  it('quotes at most 64 characters of a refused string', () => {
    const long = 'x'.repeat(1000);
    const error = thrownBy(() => DateTime.parseValue(long)) as GraphQLError;
    expect(error.message).toBe(`"${'x'.repeat(64)}" is not an RFC 3339 date-time with an offset`);
  });
});

describe('Long', () => {
  it('serializes bigints and integers as JSON numbers', () => {
    expect(Long.serialize(42n)).toBe(42);
    expect(Long.serialize(0n)).toBe(0);
    expect(Long.serialize(-7n)).toBe(-7);
    expect(Long.serialize(BigInt(Number.MAX_SAFE_INTEGER))).toBe(Number.MAX_SAFE_INTEGER);
    expect(Long.serialize(12)).toBe(12);
  });

  it('refuses to serialize what is not an integer', () => {
    for (const value of [1.5, Number.NaN, Infinity, '42', null, undefined, true]) {
      const error = thrownBy(() => Long.serialize(value));
      expect(error).toBeInstanceOf(GraphQLError);
      expect((error as GraphQLError).message).toBe('Long: not an integer');
    }
  });

  it('accepts safe integers and strings of digits as variables', () => {
    expect(Long.parseValue(42)).toBe(42n);
    expect(Long.parseValue(-42)).toBe(-42n);
    expect(Long.parseValue(0)).toBe(0n);
    expect(Long.parseValue(Number.MAX_SAFE_INTEGER)).toBe(9007199254740991n);
    expect(Long.parseValue('42')).toBe(42n);
    expect(Long.parseValue('-42')).toBe(-42n);
    expect(Long.parseValue('007')).toBe(7n);
  });

  it('accepts every 64-bit integer as a string, exactly', () => {
    expect(Long.parseValue('9223372036854775807')).toBe(9223372036854775807n);
    expect(Long.parseValue('-9223372036854775808')).toBe(-9223372036854775808n);
    // Beyond 2^53, where a JSON number would have lost the last digits.
    expect(Long.parseValue('9007199254740993')).toBe(9007199254740993n);
  });

  it('refuses values beyond 64 bits', () => {
    expectBadInput(() => Long.parseValue('9223372036854775808'), '9223372036854775808 is not a 64-bit integer');
    expectBadInput(() => Long.parseValue('-9223372036854775809'), '-9223372036854775809 is not a 64-bit integer');
    expectBadInput(() => Long.parseValue('99999999999999999999'), 'is not a 64-bit integer');
    expectBadInput(() => literal(Long, '9223372036854775808'), 'is not a 64-bit integer');
    expectBadInput(() => literal(Long, '-9223372036854775809'), 'is not a 64-bit integer');
  });

  it('refuses numbers that are not safe integers', () => {
    for (const value of [1.5, -0.1, 2 ** 53, -(2 ** 53), 1e20, Number.NaN, Infinity]) {
      expectBadInput(() => Long.parseValue(value), 'Long must be an integer (or a string of digits)');
    }
  });

  it('refuses strings that are not digits', () => {
    for (const text of ['', '-', '12a', '1.5', '1e3', '+1', ' 1', '1 ', '0x10', '١٢']) {
      expectBadInput(() => Long.parseValue(text), 'is not a 64-bit integer');
    }
  });

  it('refuses other kinds of values', () => {
    for (const value of [null, undefined, true, 42n, [1], { value: 1 }]) {
      expectBadInput(() => Long.parseValue(value), 'Long must be an integer (or a string of digits)');
    }
  });

  it('accepts integer and digit-string literals', () => {
    expect(literal(Long, '42')).toBe(42n);
    expect(literal(Long, '-42')).toBe(-42n);
    expect(literal(Long, '9223372036854775807')).toBe(9223372036854775807n);
    expect(literal(Long, '"9223372036854775807"')).toBe(9223372036854775807n);
  });

  it('refuses float, boolean, enum, list and object literals', () => {
    for (const source of ['1.5', '1e3', 'true', 'null', 'MAX', '[1]', '{ value: 1 }']) {
      expectBadInput(() => literal(Long, source), 'Long must be an integer (or a string of digits)');
    }
    expectBadInput(() => literal(Long, '"1.5"'), '"1.5" is not a 64-bit integer');
  });
});

describe('JSON', () => {
  it('serializes and parses variables as they are', () => {
    const value = { a: [1, 'two', null, { three: true }] };
    expect(JSONScalar.serialize(value)).toBe(value);
    expect(JSONScalar.parseValue(value)).toBe(value);
    expect(JSONScalar.parseValue(null)).toBeNull();
    expect(JSONScalar.parseValue('text')).toBe('text');
  });

  it('parses literal objects, lists and scalars into plain values', () => {
    expect(literal(JSONScalar, '{ a: 1, b: [true, null, "x", 2.5], c: { d: { e: [] } } }')).toEqual({
      a: 1,
      b: [true, null, 'x', 2.5],
      c: { d: { e: [] } },
    });
    expect(literal(JSONScalar, '[1, [2, [3]]]')).toEqual([1, [2, [3]]]);
    expect(literal(JSONScalar, '"text"')).toBe('text');
    expect(literal(JSONScalar, '-12')).toBe(-12);
    expect(literal(JSONScalar, '1.5e2')).toBe(150);
    expect(literal(JSONScalar, 'false')).toBe(false);
    expect(literal(JSONScalar, 'null')).toBeNull();
    // An enum-like name is taken as its text.
    expect(literal(JSONScalar, 'RED')).toBe('RED');
  });

  it('substitutes variables inside literals, at any depth', () => {
    const variables = { v: { deep: [1, 2] }, s: 'text', n: null };
    expect(literal(JSONScalar, '{ a: $v, b: [$s, { c: $n }] }', variables)).toEqual({
      a: { deep: [1, 2] },
      b: ['text', { c: null }],
    });
    expect(literal(JSONScalar, '$v', variables)).toEqual({ deep: [1, 2] });
  });

  it('takes literals and variables inside literals in a real operation', async () => {
    const schema = new GraphQLSchema({
      query: new GraphQLObjectType({
        name: 'Query',
        fields: {
          echo: {
            type: JSONScalar,
            args: { value: { type: JSONScalar } },
            resolve: (_root, args: { value: unknown }) => args.value,
          },
        },
      }),
    });
    const result = await graphql({
      schema,
      source:
        'query ($tags: JSON, $n: JSON) { echo(value: { tags: $tags, list: [1, $n, "x"], nested: { ok: true } }) }',
      variableValues: { tags: { team: 'a', owners: ['x', 'y'] }, n: 2.5 },
    });
    expect(result.errors).toBeUndefined();
    expect(result.data?.echo).toEqual({
      tags: { team: 'a', owners: ['x', 'y'] },
      list: [1, 2.5, 'x'],
      nested: { ok: true },
    });
  });
});
