import fc from 'fast-check';
import {
  AMBIGUOUS,
  BAD_REQUEST,
  deleted,
  errorBody,
  formatTimestamp,
  itemJson,
  LIST_OPEN,
  listClose,
  NOT_FOUND,
  UNAUTHORIZED,
  upserted,
  type Item,
} from './render';

/** 9999-12-31T23:59:59.999999Z. */
const MAX_US = 253_402_300_799_999_999n;

describe('formatTimestamp', () => {
  it.each([
    [0, '1970-01-01T00:00:00.000000Z'],
    [1, '1970-01-01T00:00:00.000001Z'],
    [999, '1970-01-01T00:00:00.000999Z'],
    [1000, '1970-01-01T00:00:00.001000Z'],
    [1001, '1970-01-01T00:00:00.001001Z'],
    [999_999, '1970-01-01T00:00:00.999999Z'],
    [1_000_000, '1970-01-01T00:00:01.000000Z'],
    [1_730_802_030_123_456, '2024-11-05T10:20:30.123456Z'],
    [1_704_067_200_000_000, '2024-01-01T00:00:00.000000Z'],
    [1_709_164_800_000_010, '2024-02-29T00:00:00.000010Z'],
    [951_782_400_000_000, '2000-02-29T00:00:00.000000Z'],
    [Number.MAX_SAFE_INTEGER, '2255-06-05T23:47:34.740991Z'],
    [253_402_300_799_000_000, '9999-12-31T23:59:59.000000Z'],
    [253_402_300_799_999_968, '9999-12-31T23:59:59.999968Z'],
    [-1, '1969-12-31T23:59:59.999999Z'],
    [-1000, '1969-12-31T23:59:59.999000Z'],
    [-1001, '1969-12-31T23:59:59.998999Z'],
    [-62_167_219_200_000_000, '0000-01-01T00:00:00.000000Z'],
  ])('%p → %p', (us, text) => {
    expect(formatTimestamp(us)).toBe(text);
  });

  it.each([
    [1.5],
    [Number.NaN],
    [Infinity],
    [-Infinity],
    [253_402_300_800_000_000],
    [-62_167_219_200_000_016],
    [8.64e21],
  ])('%p → RangeError', (us) => {
    expect(() => formatTimestamp(us)).toThrow(RangeError);
  });

  it('always has the one shape, and agrees with Date to the millisecond', () => {
    const instant = fc.oneof(
      fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      fc
        .bigInt({ min: 0n, max: MAX_US })
        .map(Number)
        .filter((n) => BigInt(n) <= MAX_US),
    );
    fc.assert(
      fc.property(instant, (us) => {
        const text = formatTimestamp(us);
        expect(text).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
        const big = BigInt(us);
        expect(text.slice(0, 23)).toBe(new Date(Number(big / 1000n)).toISOString().slice(0, 23));
        expect(text.slice(23, 26)).toBe(String(big % 1000n).padStart(3, '0'));
      }),
    );
  });

  it('is exact where floating-point division would round (past 2^53 µs)', () => {
    // This double is …996992 µs; `Math.floor(us / 1000)` rounds up to …997 ms.
    const us = Number(253_402_300_799_996_992n);
    expect(Math.floor(us / 1000) * 1000 + (us % 1000)).not.toBe(us);
    expect(formatTimestamp(us)).toBe('9999-12-31T23:59:59.996992Z');
  });
});

describe('itemJson', () => {
  const item: Item = { key: 'p-1', value: '{"a":1}', created: 1_730_802_030_123_456, updated: 1_730_802_031_000_000 };

  it('writes keys sorted, without spaces, as Jason does', () => {
    expect(itemJson(item)).toBe(
      '{"created":"2024-11-05T10:20:30.123456Z","key":"p-1","updated":"2024-11-05T10:20:31.000000Z","value":"{\\"a\\":1}"}',
    );
  });

  it('leaves the value out of a keys-only item (ours)', () => {
    expect(itemJson({ ...item, value: undefined })).toBe(
      '{"created":"2024-11-05T10:20:30.123456Z","key":"p-1","updated":"2024-11-05T10:20:31.000000Z"}',
    );
  });

  it.each([
    ['', '""'],
    ['plain', '"plain"'],
    ['quote " and \\ backslash', '"quote \\" and \\\\ backslash"'],
    ['line\nbreak\ttab\r\b\f', '"line\\nbreak\\ttab\\r\\b\\f"'],
    ['\u0000\u001f\u007f', '"\\u0000\\u001f\u007f"'],
    ['/slash/', '"/slash/"'],
    ['é😀\u2028', '"é😀\u2028"'],
    ['\ud800', '"\\ud800"'],
    ['<script>', '"<script>"'],
  ])('escapes %p as JSON.stringify does: %s', (text, json) => {
    expect(itemJson({ ...item, key: text, value: text })).toBe(
      `{"created":"2024-11-05T10:20:30.123456Z","key":${json},"updated":"2024-11-05T10:20:31.000000Z","value":${json}}`,
    );
  });

  it('is one JSON object whose fields give the item back', () => {
    const anyItem = fc.record({
      key: fc.string({ unit: 'binary' }),
      value: fc.string({ unit: 'binary' }),
      created: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      updated: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    });
    fc.assert(
      fc.property(anyItem, (it) => {
        const text = itemJson(it);
        const parsed = JSON.parse(text) as Record<string, unknown>;
        expect(Object.keys(parsed)).toEqual(['created', 'key', 'updated', 'value']);
        expect(parsed).toEqual({
          created: formatTimestamp(it.created),
          key: it.key,
          updated: formatTimestamp(it.updated),
          value: it.value,
        });
        expect(text).toBe(JSON.stringify(parsed));
      }),
    );
  });
});

