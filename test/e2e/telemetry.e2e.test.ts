import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTestDatabase, redisPrefix, type TestDatabase } from '../support/database';
import { authFetch, REDIS_URL, TEST_ADMIN_TOKEN, TEST_INTERNAL_SECRET } from '../support/env';
import { expectEventually } from '../support/expect-eventually';
import { freePort, startService, waitUntilReady, type ServiceProcess } from '../support/processes';

/**
 * Traces, metrics and logs of the cluster shape as an operator's collector sees them: api,
 * worker and gateway run as three processes configured only by the standard OTEL_* variables,
 * exporting OTLP (JSON over HTTP) to a receiver in this test.
 */

jest.setTimeout(120_000);

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: Array<{ key: string; value: Record<string, unknown> }>;
}

interface ReceivedSpan extends OtlpSpan {
  service: string;
}

interface ResourceAttributes {
  resource?: { attributes?: Array<{ key: string; value: { stringValue?: string } }> };
}

const spans: ReceivedSpan[] = [];
const metricNames = new Map<string, Set<string>>();

function serviceOf(resource: ResourceAttributes): string {
  return resource.resource?.attributes?.find((a) => a.key === 'service.name')?.value.stringValue ?? '?';
}

/** An OTLP/HTTP receiver: keeps the spans and the names of the metrics each service pushed. */
function startReceiver(): Promise<Server> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      if (req.url === '/v1/traces') {
        const batches = body.resourceSpans as Array<ResourceAttributes & { scopeSpans: Array<{ spans: OtlpSpan[] }> }>;
        for (const batch of batches) {
          const service = serviceOf(batch);
          for (const scope of batch.scopeSpans) for (const span of scope.spans) spans.push({ ...span, service });
        }
      } else if (req.url === '/v1/metrics') {
        const batches = body.resourceMetrics as Array<
          ResourceAttributes & { scopeMetrics: Array<{ metrics: Array<{ name: string }> }> }
        >;
        for (const batch of batches) {
          const names = metricNames.get(serviceOf(batch)) ?? new Set<string>();
          for (const scope of batch.scopeMetrics) for (const metric of scope.metrics) names.add(metric.name);
          metricNames.set(serviceOf(batch), names);
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

let receiver: Server;
let db: TestDatabase;
let api: ServiceProcess;
let worker: ServiceProcess;
let gateway: ServiceProcess;
let base: string;
const call = authFetch();

beforeAll(async () => {
  receiver = await startReceiver();
  const otel = {
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_BSP_SCHEDULE_DELAY: '100',
    OTEL_METRIC_EXPORT_INTERVAL: '500',
  };
  db = await createTestDatabase();
  const prefix = redisPrefix();
  const [apiPort, gatewayPort, workerPort] = [await freePort(), await freePort(), await freePort()];
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  api = startService('api', 'apps/api/dist/main.js', {
    ...otel,
    API_PORT: String(apiPort),
    DATABASE_URL: db.url,
    REDIS_URL,
    REDIS_PREFIX: prefix,
    MIGRATE_ON_START: 'true',
    ROSETTA_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    ROSETTA_INTERNAL_SECRET: TEST_INTERNAL_SECRET,
    LOG_LEVEL: 'warn',
  });
  worker = startService('worker', 'apps/worker/dist/main.js', {
    ...otel,
    API_URL: apiUrl,
    REDIS_URL,
    REDIS_PREFIX: prefix,
    WORKER_HEALTH_PORT: String(workerPort),
    RELAY_INTERVAL_MS: '100',
    JOB_POLL_MS: '100',
    ROSETTA_INTERNAL_SECRET: TEST_INTERNAL_SECRET,
    LOG_LEVEL: 'warn',
  });
  gateway = startService('gateway', 'apps/gateway/dist/main.js', {
    ...otel,
    PORT: String(gatewayPort),
    API_URL: apiUrl,
    REDIS_URL,
    REDIS_PREFIX: prefix,
    LOG_LEVEL: 'info',
  });
  base = `http://127.0.0.1:${gatewayPort}`;
  await waitUntilReady(gateway, `${base}/readyz`);
  await waitUntilReady(worker, `http://127.0.0.1:${workerPort}/readyz`);
  const created = await call(`${base}/v1/spaces/default/collections`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'traced' }),
  });
  expect(created.status).toBe(201);
});

afterAll(async () => {
  await Promise.all([gateway, worker, api].filter(Boolean).map((s) => s.stop()));
  await db?.drop();
  await new Promise((resolve) => receiver?.close(resolve));
});

/** A W3C traceparent with a fresh trace id, as an upstream proxy or client would send it. */
function traceparent(): { header: string; traceId: string; spanId: string } {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { header: `00-${traceId}-${spanId}-01`, traceId, spanId };
}

const trace = (traceId: string) => spans.filter((s) => s.traceId === traceId);
const SERVER = 2;
const CLIENT = 3;

