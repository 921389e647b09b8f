import { randomUUID } from 'node:crypto';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { DomainError, type ErrorCode } from '@rosetta/core';
import type { Logger } from '@rosetta/platform';
import { toHttpFailure } from '../errors';
import { RevisionExpired } from '../events/collection-feed';

/**
 * The GraphQL mapping of domain codes onto `extensions.code`: Apollo's conventional codes where
 * one means the same (so generic clients recognise them), the domain code itself otherwise.
 */
export const GRAPHQL_CODE: Record<ErrorCode, string> = {
  INVALID_ARGUMENT: 'BAD_USER_INPUT',
  INVALID_KEY: 'INVALID_KEY',
  INVALID_NAME: 'INVALID_NAME',
  INVALID_PATTERN: 'INVALID_PATTERN',
  INVALID_CURSOR: 'INVALID_CURSOR',
  INVALID_CONTENT_TYPE: 'INVALID_CONTENT_TYPE',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  VALUE_TOO_LARGE: 'VALUE_TOO_LARGE',
  BATCH_TOO_LARGE: 'BATCH_TOO_LARGE',
  DUPLICATE_KEY: 'DUPLICATE_KEY',
  SPACE_NOT_FOUND: 'SPACE_NOT_FOUND',
  COLLECTION_NOT_FOUND: 'COLLECTION_NOT_FOUND',
  COLLECTION_EXISTS: 'COLLECTION_EXISTS',
  KEY_NOT_FOUND: 'KEY_NOT_FOUND',
  REVISION_MISMATCH: 'REVISION_MISMATCH',
  RECORD_EXISTS: 'RECORD_EXISTS',
  VERSION_NOT_FOUND: 'VERSION_NOT_FOUND',
  VERSION_LOCKED: 'VERSION_LOCKED',
  VERSION_EXISTS: 'VERSION_EXISTS',
  REVISION_EXPIRED: 'REVISION_EXPIRED',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  PERMISSION_DENIED: 'FORBIDDEN',
  RATE_LIMITED: 'RATE_LIMITED',
  ACCOUNT_NOT_FOUND: 'ACCOUNT_NOT_FOUND',
  ACCOUNT_EXISTS: 'ACCOUNT_EXISTS',
  SPACE_EXISTS: 'SPACE_EXISTS',
  TOKEN_NOT_FOUND: 'TOKEN_NOT_FOUND',
  MEMBER_NOT_FOUND: 'MEMBER_NOT_FOUND',
  WEBHOOK_NOT_FOUND: 'WEBHOOK_NOT_FOUND',
  JOB_NOT_FOUND: 'JOB_NOT_FOUND',
  JOB_FINISHED: 'JOB_FINISHED',
  SNAPSHOT_NOT_FOUND: 'SNAPSHOT_NOT_FOUND',
  SNAPSHOT_NOT_READY: 'SNAPSHOT_NOT_READY',
  SNAPSHOT_CORRUPT: 'SNAPSHOT_CORRUPT',
  SCHEDULE_NOT_FOUND: 'SCHEDULE_NOT_FOUND',
  LAST_OWNER: 'LAST_OWNER',
  UNAVAILABLE: 'UNAVAILABLE',
  INTERNAL: 'INTERNAL_SERVER_ERROR',
};

/** A refusal raised by the GraphQL layer itself, as a domain error (so it maps like the rest). */
export const badInput = (message: string) => new DomainError('INVALID_ARGUMENT', message, { publicMessage: message });

/**
 * What an error looks like to a GraphQL client. Errors of GraphQL itself (syntax, validation,
 * variables, persisted queries) pass as they are; errors of resolvers are classified like every
 * transport's (domain code, record-service failure, bug) and carry the code of GRAPHQL_CODE.
 * Unexpected ones are logged with an error id that the client sees instead of any detail.
 */
export function formatError(logger: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    if (original instanceof GraphQLError) return formatted;
    const failure = toHttpFailure(original);
    let message = failure.message;
    if (failure.unexpected) {
      const errorId = randomUUID();
      logger.error({ err: original, errorId, path: formatted.path }, 'graphql resolver failed');
      message = `${message} (error id ${errorId})`;
    }
    const extensions: Record<string, unknown> = { code: GRAPHQL_CODE[failure.code] };
    if (failure.retryAfterSeconds !== undefined) extensions.retryAfterSeconds = failure.retryAfterSeconds;
    if (original instanceof RevisionExpired) {
      extensions.oldestRevision = original.oldest === undefined ? null : Number(original.oldest);
    }
    return {
      message,
      ...(formatted.locations && { locations: formatted.locations }),
      ...(formatted.path && { path: formatted.path }),
      extensions,
    };
  };
}
