import type { ServerResponse } from 'node:http';
import { dialectStatuses, type HttpFailure } from '../../errors';

/** Error pages are HTML, as Prosody's mod_http_errors writes them. */
export const HTML_CONTENT_TYPE = 'text/html; charset=utf-8';

/** The reason phrase and the line of explanation of every status the dialect answers with a page. */
const PAGES = {
  400: ['Bad Request', 'The request could not be understood: check its path, Content-Type and body.'],
  401: ['Unauthorized', 'This resource needs HTTP Basic authentication as user@host.'],
  403: ['Forbidden', 'You may not access this data.'],
  404: ['Not Found', 'There is nothing here.'],
  406: ['Not Acceptable', 'The data can be served as application/json or text/x-lua only.'],
  409: ['Conflict', 'The request conflicts with the state of the data.'],
  412: ['Precondition Failed', 'The data changed while the request was handled.'],
  413: ['Payload Too Large', 'The request body is larger than this server accepts.'],
  415: ['Unsupported Media Type', 'The request body is in an encoding this server does not understand.'],
  429: ['Too Many Requests', 'Too many failed attempts; wait before trying again.'],
  500: ['Internal Server Error', 'Something went wrong on our side.'],
  503: ['Service Unavailable', 'The store is temporarily unavailable; retry shortly.'],
} as const;

export type PageStatus = keyof typeof PAGES;

/**
 * The one mapping of domain codes onto this dialect's statuses. A space the caller cannot see
 * (an admin naming a user that does not exist) is 404, like any missing data; codes the dialect
 * cannot meet keep the gateway's usual status.
 */
export const PROSODY_STATUS = dialectStatuses<PageStatus>(
  { INVALID_NAME: 404, DUPLICATE_KEY: 400, TOKEN_NOT_FOUND: 401 },
  (Object.keys(PAGES) as `${PageStatus}`[]).map(Number) as PageStatus[],
  500,
);

/** A small HTML page naming the status in its title and heading, like mod_http_errors'. */
export function pageBody(status: PageStatus): string {
  const [reason, line] = PAGES[status];
  const title = `${status} ${reason}`;
  return (
    '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n' +
    `<title>${title}</title>\n</head>\n<body>\n<h1>${title}</h1>\n<p>${line}</p>\n</body>\n</html>\n`
  );
}

/**
 * Writes an error page with its status and any extra headers (Node leaves the body out of an
 * answer to HEAD). The CORS headers set earlier on the response stay, as Prosody sends them on
 * every answer.
 */
export function writePage(res: ServerResponse, status: PageStatus, headers: Record<string, string> = {}): void {
  const body = pageBody(status);
  res.writeHead(status, {
    ...headers,
    'content-type': HTML_CONTENT_TYPE,
    'content-length': String(Buffer.byteLength(body)),
  });
  res.end(body);
}

/**
 * The page of a failed request: bad credentials are 401 without a challenge (the challenge is
 * only for requests without credentials), rate limits carry Retry-After, an unavailable store
 * `Retry-After: 1`, and unexpected failures Prosody's `debug` header with the error id.
 */
export function writeFailure(res: ServerResponse, failure: HttpFailure): void {
  const status = PROSODY_STATUS[failure.code];
  const headers: Record<string, string> = {};
  if (failure.retryAfterSeconds !== undefined) headers['retry-after'] = String(failure.retryAfterSeconds);
  else if (status === 503) headers['retry-after'] = '1';
  if (status === 500) headers.debug = failure.message;
  writePage(res, status, headers);
}
