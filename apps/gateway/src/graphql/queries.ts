import { encodeCursor, encodeNameCursor, isJsonContentType, valueAsText } from '@rosetta/core';
import {
  ScanOrder,
  type Collection,
  type Principal,
  type Record as RecordMessage,
  type Space,
  type VersionDag,
  type VersionNode,
} from '@rosetta/proto';
import { STREAM_TIMEOUT_MS } from '../clients/record-api';
import type { GraphQLContext, RecordNode } from './context';
import { call, filterMessage, orNull, pageInfo, pageSize, versionOf, type FilterArgs } from './shared';

/** Records and keys a connection page may hold at most, and its default size. */
export interface PageLimits {
  readonly maxPage: number;
}

const DEFAULT_PAGE = 100;

interface CollectionAddressArgs {
  readonly space: string;
  readonly collection: string;
}

interface PageArgs {
  readonly first?: number | null;
  readonly after?: string | null;
  readonly filter?: FilterArgs | null;
  readonly reverse?: boolean | null;
  readonly version?: string | null;
}

/** A version with the DAG it belongs to (parents and children are named by UUID). */
export interface VersionParent {
  readonly node: VersionNode;
  readonly dag: VersionDag;
}

/** What a record connection resolves from: its page, and how to count the whole of it. */
interface RecordPage {
  readonly nodes: readonly RecordNode[];
  readonly cursors: readonly string[];
  readonly hasNextPage: boolean;
  readonly collection: Collection;
  readonly args: PageArgs;
}

export const NOT_FOUND = ['COLLECTION_NOT_FOUND', 'SPACE_NOT_FOUND'] as const;

export function loadCollection(ctx: GraphQLContext, space: string, name: string) {
  return orNull(ctx.loaders.collection.load({ space, name }), NOT_FOUND);
}

export async function loadRecord(
  ctx: GraphQLContext,
  address: CollectionAddressArgs & { key: string; version?: string | null },
) {
  return ctx.loaders.record.load({
    space: address.space,
    collection: address.collection,
    version: await versionOf(ctx, address.space, address.collection, address.version),
    key: address.key,
  });
}

/** A version of a collection's DAG from a spec (UUID, unique prefix, `:branch`); null when none matches. */
export async function resolveVersion(ctx: GraphQLContext, collection: Collection, spec: string) {
  const { node } = await ctx.api.versions.resolveVersion(
    { space: collection.space, spec, within: collection.rootVersion },
    await call(ctx),
  );
  if (node === undefined) throw new Error('the record service resolved a version without returning it');
  return node;
}

const uuidsOf = (dag: VersionDag) => new Map(dag.nodes.map((n) => [n.versionId, n.uuid]));

async function scanPage(
  ctx: GraphQLContext,
  collection: Collection,
  args: PageArgs & { order?: 'KEY' | 'CREATED' | null },
  limits: PageLimits,
  keysOnly: boolean,
): Promise<RecordPage> {
  const first = pageSize(args.first, DEFAULT_PAGE, limits.maxPage);
  const reverse = args.reverse === true;
  const byCreation = args.order === 'CREATED';
  const nodes: RecordNode[] = [];
  let next = '';
  if (first > 0) {
    const chunks = ctx.api.records.scan(
      {
        collection: {
          space: collection.space,
          collection: collection.name,
          version: await versionOf(ctx, collection.space, collection.name, args.version),
        },
        filter: filterMessage(args.filter),
        order: byCreation ? ScanOrder.CREATED : ScanOrder.KEY,
        reverse,
        limit: BigInt(first),
        cursor: args.after ?? '',
        keysOnly,
      },
      { ...(await call(ctx)), timeoutMs: STREAM_TIMEOUT_MS },
    );
    for await (const chunk of chunks) {
      for (const record of chunk.records) nodes.push({ record, space: collection.space, collection: collection.name });
      if (chunk.done) next = chunk.nextCursor;
    }
  }
  const cursors = nodes.map(({ record }) =>
    encodeCursor(
      byCreation
        ? { order: 'created', createdRevision: Number(record.createdRevision) }
        : { order: 'key', key: record.key },
      reverse,
    ),
  );
  return { nodes, cursors, hasNextPage: next !== '', collection, args };
}

