import type { ServerResponse } from 'node:http';
import type { ErrorCode } from '@rosetta/core';

/**
 * The kvs answers: Go's `http.Error` text bodies (almost always just a newline) and empty
 * bodies. No JSON error shape exists in the original, so none is invented here.
 */

/** The body of every kvs error except the 404s: `http.Error(w, "", status)`. */
export const EMPTY_ERROR = '\n';
/** Go's `http.NotFound`: wrong realm, unknown path, GET of a missing key. */
export const NOT_FOUND_PAGE = '404 page not found\n';

/** A text answer as Go's `http.Error` writes it. */
export function sendText(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'x-content-type-options': 'nosniff',
    'content-length': String(Buffer.byteLength(body)),
  });
  res.end(body);
}

/** A status with an empty body and no Content-Type (what Go sends after only WriteHeader). */
export function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...headers, 'content-length': '0' });
  res.end();
}

/**
 * The one mapping of domain codes onto kvs statuses. The original knows only 400 (bad input),
 * 403 (any failure to authenticate or to be allowed: there is no 401) and 500 (the store);
 * not-found answers are decided by each handler, so the codes that cannot reach here (the
 * dialect sends no conditions, creates its collection itself, touches no accounts) are 500.
 */
export const KOPANO_STATUS: Record<ErrorCode, 400 | 403 | 500> = {
  INVALID_ARGUMENT: 400,
  INVALID_KEY: 400,
  INVALID_NAME: 400,
  INVALID_PATTERN: 400,
  INVALID_CURSOR: 400,
  INVALID_CONTENT_TYPE: 400,
  UNSUPPORTED_MEDIA_TYPE: 400,
  VALUE_TOO_LARGE: 400,
  BATCH_TOO_LARGE: 400,
  DUPLICATE_KEY: 400,
  UNAUTHENTICATED: 403,
  PERMISSION_DENIED: 403,
  RATE_LIMITED: 403,
  SPACE_NOT_FOUND: 403,
  ACCOUNT_NOT_FOUND: 403,
  MEMBER_NOT_FOUND: 403,
  COLLECTION_NOT_FOUND: 500,
  COLLECTION_EXISTS: 500,
  KEY_NOT_FOUND: 500,
  REVISION_MISMATCH: 500,
  RECORD_EXISTS: 500,
  VERSION_NOT_FOUND: 500,
  VERSION_LOCKED: 500,
  VERSION_EXISTS: 500,
  REVISION_EXPIRED: 500,
  ACCOUNT_EXISTS: 500,
  SPACE_EXISTS: 500,
  TOKEN_NOT_FOUND: 500,
  WEBHOOK_NOT_FOUND: 500,
  JOB_NOT_FOUND: 500,
  JOB_FINISHED: 500,
  SNAPSHOT_NOT_FOUND: 500,
  SNAPSHOT_NOT_READY: 500,
  SNAPSHOT_CORRUPT: 500,
  SCHEDULE_NOT_FOUND: 500,
  LAST_OWNER: 500,
  UNAVAILABLE: 500,
  INTERNAL: 500,
};
