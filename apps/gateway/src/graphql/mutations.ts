import type { MessageInitShape } from '@bufbuild/protobuf';
import { invalid, type WriteCondition } from '@rosetta/core';
import type { Collection, CollectionRefSchema, Job, PutEntrySchema, RecordFilterSchema } from '@rosetta/proto';
import { conditionMessage } from '../v1/conditions';
import { jobOf } from '../v1/jobs';
import type { GraphQLContext, RecordNode } from './context';
import { badInput } from './errors';
import { loadCollection, resolveVersion, type VersionParent } from './queries';
import { call, filterMessage, versionOf, type FilterArgs } from './shared';

/** Most records deleteRecords removes at once; larger sets belong to a bulk-delete job. */
export const MAX_DIRECT_DELETE = 10_000;
/** Records deleted per transaction. */
const DELETE_BATCH = 1000;

interface Target {
  readonly space: string;
  readonly collection: string;
  readonly version?: string | null;
}

interface ValueInput {
  readonly key: string;
  readonly value?: string | null;
  readonly json?: unknown;
  readonly valueBase64?: string | null;
  readonly contentType?: string | null;
  readonly expectedRevision?: bigint | null;
  readonly createOnly?: boolean | null;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The entry a record input writes: its bytes, content type and condition. */
function entryOf(input: ValueInput): MessageInitShape<typeof PutEntrySchema> & { value: Uint8Array } {
  const forms = [input.value, input.json, input.valueBase64].filter((v) => v !== undefined && v !== null);
  const where = `record "${input.key.slice(0, 100)}"`;
  if (forms.length !== 1) throw badInput(`${where}: give exactly one of value, json and valueBase64`);
  let value: Buffer;
  let contentType: string;
  if (typeof input.value === 'string') {
    value = Buffer.from(input.value, 'utf8');
    contentType = 'text/plain; charset=utf-8';
  } else if (typeof input.valueBase64 === 'string') {
    if (!BASE64.test(input.valueBase64) || input.valueBase64.length % 4 !== 0) {
      throw badInput(`${where}: valueBase64 is not valid Base64`);
    }
    value = Buffer.from(input.valueBase64, 'base64');
    contentType = 'application/octet-stream';
  } else {
    value = Buffer.from(JSON.stringify(input.json));
    contentType = 'application/json';
  }
  if (input.expectedRevision !== undefined && input.expectedRevision !== null && input.createOnly === true) {
    throw badInput(`${where}: give expectedRevision or createOnly, not both`);
  }
  const condition: WriteCondition =
    input.expectedRevision !== undefined && input.expectedRevision !== null
      ? { kind: 'revision', revision: Number(input.expectedRevision) }
      : input.createOnly === true
        ? { kind: 'absent' }
        : { kind: 'always' };
  return {
    key: input.key,
    value,
    contentType: input.contentType ?? contentType,
    condition: conditionMessage(condition),
  };
}

/** The collection a mutation writes, at the version its `version` names. */
export const refOf = async (ctx: GraphQLContext, t: Target) => ({
  space: t.space,
  collection: t.collection,
  version: await versionOf(ctx, t.space, t.collection, t.version),
});

/** Queues a bulk delete of what matches `filter` now (the worker runs it): the job, as created. */
export async function startDeleteJob(
  ctx: GraphQLContext,
  collection: MessageInitShape<typeof CollectionRefSchema>,
  filter: MessageInitShape<typeof RecordFilterSchema>,
): Promise<Job> {
  return jobOf(await ctx.api.jobs.startDeleteJob({ collection, filter }, await call(ctx)));
}

async function collectionOf(ctx: GraphQLContext, space: string, name: string): Promise<Collection> {
  const collection = await loadCollection(ctx, space, name);
  if (collection === null) throw invalid('COLLECTION_NOT_FOUND', `collection "${space}/${name}" does not exist`);
  return collection;
}

/** A version as a mutation answers it: read again, so that parents and children are current. */
async function versionAfter(ctx: GraphQLContext, space: string, uuid: string): Promise<VersionParent> {
  const { dag } = await ctx.api.versions.getDag({ space, version: uuid }, await call(ctx));
  const node = dag?.nodes.find((n) => n.uuid === uuid);
  if (dag === undefined || node === undefined) throw new Error('the record service lost a version it just wrote');
  return { node, dag };
}

/** Tags arrive as JSON: an object of strings. */
function tagsOf(tags: unknown): Record<string, string> | undefined {
  if (tags === undefined || tags === null) return undefined;
  if (typeof tags !== 'object' || Array.isArray(tags)) throw badInput('tags must be an object of strings');
  const entries = Object.entries(tags);
  if (entries.some(([, v]) => typeof v !== 'string')) throw badInput('tags must be an object of strings');
  return Object.fromEntries(entries) as Record<string, string>;
}

export const mutationResolvers = {
  Mutation: {
    putRecord: async (_: unknown, { input }: { input: Target & ValueInput }, ctx: GraphQLContext) => {
      const entry = entryOf(input);
      const { record, created } = await ctx.api.records.putRecord(
        {
          collection: await refOf(ctx, input),
          key: entry.key,
          value: entry.value,
          contentType: entry.contentType ?? '',
          condition: entry.condition,
        },
        await call(ctx),
      );
      if (record === undefined) throw new Error('the record service wrote a record without returning it');
      const node: RecordNode = {
        record: { ...record, value: entry.value },
        space: input.space,
        collection: input.collection,
      };
      return { record: node, created };
    },
    putRecords: async (
      _: unknown,
      { input }: { input: Target & { records: readonly ValueInput[] } },
      ctx: GraphQLContext,
    ) => {
      const entries = input.records.map(entryOf);
      const result = await ctx.api.records.batchPut({ collection: await refOf(ctx, input), entries }, await call(ctx));
      return {
        records: result.records.map((record, i): RecordNode => ({
          record: { ...record, value: entries[i]?.value ?? new Uint8Array(0) },
          space: input.space,
          collection: input.collection,
        })),
        createdCount: result.createdCount,
      };
    },
    deleteRecord: async (
      _: unknown,
      { input }: { input: Target & { key: string; expectedRevision?: bigint | null } },
      ctx: GraphQLContext,
    ) => {
      const expected = input.expectedRevision ?? undefined;
      const { deleted, revision } = await ctx.api.records.deleteRecord(
        { collection: await refOf(ctx, input), key: input.key, expectedRevision: expected },
        await call(ctx),
      );
      if (!deleted && expected !== undefined) throw invalid('REVISION_MISMATCH', 'no record has this key');
      return { deleted, revision: deleted ? revision : null };
    },
    deleteRecords: async (
      _: unknown,
      { input }: { input: Target & { filter: FilterArgs; limit?: number | null } },
      ctx: GraphQLContext,
    ) => {
      const limit = input.limit ?? MAX_DIRECT_DELETE;
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_DIRECT_DELETE) {
        throw badInput(`limit must be from 1 to ${MAX_DIRECT_DELETE}`);
      }
      const collection = await refOf(ctx, input);
      const filter = filterMessage(input.filter);
      const options = await call(ctx);
      const { count } = await ctx.api.records.count({ collection, filter }, options);
      // More than one call deletes: a job deletes them all instead, in steps of its own, and the
      // call answers at once.
      if (count > BigInt(limit)) return { deleted: 0n, job: await startDeleteJob(ctx, collection, filter) };
      let deleted = 0n;
      let more = true;
      while (more && deleted < BigInt(limit)) {
        const result = await ctx.api.records.deleteMatching(
          { collection, filter, batchSize: Math.min(DELETE_BATCH, limit - Number(deleted)) },
          await call(ctx),
        );
        deleted += result.deleted;
        more = result.more;
      }
      return { deleted, job: null };
    },
    createCollection: async (
      _: unknown,
      {
        input,
      }: {
        input: {
          space: string;
          name: string;
          versioned?: boolean | null;
          maxValueBytes?: bigint | null;
          tags?: unknown;
        };
      },
      ctx: GraphQLContext,
    ) => {
      const { collection } = await ctx.api.collections.createCollection(
        {
          collection: { space: input.space, collection: input.name },
          versioned: input.versioned ?? false,
          maxValueBytes: input.maxValueBytes ?? undefined,
          tags: tagsOf(input.tags),
        },
        await call(ctx),
      );
      return collection;
    },
    updateCollection: async (
      _: unknown,
      {
        input,
      }: {
        input: {
          space: string;
          name: string;
          maxValueBytes?: bigint | null;
          tags?: unknown;
          replaceTags?: boolean | null;
        };
      },
      ctx: GraphQLContext,
    ) => {
      const { collection } = await ctx.api.collections.updateCollection(
        {
          collection: { space: input.space, collection: input.name },
          maxValueBytes: input.maxValueBytes ?? undefined,
          tags: tagsOf(input.tags),
          replaceTags: input.replaceTags ?? false,
        },
        await call(ctx),
      );
      return collection;
    },
    deleteCollection: async (
      _: unknown,
      { input }: { input: { space: string; name: string } },
      ctx: GraphQLContext,
    ) => {
      await ctx.api.collections.deleteCollection(
        { collection: { space: input.space, collection: input.name } },
        await call(ctx),
      );
      return { deleted: true };
    },
    commitVersion: async (
      _: unknown,
      { input }: { input: Target & { version: string; note?: string | null; log?: readonly string[] | null } },
      ctx: GraphQLContext,
    ) => {
      const node = await resolveVersion(ctx, await collectionOf(ctx, input.space, input.collection), input.version);
      await ctx.api.versions.commit(
        { node: { space: input.space, version: node.uuid }, note: input.note ?? '', log: [...(input.log ?? [])] },
        await call(ctx),
      );
      return versionAfter(ctx, input.space, node.uuid);
    },
    branchVersion: async (
      _: unknown,
      { input }: { input: Target & { version: string; branch?: string | null; note?: string | null } },
      ctx: GraphQLContext,
    ) => {
      const parent = await resolveVersion(ctx, await collectionOf(ctx, input.space, input.collection), input.version);
      const { node } = await ctx.api.versions.newVersion(
        {
          parent: { space: input.space, version: parent.uuid },
          branch: input.branch ?? undefined,
          note: input.note ?? '',
        },
        await call(ctx),
      );
      if (node === undefined) throw new Error('the record service made a version without returning it');
      return versionAfter(ctx, input.space, node.uuid);
    },
  },
};
