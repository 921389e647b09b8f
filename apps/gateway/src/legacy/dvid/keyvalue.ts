import { fromBinary } from '@bufbuild/protobuf';
import { MAX_BATCH_ENTRIES, MAX_BATCH_GET_KEYS, normalizeContentType } from '@rosetta/core';
import { KeysSchema, KeyValuesSchema, type Record as RecordMessage, type ScanChunk } from '@rosetta/proto';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { ScanRequestSchema } from '@rosetta/proto';
import { STREAM_TIMEOUT_MS } from '../../clients/record-api';
import type { CollectionRef } from '../../clients/turn-batcher';
import { toHttpFailure } from '../../errors';
import { openStream } from '../../http/overload';
import { writeChunk } from '../../http/write-chunk';
import { keyValuesError, parseKeyList, parseTags } from './body';
import { DvidError, keyNotFound } from './errors';
import { outputChoice, writeEntries, type KeyValueEntry } from './formats';
import { KEYVALUE_HELP } from './help';
import { keyOf, rangeOf, type InstancePath } from './paths';
import { instanceCollection, instanceInfo } from './render';
import { resolveNode } from './repos';
import { sendJson, sendOk, sendText, type DvidRequest } from './request';

/** What one instance request addresses: the node, and the instance's collection at it. */
interface Target {
  readonly request: DvidRequest;
  readonly path: InstancePath;
  readonly method: string;
  /** The node's full UUID. */
  readonly uuid: string;
  /** Whether the node is committed; undefined when the request did not need to know. */
  readonly locked: boolean | undefined;
  readonly root: string;
  readonly ref: CollectionRef;
}

const WRITES: ReadonlySet<string> = new Set(['POST', 'PUT', 'DELETE']);

/** Keywords that only read and write records: the record service checks the node's lock itself. */
const RECORD_KEYWORDS: ReadonlySet<string> = new Set(['key', 'keys', 'keyrange', 'keyrangevalues', 'keyvalues']);

/** Bytes of values sent in one BatchPut of a `POST /keyvalues`. */
const BATCH_BYTES = 16 * 1024 * 1024;

/** Record-service failures in DVID's words: a missing collection is DVID's unknown instance. */
function inDvidTerms(target: Target, error: unknown): unknown {
  const { code } = toHttpFailure(error);
  if (code === 'COLLECTION_NOT_FOUND') return new DvidError(400, 'invalid data instance name', { cause: error });
  if (code === 'VERSION_LOCKED') return lockedError(target, error);
  return error;
}

const lockedError = (target: Target, cause?: unknown) =>
  new DvidError(400, `Cannot do ${target.method} on endpoint "${target.path.keyword}" of locked node ${target.uuid}`, {
    cause,
  });

async function dvidTerms<T>(target: Target, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw inDvidTerms(target, error);
  }
}

/** `/api/node/<uuid>/<name>/<keyword>/…`. */
export async function instanceRoute(request: DvidRequest, path: InstancePath, method: string): Promise<void> {
  const { space } = request;
  let uuid = path.uuid;
  let root = RECORD_KEYWORDS.has(path.keyword) ? request.knownNodes.rootOf(space, uuid) : undefined;
  let locked: boolean | undefined;
  if (root === undefined) {
    const resolved = await resolveNode(request, path.uuid);
    ({ uuid, locked } = resolved.node);
    root = resolved.root;
    request.knownNodes.remember(space, path.uuid, uuid, root);
  }
  const target: Target = {
    request,
    path,
    method,
    uuid,
    locked,
    root,
    ref: { space, collection: instanceCollection(path.dataName, root), version: uuid },
  };
  await dvidTerms(target, () => dispatch(target));
}

