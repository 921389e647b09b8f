import fc from 'fast-check';
import { DomainError, MAX_PATTERN_WILDCARDS, parseGlob, type GlobToken } from '@rosetta/core';
import {
  BadQuery,
  decodeCursor,
  DEFAULT_LIMIT,
  encodeCursor,
  globOf,
  parseListQuery,
  parseLooseQuery,
  parseProjectId,
  parseTimestamp,
  type ListQuery,
} from './query';
import { formatTimestamp } from './render';

const UUID = '3f2b8c1e-9a4d-4e2f-8b7a-0c1d2e3f4a5b';
const ALL_DEFAULTS: ListQuery = {
  key: undefined,
  limit: DEFAULT_LIMIT,
  after: undefined,
  createdAfter: undefined,
  createdBefore: undefined,
  updatedAfter: undefined,
  updatedBefore: undefined,
  projectId: undefined,
  keysOnly: false,
};
/** 2024-01-01T00:00:00Z. */
const NEW_YEAR_2024 = Date.UTC(2024, 0, 1) * 1000;
/** 9999-12-31T23:59:59.999999Z, the last instant OpenFn can write. */
const MAX_US = 253_402_300_799_999_999n;

const expectBadQuery = (work: () => unknown) => expect(work).toThrow(BadQuery);

/** Throws only BadQuery (or nothing, then passes `check`): anything else is a bug that would become a 500. */
function onlyBadQuery<T>(work: () => T, check: (value: T) => void = () => undefined): void {
  let value: T;
  try {
    value = work();
  } catch (error) {
    expect(error).toBeInstanceOf(BadQuery);
    return;
  }
  check(value);
}

describe('BadQuery', () => {
  it('is an Error of its own, not a DomainError', () => {
    const error = new BadQuery('x');
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(DomainError);
    expect(error.name).toBe('BadQuery');
  });
});

describe('parseListQuery: query-string decoding (as Plug does it)', () => {
  it.each([
    ['', ALL_DEFAULTS],
    ['&', ALL_DEFAULTS],
    ['&&&', ALL_DEFAULTS],
    ['key=a+b', { ...ALL_DEFAULTS, key: 'a b' }],
    ['key=a%20b', { ...ALL_DEFAULTS, key: 'a b' }],
    ['key=a%2Bb', { ...ALL_DEFAULTS, key: 'a+b' }],
    ['key=a%2bb', { ...ALL_DEFAULTS, key: 'a+b' }],
    ['key=%E2%82%AC', { ...ALL_DEFAULTS, key: '€' }],
    ['key=%e2%82%ac', { ...ALL_DEFAULTS, key: '€' }],
    ['key=%F0%9F%98%80x', { ...ALL_DEFAULTS, key: '😀x' }],
    ['key=€', { ...ALL_DEFAULTS, key: '€' }],
    ['key=%EF%BB%BFa', { ...ALL_DEFAULTS, key: '\ufeffa' }],
    ['key=%00', { ...ALL_DEFAULTS, key: '\u0000' }],
    ['key=a=b', { ...ALL_DEFAULTS, key: 'a=b' }],
    ['key=foo:*:bar_', { ...ALL_DEFAULTS, key: 'foo:*:bar_' }],
    ['key=a?b', { ...ALL_DEFAULTS, key: 'a?b' }],
    ['key=', { ...ALL_DEFAULTS, key: '' }],
    ['key', { ...ALL_DEFAULTS, key: '' }],
    ['key=a&key=b', { ...ALL_DEFAULTS, key: 'b' }],
    ['limit=5&limit=7', { ...ALL_DEFAULTS, limit: 7 }],
    ['limit=x&limit=7', { ...ALL_DEFAULTS, limit: 7 }],
    ['&&key=a&&limit=2&', { ...ALL_DEFAULTS, key: 'a', limit: 2 }],
    ['%6Bey=a', { ...ALL_DEFAULTS, key: 'a' }],
    ['project%5Fid=' + UUID, { ...ALL_DEFAULTS, projectId: UUID }],
    ['created_after=2024-01-01+00:00:00Z', { ...ALL_DEFAULTS, createdAfter: NEW_YEAR_2024 }],
    ['created_after=2024-01-01T01:00:00%2B01:00', { ...ALL_DEFAULTS, createdAfter: NEW_YEAR_2024 }],
    ['cursor=MTIzNA==', { ...ALL_DEFAULTS, after: 1234 }],
    ['cursor=MTIzNA%3D%3D', { ...ALL_DEFAULTS, after: 1234 }],
  ])('%p', (raw, query) => {
    expect(parseListQuery(raw)).toEqual(query);
  });

  it.each([
    ['key=%'],
    ['key=%2'],
    ['key=a%'],
    ['key=%G1'],
    ['key=%1G'],
    ['key=%%41'],
    ['key=%E2%82'],
    ['key=%E2%82x'],
    ['key=%C3'],
    ['key=%80'],
    ['key=%FF'],
    ['key=%C0%AF'],
    ['key=%ED%A0%80'],
    ['key=%F4%90%80%80'],
    ['key=\ud800'],
    ['key=a\udc00b'],
    ['%=1'],
    ['ke%y=a'],
    ['other=%'],
    ['limit=1&unknown=%E2'],
  ])('%p → BadQuery (escape or UTF-8)', (raw) => {
    expectBadQuery(() => parseListQuery(raw));
  });
});

