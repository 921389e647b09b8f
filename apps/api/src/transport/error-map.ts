import { Code, ConnectError } from '@connectrpc/connect';
import { isDomainError, type ErrorCode } from '@rosetta/core';
import { wireError } from '@rosetta/proto';
import type { Logger } from '@rosetta/platform';
import { randomUUID } from 'node:crypto';

/** The record service's one mapping of domain codes onto RPC status codes. */
export const CONNECT_CODES: Record<ErrorCode, Code> = {
  INVALID_ARGUMENT: Code.InvalidArgument,
  INVALID_KEY: Code.InvalidArgument,
  INVALID_NAME: Code.InvalidArgument,
  INVALID_PATTERN: Code.InvalidArgument,
  INVALID_CURSOR: Code.InvalidArgument,
  INVALID_CONTENT_TYPE: Code.InvalidArgument,
  UNSUPPORTED_MEDIA_TYPE: Code.InvalidArgument,
  VALUE_TOO_LARGE: Code.ResourceExhausted,
  BATCH_TOO_LARGE: Code.ResourceExhausted,
  DUPLICATE_KEY: Code.InvalidArgument,
  SPACE_NOT_FOUND: Code.NotFound,
  COLLECTION_NOT_FOUND: Code.NotFound,
  COLLECTION_EXISTS: Code.AlreadyExists,
  KEY_NOT_FOUND: Code.NotFound,
  REVISION_MISMATCH: Code.FailedPrecondition,
  RECORD_EXISTS: Code.AlreadyExists,
  VERSION_NOT_FOUND: Code.NotFound,
  VERSION_LOCKED: Code.FailedPrecondition,
  VERSION_EXISTS: Code.AlreadyExists,
  REVISION_EXPIRED: Code.OutOfRange,
  UNAUTHENTICATED: Code.Unauthenticated,
  PERMISSION_DENIED: Code.PermissionDenied,
  RATE_LIMITED: Code.ResourceExhausted,
  ACCOUNT_NOT_FOUND: Code.NotFound,
  ACCOUNT_EXISTS: Code.AlreadyExists,
  SPACE_EXISTS: Code.AlreadyExists,
  TOKEN_NOT_FOUND: Code.NotFound,
  MEMBER_NOT_FOUND: Code.NotFound,
  WEBHOOK_NOT_FOUND: Code.NotFound,
  JOB_NOT_FOUND: Code.NotFound,
  JOB_FINISHED: Code.FailedPrecondition,
  SNAPSHOT_NOT_FOUND: Code.NotFound,
  SNAPSHOT_NOT_READY: Code.FailedPrecondition,
  SNAPSHOT_CORRUPT: Code.DataLoss,
  SCHEDULE_NOT_FOUND: Code.NotFound,
  LAST_OWNER: Code.FailedPrecondition,
  UNAVAILABLE: Code.Unavailable,
  INTERNAL: Code.Internal,
};

/**
 * Turns whatever a handler threw into the ConnectError the caller sees. Domain errors keep
 * their code; anything else is logged with an error id and leaves only that id.
 */
export function toConnectError(error: unknown, logger: Logger): ConnectError {
  if (isDomainError(error)) {
    if (error.code === 'INTERNAL' || error.code === 'UNAVAILABLE') {
      logger.warn({ err: error, code: error.code }, error.message);
    }
    return wireError(CONNECT_CODES[error.code], error.code, error.publicMessage, error.retryAfterSeconds);
  }
  if (error instanceof ConnectError && error.code === Code.Canceled) return error;
  const errorId = randomUUID();
  logger.error({ err: error, errorId }, 'unexpected error in the record service');
  return wireError(Code.Internal, 'INTERNAL', `internal error (id ${errorId})`);
}