async function dispatch(target: Target): Promise<void> {
  const { request, path, method } = target;
  switch (path.keyword) {
    case 'key':
      return keyRoute(target, keyOf(path));
    case 'keys':
      return listKeys(target, {});
    case 'keyrange': {
      const { first, last } = rangeOf(path);
      return listKeys(target, { start: first, end: last });
    }
    case 'keyrangevalues': {
      const { first, last } = rangeOf(path);
      return rangeValues(target, first, last);
    }
    case 'keyvalues':
      if (method === 'POST') return postKeyValues(target);
      return getKeyValues(target);
    default:
      break;
  }
  // The rest read or change the instance itself: it must exist, and a versioned one is frozen
  // at a committed node.
  const collection = await getCollection(target);
  if (collection.versioned && target.locked === true && WRITES.has(method)) throw lockedError(target);
  switch (path.keyword) {
    case 'help':
      return sendText(request.res, KEYVALUE_HELP);
    case 'info':
      return sendJson(request.res, instanceInfo(collection, target.root));
    case 'tags':
      if (method === 'POST') return postTags(target);
      return sendJson(request.res, { Tags: instanceInfo(collection, target.root).Base.Tags });
    default:
      throw new DvidError(
        400,
        `Bad API call (${path.path}) for data "${path.dataName}".  See API help at http://${request.req.headers.host ?? 'localhost'}/api/help/keyvalue`,
        { withPath: false },
      );
  }
}

async function getCollection(target: Target) {
  const { collection } = await target.request.context.api.collections.getCollection(
    { collection: { space: target.ref.space, collection: target.ref.collection } },
    target.request.call,
  );
  if (collection === undefined) throw new Error('GetCollection answered without a collection');
  return collection;
}

async function postTags(target: Target): Promise<void> {
  const { request } = target;
  const tags = parseTags(await request.body());
  await request.context.api.collections.updateCollection(
    {
      collection: { space: target.ref.space, collection: target.ref.collection },
      tags,
      replaceTags: request.query.get('replace') === 'true',
    },
    request.call,
  );
  sendOk(request.res);
}

/** The stored content type of a POSTed value: the request's when it is a well-formed one. */
function contentTypeOf(header: string | undefined): string {
  try {
    return normalizeContentType(header);
  } catch {
    return 'application/octet-stream';
  }
}

async function keyRoute(target: Target, key: string): Promise<void> {
  const { request, method } = target;
  const { context, res, call } = request;
  if (key === '') throw new DvidError(400, "expect key string to follow 'key' endpoint");
  switch (method) {
    case 'GET':
    case 'HEAD': {
      const record = await context.reader.get(request.caller, target.ref, key);
      if (record === undefined) {
        if (method === 'GET') return keyNotFound(res, key);
        res.writeHead(404, { 'content-length': '0' });
        return void res.end();
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(record.size) });
      return void res.end(method === 'GET' ? record.value : undefined);
    }
    case 'POST': {
      const value = await request.body();
      await context.api.records.putRecord(
        { collection: target.ref, key, value, contentType: contentTypeOf(request.req.headers['content-type']) },
        call,
      );
      return sendOk(res);
    }
    case 'DELETE':
      await context.api.records.deleteRecord({ collection: target.ref, key }, call);
      return sendOk(res);
    default:
      throw new DvidError(400, `key endpoint does not support "${method.toLowerCase()}" HTTP verb`);
  }
}

type ScanInit = Omit<MessageInitShape<typeof ScanRequestSchema>, 'collection' | '$typeName'>;

/**
 * The records of a scan of the instance at the node. The first chunk is read before anything is
 * written, so that a missing instance (or any early failure) is still a clean 400.
 */
async function scanFirst(target: Target, scan: ScanInit): Promise<AsyncGenerator<RecordMessage>> {
  const { request } = target;
  openStream(request.res);
  const controller = new AbortController();
  const stream = request.context.api.records.scan(
    { ...scan, collection: target.ref },
    { signal: controller.signal, timeoutMs: STREAM_TIMEOUT_MS, headers: request.call.headers },
  );
  const chunks = stream[Symbol.asyncIterator]();
  request.res.once('close', () => controller.abort());
  const first = await chunks.next().catch((error: unknown) => {
    controller.abort();
    throw error;
  });
  return (async function* () {
    try {
      if (first.done === true) return;
      yield* (first.value as ScanChunk).records;
      for (;;) {
        const next = await chunks.next();
        if (next.done === true) return;
        yield* next.value.records;
      }
    } finally {
      controller.abort();
    }
  })();
}