describe('parseListQuery: allowed parameters', () => {
  it('reads every parameter at once', () => {
    const raw = [
      'key=patients:*',
      'cursor=MTIzNA==',
      'limit=10',
      'created_after=2024-01-01T00:00:00Z',
      'created_before=2024-01-02T00:00:00.5Z',
      'updated_after=2024-01-01T00:00:00.000001Z',
      'updated_before=2024-01-01T00:00:00-01:00',
      `project_id=${UUID.toUpperCase()}`,
    ].join('&');
    expect(parseListQuery(raw)).toEqual({
      key: 'patients:*',
      limit: 10,
      after: 1234,
      createdAfter: NEW_YEAR_2024,
      createdBefore: NEW_YEAR_2024 + 86_400_000_000 + 500_000,
      updatedAfter: NEW_YEAR_2024 + 1,
      updatedBefore: NEW_YEAR_2024 + 3_600_000_000,
      projectId: UUID,
      keysOnly: false,
    });
  });

  it.each([
    ['keys_only=true', true],
    ['keys_only=false', false],
    ['keys_only=false&keys_only=true', true],
  ])('%p lists keys only: %p (ours)', (raw, keysOnly) => {
    expect(parseListQuery(raw)).toEqual({ ...ALL_DEFAULTS, keysOnly });
  });

  it.each(['keys_only=', 'keys_only', 'keys_only=1', 'keys_only=TRUE', 'keys_only=yes'])('%p → BadQuery', (raw) => {
    expectBadQuery(() => parseListQuery(raw));
  });

  it.each([
    ['key[]=a'],
    ['key[a]=b'],
    ['Key=a'],
    ['KEY=a'],
    ['Limit=1'],
    ['createdAfter=2024-01-01T00:00:00Z'],
    ['updatedAfter=2024-01-01T00:00:00Z'],
    ['offset=10'],
    ['meta=true'],
    ['keysOnly=true'],
    ['project_id[]=' + UUID],
    ['projectId=' + UUID],
    ['=a'],
    ['='],
    ['key%20=a'],
    ['+key=a'],
    ['key=a&foo'],
    ['limit=1&created_after=2024-01-01T00:00:00Z&x=1'],
  ])('%p → BadQuery (unknown parameter)', (raw) => {
    expectBadQuery(() => parseListQuery(raw));
  });

  it('validates project_id on the list', () => {
    expect(parseListQuery(`project_id=${UUID}`).projectId).toBe(UUID);
    expectBadQuery(() => parseListQuery('project_id=nope'));
    expectBadQuery(() => parseListQuery('project_id='));
  });
});

