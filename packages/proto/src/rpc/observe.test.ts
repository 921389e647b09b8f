import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, createHandlerContext, type HandlerContext, type ServiceImpl } from '@connectrpc/connect';
import { context, propagation, SpanKind, SpanStatusCode, trace, type Attributes, type Meter } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { wireError } from '../errors';
import { GetRecordRequestSchema, RecordService, ScanRequestSchema } from '../gen/rosetta/v1/records_pb';
import { createRpcObserver, rpcCodeName } from './observe';

/** A meter that keeps what the duration histogram records. */
function recordingMeter() {
  const recorded: Array<{ seconds: number; labels: Attributes | undefined }> = [];
  const meter = {
    createHistogram: (name: string, options: { unit?: string; advice?: unknown }) => {
      expect([name, options.unit]).toEqual(['rosetta_rpc_duration_seconds', 's']);
      return { record: (seconds: number, labels?: Attributes) => recorded.push({ seconds, labels }) };
    },
  } as unknown as Meter;
  return { meter, recorded };
}

const collection = { space: 'default', collection: 'notes' };

const impl: Partial<ServiceImpl<typeof RecordService>> = {
  async getRecord(req) {
    trace.getTracer('test').startSpan('inside').end();
    if (req.key === 'missing') throw wireError(Code.NotFound, 'KEY_NOT_FOUND', `no key "${req.key}"`);
    return { record: { key: req.key } };
  },
  async *scan(req) {
    for (let i = 0; i < 3; i++) {
      trace.getTracer('test').startSpan(`step ${i}`).end();
      if (req.limit === 1n && i === 1) throw new ConnectError('stop', Code.ResourceExhausted);
      yield { records: [{ key: `k${i}` }], done: i === 2 };
    }
  },
};

function handlerContext(method: 'GetRecord' | 'Scan', headers: Record<string, string> = {}): HandlerContext {
  return createHandlerContext({
    service: RecordService,
    method: RecordService.method[method === 'GetRecord' ? 'getRecord' : 'scan'],
    protocolName: 'connect',
    requestMethod: 'POST',
    url: `/rosetta.v1.RecordService/${method}`,
    requestHeader: headers,
  });
}

type Observed = Required<Pick<ServiceImpl<typeof RecordService>, 'getRecord' | 'scan'>>;
const observe = (meter: Meter) =>
  createRpcObserver({ meter, latencyBuckets: [0.001, 1] }).observe(
    RecordService,
    impl as ServiceImpl<typeof RecordService>,
  ) as unknown as Observed;

const get = (key: string) => create(GetRecordRequestSchema, { collection, key });
const scan = (limit = 0n) => create(ScanRequestSchema, { collection, limit });

it('names codes as the metrics and spans label them', () => {
  expect([Code.NotFound, Code.FailedPrecondition, Code.DeadlineExceeded, Code.Canceled].map(rpcCodeName)).toEqual([
    'not_found',
    'failed_precondition',
    'deadline_exceeded',
    'canceled',
  ]);
  expect(rpcCodeName(undefined)).toBe('ok');
});

