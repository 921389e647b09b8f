import fc from 'fast-check';
import { formatMicros, parseRfc3339Micros } from './time';

/** What formatMicros writes, by way of a Date of the milliseconds and the three digits after. */
function reference(us: number): string {
  const ms = Math.floor(us / 1000);
  return `${new Date(ms).toISOString().slice(0, -1)}${String(us - ms * 1000).padStart(3, '0')}Z`;
}

describe('formatMicros', () => {
  it.each([
    [0, '1970-01-01T00:00:00.000000Z'],
    [1_730_802_030_123_456, '2024-11-05T10:20:30.123456Z'],
    [1_730_802_030_000_001, '2024-11-05T10:20:30.000001Z'],
    [-1, '1969-12-31T23:59:59.999999Z'],
    [253_402_300_800_000_000, '+010000-01-01T00:00:00.000000Z'],
  ])('%i → %s', (us, text) => {
    expect(formatMicros(us)).toBe(text);
  });

  it('writes any sequence of instants as a Date would, whether they share a second or not', () => {
    const instant = fc.oneof(
      fc.maxSafeInteger(),
      fc.integer({ min: 0, max: 3_999_999 }).map((offset) => 1_730_802_030_000_000 + offset),
    );
    fc.assert(
      fc.property(fc.array(instant, { maxLength: 50 }), (instants) => {
        expect(instants.map(formatMicros)).toEqual(instants.map(reference));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('parseRfc3339Micros', () => {
  it.each([
    ['2024-11-05T10:20:30.123456Z', 1_730_802_030_123_456],
    ['2024-11-05T10:20:30Z', 1_730_802_030_000_000],
    ['2024-11-05T11:20:30.5+01:00', 1_730_802_030_500_000],
    ['2024-11-05t10:20:30.123456789z', 1_730_802_030_123_456],
  ])('%s → %i', (text, us) => {
    expect(parseRfc3339Micros(text)).toBe(us);
  });

  it.each([
    '2024-01-01',
    '2024-01-01T00:00:00',
    '202401',
    'yesterday',
    '2024-02-30T00:00:00Z',
    '2024-13-01T00:00:00Z',
    '',
  ])('refuses %j', (text) => {
    expect(parseRfc3339Micros(text)).toBeUndefined();
  });

  it('round-trips with formatMicros', () => {
    for (const us of [0, 1, 999_999, 1_730_802_030_123_456]) expect(parseRfc3339Micros(formatMicros(us))).toBe(us);
  });
});