describe('parseListQuery: limit (Elixir Integer.parse over the whole string)', () => {
  it.each([
    ['10', 10],
    ['+10', 10],
    ['007', 7],
    ['0', 0],
    ['-0', 0],
    ['+0', 0],
    ['1000', 1000],
    ['50000', 50_000],
    [String(Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER],
    [`000${Number.MAX_SAFE_INTEGER}`, Number.MAX_SAFE_INTEGER],
  ])('limit=%p → %p', (text, limit) => {
    const parsed = parseListQuery(`limit=${encodeURIComponent(text)}`).limit;
    expect(parsed).toBe(limit);
    expect(Object.is(parsed, -0)).toBe(false);
  });

  it('defaults to 1000', () => {
    expect(DEFAULT_LIMIT).toBe(1000);
    expect(parseListQuery('').limit).toBe(1000);
    expect(parseListQuery('key=a').limit).toBe(1000);
  });

  it.each([
    [''],
    ['10abc'],
    ['abc'],
    ['1.5'],
    ['1.0'],
    [' 5'],
    ['5 '],
    ['1e3'],
    ['0x10'],
    ['1_000'],
    ['1,000'],
    ['+'],
    ['-'],
    ['+-1'],
    ['--1'],
    ['١٢'],
    ['１２'],
    ['-1'],
    ['-2'],
    ['-1000'],
    [String(Number.MAX_SAFE_INTEGER + 1)],
    ['99999999999999999999999'],
    ['Infinity'],
    ['NaN'],
  ])('limit=%p → BadQuery', (text) => {
    expectBadQuery(() => parseListQuery(`limit=${encodeURIComponent(text)}`));
  });

  it('reads a bare `limit` as the empty string, which is not an integer', () => {
    expectBadQuery(() => parseListQuery('limit'));
    expectBadQuery(() => parseListQuery('limit='));
  });

  it('reads `+` as a space, so an unescaped sign is refused', () => {
    expectBadQuery(() => parseListQuery('limit=+10'));
    expect(parseListQuery('limit=%2B10').limit).toBe(10);
  });
});

describe('encodeCursor / decodeCursor', () => {
  it.each([
    [0, 'MA=='],
    [1, 'MQ=='],
    [12, 'MTI='],
    [123, 'MTIz'],
    [1234, 'MTIzNA=='],
    [Number.MAX_SAFE_INTEGER, Buffer.from('9007199254740991').toString('base64')],
  ])('%p ↔ %p', (sequence, cursor) => {
    expect(encodeCursor(sequence)).toBe(cursor);
    expect(decodeCursor(cursor)).toBe(sequence);
  });

  it('refuses positions that are not safe integers', () => {
    for (const bad of [1.5, Number.NaN, Infinity, Number.MAX_SAFE_INTEGER + 1]) {
      expect(() => encodeCursor(bad)).toThrow(RangeError);
    }
  });

  const b64 = (text: string) => Buffer.from(text, 'latin1').toString('base64');

  it.each([
    [b64('+5'), 5],
    [b64('007'), 7],
    [b64('-5'), -5],
    [b64('-1'), -1],
    [b64('-0'), 0],
    [b64(`-${Number.MAX_SAFE_INTEGER}`), -Number.MAX_SAFE_INTEGER],
    ['MR==', 1],
  ])('decodes %p to %p (negative: from the start, the caller decides)', (cursor, after) => {
    expect(decodeCursor(cursor)).toBe(after);
  });

  it.each([
    [''],
    ['MTIzNA'],
    ['MTIzNA='],
    ['MTIzNA==='],
    ['MTI=NA=='],
    ['=MTI'],
    ['M==='],
    ['MTIzN'],
    ['MTIzNA==\n'],
    [' MTIzNA=='],
    ['MTIz NA=='],
    ['MTIzNA-_'],
    ['MTI-'],
    ['MTI_'],
    ['!!!!'],
    [b64('')],
    [b64('abc')],
    [b64('12a')],
    [b64('1.5')],
    [b64('1e3')],
    [b64(' 1')],
    [b64('1 ')],
    [b64('+')],
    [b64('-')],
    [b64('١')],
    [b64(String(Number.MAX_SAFE_INTEGER + 1))],
    [b64(`-${Number.MAX_SAFE_INTEGER + 1}`)],
    [b64('2024-01-01T00:00:00.000000Z')],
  ])('decodeCursor(%p) → BadQuery', (cursor) => {
    expectBadQuery(() => decodeCursor(cursor));
  });

  it('makes `cursor=` (empty) a bad list query', () => {
    expectBadQuery(() => parseListQuery('cursor='));
    expectBadQuery(() => parseListQuery('cursor'));
    expectBadQuery(() => parseListQuery('cursor=nope'));
  });

  it('round-trips every safe integer ≥ 0, in the standard padded alphabet', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), (n) => {
        const cursor = encodeCursor(n);
        expect(cursor).toMatch(/^[A-Za-z0-9+/]*={0,2}$/);
        expect(cursor.length % 4).toBe(0);
        expect(decodeCursor(cursor)).toBe(n);
      }),
    );
  });

  it('throws nothing but BadQuery on any text', () => {
    const base64ish = fc.string({ unit: fc.constantFrom(...'AMQTzw0123456789+/=-_ '.split('')), maxLength: 24 });
    fc.assert(
      fc.property(fc.oneof(fc.string(), base64ish, fc.string().map(b64)), (text) => {
        onlyBadQuery(
          () => decodeCursor(text),
          (after) => expect(Number.isSafeInteger(after)).toBe(true),
        );
      }),
    );
  });
});

