import type { Request } from 'express';
import type { RecordApi } from '../clients/record-api';
import { jsonBody } from './body';
import { collectionJson } from './render';
import type { RouteTable } from './route';
import {
  CollectionListSchema,
  CollectionParamsSchema,
  CollectionSchema,
  CreateCollectionBodySchema,
  PageQuerySchema,
  SpaceParamsSchema,
  UpdateCollectionBodySchema,
} from './schemas';

const SPACE = '/v1/spaces/:space/collections';
const SPACE_DOC = '/v1/spaces/{space}/collections';
const TAGS = ['collections'];
/** Collection settings are small. */
const JSON_LIMIT_BYTES = 1024 * 1024;

const ref = (req: Request) => ({ space: String(req.params.space), collection: String(req.params.collection) });

export function collectionRoutes(table: RouteTable, api: RecordApi): void {
  const { collections } = api;
  const json = jsonBody(JSON_LIMIT_BYTES);
  const collectionResponse = {
    description: 'The collection',
    content: { 'application/json': { schema: CollectionSchema } },
  };

  table.add(
    {
      method: 'get',
      expressPath: SPACE,
      openapiPath: SPACE_DOC,
      summary: 'List the collections of a space, by name',
      tags: TAGS,
      params: SpaceParamsSchema,
      query: PageQuerySchema,
      responses: { 200: { description: 'A page', content: { 'application/json': { schema: CollectionListSchema } } } },
      errors: ['SPACE_NOT_FOUND', 'INVALID_ARGUMENT', 'INVALID_CURSOR'],
    },
    async (req, res, { query, caller }) => {
      const page = await collections.listCollections(
        {
          space: String(req.params.space),
          limit: query.limit === undefined ? 0 : Number(query.limit),
          cursor: query.cursor ?? '',
        },
        { headers: caller.headers },
      );
      res.json({ collections: page.collections.map(collectionJson), cursor: page.nextCursor || null });
    },
  );

  table.add(
    {
      method: 'post',
      expressPath: SPACE,
      openapiPath: SPACE_DOC,
      summary: 'Create a collection',
      tags: TAGS,
      params: SpaceParamsSchema,
      body: CreateCollectionBodySchema,
      before: json,
      responses: { 201: collectionResponse },
      errors: ['COLLECTION_EXISTS', 'SPACE_NOT_FOUND', 'INVALID_NAME', 'INVALID_ARGUMENT', 'UNSUPPORTED_MEDIA_TYPE'],
    },
    async (req, res, { body, caller }) => {
      const space = String(req.params.space);
      const { collection } = await collections.createCollection(
        {
          collection: { space, collection: body.name },
          maxValueBytes: body.maxValueBytes === undefined ? undefined : BigInt(body.maxValueBytes),
          tags: body.tags ?? {},
          versioned: body.versioned,
        },
        { headers: caller.headers },
      );
      if (collection === undefined) throw new Error('the record service created a collection without returning it');
      res
        .status(201)
        .location(`/v1/spaces/${encodeURIComponent(space)}/collections/${encodeURIComponent(body.name)}`)
        .json(collectionJson(collection));
    },
  );

  table.add(
    {
      method: 'get',
      expressPath: `${SPACE}/:collection`,
      openapiPath: `${SPACE_DOC}/{collection}`,
      summary: 'A collection and its settings',
      tags: TAGS,
      params: CollectionParamsSchema,
      responses: { 200: collectionResponse },
      errors: ['COLLECTION_NOT_FOUND', 'SPACE_NOT_FOUND', 'INVALID_NAME'],
    },
    async (req, res, { caller }) => {
      const { collection } = await collections.getCollection({ collection: ref(req) }, { headers: caller.headers });
      if (collection === undefined) throw new Error('the record service found a collection without returning it');
      res.json(collectionJson(collection));
    },
  );

  table.add(
    {
      method: 'patch',
      expressPath: `${SPACE}/:collection`,
      openapiPath: `${SPACE_DOC}/{collection}`,
      summary: 'Change a collection’s value size limit or tags',
      tags: TAGS,
      params: CollectionParamsSchema,
      body: UpdateCollectionBodySchema,
      before: json,
      responses: { 200: collectionResponse },
      errors: ['COLLECTION_NOT_FOUND', 'INVALID_ARGUMENT', 'UNSUPPORTED_MEDIA_TYPE'],
    },
    async (req, res, { body, caller }) => {
      const { collection } = await collections.updateCollection(
        {
          collection: ref(req),
          maxValueBytes: body.maxValueBytes === undefined ? undefined : BigInt(body.maxValueBytes),
          tags: body.tags ?? {},
          replaceTags: body.replaceTags ?? false,
        },
        { headers: caller.headers },
      );
      if (collection === undefined) throw new Error('the record service updated a collection without returning it');
      res.json(collectionJson(collection));
    },
  );

  table.add(
    {
      method: 'delete',
      expressPath: `${SPACE}/:collection`,
      openapiPath: `${SPACE_DOC}/{collection}`,
      summary: 'Delete a collection and all its records',
      tags: TAGS,
      params: CollectionParamsSchema,
      responses: { 204: { description: 'Deleted' } },
      errors: ['COLLECTION_NOT_FOUND', 'SPACE_NOT_FOUND'],
    },
    async (req, res, { caller }) => {
      await collections.deleteCollection({ collection: ref(req) }, { headers: caller.headers });
      res.status(204).end();
    },
  );
}