const edgesOf = <T>(page: { nodes: readonly T[]; cursors: readonly string[] }) =>
  page.nodes.map((node, i) => ({ node, cursor: page.cursors[i] }));

function jsonOf(contentType: string, value: Uint8Array): unknown {
  if (!isJsonContentType(contentType)) return null;
  const text = valueAsText(contentType, value);
  if (text === undefined) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

/** The value fields shared by records and change events. */
export const valueFields = {
  value: (v: { contentType: string; value: Uint8Array }) => valueAsText(v.contentType, v.value) ?? null,
  json: (v: { contentType: string; value: Uint8Array }) => jsonOf(v.contentType, v.value),
  valueBase64: (v: { value: Uint8Array }) => Buffer.from(v.value).toString('base64'),
};

export function queryResolvers(limits: PageLimits) {
  return {
    Query: {
      me: async (_: unknown, __: unknown, ctx: GraphQLContext) => (await ctx.caller()).principal,
      space: async (_: unknown, args: { name: string }, ctx: GraphQLContext) =>
        orNull(
          ctx.api.admin.getSpace({ name: args.name }, await call(ctx)).then((r) => r.space ?? null),
          ['SPACE_NOT_FOUND'],
        ),
      spaces: async (_: unknown, args: { all: boolean }, ctx: GraphQLContext) =>
        (await ctx.api.admin.listSpaces({ all: args.all }, await call(ctx))).spaces,
      collection: (_: unknown, args: { space: string; name: string }, ctx: GraphQLContext) =>
        loadCollection(ctx, args.space, args.name),
      record: (
        _: unknown,
        args: CollectionAddressArgs & { key: string; version?: string | null },
        ctx: GraphQLContext,
      ) => loadRecord(ctx, args),
    },
    Principal: {
      scopes: (p: Principal) => p.scopes,
    },
    Space: {
      created: (s: Space) => s.createdUs,
      collection: (s: Space, args: { name: string }, ctx: GraphQLContext) => loadCollection(ctx, s.name, args.name),
      collections: async (s: Space, args: { first?: number | null; after?: string | null }, ctx: GraphQLContext) => {
        const first = pageSize(args.first, DEFAULT_PAGE, limits.maxPage);
        if (first === 0) return { nodes: [], cursors: [], hasNextPage: false };
        const page = await ctx.api.collections.listCollections(
          { space: s.name, limit: first, cursor: args.after ?? '' },
          await call(ctx),
        );
        for (const collection of page.collections)
          ctx.loaders.collection.prime({ space: s.name, name: collection.name }, collection);
        return {
          nodes: page.collections,
          cursors: page.collections.map((c) => encodeNameCursor(c.name)),
          hasNextPage: page.nextCursor !== '',
        };
      },
    },
    CollectionConnection: {
      edges: edgesOf,
      pageInfo: (page: { cursors: string[]; hasNextPage: boolean }) => pageInfo(page.cursors, page.hasNextPage),
    },
    Collection: {
      created: (c: Collection) => c.createdUs,
      updated: (c: Collection) => c.updatedUs,
      stats: async (c: Collection, _: unknown, ctx: GraphQLContext) => {
        const stats = await ctx.api.collections.collectionStats(
          { collection: { space: c.space, collection: c.name } },
          await call(ctx),
        );
        return { records: stats.records, bytes: stats.bytes, lastModified: stats.lastModifiedUs || null };
      },
      count: async (
        c: Collection,
        args: { filter?: FilterArgs | null; version?: string | null },
        ctx: GraphQLContext,
      ) =>
        (
          await ctx.api.records.count(
            {
              collection: {
                space: c.space,
                collection: c.name,
                version: await versionOf(ctx, c.space, c.name, args.version),
              },
              filter: filterMessage(args.filter),
            },
            await call(ctx),
          )
        ).count,
      record: (c: Collection, args: { key: string; version?: string | null }, ctx: GraphQLContext) =>
        loadRecord(ctx, { space: c.space, collection: c.name, ...args }),
      records: (c: Collection, args: PageArgs & { order?: 'KEY' | 'CREATED' | null }, ctx: GraphQLContext) =>
        scanPage(ctx, c, args, limits, false),
      keys: (c: Collection, args: PageArgs, ctx: GraphQLContext) => scanPage(ctx, c, args, limits, true),
      versions: async (c: Collection, _: unknown, ctx: GraphQLContext): Promise<VersionParent[]> => {
        const dag = await ctx.loaders.dag.load({ space: c.space, version: c.rootVersion });
        return dag.nodes.map((node) => ({ node, dag }));
      },
      version: async (c: Collection, args: { spec: string }, ctx: GraphQLContext): Promise<VersionParent | null> => {
        const node = await orNull(resolveVersion(ctx, c, args.spec), ['VERSION_NOT_FOUND']);
        if (node === null) return null;
        const dag = await ctx.loaders.dag.load({ space: c.space, version: node.uuid });
        return { node: dag.nodes.find((n) => n.uuid === node.uuid) ?? node, dag };
      },
    },
    RecordConnection: {
      edges: edgesOf,
      pageInfo: (page: RecordPage) => pageInfo(page.cursors, page.hasNextPage),
      totalCount: async (page: RecordPage, _: unknown, ctx: GraphQLContext) =>
        (
          await ctx.api.records.count(
            {
              collection: {
                space: page.collection.space,
                collection: page.collection.name,
                version: await versionOf(ctx, page.collection.space, page.collection.name, page.args.version),
              },
              filter: filterMessage(page.args.filter),
            },
            await call(ctx),
          )
        ).count,
    },
    KeyConnection: {
      edges: (page: RecordPage) => edgesOf({ nodes: page.nodes.map((n) => n.record), cursors: page.cursors }),
      nodes: (page: RecordPage) => page.nodes.map((n) => n.record),
      pageInfo: (page: RecordPage) => pageInfo(page.cursors, page.hasNextPage),
    },
    KeyEntry: {
      updated: (r: RecordMessage) => r.updatedUs,
    },
    Record: {
      key: (n: RecordNode) => n.record.key,
      value: (n: RecordNode) => valueFields.value(n.record),
      json: (n: RecordNode) => valueFields.json(n.record),
      valueBase64: (n: RecordNode) => valueFields.valueBase64(n.record),
      contentType: (n: RecordNode) => n.record.contentType,
      size: (n: RecordNode) => n.record.size,
      created: (n: RecordNode) => n.record.createdUs,
      updated: (n: RecordNode) => n.record.updatedUs,
      revision: (n: RecordNode) => n.record.revision,
      createdRevision: (n: RecordNode) => n.record.createdRevision,
      collection: (n: RecordNode, _: unknown, ctx: GraphQLContext) =>
        ctx.loaders.collection.load({ space: n.space, name: n.collection }),
    },
    Version: {
      uuid: (v: VersionParent) => v.node.uuid,
      branch: (v: VersionParent) => v.node.branch,
      note: (v: VersionParent) => v.node.note,
      log: (v: VersionParent) => v.node.log,
      committed: (v: VersionParent) => v.node.locked,
      parents: (v: VersionParent) => v.node.parents.map((id) => uuidsOf(v.dag).get(id) ?? ''),
      children: (v: VersionParent) => v.node.children.map((id) => uuidsOf(v.dag).get(id) ?? ''),
      created: (v: VersionParent) => v.node.createdUs,
      updated: (v: VersionParent) => v.node.updatedUs,
    },
  };
}
