import type { DataFormat } from './paths';

/** The media type each format is served as (without its charset). */
export const MEDIA_TYPES: Readonly<Record<DataFormat, string>> = {
  json: 'application/json',
  lua: 'text/x-lua',
};

/** Formats in the order preferred when the client likes both equally. */
const PREFERENCE: readonly DataFormat[] = ['json', 'lua'];

interface MediaRange {
  readonly type: string;
  readonly subtype: string;
  readonly q: number;
  /** Position in the header: earlier wins a tie, as Express's `accepts` decides. */
  readonly index: number;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** One `type/subtype;params` range of an Accept header; undefined when malformed (ignored). */
function parseRange(text: string, index: number): MediaRange | undefined {
  const [mediaType = '', ...params] = text.split(';');
  const [type = '', subtype = '', extra] = mediaType.trim().toLowerCase().split('/');
  if (extra !== undefined || !TOKEN.test(type) || !TOKEN.test(subtype)) return undefined;
  if (type === '*' && subtype !== '*') return undefined;
  let q = 1;
  for (const param of params) {
    const [name = '', value = ''] = param.split('=').map((part) => part.trim());
    if (name.toLowerCase() !== 'q') continue;
    if (!/^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(value)) return undefined;
    q = Number(value);
  }
  return { type, subtype, q, index };
}

/** How specifically a range names a media type: 2 exactly, 1 by `type/*`, 0 by `*\/*`; -1 not at all. */
function specificity(range: MediaRange, mediaType: string): number {
  const [type, subtype] = mediaType.split('/');
  if (range.type === type && range.subtype === subtype) return 2;
  if (range.type === type && range.subtype === '*') return 1;
  return range.type === '*' ? 0 : -1;
}

interface Offer {
  readonly format: DataFormat;
  readonly q: number;
  readonly specificity: number;
  readonly index: number;
}

/** A format as the header rates it: its most specific matching range decides (RFC 9110 §12.5.1). */
function offerOf(format: DataFormat, ranges: readonly MediaRange[]): Offer | undefined {
  let best: Offer | undefined;
  for (const range of ranges) {
    const s = specificity(range, MEDIA_TYPES[format]);
    if (s < 0 || (best !== undefined && best.specificity >= s)) continue;
    best = { format, q: range.q, specificity: s, index: range.index };
  }
  return best;
}

/**
 * The format a GET without a format item is answered in, by its Accept header. The original
 * module ignores the header and always answers JSON (its README lists negotiation as wanted);
 * ours picks the format the header rates highest
 * (ties: the more specific match, then the range named first, then JSON); no header, or one
 * without any valid range, is JSON; a header that rules out both formats is undefined (406).
 */
export function negotiateFormat(accept: string | undefined): DataFormat | undefined {
  if (accept === undefined || accept.trim() === '') return 'json';
  const ranges = accept
    .split(',')
    .map((text, index) => parseRange(text, index))
    .filter((range) => range !== undefined);
  if (ranges.length === 0) return 'json';
  const offers = PREFERENCE.map((format) => offerOf(format, ranges)).filter(
    (offer): offer is Offer => offer !== undefined && offer.q > 0,
  );
  offers.sort((a, b) => b.q - a.q || b.specificity - a.specificity || a.index - b.index);
  return offers[0]?.format;
}
