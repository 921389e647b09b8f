import type { MessageInitShape } from '@bufbuild/protobuf';
import type { Request } from 'express';
import type { z } from 'zod';
import { invalid, parseRfc3339Micros, type WriteCondition } from '@rosetta/core';
import { ScanOrder, type PutEntrySchema, type RecordFilterSchema } from '@rosetta/proto';
import { STREAM_TIMEOUT_MS, type RecordApi } from '../clients/record-api';
import { jsonBody } from './body';
import { conditionMessage, writeCondition } from './conditions';
import { header } from '../http/headers';
import { recordJson, recordMetaJson } from './render';
import type { RouteTable } from './route';
import {
  BatchBodySchema,
  BatchGetBodySchema,
  BatchGetResultSchema,
  BatchResultSchema,
  CollectionParamsSchema,
  CountSchema,
  DeleteMatchingBodySchema,
  DeleteMatchingResultSchema,
  FilterQuerySchema,
  ListQuerySchema,
  VersionQuerySchema,
  RecordListSchema,
  RecordParamsSchema,
} from './schemas';
import { openStream } from '../http/overload';
import { ChunkBuilder, writeChunk } from '../http/write-chunk';
import { clientGone } from './stream';

const COLLECTION = '/v1/spaces/:space/collections/:collection';
const COLLECTION_DOC = '/v1/spaces/{space}/collections/{collection}';
const RECORD = `${COLLECTION}/records/*key`;
const RECORD_DOC = `${COLLECTION_DOC}/records/{key}`;
const TAGS = ['records'];

/** Records listed when the request names no limit. */
const DEFAULT_LIST_LIMIT = 1000;
/** Records removed per transaction by delete-matching. */
const DELETE_BATCH = 1000;
const DEFAULT_DELETE_LIMIT = 10_000;

type FilterInit = MessageInitShape<typeof RecordFilterSchema>;

function address(req: Request) {
  const { version } = req.query;
  return {
    space: String(req.params.space),
    collection: String(req.params.collection),
    ...(typeof version === 'string' && version !== '' ? { version } : {}),
  };
}

/** The key is the rest of the path; Express hands it over as its decoded segments. */
function keyOf(req: Request): string {
  const raw = (req.params as Record<string, unknown>).key;
  return Array.isArray(raw) ? raw.join('/') : String(raw ?? '');
}

function micros(name: string, text: string | undefined): bigint | undefined {
  if (text === undefined) return undefined;
  const us = parseRfc3339Micros(text);
  if (us === undefined) throw invalid('INVALID_ARGUMENT', `${name} must be an RFC 3339 date-time with an offset`);
  return BigInt(us);
}

/** The filter fields as they arrive in a query string or a JSON body. */
interface FilterText {
  readonly prefix?: string | undefined;
  readonly start?: string | undefined;
  readonly end?: string | undefined;
  readonly pattern?: string | undefined;
  readonly createdAfter?: string | undefined;
  readonly createdBefore?: string | undefined;
  readonly updatedAfter?: string | undefined;
  readonly updatedBefore?: string | undefined;
}

/** The contract's filter of /v1's filter fields (times parsed from RFC 3339). */
export function filterOf(input: FilterText): FilterInit {
  return {
    prefix: input.prefix ?? '',
    start: input.start,
    end: input.end,
    pattern: input.pattern,
    createdAfterUs: micros('createdAfter', input.createdAfter),
    createdBeforeUs: micros('createdBefore', input.createdBefore),
    updatedAfterUs: micros('updatedAfter', input.updatedAfter),
    updatedBeforeUs: micros('updatedBefore', input.updatedBefore),
  };
}

const truthy = (value: string | undefined) => value === 'true' || value === '1';

function batchEntry(
  entry: z.output<typeof BatchBodySchema>['records'][number],
): MessageInitShape<typeof PutEntrySchema> {
  const conditions = [entry.ifRevision !== undefined, entry.ifAbsent === true, entry.ifPresent === true];
  if (conditions.filter(Boolean).length > 1) {
    throw invalid(
      'INVALID_ARGUMENT',
      `record "${entry.key.slice(0, 100)}": use one of ifRevision, ifAbsent, ifPresent`,
    );
  }
  const condition: WriteCondition =
    entry.ifRevision !== undefined
      ? { kind: 'revision', revision: entry.ifRevision }
      : entry.ifAbsent
        ? { kind: 'absent' }
        : entry.ifPresent
          ? { kind: 'present' }
          : { kind: 'always' };
  const encoding = entry.encoding ?? (typeof entry.value === 'string' ? 'utf8' : 'json');
  let value: Buffer;
  let contentType: string;
  if (encoding === 'json') {
    if (entry.value === undefined)
      throw invalid('INVALID_ARGUMENT', `record "${entry.key.slice(0, 100)}" has no value`);
    value = Buffer.from(JSON.stringify(entry.value));
    contentType = 'application/json';
  } else {
    if (typeof entry.value !== 'string') {
      throw invalid('INVALID_ARGUMENT', `record "${entry.key.slice(0, 100)}": a ${encoding} value must be a string`);
    }
    if (encoding === 'base64' && !/^[A-Za-z0-9+/]*={0,2}$/.test(entry.value)) {
      throw invalid('INVALID_ARGUMENT', `record "${entry.key.slice(0, 100)}": value is not valid Base64`);
    }
    value = Buffer.from(entry.value, encoding === 'base64' ? 'base64' : 'utf8');
    contentType = encoding === 'base64' ? 'application/octet-stream' : 'text/plain; charset=utf-8';
  }
  return {
    key: entry.key,
    value,
    contentType: entry.contentType ?? contentType,
    condition: conditionMessage(condition),
  };
}

