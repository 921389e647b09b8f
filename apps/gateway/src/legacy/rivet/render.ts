import type { IncomingMessage, ServerResponse } from 'node:http';
import { dialectStatuses, type HttpFailure } from '../../errors';
import { queryOf } from '../dialect';

/** Echo's `String` responses: upper-case `UTF-8`, as Rivet sends them. */
export const TEXT_CONTENT_TYPE = 'text/plain; charset=UTF-8';
/** Echo's JSON responses (its default error handler). */
export const JSON_CONTENT_TYPE = 'application/json; charset=UTF-8';

/** Go's `http.StatusText` of every status this dialect answers with. */
const STATUS_TEXT = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  412: 'Precondition Failed',
  413: 'Request Entity Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
} as const;

export type RivetStatus = keyof typeof STATUS_TEXT;

/**
 * The one mapping of domain codes onto Rivet statuses. Rivet answered 401 for any store that
 * is not the session's own, so a space the caller may not see (SPACE_NOT_FOUND) is 401 too.
 * Codes Rivet never met keep the gateway's usual status.
 */
export const RIVET_STATUS = dialectStatuses<RivetStatus>(
  { SPACE_NOT_FOUND: 401, ACCOUNT_NOT_FOUND: 401, TOKEN_NOT_FOUND: 401 },
  (Object.keys(STATUS_TEXT) as `${RivetStatus}`[]).map(Number) as RivetStatus[],
  500,
);

/**
 * Echo's error body: `{"message":…}` and the JSON encoder's newline; `?pretty` in the URL
 * indents it with two spaces, as Echo's `c.JSON` does.
 */
export function errorBody(message: string, pretty: boolean): string {
  return `${JSON.stringify({ message }, null, pretty ? 2 : undefined)}\n`;
}

/**
 * Writes a Rivet error: the status, Echo's JSON body (the status text unless `message` says
 * otherwise), no body for HEAD requests, as Echo sends them.
 */
export function writeError(
  req: IncomingMessage,
  res: ServerResponse,
  status: RivetStatus,
  options: { readonly message?: string; readonly headers?: Readonly<Record<string, string>> } = {},
): void {
  const body = errorBody(options.message ?? STATUS_TEXT[status], queryOf(req.url ?? '').has('pretty'));
  res.writeHead(status, {
    ...options.headers,
    'content-type': JSON_CONTENT_TYPE,
    'content-length': String(Buffer.byteLength(body)),
  });
  if (req.method === 'HEAD') res.end();
  else res.end(body);
}

/** Renders a classified failure in Rivet's shape; rate limits and outages say when to retry. */
export function renderFailure(req: IncomingMessage, res: ServerResponse, failure: HttpFailure): void {
  const status = RIVET_STATUS[failure.code];
  const retryAfter = failure.retryAfterSeconds ?? (status === 503 ? 1 : undefined);
  writeError(req, res, status, retryAfter === undefined ? {} : { headers: { 'retry-after': String(retryAfter) } });
}

/** A success in Echo's `String` shape: `text/plain; charset=UTF-8`, the body as given. */
export function writeText(res: ServerResponse, status: 200 | 201, body: string | Uint8Array): void {
  const bytes =
    typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  res.writeHead(status, { 'content-type': TEXT_CONTENT_TYPE, 'content-length': String(bytes.byteLength) });
  res.end(bytes);
}