describe('parseTimestamp (Elixir DateTime.from_iso8601)', () => {
  const us = (iso: string, extraUs = 0) => Date.parse(iso) * 1000 + extraUs;

  it.each([
    ['2024-01-01T00:00:00Z', NEW_YEAR_2024],
    ['2024-01-01 00:00:00Z', NEW_YEAR_2024],
    ['2024-01-01T01:00:00+01:00', NEW_YEAR_2024],
    ['2024-01-01T01:00:00+0100', NEW_YEAR_2024],
    ['2024-01-01T01:00:00+01', NEW_YEAR_2024],
    ['2023-12-31T23:00:00-01:00', NEW_YEAR_2024],
    ['2023-12-31T23:00:00-0100', NEW_YEAR_2024],
    ['2023-12-31T23:00:00-01', NEW_YEAR_2024],
    ['2024-01-01T05:30:00+05:30', NEW_YEAR_2024],
    ['2024-01-01T00:00:00+00:00', NEW_YEAR_2024],
    ['2024-01-01T00:00:00+0000', NEW_YEAR_2024],
    ['2024-01-01T00:00:00+00', NEW_YEAR_2024],
    ['2024-01-01T00:00:00-0000', NEW_YEAR_2024],
    ['2024-01-01T00:00:00-00', NEW_YEAR_2024],
    ['2024-01-01T23:59:00+23:59', NEW_YEAR_2024],
    ['2023-12-31T00:01:00-23:59', NEW_YEAR_2024],
    ['2024-01-01T00:00:00.1Z', NEW_YEAR_2024 + 100_000],
    ['2024-01-01T00:00:00,1Z', NEW_YEAR_2024 + 100_000],
    ['2024-01-01T00:00:00.000001Z', NEW_YEAR_2024 + 1],
    ['2024-01-01T00:00:00.123456Z', NEW_YEAR_2024 + 123_456],
    ['2024-01-01T00:00:00.1234567Z', NEW_YEAR_2024 + 123_456],
    ['2024-01-01T00:00:00.9999999999999Z', NEW_YEAR_2024 + 999_999],
    ['2024-01-01T00:00:00.000000000Z', NEW_YEAR_2024],
    ['2024-01-01T01:00:00.5+01:00', NEW_YEAR_2024 + 500_000],
    ['2024-11-05T10:20:30.123456Z', us('2024-11-05T10:20:30.123Z', 456)],
    ['2024-02-29T12:00:00Z', us('2024-02-29T12:00:00Z')],
    ['2000-02-29T00:00:00Z', us('2000-02-29T00:00:00Z')],
    ['1970-01-01T00:00:00Z', 0],
    ['1969-12-31T23:59:59.999999Z', -1],
    ['1970-01-01T00:00:00+01:00', -3_600_000_000],
    ['0000-01-01T00:00:00Z', -62_167_219_200_000_000],
    ['0000-02-29T00:00:00Z', -62_167_219_200_000_000 + 59 * 86_400_000_000],
    ['0099-06-15T00:00:00Z', us('0099-06-15T00:00:00Z')],
    ['9999-12-31T23:59:59Z', 253_402_300_799_000_000],
    ['9999-12-31T23:59:59.999999Z', Number(MAX_US)],
    ['2024-12-31T23:59:59Z', us('2024-12-31T23:59:59Z')],
    ['2024-04-30T00:00:00Z', us('2024-04-30T00:00:00Z')],
  ])('%p → %p', (text, expected) => {
    expect(parseTimestamp(text)).toBe(expected);
  });

  it.each([
    ['2024-01-01'],
    ['2024-01-01T00:00:00'],
    ['2024-01-01T00:00:00.123456'],
    ['2024-01-01 00:00:00'],
    ['202401'],
    ['2024'],
    ['2024-01'],
    [''],
    ['Z'],
    ['now'],
    ['1704067200'],
    ['1704067200000'],
    ['2024-02-30T00:00:00Z'],
    ['2023-02-29T00:00:00Z'],
    ['1900-02-29T00:00:00Z'],
    ['2024-04-31T00:00:00Z'],
    ['2024-13-01T00:00:00Z'],
    ['2024-00-01T00:00:00Z'],
    ['2024-01-00T00:00:00Z'],
    ['2024-01-32T00:00:00Z'],
    ['2024-01-01T24:00:00Z'],
    ['2024-01-01T23:60:00Z'],
    ['2024-01-01T23:59:60Z'],
    ['2024-01-01T23:59:99Z'],
    ['2024-01-01t00:00:00Z'],
    ['2024-01-01T00:00:00z'],
    ['2024-01-01_00:00:00Z'],
    ['2024-01-01T00:00:00 Z'],
    ['2024-01-01T00:00:00Z '],
    [' 2024-01-01T00:00:00Z'],
    ['2024-01-01T00:00:00ZZ'],
    ['2024-01-01T00:00:00.Z'],
    ['2024-01-01T00:00:00,Z'],
    ['2024-01-01T00:00:00.1.2Z'],
    ['2024-01-01T00:00Z'],
    ['2024-01-01T0:00:00Z'],
    ['2024-1-01T00:00:00Z'],
    ['24-01-01T00:00:00Z'],
    ['02024-01-01T00:00:00Z'],
    ['+2024-01-01T00:00:00Z'],
    ['-2024-01-01T00:00:00Z'],
    ['20240101T000000Z'],
    ['2024-01-01T000000Z'],
    ['2024-01-01T00:00:00+24:00'],
    ['2024-01-01T00:00:00+01:60'],
    ['2024-01-01T00:00:00+1'],
    ['2024-01-01T00:00:00+1:00'],
    ['2024-01-01T00:00:00+01:0'],
    ['2024-01-01T00:00:00+01:000'],
    ['2024-01-01T00:00:00+010'],
    ['2024-01-01T00:00:00+01:00:00'],
    ['2024-01-01T00:00:00 01:00'],
    ['2024-01-01T00:00:00-00:00'],
    ['2024-01-01T00:00:00+01:00Z'],
    ['2024-01-01T00:00:00UTC'],
    ['2024-01-01T00:00:00 GMT'],
    ['2024-01-01T00:00:00[Europe/Paris]'],
    ['2024-01-01T00:00:00+01:00[Europe/Paris]'],
    ['２０２４-01-01T00:00:00Z'],
    ['Mon, 01 Jan 2024 00:00:00 GMT'],
  ])('%p → BadQuery', (text) => {
    expectBadQuery(() => parseTimestamp(text));
  });

  it('applies to every time filter of the list, `+` in the query being a space', () => {
    for (const name of ['created_after', 'created_before', 'updated_after', 'updated_before']) {
      expectBadQuery(() => parseListQuery(`${name}=2024-01-01`));
      expectBadQuery(() => parseListQuery(`${name}=2024-01-01T00:00:00`));
      expectBadQuery(() => parseListQuery(`${name}=202401`));
      expectBadQuery(() => parseListQuery(`${name}=`));
      expectBadQuery(() => parseListQuery(`${name}=2024-01-01T01:00:00+01:00`));
      expect(parseListQuery(`${name}=2024-01-01T01:00:00%2B01:00`)).toEqual({
        ...ALL_DEFAULTS,
        [name.replace(/_(\w)/, (_, c: string) => c.toUpperCase())]: NEW_YEAR_2024,
      });
    }
  });

  const instant = fc.oneof(
    fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    fc
      .bigInt({ min: 0n, max: MAX_US })
      .map(Number)
      .filter((n) => BigInt(n) <= MAX_US),
  );

  it('reads back every formatted instant of the years 1970–9999', () => {
    fc.assert(
      fc.property(instant, (us) => {
        expect(parseTimestamp(formatTimestamp(us))).toBe(us);
      }),
    );
  });

  it('subtracts the offset, in every accepted spelling', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 86_400_000_000, max: Number.MAX_SAFE_INTEGER - 86_400_000_000 }),
        fc.constantFrom(1, -1),
        fc.integer({ min: 0, max: 23 }),
        fc.integer({ min: 0, max: 59 }),
        fc.constantFrom('extended', 'basic', 'hours'),
        fc.constantFrom('T', ' '),
        (utc, sign, hours, minutes, spelling, separator) => {
          fc.pre(spelling !== 'hours' || minutes === 0);
          fc.pre(!(spelling === 'extended' && sign < 0 && hours === 0 && minutes === 0));
          const local = formatTimestamp(utc + sign * (hours * 3600 + minutes * 60) * 1_000_000);
          const hh = String(hours).padStart(2, '0');
          const mm = String(minutes).padStart(2, '0');
          const offset = spelling === 'extended' ? `${hh}:${mm}` : spelling === 'basic' ? `${hh}${mm}` : hh;
          const text = `${local.slice(0, 10)}${separator}${local.slice(11, -1)}${sign < 0 ? '-' : '+'}${offset}`;
          expect(parseTimestamp(text)).toBe(utc);
        },
      ),
    );
  });

  /** The form Date.parse reads exactly (milliseconds at most, an extended offset). */
  const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?(Z|[+-]\d{2}:\d{2})$/;

  it('agrees with Date on the instants Date gets right, and throws nothing but BadQuery', () => {
    /** The first choice half the time (the form Date reads too), the others the rest of it. */
    const usually = (first: string, ...others: string[]) => fc.oneof(fc.constant(first), fc.constantFrom(...others));
    const padded = (max: number, width = 2) => fc.integer({ min: 0, max }).map((n) => String(n).padStart(width, '0'));
    const candidate = fc
      .tuple(
        padded(9999, 4),
        padded(13),
        padded(32),
        usually('T', ' ', 't', '_'),
        padded(24),
        padded(60),
        padded(60),
        usually('.123', '', '.', ',', '.5', ',123', '.1234567', '.x'),
        usually('Z', '+01:00', '-05:30', '', 'z', '-0130', '+05', '-00:00', '+24:00', '+0160', '+1'),
      )
      .map(([y, mo, d, sep, h, mi, s, frac, zone]) => `${y}-${mo}-${d}${sep}${h}:${mi}:${s}${frac}${zone}`);
    let compared = 0;
    fc.assert(
      fc.property(fc.oneof({ weight: 4, arbitrary: candidate }, fc.string()), (text) => {
        onlyBadQuery(
          () => parseTimestamp(text),
          (parsed) => {
            expect(Number.isInteger(parsed)).toBe(true);
            if (ISO_MS.test(text)) {
              expect(parsed).toBe(Date.parse(text) * 1000);
              compared++;
            }
          },
        );
      }),
      { numRuns: 1000 },
    );
    expect(compared).toBeGreaterThan(10);
  });
});

