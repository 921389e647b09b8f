import { DomainError } from '@rosetta/core';

/** Socket errors of a connection to Postgres that is refused, lost or unreachable. */
const SOCKET_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * SQLSTATEs of a server that is going away, starting, full or too slow: admin_shutdown,
 * crash_shutdown, cannot_connect_now (starting up, shutting down, in recovery),
 * too_many_connections, and query_canceled (statement_timeout). The whole class 08
 * (connection exception) is added below.
 */
const SERVER_CODES: ReadonlySet<string> = new Set(['57P01', '57P02', '57P03', '53300', '57014']);

/** node-postgres's own messages for a connection it lost or could not get in time (they carry no code). */
const CLIENT_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error and is not queryable',
  'Query read timeout',
];

/** Whether `error` means Postgres is unreachable, restarting or overloaded, rather than that the query is wrong. */
export function isUnavailable(error: unknown): boolean {
  // Duck-typed: socket errors are made by Node's own realm, not always this one's Error.
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (SOCKET_CODES.has(code) || SERVER_CODES.has(code) || code.startsWith('08'))) {
    return true;
  }
  return typeof message === 'string' && CLIENT_MESSAGES.some((known) => message.startsWith(known));
}

/**
 * The error the record service raises for a failed database call: UNAVAILABLE (503 with
 * Retry-After at the gateway) when Postgres is unreachable or restarting, the error itself
 * otherwise.
 */
export function toStoreError(error: unknown): unknown {
  if (!isUnavailable(error)) return error;
  return new DomainError('UNAVAILABLE', `database unavailable: ${String((error as { message?: unknown }).message)}`, {
    cause: error,
    publicMessage: 'the database is unavailable; retry shortly',
    retryAfterSeconds: 1,
  });
}
