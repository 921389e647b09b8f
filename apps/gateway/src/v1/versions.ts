import type { Request } from 'express';
import { formatMicros } from '@rosetta/core';
import type { VersionDag, VersionNode } from '@rosetta/proto';
import type { Caller } from '../auth/callers';
import type { RecordApi } from '../clients/record-api';
import { jsonBody } from './body';
import { recordMetaJson } from './render';
import type { RouteTable } from './route';
import {
  ChildBodySchema,
  CollectionParamsSchema,
  CommitBodySchema,
  DiffQuerySchema,
  VersionChangesSchema,
  VersionDiffSchema,
  VersionListSchema,
  VersionPageQuerySchema,
  VersionParamsSchema,
  VersionSchema,
} from './schemas';

const COLLECTION = '/v1/spaces/:space/collections/:collection';
const COLLECTION_DOC = '/v1/spaces/{space}/collections/{collection}';
const TAGS = ['versions'];
const JSON_LIMIT_BYTES = 1024 * 1024;

/** A node as /v1 shows it: parents and children by UUID. */
function versionJson(node: VersionNode, uuids: ReadonlyMap<bigint, string>) {
  return {
    uuid: node.uuid,
    branch: node.branch,
    note: node.note,
    log: node.log,
    committed: node.locked,
    parents: node.parents.map((id) => uuids.get(id) ?? ''),
    children: node.children.map((id) => uuids.get(id) ?? ''),
    created: formatMicros(Number(node.createdUs)),
    updated: formatMicros(Number(node.updatedUs)),
  };
}

const uuidsOf = (dag: VersionDag) => new Map(dag.nodes.map((n) => [n.versionId, n.uuid]));

const versionResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: VersionSchema } },
});

const pageSize = (limit: string | undefined) => (limit === undefined ? 0 : Number(limit));

/**
 * Versions of a versioned collection: its DAG, commit, children (a branch), what a version
 * changed, and the difference between two versions. Records at a version are read and written
 * through the record routes with `?version=`.
 */