export function recordRoutes(table: RouteTable, api: RecordApi, options: { maxBodyBytes: number }): void {
  const json = jsonBody(options.maxBodyBytes);
  const { records } = api;

  table.add(
    {
      method: 'delete',
      expressPath: RECORD,
      openapiPath: RECORD_DOC,
      summary: 'Delete a record',
      description: 'If-Match: "<revision>" deletes only at that revision (412 otherwise).',
      tags: TAGS,
      params: RecordParamsSchema,
      query: VersionQuerySchema,
      responses: { 204: { description: 'Deleted' } },
      errors: ['KEY_NOT_FOUND', 'REVISION_MISMATCH', 'COLLECTION_NOT_FOUND', 'INVALID_KEY'],
    },
    async (req, res, { caller }) => {
      const condition = writeCondition(header(req, 'if-match'), undefined);
      if (condition.kind === 'absent') throw new Error('unreachable: no If-None-Match on delete');
      const { deleted } = await records.deleteRecord(
        {
          collection: address(req),
          key: keyOf(req),
          expectedRevision: condition.kind === 'revision' ? BigInt(condition.revision) : undefined,
        },
        { headers: caller.headers },
      );
      if (!deleted) {
        throw condition.kind === 'present'
          ? invalid('REVISION_MISMATCH', 'no record has this key')
          : invalid('KEY_NOT_FOUND', 'no record has this key');
      }
      res.status(204).end();
    },
  );

  table.add(
    {
      method: 'get',
      expressPath: `${COLLECTION}/records`,
      openapiPath: `${COLLECTION_DOC}/records`,
      summary: 'List records, streamed as JSON or NDJSON',
      description:
        'Filters combine (all must hold). The response streams while rows are read, so any limit keeps memory flat. NDJSON sends one record per line and ends with a line {"done":true,"cursor":…}; a response without that line was cut short.',
      tags: TAGS,
      params: CollectionParamsSchema,
      query: ListQuerySchema,
      responses: {
        200: {
          description: 'The records and the cursor of the next page',
          content: {
            'application/json': { schema: RecordListSchema },
            'application/x-ndjson': { schema: { type: 'string' } },
          },
        },
      },
      errors: [
        'INVALID_ARGUMENT',
        'INVALID_CURSOR',
        'INVALID_PATTERN',
        'COLLECTION_NOT_FOUND',
        'RATE_LIMITED',
        'UNAVAILABLE',
      ],
    },
    async (req, res, { query, caller }) => {
      const ndjson =
        query.format === 'ndjson' ||
        (query.format === undefined &&
          req.accepts(['application/json', 'application/x-ndjson']) === 'application/x-ndjson');
      const keysOnly = truthy(query.keysOnly);
      openStream(res);
      const signal = clientGone(res);
      const chunks = records.scan(
        {
          collection: address(req),
          filter: filterOf(query),
          order: query.order === 'created' ? ScanOrder.CREATED : ScanOrder.KEY,
          reverse: truthy(query.reverse),
          limit: BigInt(query.limit ?? DEFAULT_LIST_LIMIT),
          cursor: query.cursor ?? '',
          keysOnly,
        },
        { signal, timeoutMs: STREAM_TIMEOUT_MS, headers: caller.headers },
      );
      const iterator = chunks[Symbol.asyncIterator]();
      // The first chunk decides the status: an unknown collection or a bad cursor is still a
      // clean error response. After it, the status is sent and a failure can only cut the body.
      let next = await iterator.next();
      res.writeHead(200, {
        'content-type': ndjson ? 'application/x-ndjson; charset=utf-8' : 'application/json; charset=utf-8',
        'cache-control': 'no-store',
      });
      let first = true;
      if (!ndjson && !(await writeChunk(res, '{"records":['))) return;
      try {
        const out = new ChunkBuilder();
        while (!next.done) {
          const chunk = next.value;
          for (const record of chunk.records) {
            const json = JSON.stringify(recordJson(record, !keysOnly));
            out.add(ndjson ? `${json}\n` : first ? json : `,${json}`);
            first = false;
          }
          if (chunk.done) {
            const cursor = JSON.stringify(chunk.nextCursor === '' ? null : chunk.nextCursor);
            out.add(ndjson ? `{"done":true,"cursor":${cursor}}\n` : `],"cursor":${cursor}}`);
          }
          if (out.pieces > 0 && !(await writeChunk(res, out.take()))) return;
          next = await iterator.next();
        }
        res.end();
      } catch (error) {
        // Headers are gone: cut the body so the client cannot mistake it for a complete list.
        res.destroy(error instanceof Error ? error : undefined);
        if (!signal.aborted) throw error;
      } finally {
        await iterator.return?.();
      }
    },
  );

  table.add(
    {
      method: 'get',
      expressPath: `${COLLECTION}/count`,
      openapiPath: `${COLLECTION_DOC}/count`,
      summary: 'Count records (same filters as the listing)',
      tags: TAGS,
      params: CollectionParamsSchema,
      query: FilterQuerySchema,
      responses: { 200: { description: 'The count', content: { 'application/json': { schema: CountSchema } } } },
      errors: ['INVALID_ARGUMENT', 'INVALID_PATTERN', 'COLLECTION_NOT_FOUND'],
    },
    async (req, res, { query, caller }) => {
      const { count } = await records.count(
        { collection: address(req), filter: filterOf(query) },
        { headers: caller.headers },
      );
      res.json({ count: Number(count) });
    },
  );

  table.add(
    {
      method: 'post',
      expressPath: `${COLLECTION}/batch`,
      openapiPath: `${COLLECTION_DOC}/batch`,
      summary: 'Write many records in one transaction: all or nothing',
      tags: TAGS,
      params: CollectionParamsSchema,
      query: VersionQuerySchema,
      body: BatchBodySchema,
      before: json,
      responses: {
        200: { description: 'All written', content: { 'application/json': { schema: BatchResultSchema } } },
      },
      errors: [
        'INVALID_ARGUMENT',
        'DUPLICATE_KEY',
        'BATCH_TOO_LARGE',
        'VALUE_TOO_LARGE',
        'REVISION_MISMATCH',
        'UNSUPPORTED_MEDIA_TYPE',
        'COLLECTION_NOT_FOUND',
      ],
    },
    async (req, res, { body, caller }) => {
      const entries: Array<MessageInitShape<typeof PutEntrySchema>> = body.records.map(batchEntry);
      const result = await records.batchPut({ collection: address(req), entries }, { headers: caller.headers });
      res.json({ records: result.records.map(recordMetaJson), created: result.createdCount });
    },
  );

  table.add(
    {
      method: 'post',
      expressPath: `${COLLECTION}/batch-get`,
      openapiPath: `${COLLECTION_DOC}/batch-get`,
      summary: 'Read many records by key',
      tags: TAGS,
      params: CollectionParamsSchema,
      query: VersionQuerySchema,
      body: BatchGetBodySchema,
      before: json,
      responses: {
        200: { description: 'One entry per key', content: { 'application/json': { schema: BatchGetResultSchema } } },
      },
      errors: ['INVALID_ARGUMENT', 'INVALID_KEY', 'BATCH_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE', 'COLLECTION_NOT_FOUND'],
    },
    async (req, res, { body, caller }) => {
      const keysOnly = body.keysOnly === true;
      const { results } = await records.batchGet(
        { collection: address(req), keys: body.keys, omitValues: keysOnly },
        { headers: caller.headers },
      );
      res.json({ records: results.map((r) => (r.record === undefined ? null : recordJson(r.record, !keysOnly))) });
    },
  );

  table.add(
    {
      method: 'post',
      expressPath: `${COLLECTION}/delete-matching`,
      openapiPath: `${COLLECTION_DOC}/delete-matching`,
      summary: 'Delete the records that match a filter, in bounded batches',
      description:
        'Deletes up to `limit` records, in transactions of 1000; `more` says whether matching records remain. Each deleted record gets its change event.',
      tags: TAGS,
      params: CollectionParamsSchema,
      query: VersionQuerySchema,
      body: DeleteMatchingBodySchema,
      before: json,
      responses: {
        200: { description: 'Done', content: { 'application/json': { schema: DeleteMatchingResultSchema } } },
      },
      errors: ['INVALID_ARGUMENT', 'INVALID_PATTERN', 'UNSUPPORTED_MEDIA_TYPE', 'COLLECTION_NOT_FOUND'],
    },
    async (req, res, { body, caller }) => {
      const { limit = DEFAULT_DELETE_LIMIT, version, ...filter } = body;
      const target = address(req);
      if (version !== undefined && target.version !== undefined && version !== target.version) {
        throw invalid('INVALID_ARGUMENT', 'the query and the body name different versions');
      }
      const filterMessage = filterOf(filter);
      let deleted = 0;
      let more = true;
      while (more && deleted < limit) {
        const result = await records.deleteMatching(
          {
            collection: { ...target, ...(version === undefined ? {} : { version }) },
            filter: filterMessage,
            batchSize: Math.min(DELETE_BATCH, limit - deleted),
          },
          { headers: caller.headers },
        );
        deleted += Number(result.deleted);
        more = result.more;
      }
      res.json({ deleted, more });
    },
  );
}
