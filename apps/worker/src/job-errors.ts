import { UnrecoverableError } from 'bullmq';
import { isErrorCode, type ErrorCode } from '@rosetta/core';
import { readWireError } from '@rosetta/proto';

function isPermanentCode(code: string | undefined): code is ErrorCode {
  return isErrorCode(code) && code !== 'UNAVAILABLE' && code !== 'INTERNAL';
}

/**
 * Whether retrying cannot help: the record service refused the call with a domain error. Only
 * UNAVAILABLE and INTERNAL say "try again"; anything that is not a domain error at all (a
 * network failure, a timeout, Redis going away) is transient too.
 */
export function isPermanentError(error: unknown): boolean {
  return isPermanentCode(readWireError(error).code);
}

/**
 * The error a job fails with: a permanent one becomes BullMQ's UnrecoverableError, which fails
 * the job without spending its remaining attempts; anything else is returned as is, so that
 * BullMQ retries it with the catalog's backoff.
 */
export function toJobError(jobName: string, error: unknown): unknown {
  if (error instanceof UnrecoverableError) return error;
  const { code } = readWireError(error);
  if (!isPermanentCode(code)) return error;
  return unrecoverable(`${jobName}: the record service refused the call (${code})`, error);
}

/** An UnrecoverableError that keeps what caused it (BullMQ's constructor takes only a message). */
export function unrecoverable(message: string, cause: unknown): UnrecoverableError {
  const error = new UnrecoverableError(message);
  error.cause = cause;
  return error;
}