/** `keys` and `keyrange`: a JSON array of the keys a node sees, in byte order, streamed. */
async function listKeys(target: Target, range: { start?: string; end?: string }): Promise<void> {
  const { res } = target.request;
  const records = await scanFirst(target, { filter: range, keysOnly: true });
  res.writeHead(200, { 'content-type': 'application/json' });
  let separator = '[';
  let pending = '';
  for await (const record of records) {
    pending += `${separator}${JSON.stringify(record.key)}`;
    separator = ',';
    if (pending.length >= 64 * 1024) {
      if (!(await writeChunk(res, pending))) return;
      pending = '';
    }
  }
  res.end(`${pending}${separator === '[' ? '[]' : ']'}`);
}

async function* entriesOf(records: AsyncIterable<RecordMessage>): AsyncGenerator<KeyValueEntry> {
  for await (const record of records) yield { key: record.key, value: record.value };
}

/** `keyrangevalues/<k1>/<k2>`: keys and values in the inclusive range, as JSON, tar or protobuf. */
async function rangeValues(target: Target, first: string, last: string): Promise<void> {
  const choice = outputChoice(target.request.query);
  const records = await scanFirst(target, { filter: { start: first, end: last } });
  await writeEntries(target.request.res, choice, entriesOf(records));
}

/** The keys a `GET /keyvalues` asks for: a JSON array (json and tar modes) or a protobuf `Keys`. */
function requestedKeys(target: Target, body: Uint8Array, format: string): string[] {
  if (format !== 'protobuf') return parseKeyList(body);
  try {
    return fromBinary(KeysSchema, body).keys;
  } catch (error) {
    throw new DvidError(400, error instanceof Error ? error.message : 'malformed Keys message', { cause: error });
  }
}

/** `GET /keyvalues`: the values of the requested keys, in request order, missing ones included. */
async function getKeyValues(target: Target): Promise<void> {
  const { request } = target;
  const body = await request.body();
  let keys: string[];
  let choice: ReturnType<typeof outputChoice>;
  try {
    choice = outputChoice(request.query);
    keys = requestedKeys(target, body, choice.format);
  } catch (error) {
    if (error instanceof DvidError) throw keyValuesError(error, 0, target.path.dataName);
    throw error;
  }
  const found = new Map<string, Uint8Array>();
  const unique = [...new Set(keys)];
  for (let i = 0; i < unique.length; i += MAX_BATCH_GET_KEYS) {
    const { results } = await request.context.api.records.batchGet(
      { collection: target.ref, keys: unique.slice(i, i + MAX_BATCH_GET_KEYS) },
      request.call,
    );
    for (const result of results) if (result.record !== undefined) found.set(result.record.key, result.record.value);
  }
  await writeEntries(
    request.res,
    choice,
    keys.map((key) => ({ key, value: found.get(key) })),
  );
}

/**
 * `POST /keyvalues`: a protobuf `KeyValues`, written as DVID writes it — in order, a later
 * duplicate of a key winning. Each BatchPut (up to 10,000 entries) is one transaction.
 */
async function postKeyValues(target: Target): Promise<void> {
  const { request } = target;
  let kvs: Array<{ key: string; value: Uint8Array }>;
  try {
    kvs = fromBinary(KeyValuesSchema, await request.body()).kvs;
  } catch (error) {
    throw new DvidError(400, error instanceof Error ? error.message : 'malformed KeyValues message', { cause: error });
  }
  const last = new Map<string, Uint8Array>();
  for (const { key, value } of kvs) {
    last.delete(key);
    last.set(key, value);
  }
  let batch: Array<{ key: string; value: Uint8Array }> = [];
  let bytes = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    await request.context.api.records.batchPut(
      { collection: target.ref, entries: batch, omitRecords: true },
      request.call,
    );
    batch = [];
    bytes = 0;
  };
  for (const [key, value] of last) {
    if (batch.length >= MAX_BATCH_ENTRIES || (bytes + value.byteLength > BATCH_BYTES && batch.length > 0))
      await flush();
    batch.push({ key, value });
    bytes += value.byteLength;
  }
  await flush();
  sendOk(request.res);
}
