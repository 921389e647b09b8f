import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { context, propagation, SpanKind, SpanStatusCode, trace, type Span, type SpanContext } from '@opentelemetry/api';
// The SDK's span types, as @opentelemetry/sdk-trace-base (platform's dependency) defines them.
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import request from 'supertest';
import type { RpcServer } from '../../apps/api/src/transport/server';
import { createApp, createHttpRecordApi } from '../../apps/gateway/src';
import { startTelemetry } from '../../packages/platform/src';
import {
  AuthService,
  createRpcTransport,
  RecordService,
  ServiceGrant,
  type RpcTransport,
} from '../../packages/proto/src';
import { asAdmin, serveRpc, silentLogger, startTestApi, type TestApi } from '../support/api';
import { TEST_ADMIN_TOKEN, TEST_INTERNAL_SECRET } from '../support/env';

/**
 * RPC spans across gateway → api: the client span of each call and the api's server span under
 * it, over the real HTTP/2 transport (the lean unary path and Connect's streams), on a record
 * service over Postgres and Redis. Under Jest the standard instrumentations patch nothing (no
 * http, pg or ioredis spans), so these are only Rosetta's own spans, and the gateway's HTTP
 * server span is played by the test (as HttpInstrumentation would make it).
 */

const exporter = new InMemorySpanExporter();
const telemetry = startTelemetry({ service: 'trace-test', spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = trace.getTracer('rpc-tracing-test');

const KEY = 'secret-key-1';
const VALUE = 'secret-value-1';
const traced = { space: 'default', collection: 'traced' };

let api: TestApi;
let rpc: RpcServer;
let baseUrl: string;
let transport: RpcTransport;
let grant: Record<string, string>;

beforeAll(async () => {
  api = await startTestApi();
  await api.collections.createCollection({ collection: traced });
  await api.records.putRecord({ collection: traced, key: KEY, value: Buffer.from(VALUE), contentType: 'text/plain' });
  ({ server: rpc, url: baseUrl } = await serveRpc(api.runtime, { maxMessageBytes: 1024 * 1024 }));
  transport = createRpcTransport({ baseUrl, defaultTimeoutMs: 5000, maxMessageBytes: 1024 * 1024 });
  grant = await new ServiceGrant(createClient(AuthService, transport), TEST_INTERNAL_SECRET).headers();
});

afterAll(async () => {
  transport.close();
  await rpc.close();
  await api.close();
  // Jest runs later test files in this process: leave nothing instrumented behind.
  await telemetry.shutdown();
});

beforeEach(() => exporter.reset());

const idOf = (span: ReadableSpan) => span.spanContext().spanId;
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

/** Runs `work` inside a fresh root span; answers the root's context and every span ended meanwhile. */
async function inRootSpan(work: () => Promise<void>): Promise<{ root: SpanContext; spans: ReadableSpan[] }> {
  let root: SpanContext | undefined;
  await tracer.startActiveSpan('test', async (span: Span) => {
    root = span.spanContext();
    try {
      await work();
    } finally {
      span.end();
    }
  });
  return { root: root as SpanContext, spans: exporter.getFinishedSpans() };
}

function only(spans: ReadableSpan[], name: string, kind: SpanKind): ReadableSpan {
  const found = spans.filter((s) => s.name === name && s.kind === kind);
  expect(found).toHaveLength(1);
  return found[0] as ReadableSpan;
}

/** Nothing a span carries (name, attributes, events, status) names the record's key or value. */
function expectNoSecrets(spans: ReadableSpan[]): void {
  const text = JSON.stringify(
    spans.map((s) => ({ name: s.name, attributes: s.attributes, events: s.events, status: s.status })),
  );
  expect(text).not.toContain(KEY);
  expect(text).not.toContain(VALUE);
  expect(text).not.toContain(TEST_ADMIN_TOKEN);
  expect(text).not.toContain(TEST_INTERNAL_SECRET);
  expect(text).not.toContain(grant['rosetta-grant']);
}

describe('the RPC client and the api', () => {
  it('connect a unary call: the server span is the child of the client span, in the caller trace', async () => {
    const records = createClient(RecordService, transport);
    const { root, spans } = await inRootSpan(async () => {
      const { record } = await records.getRecord({ collection: traced, key: KEY }, { headers: grant });
      expect(Buffer.from(record?.value ?? []).toString()).toBe(VALUE);
    });
    const client = only(spans, 'rosetta.v1.RecordService/GetRecord', SpanKind.CLIENT);
    const server = only(spans, 'rosetta.v1.RecordService/GetRecord', SpanKind.SERVER);
    expect(parentOf(client)).toBe(root.spanId);
    expect(parentOf(server)).toBe(idOf(client));
    for (const span of [client, server]) expect(span.spanContext().traceId).toBe(root.traceId);
    expect(client.attributes).toEqual({
      'rpc.system': 'connect_rpc',
      'rpc.service': 'rosetta.v1.RecordService',
      'rpc.method': 'GetRecord',
      'server.address': '127.0.0.1',
      'server.port': Number(new URL(baseUrl).port),
    });
    expect(server.attributes).toEqual({
      'rpc.system': 'connect_rpc',
      'rpc.service': 'rosetta.v1.RecordService',
      'rpc.method': 'GetRecord',
      'rosetta.space': 'default',
      'rosetta.collection': 'traced',
    });
    for (const span of [client, server]) expect(span.status.code).toBe(SpanStatusCode.UNSET);
    // The server's span lies within the client's.
    const start = (s: ReadableSpan) => s.startTime[0] * 1e9 + s.startTime[1];
    const end = (s: ReadableSpan) => s.endTime[0] * 1e9 + s.endTime[1];
    expect(start(server)).toBeGreaterThanOrEqual(start(client));
    expect(end(server)).toBeLessThanOrEqual(end(client));
    expectNoSecrets(spans);
  });

  it('connect a streamed scan the same way, the span lasting until the stream ends', async () => {
    const records = createClient(RecordService, transport);
    const { root, spans } = await inRootSpan(async () => {
      const keys: string[] = [];
      for await (const chunk of records.scan({ collection: traced, filter: {} }, { headers: grant })) {
        keys.push(...chunk.records.map((r) => r.key));
      }
      expect(keys).toEqual([KEY]);
    });
    const client = only(spans, 'rosetta.v1.RecordService/Scan', SpanKind.CLIENT);
    const server = only(spans, 'rosetta.v1.RecordService/Scan', SpanKind.SERVER);
    expect(parentOf(client)).toBe(root.spanId);
    expect(parentOf(server)).toBe(idOf(client));
    expect(server.spanContext().traceId).toBe(root.traceId);
    expect(server.attributes).toMatchObject({
      'rpc.method': 'Scan',
      'rosetta.space': 'default',
      'rosetta.collection': 'traced',
    });
    expect([client.status.code, server.status.code]).toEqual([SpanStatusCode.UNSET, SpanStatusCode.UNSET]);
    expectNoSecrets(spans);
  });

  it('mark a failed call as an error with its Connect code on both ends, and no message', async () => {
    const records = createClient(RecordService, transport);
    const ghost = { space: 'default', collection: 'ghost' };
    const { spans } = await inRootSpan(async () => {
      const failure = await records.getRecord({ collection: ghost, key: KEY }, { headers: grant }).catch((e) => e);
      expect(ConnectError.from(failure).code).toBe(Code.NotFound);
    });
    const client = only(spans, 'rosetta.v1.RecordService/GetRecord', SpanKind.CLIENT);
    const server = only(spans, 'rosetta.v1.RecordService/GetRecord', SpanKind.SERVER);
    expect(parentOf(server)).toBe(idOf(client));
    for (const span of [client, server]) {
      expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'not_found' });
      expect(span.attributes).toMatchObject({
        'rpc.connect_rpc.error_code': 'not_found',
        'rosetta.error_code': 'COLLECTION_NOT_FOUND',
      });
      expect(span.events.map((e) => [e.name, e.attributes?.['exception.message']])).toEqual([
        ['exception', 'not_found'],
      ]);
    }
    expect(server.attributes['rosetta.collection']).toBe('ghost');
    expectNoSecrets(spans);
  });

  it('makes no span and sends no trace context when no span is active', async () => {
    const records = createClient(RecordService, transport);
    await records.getRecord({ collection: traced, key: KEY }, { headers: grant });
    const spans = exporter.getFinishedSpans();
    // Tracing is on in this process, so the api still traces the call, as a root of its own.
    expect(spans.map((s) => [s.name, s.kind])).toEqual([['rosetta.v1.RecordService/GetRecord', SpanKind.SERVER]]);
    expect(spans[0]?.parentSpanContext).toBeUndefined();
  });
});

