import type { IncomingMessage, ServerResponse } from 'node:http';
import { invalid } from '@rosetta/core';
import type { Caller } from '../auth/callers';
import type { RecordApi } from '../clients/record-api';
import type { RecordReader } from '../clients/record-reader';
import type { RecordWriter } from '../clients/record-writer';
import { conditionMessage, etagOf, notModified, writeCondition } from './conditions';
import { header } from '../http/headers';
import { readBody } from '../http/read-body';
import { recordMetaJson, recordPath } from './render';
import type { RouteTable } from './route';
import { RecordMetaSchema, RecordParamsSchema, VersionQuerySchema } from './schemas';

/** The record a request addresses. */
export interface RecordTarget {
  readonly collection: { readonly space: string; readonly collection: string; readonly version?: string };
  readonly key: string;
}

const PREFIX = '/v1/spaces/';

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw invalid('INVALID_ARGUMENT', 'malformed percent-encoding in the path');
  }
}

/**
 * `/v1/spaces/{space}/collections/{collection}/records/{key…}` → its parts, decoded per segment
 * (the key keeps its `/`s). Anything else, including an empty key (the listing), is undefined.
 */
export function matchRecordPath(url: string): RecordTarget | undefined {
  if (!url.startsWith(PREFIX)) return undefined;
  const query = url.indexOf('?');
  const parts = (query === -1 ? url : url.slice(0, query)).split('/');
  // ['', 'v1', 'spaces', space, 'collections', collection, 'records', ...key]
  if (parts.length < 8 || parts[4] !== 'collections' || parts[6] !== 'records') return undefined;
  const rawKey = parts.slice(7);
  if (rawKey.length === 1 && rawKey[0] === '') return undefined;
  const version = query === -1 ? null : new URLSearchParams(url.slice(query + 1)).get('version');
  return {
    collection: {
      space: decode(parts[3] as string),
      collection: decode(parts[5] as string),
      ...(version === null || version === '' ? {} : { version }),
    },
    key: rawKey.map(decode).join('/'),
  };
}

const RECORD_DOC = '/v1/spaces/{space}/collections/{collection}/records/{key}';
const TAGS = ['records'];

/**
 * GET, HEAD and PUT of one record — the hottest routes — on plain node:http objects. The app
 * runs them in front of Express (see app.ts): Express's router and its request/response
 * decoration cost more CPU than the rest of such a request. Reads and unconditional writes
 * arriving together are coalesced into batch calls (RecordReader, RecordWriter). The routes
 * are documented in the OpenAPI document like every other.
 */
export function singleRecords(
  table: RouteTable,
  api: RecordApi,
  authenticate: (req: IncomingMessage) => Promise<Caller>,
  options: { readonly reader: RecordReader; readonly writer: RecordWriter; readonly maxBodyBytes: number },
) {
  const { reader, writer } = options;
  const readErrors = ['KEY_NOT_FOUND', 'COLLECTION_NOT_FOUND', 'INVALID_KEY'] as const;
  table.document({
    method: 'head',
    openapiPath: RECORD_DOC,
    summary: 'A record’s headers, without its value',
    tags: TAGS,
    params: RecordParamsSchema,
    query: VersionQuerySchema,
    responses: { 200: { description: 'The record exists; headers as for GET' } },
    errors: [...readErrors],
  });
  table.document({
    method: 'get',
    openapiPath: RECORD_DOC,
    summary: 'Read a record: the value’s bytes, with its content type and revision (ETag)',
    description: 'Honours If-None-Match with the ETag (304).',
    tags: TAGS,
    params: RecordParamsSchema,
    query: VersionQuerySchema,
    responses: {
      200: { description: 'The value', content: { '*/*': { schema: { type: 'string', format: 'binary' } } } },
      304: { description: 'Not modified since the ETag sent in If-None-Match' },
    },
    errors: [...readErrors],
  });
  table.document({
    method: 'put',
    openapiPath: RECORD_DOC,
    summary: 'Write a record: the body is the value, Content-Type is kept with it',
    description:
      'If-Match: "<revision>" writes only at that revision (compare-and-set); If-Match: * only over an existing record; If-None-Match: * only if the key is new. A failed condition is 412.',
    tags: TAGS,
    params: RecordParamsSchema,
    query: VersionQuerySchema,
    rawBody: { description: 'The value, any bytes (Content-Encoding gzip, deflate or br is undone first)' },
    responses: {
      200: { description: 'Replaced', content: { 'application/json': { schema: RecordMetaSchema } } },
      201: { description: 'Created', content: { 'application/json': { schema: RecordMetaSchema } } },
    },
    errors: ['REVISION_MISMATCH', 'VALUE_TOO_LARGE', 'COLLECTION_NOT_FOUND', 'INVALID_KEY', 'INVALID_CONTENT_TYPE'],
  });

  async function read(req: IncomingMessage, res: ServerResponse, target: RecordTarget): Promise<void> {
    const head = req.method === 'HEAD';
    const caller = await authenticate(req);
    const record = head
      ? (await api.records.headRecord(target, { headers: caller.headers })).record
      : await reader.get(caller, target.collection, target.key);
    if (record === undefined) throw invalid('KEY_NOT_FOUND', 'no record has this key');
    const etag = etagOf(record.revision);
    const lastModified = new Date(Number(record.updatedUs / 1000n)).toUTCString();
    if (!head && notModified(header(req, 'if-none-match'), record.revision)) {
      res.writeHead(304, { etag, 'last-modified': lastModified });
      res.end();
      return;
    }
    res.writeHead(200, {
      'content-type': record.contentType,
      'content-length': String(record.size),
      etag,
      'last-modified': lastModified,
    });
    if (head) {
      res.end();
      return;
    }
    const value = record.value;
    res.end(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  }

  async function write(req: IncomingMessage, res: ServerResponse, target: RecordTarget): Promise<void> {
    const caller = await authenticate(req);
    const condition = writeCondition(header(req, 'if-match'), header(req, 'if-none-match'));
    const value = await readBody(req, options.maxBodyBytes);
    const { record, created } = await writer.put(caller, target.collection, {
      key: target.key,
      value,
      contentType: header(req, 'content-type') ?? '',
      condition: conditionMessage(condition),
    });
    if (record === undefined) throw new Error('the record service acknowledged a write without its record');
    const headers: Record<string, string> = {
      'content-type': 'application/json; charset=utf-8',
      etag: etagOf(record.revision),
    };
    if (created) headers.location = recordPath(target.collection.space, target.collection.collection, target.key);
    res.writeHead(created ? 201 : 200, headers);
    res.end(JSON.stringify(recordMetaJson(record)));
  }

  /** Serves the request if it is one of these routes (true), or leaves it to Express (false). */
  return (req: IncomingMessage, res: ServerResponse, onError: (error: unknown) => void): boolean => {
    const method = req.method;
    if (method !== 'GET' && method !== 'HEAD' && method !== 'PUT') return false;
    let target: RecordTarget | undefined;
    try {
      target = matchRecordPath(req.url ?? '');
    } catch (error) {
      onError(error);
      return true;
    }
    if (target === undefined) return false;
    (method === 'PUT' ? write(req, res, target) : read(req, res, target)).catch(onError);
    return true;
  };
}