describe('with tracing off', () => {
  it('times unary calls by service, method and code, and passes answers and errors through', async () => {
    const { meter, recorded } = recordingMeter();
    const observed = observe(meter);
    expect(await observed.getRecord(get('a'), handlerContext('GetRecord'))).toEqual({ record: { key: 'a' } });
    const failure = await Promise.resolve(observed.getRecord(get('missing'), handlerContext('GetRecord'))).catch(
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(ConnectError);
    expect(recorded.map((r) => r.labels)).toEqual([
      { service: 'RecordService', method: 'GetRecord', code: 'ok' },
      { service: 'RecordService', method: 'GetRecord', code: 'not_found' },
    ]);
    for (const { seconds } of recorded) expect(seconds).toBeGreaterThanOrEqual(0);
    expect(propagation.fields()).toEqual([]);
  });

  it('times streams once each: read to the end, left early, or failed', async () => {
    const { meter, recorded } = recordingMeter();
    const observed = observe(meter);
    const keys: string[] = [];
    for await (const chunk of observed.scan(scan(), handlerContext('Scan'))) {
      keys.push(...(chunk.records ?? []).map((r) => r.key ?? ''));
    }
    expect(keys).toEqual(['k0', 'k1', 'k2']);
    for await (const chunk of observed.scan(scan(), handlerContext('Scan'))) if (chunk.done !== true) break;
    const stopped = handlerContext('Scan') as HandlerContext & { abort(): void };
    for await (const chunk of observed.scan(scan(), stopped)) {
      expect(chunk).toBeDefined();
      stopped.abort();
      break;
    }
    await expect(async () => {
      for await (const chunk of observed.scan(scan(1n), handlerContext('Scan'))) expect(chunk).toBeDefined();
    }).rejects.toThrow('stop');
    expect(recorded.map((r) => r.labels?.code)).toEqual(['ok', 'ok', 'canceled', 'resource_exhausted']);
  });
});

describe('with tracing on', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

  beforeAll(() => provider.register());
  afterAll(async () => {
    await provider.shutdown();
    trace.disable();
    propagation.disable();
    context.disable();
  });
  beforeEach(() => exporter.reset());

  const traceId = '0af7651916cd43dd8448eb211c80319c';
  const callerSpanId = 'b7ad6b7169203331';
  const traceparent = `00-${traceId}-${callerSpanId}-01`;

  it("continues the caller's trace in a SERVER span, active while the method runs", async () => {
    const observed = observe(recordingMeter().meter);
    await observed.getRecord(get('secret'), handlerContext('GetRecord', { traceparent }));
    const [inside, server] = exporter.getFinishedSpans();
    expect(server).toMatchObject({
      name: 'rosetta.v1.RecordService/GetRecord',
      kind: SpanKind.SERVER,
      attributes: {
        'rpc.system': 'connect_rpc',
        'rpc.service': 'rosetta.v1.RecordService',
        'rpc.method': 'GetRecord',
        'rosetta.space': 'default',
        'rosetta.collection': 'notes',
      },
    });
    expect(server?.spanContext().traceId).toBe(traceId);
    expect(server?.parentSpanContext?.spanId).toBe(callerSpanId);
    expect(inside?.parentSpanContext?.spanId).toBe(server?.spanContext().spanId);
  });

  it('marks failures with the codes only: the message, which may quote a key, stays out', async () => {
    const observed = observe(recordingMeter().meter);
    await expect(Promise.resolve(observed.getRecord(get('missing'), handlerContext('GetRecord')))).rejects.toThrow();
    const server = exporter.getFinishedSpans().find((s) => s.kind === SpanKind.SERVER);
    expect(server?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'not_found' });
    expect(server?.attributes).toMatchObject({
      'rpc.connect_rpc.error_code': 'not_found',
      'rosetta.error_code': 'KEY_NOT_FOUND',
    });
    expect(JSON.stringify([server?.attributes, server?.events])).not.toContain('missing');
    // No parent on the call: a root span of its own.
    expect(server?.parentSpanContext).toBeUndefined();
  });

  it('covers a whole stream, each step of the generator running under the span', async () => {
    const observed = observe(recordingMeter().meter);
    for await (const chunk of observed.scan(scan(), handlerContext('Scan', { traceparent })))
      expect(chunk).toBeDefined();
    const spans = exporter.getFinishedSpans();
    const server = spans.find((s) => s.kind === SpanKind.SERVER);
    expect(server?.parentSpanContext?.spanId).toBe(callerSpanId);
    const steps = spans.filter((s) => s.name.startsWith('step'));
    expect(steps).toHaveLength(3);
    for (const step of steps) expect(step.parentSpanContext?.spanId).toBe(server?.spanContext().spanId);
    expect(spans.at(-1)).toBe(server);
  });
});