export function versionRoutes(table: RouteTable, api: RecordApi): void {
  const json = jsonBody(JSON_LIMIT_BYTES);
  const call = (caller: Caller) => ({ headers: caller.headers });

  /** The collection's DAG, and a version of it resolved from a spec (UUID, prefix, `:branch`). */
  async function dagOf(req: Request, caller: Caller) {
    const space = String(req.params.space);
    const { collection } = await api.collections.getCollection(
      { collection: { space, collection: String(req.params.collection) } },
      call(caller),
    );
    if (collection === undefined) throw new Error('the record service found a collection without returning it');
    return { space, collection: collection.name, root: collection.rootVersion };
  }

  async function resolve(req: Request, caller: Caller, spec: string) {
    const target = await dagOf(req, caller);
    const { node } = await api.versions.resolveVersion(
      { space: target.space, spec, within: target.root },
      call(caller),
    );
    if (node === undefined) throw new Error('the record service resolved a version without returning it');
    return { ...target, node };
  }

  async function nodeJson(space: string, caller: Caller, node: VersionNode) {
    const { dag } = await api.versions.getDag({ space, version: node.uuid }, call(caller));
    const current = dag?.nodes.find((n) => n.uuid === node.uuid) ?? node;
    return versionJson(current, dag === undefined ? new Map() : uuidsOf(dag));
  }

  table.add(
    {
      method: 'get',
      expressPath: `${COLLECTION}/versions`,
      openapiPath: `${COLLECTION_DOC}/versions`,
      summary: 'The versions of a collection (its DAG), oldest first',
      tags: TAGS,
      params: CollectionParamsSchema,
      responses: { 200: { description: 'The DAG', content: { 'application/json': { schema: VersionListSchema } } } },
      errors: ['COLLECTION_NOT_FOUND', 'SPACE_NOT_FOUND'],
    },
    async (req, res, { caller }) => {
      const target = await dagOf(req, caller);
      const { dag } = await api.versions.getDag({ space: target.space, version: target.root }, call(caller));
      if (dag === undefined) throw new Error('the record service found a DAG without returning it');
      const uuids = uuidsOf(dag);
      res.json({ root: dag.root, versions: dag.nodes.map((node) => versionJson(node, uuids)) });
    },
  );

  table.add(
    {
      method: 'post',
      expressPath: `${COLLECTION}/versions/:version/commit`,
      openapiPath: `${COLLECTION_DOC}/versions/{version}/commit`,
      summary: 'Commit a version: it refuses writes from then on, and may get children',
      tags: TAGS,
      params: VersionParamsSchema,
      body: CommitBodySchema,
      before: json,
      responses: { 200: versionResponse('The committed version') },
      errors: ['VERSION_NOT_FOUND', 'VERSION_LOCKED', 'COLLECTION_NOT_FOUND'],
    },
    async (req, res, { body, caller }) => {
      const target = await resolve(req, caller, String(req.params.version));
      const { node } = await api.versions.commit(
        { node: { space: target.space, version: target.node.uuid }, note: body.note ?? '', log: body.log ?? [] },
        call(caller),
      );
      res.json(await nodeJson(target.space, caller, node ?? target.node));
    },
  );

  table.add(
    {
      method: 'post',
      expressPath: `${COLLECTION}/versions/:version/children`,
      openapiPath: `${COLLECTION_DOC}/versions/{version}/children`,
      summary: 'A new version from a committed one, on its branch or on a new branch',
      tags: TAGS,
      params: VersionParamsSchema,
      body: ChildBodySchema,
      before: json,
      responses: { 201: versionResponse('The new version') },
      errors: ['VERSION_NOT_FOUND', 'VERSION_EXISTS', 'INVALID_ARGUMENT', 'COLLECTION_NOT_FOUND'],
    },
    async (req, res, { body, caller }) => {
      const target = await resolve(req, caller, String(req.params.version));
      const { node } = await api.versions.newVersion(
        {
          parent: { space: target.space, version: target.node.uuid },
          branch: body.branch,
          note: body.note ?? '',
        },
        call(caller),
      );
      if (node === undefined) throw new Error('the record service made a version without returning it');
      res.status(201).json(await nodeJson(target.space, caller, node));
    },
  );

  table.add(
    {
      method: 'get',
      expressPath: `${COLLECTION}/versions/:version/changes`,
      openapiPath: `${COLLECTION_DOC}/versions/{version}/changes`,
      summary: 'What a version itself wrote and deleted (not its ancestors), by key',
      tags: TAGS,
      params: VersionParamsSchema,
      query: VersionPageQuerySchema,
      responses: {
        200: { description: 'A page of changes', content: { 'application/json': { schema: VersionChangesSchema } } },
      },
      errors: ['VERSION_NOT_FOUND', 'COLLECTION_NOT_FOUND', 'INVALID_ARGUMENT'],
    },
    async (req, res, { query, caller }) => {
      const target = await resolve(req, caller, String(req.params.version));
      const page = await api.records.versionChanges(
        {
          collection: { space: target.space, collection: target.collection, version: target.node.uuid },
          afterKey: query.cursor ?? '',
          limit: pageSize(query.limit),
        },
        call(caller),
      );
      res.json({
        changes: page.changes.map((c) => ({
          key: c.key,
          record: c.record === undefined ? null : recordMetaJson(c.record),
        })),
        cursor: page.nextKey || null,
      });
    },
  );

  table.add(
    {
      method: 'get',
      expressPath: `${COLLECTION}/diff`,
      openapiPath: `${COLLECTION_DOC}/diff`,
      summary: 'The keys whose records differ between two versions, by key',
      tags: TAGS,
      params: CollectionParamsSchema,
      query: DiffQuerySchema,
      responses: {
        200: { description: 'A page of differences', content: { 'application/json': { schema: VersionDiffSchema } } },
      },
      errors: ['VERSION_NOT_FOUND', 'COLLECTION_NOT_FOUND', 'INVALID_ARGUMENT'],
    },
    async (req, res, { query, caller }) => {
      const from = await resolve(req, caller, query.from);
      const to = await resolve(req, caller, query.to ?? ':master');
      const page = await api.records.diffVersions(
        {
          collection: { space: to.space, collection: to.collection, version: to.node.uuid },
          fromVersion: from.node.uuid,
          afterKey: query.cursor ?? '',
          limit: pageSize(query.limit),
        },
        call(caller),
      );
      res.json({
        diffs: page.diffs.map((d) => ({
          key: d.key,
          from: d.from === undefined ? null : recordMetaJson(d.from),
          to: d.to === undefined ? null : recordMetaJson(d.to),
        })),
        cursor: page.nextKey || null,
      });
    },
  );
}
