import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Code, ConnectError } from '@connectrpc/connect';
import { isDomainError, isErrorCode, type ErrorCode } from '@rosetta/core';
import type { Logger } from '@rosetta/platform';
import { readWireError } from '@rosetta/proto';
import { pathOfUrl, requestIdOf } from './http/observe';

/** The gateway's one mapping of domain codes onto HTTP statuses (the /v1 API and the defaults). */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  INVALID_ARGUMENT: 400,
  INVALID_KEY: 400,
  INVALID_NAME: 400,
  INVALID_PATTERN: 400,
  INVALID_CURSOR: 400,
  INVALID_CONTENT_TYPE: 400,
  UNSUPPORTED_MEDIA_TYPE: 415,
  VALUE_TOO_LARGE: 413,
  BATCH_TOO_LARGE: 413,
  DUPLICATE_KEY: 422,
  SPACE_NOT_FOUND: 404,
  COLLECTION_NOT_FOUND: 404,
  COLLECTION_EXISTS: 409,
  KEY_NOT_FOUND: 404,
  REVISION_MISMATCH: 412,
  RECORD_EXISTS: 412,
  VERSION_NOT_FOUND: 404,
  VERSION_LOCKED: 409,
  VERSION_EXISTS: 409,
  REVISION_EXPIRED: 410,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  RATE_LIMITED: 429,
  ACCOUNT_NOT_FOUND: 404,
  ACCOUNT_EXISTS: 409,
  SPACE_EXISTS: 409,
  TOKEN_NOT_FOUND: 404,
  MEMBER_NOT_FOUND: 404,
  WEBHOOK_NOT_FOUND: 404,
  JOB_NOT_FOUND: 404,
  JOB_FINISHED: 409,
  SNAPSHOT_NOT_FOUND: 404,
  SNAPSHOT_NOT_READY: 409,
  SNAPSHOT_CORRUPT: 422,
  SCHEDULE_NOT_FOUND: 404,
  LAST_OWNER: 409,
  UNAVAILABLE: 503,
  INTERNAL: 500,
};

/**
 * A dialect's mapping of domain codes onto its statuses: the gateway's own, changed where the
 * dialect answers differently, and limited to the statuses the dialect can render (others
 * become `fallback`).
 */
export function dialectStatuses<S extends number>(
  differences: Partial<Record<ErrorCode, S>>,
  renderable: readonly S[],
  fallback: S,
): Record<ErrorCode, S> {
  const table = {} as Record<ErrorCode, S>;
  for (const [code, status] of Object.entries(HTTP_STATUS) as [ErrorCode, number][]) {
    table[code] = differences[code] ?? renderable.find((s) => s === status) ?? fallback;
  }
  return table;
}

/** Generic texts for codes whose error carries no public message. */
const DEFAULT_MESSAGE: Partial<Record<ErrorCode, string>> = {
  UNAVAILABLE: 'the store is temporarily unavailable; retry shortly',
  INTERNAL: 'internal error',
};

/** What a failure looks like to an HTTP caller, whatever raised it. */
export interface HttpFailure {
  readonly code: ErrorCode;
  readonly status: number;
  readonly message: string;
  /** Set for failures the caller cannot do anything about: log it. */
  readonly unexpected: boolean;
  /** For RATE_LIMITED: whole seconds until a retry may succeed. */
  readonly retryAfterSeconds?: number | undefined;
}

/**
 * Classifies any error: a domain error raised in the gateway, a record-service error carrying
 * its domain code, a transport failure reaching the service (UNAVAILABLE), or a bug (INTERNAL).
 */
