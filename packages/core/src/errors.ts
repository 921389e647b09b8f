/**
 * The closed set of domain error codes. Every transport maps each of them exactly once
 * (a `Record<ErrorCode, …>` table), so adding a code fails compilation until it is mapped.
 */
export const ERROR_CODES = [
  /** A request field is malformed or out of range. */
  'INVALID_ARGUMENT',
  /** A record key breaks the key rules (UTF-8, 1–1024 bytes, no NUL). */
  'INVALID_KEY',
  /** A space or collection name breaks the naming rules. */
  'INVALID_NAME',
  /** A glob pattern is malformed or too complex. */
  'INVALID_PATTERN',
  /** A paging cursor was not produced by this service, or was tampered with. */
  'INVALID_CURSOR',
  /** A content type is not a well-formed media type. */
  'INVALID_CONTENT_TYPE',
  /** The request body's media type is not one the route accepts. */
  'UNSUPPORTED_MEDIA_TYPE',
  /** A value (or a request body) exceeds the collection's limit. */
  'VALUE_TOO_LARGE',
  /** A batch holds more entries than allowed. */
  'BATCH_TOO_LARGE',
  /** The same key appears twice in one batch. */
  'DUPLICATE_KEY',
  /** No space has that name. */
  'SPACE_NOT_FOUND',
  /** No collection has that name in the space. */
  'COLLECTION_NOT_FOUND',
  /** A collection with that name already exists in the space. */
  'COLLECTION_EXISTS',
  /** No record has that key. */
  'KEY_NOT_FOUND',
  /** A conditional write expected another revision. */
  'REVISION_MISMATCH',
  /** A create-only write found the key already present. */
  'RECORD_EXISTS',
  /** No version node matches. */
  'VERSION_NOT_FOUND',
  /** The version node is committed (locked) and refuses writes. */
  'VERSION_LOCKED',
  /** A version node with that UUID, or a branch with that name, already exists. */
  'VERSION_EXISTS',
  /** A change-feed revision older than the events kept (compacted past the retention window). */
  'REVISION_EXPIRED',
  /** The request carries no credential, or one that is wrong, expired, revoked or disabled. */
  'UNAUTHENTICATED',
  /** The caller is known but may not do this (role, token scope, read-only credential). */
  'PERMISSION_DENIED',
  /** Too many attempts or requests; retry after the time given. */
  'RATE_LIMITED',
  /** No account has that name. */
  'ACCOUNT_NOT_FOUND',
  /** An account with that name (or a space with its personal space's name) already exists. */
  'ACCOUNT_EXISTS',
  /** A space with that name already exists. */
  'SPACE_EXISTS',
  /** No token has that id (or it belongs to another account). */
  'TOKEN_NOT_FOUND',
  /** The account is not a member of the space. */
  'MEMBER_NOT_FOUND',
  /** No webhook has that id in the collection. */
  'WEBHOOK_NOT_FOUND',
  /** No job has that id in the space. */
  'JOB_NOT_FOUND',
  /** The job has already finished (succeeded, failed or cancelled): it cannot be cancelled. */
  'JOB_FINISHED',
  /** No snapshot has that id in the space. */
  'SNAPSHOT_NOT_FOUND',
  /** The snapshot is still being made, or failed: it cannot be restored. */
  'SNAPSHOT_NOT_READY',
  /** A snapshot's object is missing from the store or does not match its checksum. */
  'SNAPSHOT_CORRUPT',
  /** No snapshot schedule has that id in the collection. */
  'SCHEDULE_NOT_FOUND',
  /** The change would leave a space without an owner. */
  'LAST_OWNER',
  /** A dependency (database, cache, another service) is unavailable; retrying may succeed. */
  'UNAVAILABLE',
  /** An unexpected failure; the details are logged, never sent. */
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

const codeSet: ReadonlySet<string> = new Set(ERROR_CODES);

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && codeSet.has(value);
}

export interface DomainErrorOptions {
  /** A message safe to show to the caller; when absent, transports show a generic text for the code. */
  publicMessage?: string;
  /** For RATE_LIMITED: whole seconds until a retry may succeed. */
  retryAfterSeconds?: number;
  cause?: unknown;
}

/** An expected failure of a domain rule. It carries no HTTP status: each transport maps `code`. */
export class DomainError extends Error {
  override readonly name = 'DomainError';
  readonly code: ErrorCode;
  readonly publicMessage: string | undefined;
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, message: string, options: DomainErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.publicMessage = options.publicMessage;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** A domain error whose message is meant for the caller (validation failures and the like). */
export function invalid(code: ErrorCode, message: string): DomainError {
  return new DomainError(code, message, { publicMessage: message });
}

export function isDomainError(error: unknown): error is DomainError {
  return error instanceof DomainError;
}

/** Ends an exhaustive switch: the compiler proves the value is `never`. */
export function assertUnreachable(value: never): never {
  throw new Error(`unreachable: ${String(value)}`);
}
