import type { MessageInitShape } from '@bufbuild/protobuf';
import { type ErrorCode } from '@rosetta/core';
import type { RecordFilterSchema } from '@rosetta/proto';
import { toHttpFailure } from '../errors';
import { badInput } from './errors';
import type { GraphQLContext } from './context';

/** The options of a contract call made for the caller of `ctx`. */
export async function call(ctx: GraphQLContext) {
  return { headers: (await ctx.caller()).headers };
}

/** The value of `promise`, or null when it fails with one of `codes` (a lookup that found nothing). */
export async function orNull<T>(promise: Promise<T>, codes: readonly ErrorCode[]): Promise<T | null> {
  try {
    return await promise;
  } catch (error) {
    if (codes.includes(toHttpFailure(error).code)) return null;
    throw error;
  }
}

/** The filter of a query or mutation, as GraphQL parsed it (instants as microseconds). */
export interface FilterArgs {
  readonly prefix?: string | null;
  readonly start?: string | null;
  readonly end?: string | null;
  readonly pattern?: string | null;
  readonly createdAfter?: bigint | null;
  readonly createdBefore?: bigint | null;
  readonly updatedAfter?: bigint | null;
  readonly updatedBefore?: bigint | null;
}

export function filterMessage(filter: FilterArgs | null | undefined): MessageInitShape<typeof RecordFilterSchema> {
  const f = filter ?? {};
  return {
    prefix: f.prefix ?? '',
    start: f.start ?? undefined,
    end: f.end ?? undefined,
    pattern: f.pattern ?? undefined,
    createdAfterUs: f.createdAfter ?? undefined,
    createdBeforeUs: f.createdBefore ?? undefined,
    updatedAfterUs: f.updatedAfter ?? undefined,
    updatedBeforeUs: f.updatedBefore ?? undefined,
  };
}

/** A page size: `first` within 0 and the largest page allowed. */
export function pageSize(first: number | null | undefined, fallback: number, max: number): number {
  const size = first ?? fallback;
  if (!Number.isInteger(size) || size < 0 || size > max) throw badInput(`first must be from 0 to ${max}`);
  return size;
}

/** Relay's page information of a forward page (Relay lets forward pages answer hasPreviousPage false). */
export function pageInfo(cursors: readonly string[], hasNextPage: boolean) {
  return {
    hasNextPage,
    hasPreviousPage: false,
    startCursor: cursors[0] ?? null,
    endCursor: cursors[cursors.length - 1] ?? null,
  };
}

/**
 * The UUID of the version a `version` argument names (a UUID, a unique prefix, `:branch`) in a
 * collection's DAG; empty (the collection's default) when none is given.
 */
export function versionOf(
  ctx: GraphQLContext,
  space: string,
  collection: string,
  spec: string | null | undefined,
): Promise<string> {
  return spec === null || spec === undefined || spec === ''
    ? Promise.resolve('')
    : ctx.loaders.version.load({ space, collection, spec });
}