export function toHttpFailure(error: unknown): HttpFailure {
  if (isDomainError(error)) {
    return { ...failure(error.code, error.publicMessage), retryAfterSeconds: error.retryAfterSeconds };
  }
  if (error instanceof ConnectError) {
    const wire = readWireError(error);
    if (wire.code !== undefined && isErrorCode(wire.code)) {
      return { ...failure(wire.code, wire.publicMessage), retryAfterSeconds: wire.retryAfterSeconds };
    }
    if (wire.connectCode === Code.Unavailable || wire.connectCode === Code.DeadlineExceeded) {
      return { ...failure('UNAVAILABLE', undefined), unexpected: true };
    }
  }
  return { ...failure('INTERNAL', undefined), unexpected: true };
}

function failure(code: ErrorCode, publicMessage: string | undefined): HttpFailure {
  return {
    code,
    status: HTTP_STATUS[code],
    message: publicMessage ?? DEFAULT_MESSAGE[code] ?? code.toLowerCase().replaceAll('_', ' '),
    unexpected: code === 'INTERNAL',
  };
}

/** Errors of Express and its body parsers (`http-errors`, carrying a `type` or a client status). */
function expressFailure(error: unknown): HttpFailure | undefined {
  const { type, status } = (error ?? {}) as { type?: unknown; status?: unknown };
  switch (type) {
    case 'entity.too.large':
      return { code: 'VALUE_TOO_LARGE', status: 413, message: 'request body is too large', unexpected: false };
    case 'entity.parse.failed':
      return { code: 'INVALID_ARGUMENT', status: 400, message: 'request body is not valid JSON', unexpected: false };
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return { code: 'UNSUPPORTED_MEDIA_TYPE', status: 415, message: 'unsupported body encoding', unexpected: false };
    case 'request.aborted':
      return { code: 'INVALID_ARGUMENT', status: 400, message: 'request aborted', unexpected: false };
    default:
      // Express's router: "Failed to decode param" for a malformed percent-encoding in a path.
      return status === 400 && error instanceof URIError
        ? { code: 'INVALID_ARGUMENT', status: 400, message: error.message, unexpected: false }
        : undefined;
  }
}

/** The URL a request arrived with (Express rewrites `url` inside mounted routers and keeps `originalUrl`). */
const urlOf = (req: IncomingMessage): string => (req as { originalUrl?: string }).originalUrl ?? req.url ?? '';

/**
 * A record-service call the gateway cancelled because its client went away (a list waiting for
 * its first records, say): nothing failed, and the access log already says 499.
 */
function cancelledForGoneClient(req: IncomingMessage, error: unknown): boolean {
  return error instanceof ConnectError && error.code === Code.Canceled && req.socket.destroyed;
}

/**
 * What a failed request answers, whatever raised the error: the one place every route's
 * failures (of /v1 and of every dialect) go through. Unexpected failures are logged with an
 * error id that the caller sees in the message instead of any detail, and with the request's
 * id (its X-Request-Id, as in the access log) and path: never its query, which may carry
 * credentials.
 */
export function failureOf(req: IncomingMessage, error: unknown, logger: Logger): HttpFailure {
  const failure = expressFailure(error) ?? toHttpFailure(error);
  if (!failure.unexpected || cancelledForGoneClient(req, error)) return failure;
  const errorId = randomUUID();
  logger.error(
    { err: error, errorId, request_id: requestIdOf(req), method: req.method, path: pathOfUrl(urlOf(req)) },
    'request failed',
  );
  return { ...failure, message: `${failure.message} (error id ${errorId})` };
}

/**
 * Answers a failed /v1 request with `{"error":{"code","message"}}` and its status; once a
 * response has started, the connection is cut.
 */
export function respondWithError(req: IncomingMessage, res: ServerResponse, error: unknown, logger: Logger): void {
  const failure = failureOf(req, error, logger);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
  if (failure.status === 503) headers['retry-after'] = '1';
  if (failure.retryAfterSeconds !== undefined) headers['retry-after'] = String(failure.retryAfterSeconds);
  if (failure.status === 401) headers['www-authenticate'] = 'Bearer realm="rosetta", Basic realm="rosetta"';
  res.writeHead(failure.status, headers);
  res.end(JSON.stringify({ error: { code: failure.code, message: failure.message } }));
}
