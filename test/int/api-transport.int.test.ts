import http2 from 'node:http2';
import { once } from 'node:events';
import { toBinary } from '@bufbuild/protobuf';
import { Code, createClient } from '@connectrpc/connect';
import type { RpcServer } from '../../apps/api/src/transport/server';
import {
  AuthService,
  CONNECTION_WINDOW_BYTES,
  createRpcTransport,
  RecordService,
  ScanChunkSchema,
  ServiceGrant,
  UNARY_STREAM_WINDOW_BYTES,
} from '../../packages/proto/src';
import { serveRpc, startTestApi, type TestApi } from '../support/api';
import { TEST_INTERNAL_SECRET } from '../support/env';

/** The api's HTTP/2 server as its callers' connections see it. */

let api: TestApi;
let rpc: RpcServer;
let baseUrl: string;

/** 250 records of 1 KiB, keys k000…k249: more than one scan page (of 200 rows here, ~220 KB, as big as pages got). */
const paged = { space: 'default', collection: 'paged' };
const value = Buffer.alloc(1024, 'v');
const keys = Array.from({ length: 250 }, (_, i) => `k${String(i).padStart(3, '0')}`);

beforeAll(async () => {
  api = await startTestApi({ env: { SCAN_PAGE_ROWS: '200' } });
  await api.collections.createCollection({ collection: paged });
  await api.records.batchPut({
    collection: paged,
    entries: keys.map((key) => ({ key, value, contentType: 'text/plain' })),
  });
  ({ server: rpc, url: baseUrl } = await serveRpc(api.runtime, { maxMessageBytes: 1024 * 1024 }));
});

afterAll(async () => {
  await rpc.close();
  await api.close();
});

it('lets a caller send a whole batch per stream, and many at once per connection, before acknowledging', async () => {
  const session = http2.connect(baseUrl);
  try {
    await once(session, 'remoteSettings');
    // The connection's window comes in a WINDOW_UPDATE after the settings: a ping's answer follows it.
    await new Promise((resolve) => session.ping(resolve));
    expect(session.remoteSettings.initialWindowSize).toBe(UNARY_STREAM_WINDOW_BYTES);
    expect(session.state.remoteWindowSize).toBe(CONNECTION_WINDOW_BYTES);
  } finally {
    session.close();
  }
});

it('streams a page of a scan as messages that each fit a stream window, the records whole and in order', async () => {
  const transport = createRpcTransport({ baseUrl, defaultTimeoutMs: 5000, maxMessageBytes: 1024 * 1024 });
  try {
    const headers = await new ServiceGrant(createClient(AuthService, transport), TEST_INTERNAL_SECRET).headers();
    const messages = [];
    for await (const chunk of createClient(RecordService, transport).scan(
      { collection: paged, limit: 240n },
      { headers },
    ))
      messages.push(chunk);
    // A page of 200 records of 1 KiB is ~220 KB: it comes in several messages, then the page of 40.
    expect(messages.length).toBeGreaterThanOrEqual(5);
    for (const chunk of messages) expect(toBinary(ScanChunkSchema, chunk).byteLength).toBeLessThan(64 * 1024);
    expect(messages.every((chunk) => chunk.records.length > 0)).toBe(true);
    expect(messages.flatMap((chunk) => chunk.records.map((r) => r.key))).toEqual(keys.slice(0, 240));
    expect(messages.flatMap((chunk) => chunk.records.map((r) => Buffer.from(r.value).equals(value)))).not.toContain(
      false,
    );
    expect(messages.map((chunk) => chunk.done)).toEqual(messages.map((_, i) => i === messages.length - 1));
    expect(messages.slice(0, -1).every((chunk) => chunk.nextCursor === '')).toBe(true);
    expect(messages.at(-1)?.nextCursor).not.toBe('');
  } finally {
    transport.close();
  }
});

it('carries a key that opens with U+FEFF intact, there and back', async () => {
  const transport = createRpcTransport({ baseUrl, defaultTimeoutMs: 5000, maxMessageBytes: 1024 * 1024 });
  try {
    const headers = await new ServiceGrant(createClient(AuthService, transport), TEST_INTERNAL_SECRET).headers();
    const records = createClient(RecordService, transport);
    const marks = { space: 'default', collection: 'marks' };
    await api.collections.createCollection({ collection: marks });
    const key = '\ufeffbom';
    const put = await records.putRecord({ collection: marks, key, value: Buffer.from('\ufeffv') }, { headers });
    expect(put.record?.key).toBe(key);
    const got = await records.getRecord({ collection: marks, key }, { headers });
    expect([got.record?.key, Buffer.from(got.record?.value ?? []).toString()]).toEqual([key, '\ufeffv']);
    expect((await records.getRecord({ collection: marks, key: 'bom' }, { headers })).record).toBeUndefined();
  } finally {
    transport.close();
  }
});

it('ends an in-process scan cancelled between two messages of a page with Canceled, never quietly', async () => {
  const controller = new AbortController();
  const seen: string[] = [];
  const reading = (async () => {
    for await (const chunk of api.records.scan({ collection: paged, limit: 240n }, { signal: controller.signal })) {
      seen.push(...chunk.records.map((r) => r.key));
      controller.abort();
    }
  })();
  await expect(reading).rejects.toMatchObject({ code: Code.Canceled });
  // The first message of the first page, and nothing after the cancellation.
  expect(seen).toEqual(keys.slice(0, seen.length));
  expect(seen.length).toBeGreaterThan(0);
  expect(seen.length).toBeLessThan(200);
});