describe('parseProjectId', () => {
  it.each([
    [UUID, UUID],
    [UUID.toUpperCase(), UUID],
    ['3F2b8C1e-9A4d-4E2f-8B7a-0C1d2E3f4A5b', UUID],
    ['00000000-0000-0000-0000-000000000000', '00000000-0000-0000-0000-000000000000'],
    ['ffffffff-ffff-ffff-ffff-ffffffffffff', 'ffffffff-ffff-ffff-ffff-ffffffffffff'],
  ])('%p → %p', (text, id) => {
    expect(parseProjectId(text)).toBe(id);
  });

  it.each([
    [''],
    ['nope'],
    ['3f2b8c1e9a4d4e2f8b7a0c1d2e3f4a5b'],
    ['{3f2b8c1e-9a4d-4e2f-8b7a-0c1d2e3f4a5b}'],
    ['urn:uuid:3f2b8c1e-9a4d-4e2f-8b7a-0c1d2e3f4a5b'],
    ['3f2b8c1e-9a4d-4e2f-8b7a-0c1d2e3f4a5'],
    ['3f2b8c1e-9a4d-4e2f-8b7a-0c1d2e3f4a5bb'],
    ['3f2b8c1e-9a4d-4e2f-8b7a0-c1d2e3f4a5b'],
    ['3f2b8c1g-9a4d-4e2f-8b7a-0c1d2e3f4a5b'],
    [' 3f2b8c1e-9a4d-4e2f-8b7a-0c1d2e3f4a5b'],
    ['3f2b8c1e-9a4d-4e2f-8b7a-0c1d2e3f4a5b\n'],
    ['3f2b8c1e_9a4d_4e2f_8b7a_0c1d2e3f4a5b'],
    ['３f2b8c1e-9a4d-4e2f-8b7a-0c1d2e3f4a5b'],
  ])('%p → BadQuery', (text) => {
    expectBadQuery(() => parseProjectId(text));
  });
});

