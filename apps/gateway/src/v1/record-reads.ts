import type { IncomingMessage, ServerResponse } from 'node:http';
import { invalid } from '@rosetta/core';
import type { RecordApi } from '../clients/record-api';
import { etagOf, notModified } from './conditions';
import { header } from './headers';
import type { RouteTable } from './route';
import { RecordParamsSchema } from './schemas';

/** The record a GET or HEAD addresses. */
export interface RecordTarget {
  readonly collection: { readonly space: string; readonly collection: string };
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
  return {
    collection: { space: decode(parts[3] as string), collection: decode(parts[5] as string) },
    key: rawKey.map(decode).join('/'),
  };
}

const RECORD_DOC = '/v1/spaces/{space}/collections/{collection}/records/{key}';

/**
 * GET and HEAD of one record — the hottest route — on plain node:http objects. The app runs
 * them in front of Express (see app.ts): routing a read through Express's router and its
 * request/response decoration cost more CPU than the rest of the read. They are documented in
 * the OpenAPI document like every other route.
 */
export function recordReads(table: RouteTable, api: RecordApi) {
  const errors = ['KEY_NOT_FOUND', 'COLLECTION_NOT_FOUND', 'INVALID_KEY'] as const;
  table.document({
    method: 'head',
    openapiPath: RECORD_DOC,
    summary: 'A record’s headers, without its value',
    tags: ['records'],
    params: RecordParamsSchema,
    responses: { 200: { description: 'The record exists; headers as for GET' } },
    errors: [...errors],
  });
  table.document({
    method: 'get',
    openapiPath: RECORD_DOC,
    summary: 'Read a record: the value’s bytes, with its content type and revision (ETag)',
    description: 'Honours If-None-Match with the ETag (304).',
    tags: ['records'],
    params: RecordParamsSchema,
    responses: {
      200: { description: 'The value', content: { '*/*': { schema: { type: 'string', format: 'binary' } } } },
      304: { description: 'Not modified since the ETag sent in If-None-Match' },
    },
    errors: [...errors],
  });

  return async (req: IncomingMessage, res: ServerResponse, target: RecordTarget): Promise<void> => {
    const head = req.method === 'HEAD';
    const { record } = head ? await api.records.headRecord(target) : await api.records.getRecord(target);
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
  };
}