it('one request yields one connected span tree across gateway, api and Postgres', async () => {
  const parent = traceparent();
  const put = await call(`${base}/v1/spaces/default/collections/traced/records/secret-key-1`, {
    method: 'PUT',
    headers: { 'content-type': 'text/plain', traceparent: parent.header },
    body: 'secret-value-1',
  });
  expect(put.status).toBe(201);

  // The processes export in batches of their own: wait until the whole tree has arrived.
  const tree = await expectEventually(
    () => {
      const found = trace(parent.traceId);
      expect(found.some((s) => s.service === 'rosetta-api' && s.name.startsWith('pg'))).toBe(true);
      const ids = new Set(found.map((s) => s.spanId));
      // Every span hangs off another span of the tree, or off the caller's span.
      for (const span of found) expect([parent.spanId, ...ids]).toContain(span.parentSpanId);
      return found;
    },
    { timeoutMs: 15_000, intervalMs: 100 },
  );
  const root = tree.find((s) => s.parentSpanId === parent.spanId);
  expect(root).toMatchObject({ service: 'rosetta-gateway', kind: SERVER });
  // Named by its route template, with the dialect.
  expect(root?.name).toMatch(/^PUT \/v1\/spaces\/:space\/collections\/:collection\/records\/\*key$/);
  expect(root?.attributes).toContainEqual({ key: 'rosetta.dialect', value: { stringValue: 'v1' } });
  // The write's call (an Authenticate call precedes it when the caller's grant has to be renewed).
  const isPut = (s: ReceivedSpan) => s.name.endsWith('/PutRecord');
  const rpcClient = tree.find((s) => s.service === 'rosetta-gateway' && s.kind === CLIENT && isPut(s));
  const rpcServer = tree.find((s) => s.service === 'rosetta-api' && s.kind === SERVER && isPut(s));
  expect(rpcClient).toBeDefined();
  expect(rpcServer?.parentSpanId).toBe(rpcClient?.spanId);
  const descendsFrom = (span: ReceivedSpan, ancestor: ReceivedSpan | undefined): boolean => {
    const up = tree.find((s) => s.spanId === span.parentSpanId);
    return up === undefined ? false : up.spanId === ancestor?.spanId || descendsFrom(up, ancestor);
  };
  // Every database span belongs to one of the api's calls, and the write's to the write's call.
  const apiCalls = tree.filter((s) => s.service === 'rosetta-api' && s.kind === SERVER);
  const pg = tree.filter((s) => s.service === 'rosetta-api' && s.name.startsWith('pg'));
  expect(pg.every((span) => apiCalls.some((call) => descendsFrom(span, call)))).toBe(true);
  expect(pg.some((span) => span.name.startsWith('pg.query:records.put') && descendsFrom(span, rpcServer))).toBe(true);
  // Names and attributes carry collections and operations, never keys or values.
  const text = JSON.stringify(tree);
  expect(text).not.toContain('secret-key-1');
  expect(text).not.toContain('secret-value-1');
  expect(text).not.toContain(TEST_ADMIN_TOKEN);
});

it('continues the trace of the request that started a bulk delete into the worker that runs it', async () => {
  const put = await call(`${base}/v1/spaces/default/collections/traced/records/doomed-1`, { method: 'PUT', body: 'x' });
  expect(put.status).toBe(201);
  const parent = traceparent();
  const started = await call(`${base}/v1/spaces/default/collections/traced/delete-jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', traceparent: parent.header },
    body: JSON.stringify({ prefix: 'doomed-' }),
  });
  expect(started.status).toBe(202);
  await expectEventually(
    () => {
      const run = trace(parent.traceId).filter((s) => s.service === 'rosetta-worker');
      expect(run.length).toBeGreaterThan(0);
      // The worker's calls to the record service are in the same trace.
      expect(trace(parent.traceId).some((s) => s.service === 'rosetta-api' && s.name.includes('RunJobStep'))).toBe(
        true,
      );
    },
    { timeoutMs: 20_000, intervalMs: 100 },
  );
});

it("writes the request's trace id on its access-log line", async () => {
  const parent = traceparent();
  const got = await call(`${base}/v1/spaces/default/collections/traced/records/secret-key-1`, {
    headers: { traceparent: parent.header },
  });
  expect(got.status).toBe(200);
  const line = await expectEventually(() => {
    const found = gateway
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.msg === 'request' && l.trace_id === parent.traceId);
    expect(found).toBeDefined();
    return found as Record<string, unknown>;
  });
  expect(line).toMatchObject({ status: 200, method: 'GET', span_id: expect.stringMatching(/^[0-9a-f]{16}$/) });
});

it('pushes each process’s metrics over OTLP', async () => {
  await expectEventually(
    () => {
      expect(metricNames.get('rosetta-gateway')).toContain('rosetta_http_request_duration_seconds');
      expect(metricNames.get('rosetta-api')).toContain('rosetta_rpc_duration_seconds');
      expect(metricNames.get('rosetta-worker')).toContain('rosetta_process_resident_memory_bytes');
      for (const service of ['rosetta-gateway', 'rosetta-api', 'rosetta-worker'])
        expect({ service, delay: metricNames.get(service)?.has('rosetta_event_loop_delay_seconds') }).toEqual({
          service,
          delay: true,
        });
    },
    { timeoutMs: 15_000, intervalMs: 100 },
  );
});