describe('parseLooseQuery (the routes other than the list)', () => {
  it.each([
    ['', { projectId: undefined, key: undefined }],
    [`project_id=${UUID.toUpperCase()}`, { projectId: UUID, key: undefined }],
    ['key=foo:*', { projectId: undefined, key: 'foo:*' }],
    ['key=', { projectId: undefined, key: '' }],
    ['key', { projectId: undefined, key: '' }],
    ['key=a+b%2A', { projectId: undefined, key: 'a b*' }],
    ['key=a&key=b', { projectId: undefined, key: 'b' }],
    [
      'limit=abc&cursor=!!&created_after=2024-01-01&offset=1&meta=x&Key=z&keys_only=true',
      { projectId: undefined, key: undefined },
    ],
    [`key=k&project_id=${UUID}&limit=-5`, { projectId: UUID, key: 'k' }],
    ['project_idx=nope&xkey=a', { projectId: undefined, key: undefined }],
    ['project_id[=nope', { projectId: undefined, key: undefined }],
  ])('%p → %p', (raw, expected) => {
    expect(parseLooseQuery(raw)).toEqual(expected);
  });

  it.each([
    ['project_id=nope'],
    ['project_id='],
    ['project_id'],
    [`project_id=${UUID}x`],
    ['key=%'],
    ['key=a&other=%E2%82'],
    ['limit=%G1'],
    ['key[]=a'],
    ['key[x]=a'],
    [`project_id[]=${UUID}`],
    ['key=\ud800'],
  ])('%p → BadQuery', (raw) => {
    expectBadQuery(() => parseLooseQuery(raw));
  });
});

/** Percent-encodes as a client might: minimally, with `+` for a space, or every byte (either case). */
function queryComponent(text: string, style: number): string {
  if (style === 0) return encodeURIComponent(text);
  if (style === 1) return encodeURIComponent(text).replaceAll('%20', '+');
  const escape = (b: number) => `%${b.toString(16).padStart(2, '0')}`;
  return [...Buffer.from(text, 'utf8')].map((b) => (style === 2 ? escape(b).toUpperCase() : escape(b))).join('');
}