/**
 * What HttpInstrumentation does for an incoming request, which under Jest it cannot: a SERVER
 * span continuing the request's `traceparent`, active while the app handles the request.
 */
function httpServerSpans(listener: RequestListener): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    const parent = propagation.extract(context.active(), req.headers);
    const span = tracer.startSpan(`${req.method ?? 'GET'}`, { kind: SpanKind.SERVER }, parent);
    const active = trace.setSpan(parent, span);
    context.bind(active, req);
    context.bind(active, res);
    res.once('finish', () => span.end());
    context.with(active, () => listener(req, res));
  };
}

describe('the gateway over the api', () => {
  it("connects one HTTP request's spans: HTTP server → RPC client → api server", async () => {
    const remote = createHttpRecordApi({ baseUrl, timeoutMs: 5000, maxMessageBytes: 1024 * 1024 });
    const app = httpServerSpans(asAdmin(createApp({ api: remote, logger: silentLogger, maxBodyBytes: 1024 * 1024 })));
    try {
      const { root } = await inRootSpan(async () => {
        const headers: Record<string, string> = {};
        propagation.inject(context.active(), headers);
        const got = await request(app).get(`/v1/spaces/default/collections/traced/records/${KEY}`).set(headers);
        expect(got.status).toBe(200);
        expect(got.text).toBe(VALUE);
      });
      // The HTTP span ends with the response, which may be after the client has read it.
      await new Promise((resolve) => setImmediate(resolve));
      const all = exporter.getFinishedSpans();
      const byId = new Map(all.map((s) => [idOf(s), s]));
      const http = all.find((s) => s.kind === SpanKind.SERVER && parentOf(s) === root.spanId);
      expect(http).toBeDefined();
      const server = only(all, 'rosetta.v1.RecordService/GetRecord', SpanKind.SERVER);
      const client = byId.get(parentOf(server) ?? '');
      expect(client).toMatchObject({ name: 'rosetta.v1.RecordService/GetRecord', kind: SpanKind.CLIENT });
      // Up from the api's span, every hop is a span of this trace, up to the HTTP request's span.
      const chain: string[] = [];
      for (let at: ReadableSpan | undefined = server; at !== undefined; at = byId.get(parentOf(at) ?? '')) {
        expect(at.spanContext().traceId).toBe(root.traceId);
        chain.push(idOf(at));
      }
      expect(chain).toContain(idOf(http as ReadableSpan));
      // Every RPC the request made (the credential check too) is in the trace, server under client.
      const rpcServers = all.filter((s) => s.kind === SpanKind.SERVER && s.attributes['rpc.system'] === 'connect_rpc');
      expect(rpcServers.length).toBeGreaterThanOrEqual(1);
      for (const span of rpcServers) {
        expect(byId.get(parentOf(span) ?? '')?.kind).toBe(SpanKind.CLIENT);
        expect(span.spanContext().traceId).toBe(root.traceId);
      }
      expectNoSecrets(all);
    } finally {
      remote.close();
    }
  });
});
