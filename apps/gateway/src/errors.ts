import { Code, ConnectError } from '@connectrpc/connect';
import { isDomainError, isErrorCode, type ErrorCode } from '@rosetta/core';
import { readWireError } from '@rosetta/proto';

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
  UNAVAILABLE: 503,
  INTERNAL: 500,
};

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
}

/**
 * Classifies any error: a domain error raised in the gateway, a record-service error carrying
 * its domain code, a transport failure reaching the service (UNAVAILABLE), or a bug (INTERNAL).
 */
export function toHttpFailure(error: unknown): HttpFailure {
  if (isDomainError(error)) {
    return failure(error.code, error.publicMessage);
  }
  if (error instanceof ConnectError) {
    const wire = readWireError(error);
    if (wire.code !== undefined && isErrorCode(wire.code)) return failure(wire.code, wire.publicMessage);
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
