import type { IncomingMessage } from 'node:http';
import { invalid } from '@rosetta/core';
import { header } from '../../http/headers';
import { readBody } from '../../http/read-body';

/** Request parameters as Phoenix gives them to a controller: names to decoded values. */
export type Params = Readonly<Record<string, unknown>>;

const mediaTypeOf = (req: IncomingMessage) => (header(req, 'content-type') ?? '').split(';')[0]?.trim().toLowerCase();

const isJson = (type: string) => type === 'application/json' || /^application\/[^/]+\+json$/.test(type);

const badBody = () => invalid('INVALID_ARGUMENT', 'the request body does not parse as its Content-Type says');

/**
 * The body's parameters, parsed as Lightning's Plug.Parsers does: a JSON object gives its
 * fields (any other JSON value lands under `_json`, where no route looks), a form body its
 * fields, and a body of any other type is not parsed at all. A body that does not parse is a
 * 400; one over `maxBytes` a 413.
 */
export async function readParams(req: IncomingMessage, maxBytes: number): Promise<Params> {
  const type = mediaTypeOf(req) ?? '';
  const body = await readBody(req, maxBytes);
  if (isJson(type)) {
    if (body.byteLength === 0) return {};
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
    } catch {
      throw badBody();
    }
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Params)
      : { _json: parsed };
  }
  if (type === 'application/x-www-form-urlencoded') {
    const text = body.toString('utf8');
    try {
      // URLSearchParams is lenient with bad escapes; Plug is not.
      decodeURIComponent(text.replaceAll('+', ' '));
    } catch {
      throw badBody();
    }
    return Object.fromEntries(new URLSearchParams(text));
  }
  return {};
}
