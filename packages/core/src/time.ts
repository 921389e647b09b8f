/**
 * Timestamps travel as microseconds since the Unix epoch (Postgres keeps microseconds; JS Dates
 * only milliseconds). These convert to and from RFC 3339 text without losing the last digits.
 */

/** RFC 3339 in UTC with exactly six fractional digits: `2024-11-05T10:20:30.123456Z`. */
export function formatMicros(us: number): string {
  const ms = Math.floor(us / 1000);
  const micro = us - ms * 1000;
  const iso = new Date(ms).toISOString(); // …T10:20:30.123Z
  return `${iso.slice(0, -1)}${String(micro).padStart(3, '0')}Z`;
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * Parses an RFC 3339 date-time that carries an offset (`Z` or `±hh:mm`) into microseconds.
 * Anything else (a date alone, no offset, an impossible date) is undefined.
 */
export function parseRfc3339Micros(text: string): number | undefined {
  const match = RFC3339.exec(text);
  if (match === null) return undefined;
  const [, date, time, fraction = '', offset = 'Z'] = match;
  const seconds = Date.parse(`${date}T${time}${offset.toUpperCase()}`);
  if (Number.isNaN(seconds)) return undefined;
  // Date.parse accepts 2024-02-30; a round trip of the calendar date catches it.
  const utcDate = new Date(Date.parse(`${date}T00:00:00Z`)).toISOString().slice(0, 10);
  if (utcDate !== date) return undefined;
  const micros = Number((fraction + '000000').slice(0, 6));
  return seconds * 1000 + micros;
}
