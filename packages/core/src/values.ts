import { invalid } from './errors';

/** Default limit on one value, for collections that set none: 16 MiB. */
export const DEFAULT_MAX_VALUE_BYTES = 16 * 1024 * 1024;
/** Content type of a value stored without one. */
export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';
export const MAX_CONTENT_TYPE_LENGTH = 255;

// RFC 9110 media type: type "/" subtype *( OWS ";" OWS parameter ), parameter = token "=" ( token / quoted-string )
const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const QUOTED = '"(?:[^"\\\\\\u0000-\\u0008\\u000a-\\u001f\\u007f]|\\\\[\\u0009\\u0020-\\u007e])*"';
const MEDIA_TYPE = new RegExp(`^${TOKEN}/${TOKEN}(?:[ \\t]*;[ \\t]*${TOKEN}=(?:${TOKEN}|${QUOTED}))*$`);

/** Returns the content type to store: the given one trimmed, or the default when empty. */
export function normalizeContentType(contentType: string | undefined): string {
  const trimmed = (contentType ?? '').trim();
  if (trimmed === '') return DEFAULT_CONTENT_TYPE;
  if (trimmed.length > MAX_CONTENT_TYPE_LENGTH || !MEDIA_TYPE.test(trimmed)) {
    throw invalid('INVALID_CONTENT_TYPE', `"${trimmed.slice(0, 64)}" is not a valid media type`);
  }
  return trimmed;
}

function essence(contentType: string): string {
  const semi = contentType.indexOf(';');
  return (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

/** `application/json` and every `+json` type. */
export function isJsonContentType(contentType: string): boolean {
  const e = essence(contentType);
  return e === 'application/json' || e.endsWith('+json');
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The value as text when its type is textual and its bytes are valid UTF-8; undefined otherwise. */
export function valueAsText(contentType: string, value: Uint8Array): string | undefined {
  if (!isTextContentType(contentType)) return undefined;
  try {
    return utf8.decode(value);
  } catch {
    return undefined;
  }
}

/** Types whose values are text, so transports may show them as strings rather than Base64. */
export function isTextContentType(contentType: string): boolean {
  const e = essence(contentType);
  return (
    e.startsWith('text/') ||
    isJsonContentType(contentType) ||
    e === 'application/xml' ||
    e.endsWith('+xml') ||
    e === 'application/x-ndjson' ||
    e === 'application/yaml'
  );
}

export function assertValueSize(size: number, limit: number): void {
  if (size > limit) {
    throw invalid('VALUE_TOO_LARGE', `value is ${size} bytes; the collection's limit is ${limit}`);
  }
}