describe('list framing', () => {
  it('opens and closes as Lightning streams it', () => {
    expect(LIST_OPEN).toBe('{"items": [');
    expect(listClose(null)).toBe('], "cursor":null}');
    expect(listClose('MTIzNA==')).toBe('], "cursor":"MTIzNA=="}');
    expect(`${LIST_OPEN}${listClose(null)}`).toBe('{"items": [], "cursor":null}');
    expect(JSON.parse(`${LIST_OPEN}${listClose(null)}`)).toEqual({ items: [], cursor: null });
  });

  it('makes one JSON object of any items and cursor', () => {
    const anyItem = fc.record({
      key: fc.string(),
      value: fc.string(),
      created: fc.maxSafeNat(),
      updated: fc.maxSafeNat(),
    });
    fc.assert(
      fc.property(fc.array(anyItem, { maxLength: 5 }), fc.option(fc.string()), (items, cursor) => {
        const body = LIST_OPEN + items.map(itemJson).join(',') + listClose(cursor);
        expect(JSON.parse(body)).toEqual({
          items: items.map((i) => ({
            key: i.key,
            value: i.value,
            created: formatTimestamp(i.created),
            updated: formatTimestamp(i.updated),
          })),
          cursor,
        });
      }),
    );
  });
});

describe('response bodies (§12)', () => {
  it('has the catalogue’s constant bodies', () => {
    expect(UNAUTHORIZED).toBe('{"error":"Unauthorized"}');
    expect(NOT_FOUND).toBe('{"error":"Not Found"}');
    expect(BAD_REQUEST).toBe('{"error":"Bad Request"}');
    expect(AMBIGUOUS).toBe(
      '{"error":"Multiple collections found with this name. Add ?project_id=<uuid> to disambiguate."}',
    );
    for (const [body, message] of [
      [UNAUTHORIZED, 'Unauthorized'],
      [NOT_FOUND, 'Not Found'],
      [BAD_REQUEST, 'Bad Request'],
    ] as const) {
      expect(body).toBe(errorBody(message));
    }
    expect(JSON.parse(AMBIGUOUS)).toEqual({
      error: 'Multiple collections found with this name. Add ?project_id=<uuid> to disambiguate.',
    });
  });

  it.each([
    [1, null, '{"error":null,"upserted":1}'],
    [0, null, '{"error":null,"upserted":0}'],
    [10, null, '{"error":null,"upserted":10}'],
    [0, 'Format error', '{"error":"Format error","upserted":0}'],
    [0, 'Duplicate key found', '{"error":"Duplicate key found","upserted":0}'],
    [0, 'quota "exceeded"', '{"error":"quota \\"exceeded\\"","upserted":0}'],
  ])('upserted(%p, %p) → %s', (count, error, body) => {
    expect(upserted(count, error)).toBe(body);
  });

  it.each([
    ['k', 1, null, '{"deleted":1,"error":null,"key":"k"}'],
    ['k', 0, 'Item Not Found', '{"deleted":0,"error":"Item Not Found","key":"k"}'],
    [null, 42, null, '{"deleted":42,"error":null,"key":null}'],
    ['foo:*', 0, null, '{"deleted":0,"error":null,"key":"foo:*"}'],
    ['', 0, null, '{"deleted":0,"error":null,"key":""}'],
    ['a"b\n', 1, null, '{"deleted":1,"error":null,"key":"a\\"b\\n"}'],
  ])('deleted(%p, %p, %p) → %s', (key, count, error, body) => {
    expect(deleted(key, count, error)).toBe(body);
  });

  it.each([
    ['Missing required field: value', '{"error":"Missing required field: value"}'],
    ['Missing required field: items', '{"error":"Missing required field: items"}'],
    ['Not Acceptable', '{"error":"Not Acceptable"}'],
    ['say "hi"\\', '{"error":"say \\"hi\\"\\\\"}'],
  ])('errorBody(%p) → %s', (message, body) => {
    expect(errorBody(message)).toBe(body);
  });

  it('writes JSON objects with Jason’s sorted keys, for any text', () => {
    fc.assert(
      fc.property(fc.option(fc.string()), fc.option(fc.string()), fc.maxSafeNat(), (key, error, count) => {
        const up = upserted(count, error);
        expect(Object.keys(JSON.parse(up) as object)).toEqual(['error', 'upserted']);
        expect(JSON.parse(up)).toEqual({ error, upserted: count });
        const del = deleted(key, count, error);
        expect(Object.keys(JSON.parse(del) as object)).toEqual(['deleted', 'error', 'key']);
        expect(JSON.parse(del)).toEqual({ deleted: count, error, key });
        expect(JSON.parse(errorBody(error ?? ''))).toEqual({ error: error ?? '' });
      }),
    );
  });
});
