import fc from 'fast-check';
import { MAX_KEY_BYTES, utf8ByteLength, validateKey } from '@rosetta/core';
import { atOrAfter, DEFAULT_LIST_LIMIT, parseListQuery, parseLimit, readOnlyRequested, scanStart } from './query';

describe('parseLimit (Go strconv.ParseInt, then Rivet’s default)', () => {
  it.each([
    [null, 10_000n],
    ['', 10_000n],
    ['2', 2n],
    ['+7', 7n],
    ['007', 7n],
    ['50000', 50_000n],
    ['9223372036854775807', 9_223_372_036_854_775_807n],
    ['9223372036854775808', 10_000n],
    ['0', 10_000n],
    ['-1', 10_000n],
    ['-9223372036854775808', 10_000n],
    ['abc', 10_000n],
    ['1e3', 10_000n],
    [' 5', 10_000n],
    ['5 ', 10_000n],
    ['0x10', 10_000n],
    ['1_000', 10_000n],
    ['١٢', 10_000n],
  ])('%p → %p', (text, limit) => {
    expect(parseLimit(text)).toBe(limit);
  });

  it('always gives a positive int64', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.bigInt().map(String)), (text) => {
        const limit = parseLimit(text);
        expect(limit > 0n && limit < 2n ** 63n).toBe(true);
      }),
    );
  });
});

describe('parseListQuery', () => {
  it('reads limit, offset and prefix, with their defaults', () => {
    expect(parseListQuery(new URLSearchParams(''))).toEqual({ limit: DEFAULT_LIST_LIMIT, offset: '', prefix: '' });
    expect(parseListQuery(new URLSearchParams('limit=2&offset=b%20c&prefix=p%2F'))).toEqual({
      limit: 2n,
      offset: 'b c',
      prefix: 'p/',
    });
  });

  it('refuses prefixes no key can start with: over 1024 bytes, or holding a NUL', () => {
    expect(parseListQuery(new URLSearchParams(`prefix=${'p'.repeat(1024)}`)).prefix).toHaveLength(1024);
    for (const query of [`prefix=${'p'.repeat(1025)}`, 'prefix=a%00', `prefix=${'é'.repeat(513)}`]) {
      expect(() => parseListQuery(new URLSearchParams(query))).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
      );
    }
  });
});

describe('readOnlyRequested', () => {
  it.each([
    ['read_only=1', true],
    ['read_only=true', true],
    ['read_only=TRUE', true],
    ['read_only=0', false],
    ['read_only=', false],
    ['', false],
    ['readonly=1', false],
  ])('%s → %s', (query, readOnly) => {
    expect(readOnlyRequested(new URLSearchParams(query))).toBe(readOnly);
  });
});

describe('scanStart', () => {
  it('starts at a valid offset exactly, and from the first key without one', () => {
    expect(scanStart('')).toEqual({ start: undefined, exact: true });
    expect(scanStart('b')).toEqual({ start: 'b', exact: true });
    expect(scanStart('a\u0000b')).toEqual({ start: 'a', exact: false });
    expect(scanStart('\u0000')).toEqual({ start: undefined, exact: false });
    expect(scanStart('x'.repeat(1025))).toEqual({ start: 'x'.repeat(1024), exact: false });
    expect(scanStart(`${'x'.repeat(1023)}é`)).toEqual({ start: 'x'.repeat(1023), exact: false });
  });

  const key = fc
    .string({ unit: 'grapheme', minLength: 1, maxLength: 40 })
    .filter((k) => !k.includes('\u0000') && utf8ByteLength(k) <= MAX_KEY_BYTES);
  const offset = fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.string({ unit: 'binary-ascii', maxLength: 40 }),
    fc.tuple(fc.string({ maxLength: 3 }), fc.nat({ max: 1100 })).map(([s, n]) => `${'é'.repeat(n)}${s}`),
  );

  it('gives a valid scan bound at or below the offset, exact only when it is the offset', () => {
    fc.assert(
      fc.property(offset, fc.array(key), (text, keys) => {
        const { start, exact } = scanStart(text);
        if (start !== undefined) expect(() => validateKey(start)).not.toThrow();
        expect(exact).toBe((start ?? '') === text);
        for (const k of keys) {
          if (atOrAfter(k, text) && start !== undefined) expect(atOrAfter(k, start)).toBe(true);
        }
      }),
    );
  });
});

describe('atOrAfter', () => {
  it('compares UTF-8 bytes, not UTF-16 units', () => {
    expect(atOrAfter('\uffff', '\u{10000}')).toBe(false);
    expect(atOrAfter('b', 'b')).toBe(true);
    expect(atOrAfter('a', 'b')).toBe(false);
    expect(atOrAfter('profile/bio', 'profile')).toBe(true);
  });
});