describe('parseListQuery properties', () => {
  const queryAlphabet = fc.constantFrom(...'=&%+?_*#[]kyeilmtcursoa_drpj0123456789AFaf.:-Z '.split(''));
  const nearQuery = fc.oneof(
    fc.string({ unit: queryAlphabet, maxLength: 40 }),
    fc
      .array(
        fc.tuple(
          fc.constantFrom('key', 'cursor', 'limit', 'created_after', 'updated_before', 'project_id', 'x', ''),
          fc.string({ unit: queryAlphabet, maxLength: 12 }),
        ),
        { maxLength: 5 },
      )
      .map((pairs) => pairs.map(([n, v]) => `${n}=${v}`).join('&')),
  );

  it('throws nothing but BadQuery, on any text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), nearQuery), (raw) => {
        onlyBadQuery(
          () => parseListQuery(raw),
          (query) => expect(Number.isSafeInteger(query.limit) && query.limit >= 0).toBe(true),
        );
        onlyBadQuery(() => parseLooseQuery(raw));
      }),
      { numRuns: 500 },
    );
  });

  const hex = fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'.split('')), minLength: 32, maxLength: 32 });
  const uuid = hex.map(
    (h) => `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`,
  );
  const timestamp = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
  const valid = fc.record(
    {
      key: fc.string({ unit: 'grapheme', maxLength: 20 }),
      limit: fc.maxSafeNat(),
      after: fc.maxSafeNat(),
      createdAfter: timestamp,
      createdBefore: timestamp,
      updatedAfter: timestamp,
      updatedBefore: timestamp,
      projectId: uuid,
      keysOnly: fc.boolean(),
    },
    { requiredKeys: [] },
  );

  it('round-trips a query built from valid values, in any order and encoding', () => {
    fc.assert(
      fc.property(valid, fc.nat(), fc.integer({ min: 0, max: 3 }), (query, seed, style) => {
        const text: Record<keyof ListQuery, (v: never) => [string, string]> = {
          key: (v: string) => ['key', v],
          limit: (v: number) => ['limit', String(v)],
          after: (v: number) => ['cursor', encodeCursor(v)],
          createdAfter: (v: number) => ['created_after', formatTimestamp(v)],
          createdBefore: (v: number) => ['created_before', formatTimestamp(v)],
          updatedAfter: (v: number) => ['updated_after', formatTimestamp(v)],
          updatedBefore: (v: number) => ['updated_before', formatTimestamp(v)],
          projectId: (v: string) => ['project_id', v],
          keysOnly: (v: boolean) => ['keys_only', String(v)],
        };
        const pairs = Object.entries(query).map(([name, value]) => text[name as keyof ListQuery](value as never));
        const rotated = pairs.map((_, i) => pairs[(i + seed) % pairs.length] as [string, string]);
        const raw = rotated.map(([n, v]) => `${queryComponent(n, style)}=${queryComponent(v, style)}`).join('&');
        expect(parseListQuery(raw)).toEqual({
          ...ALL_DEFAULTS,
          ...query,
          projectId: query.projectId?.toLowerCase(),
        });
      }),
    );
  });
});

type Unit = { kind: 'any' } | { kind: 'one' } | { kind: 'char'; char: string };

/** Whether `units` consume exactly the characters (code points) of `key`; a DP, not backtracking. */
function unitsMatch(units: readonly Unit[], key: readonly string[]): boolean {
  let reach = key.map(() => false).concat(false);
  reach[0] = true;
  for (const unit of units) {
    const next: boolean[] = [];
    for (let j = 0; j <= key.length; j++) {
      next[j] =
        unit.kind === 'any'
          ? reach[j] === true || (j > 0 && next[j - 1] === true)
          : j > 0 && reach[j - 1] === true && (unit.kind === 'one' || unit.char === key[j - 1]);
    }
    reach = next;
  }
  return reach[key.length] === true;
}

/** OpenFn's LIKE: `*` any run, `_` one character when the quirk is on, anything else itself. */
const likeMatches = (pattern: string, key: string, underscore: boolean) =>
  unitsMatch(
    [...pattern].map((c): Unit =>
      c === '*' ? { kind: 'any' } : c === '_' && underscore ? { kind: 'one' } : { kind: 'char', char: c },
    ),
    [...key],
  );

/** Our glob, as parseGlob's tokens describe it. */
const tokensMatch = (tokens: readonly GlobToken[], key: string) =>
  unitsMatch(
    tokens.flatMap((t): Unit[] => (t.kind === 'literal' ? [...t.text].map((char) => ({ kind: 'char', char })) : [t])),
    [...key],
  );

describe('globOf', () => {
  it.each([
    ['', true, undefined],
    ['', false, undefined],
    ['foo', true, 'foo'],
    ['foo:bar:*', true, 'foo:bar:*'],
    ['foo:*:bar*', false, 'foo:*:bar*'],
    ['**', true, '**'],
    ['a_c', true, 'a?c'],
    ['a_c', false, 'a_c'],
    ['___', true, '???'],
    ['a?c', true, 'a\\?c'],
    ['a?c', false, 'a\\?c'],
    ['a\\c', true, 'a\\\\c'],
    ['\\', false, '\\\\'],
    ['\\*', true, '\\\\*'],
    ['\\_', true, '\\\\?'],
    ['%', true, '%'],
    ['50%_off', true, '50%?off'],
    ['[a-z]', true, '[a-z]'],
    ['é😀*', true, 'é😀*'],
  ])('globOf(%p, %p) → %p', (pattern, underscore, glob) => {
    expect(globOf(pattern, underscore)).toBe(glob);
  });

  it.each([
    ['foo:bar:*', ['foo:bar:baz', 'foo:bar:baz:quux', 'foo:bar:'], ['foo:baz:bar', 'foo:bar']],
    ['foo:*:baz', ['foo:bar:baz'], ['foo:bar:baz:quux']],
    ['foo:*:bar*', ['foo:123:bar1', 'foo:345:bar2'], ['foo:234:boo']],
    ['a_c', ['abc', 'a_c', 'aéc'], ['ac', 'abbc', 'ABC']],
    ['a%c', ['a%c'], ['abc', 'ac']],
    ['a\\c', ['a\\c'], ['ac', 'a\\\\c']],
    ['a?c', ['a?c'], ['abc']],
    ['Foo', ['Foo'], ['foo', 'FOO']],
  ])('the spec’s examples: %p matches %p, not %p', (pattern, yes, no) => {
    const glob = parseGlob(globOf(pattern, true) as string);
    for (const key of yes) expect(tokensMatch(glob.tokens, key)).toBe(true);
    for (const key of no) expect(tokensMatch(glob.tokens, key)).toBe(false);
  });

  it('keeps `_` literal without the quirk', () => {
    const glob = parseGlob(globOf('a_c', false) as string);
    expect(glob.exact).toBe(true);
    expect(tokensMatch(glob.tokens, 'a_c')).toBe(true);
    expect(tokensMatch(glob.tokens, 'abc')).toBe(false);
  });

  it('refuses a pattern of more than 16 wildcards itself (INVALID_PATTERN), before a listing answers', () => {
    expect(() => globOf('*a'.repeat(MAX_PATTERN_WILDCARDS), true)).not.toThrow();
    expect(() => globOf('*a'.repeat(MAX_PATTERN_WILDCARDS + 1), true)).toThrow(
      expect.objectContaining({ code: 'INVALID_PATTERN' }),
    );
    expect(() => globOf('_'.repeat(MAX_PATTERN_WILDCARDS + 1), true)).toThrow(
      expect.objectContaining({ code: 'INVALID_PATTERN' }),
    );
    expect(() => globOf('_'.repeat(MAX_PATTERN_WILDCARDS + 1), false)).not.toThrow();
  });

  const char = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom('*', '_', '?', '\\', '%', 'a', 'b', ':', '[', 'é', '😀') },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }) },
  );
  const pattern = fc.array(char, { maxLength: 20 }).map((cs) => cs.join(''));
  const wildcards = (p: string, underscore: boolean) =>
    [...p].filter((c) => c === '*' || (underscore && c === '_')).length;

  /** Keys the pattern should match (its wildcards filled in) and near misses. */
  const keyFor = (p: string) =>
    fc
      .tuple(fc.array(fc.string({ unit: char, maxLength: 3 }), { minLength: 32, maxLength: 32 }), char, fc.nat())
      .map(([fills, one, cut]) => {
        let i = 0;
        const filled = [...p]
          .map((c) => (c === '*' ? (fills[i++ % fills.length] ?? '') : c === '_' ? one : c))
          .join('');
        const chars = [...filled];
        return cut % 3 === 0 ? chars.filter((_, j) => j !== cut % (chars.length + 1)).join('') : filled;
      });

  /** Patterns dense in wildcards, up to and past the limit of 16. */
  const wild = fc
    .array(fc.constantFrom('*', '_', '?', 'a', '\\'), { maxLength: 40 })
    .map((cs) => cs.join(''))
    .filter((p) => wildcards(p, false) <= MAX_PATTERN_WILDCARDS);

  it('matches exactly the keys OpenFn’s LIKE matches, up to 16 wildcards', () => {
    const outcomes = { matched: 0, missed: 0 };
    fc.assert(
      fc.property(
        fc.boolean(),
        fc
          .oneof(pattern, wild)
          .chain((p) => fc.tuple(fc.constant(p), fc.array(fc.oneof(keyFor(p), pattern), { maxLength: 6 }))),
        (underscore, [p, keys]) => {
          fc.pre(wildcards(p, underscore) <= MAX_PATTERN_WILDCARDS);
          const glob = globOf(p, underscore);
          if (p === '') {
            expect(glob).toBeUndefined();
            return;
          }
          expect(glob).toBeDefined();
          const parsed = parseGlob(glob as string);
          expect(parsed.exact).toBe(wildcards(p, underscore) === 0);
          for (const key of keys) {
            const like = likeMatches(p, key, underscore);
            expect(tokensMatch(parsed.tokens, key)).toBe(like);
            outcomes[like ? 'matched' : 'missed']++;
          }
        },
      ),
      { numRuns: 300 },
    );
    expect(outcomes.matched).toBeGreaterThan(50);
    expect(outcomes.missed).toBeGreaterThan(50);
  });
});
