import type { IncomingMessage, ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import { context, metrics, propagation, trace, type Meter } from '@opentelemetry/api';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { RuntimeNodeInstrumentation } from '@opentelemetry/instrumentation-runtime-node';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationType, MeterProvider, type MetricReader, type ViewOptions } from '@opentelemetry/sdk-metrics';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type * as Otlp from './otlp';

/** Bucket bounds (seconds) of every latency histogram: 0.25 ms to 10 s. */
export const LATENCY_BUCKETS = [
  0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
] as const;

type Env = Record<string, string | undefined>;

/** How often the event loop's delay is sampled (ms). */
const EVENT_LOOP_SAMPLE_MS = 20;

/**
 * Metrics recorded and never exported. The runtime instrumentation's `nodejs.eventloop.delay.*`
 * gauges report `monitorEventLoopDelay`'s intervals with the sampling resolution still in them
 * (5.003 s for a loop 3 ms late at its 5 s precision; open-telemetry/opentelemetry-js-contrib#2794),
 * and are cut to whatever happened since the last collection of any reader: Rosetta records
 * `rosetta_event_loop_delay_seconds` instead.
 */
const VIEWS: ViewOptions[] = [
  { instrumentName: 'nodejs.eventloop.delay.*', aggregation: { type: AggregationType.DROP } },
];

/**
 * `rosetta_event_loop_delay_seconds`: how late a timer due every EVENT_LOOP_SAMPLE_MS fired, as
 * a histogram (so p99 over any window is `histogram_quantile`): near 0 for a process keeping up,
 * tens of milliseconds when its loop is saturated or paused by garbage collection. Returns
 * what stops the sampling.
 */
function recordEventLoopDelay(): () => void {
  const histogram = rosettaMeter().createHistogram('rosetta_event_loop_delay_seconds', {
    unit: 's',
    description: `How late a timer due every ${EVENT_LOOP_SAMPLE_MS} ms fired: the time the event loop kept work waiting`,
    advice: { explicitBucketBoundaries: [...LATENCY_BUCKETS] },
  });
  let due = performance.now() + EVENT_LOOP_SAMPLE_MS;
  const timer = setInterval(() => {
    const now = performance.now();
    histogram.record(Math.max(0, now - due) / 1000);
    due = now + EVENT_LOOP_SAMPLE_MS;
  }, EVENT_LOOP_SAMPLE_MS);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * The OTLP half (the NodeSDK, the instrumentations, the OTLP exporters), loaded only when OTLP
 * export is on: a process that only serves /metrics spares its ~25 MB and its start-up time.
 */
function loadOtlp(): typeof Otlp {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on demand, see above
  return require('./otlp') as typeof Otlp;
}

/** `OTEL_SDK_DISABLED=true`: no traces, no metrics (`/metrics` answers 404), nothing instrumented. */
function sdkDisabled(env: Env): boolean {
  return (env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true';
}

function listOf(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((item) => item.trim().toLowerCase())
    .filter((item) => item !== '');
}

/**
 * Whether traces are exported: `OTEL_TRACES_EXPORTER` names an exporter other than `none`, or
 * it is unset and an OTLP endpoint is configured. Otherwise nothing is instrumented at all, so
 * tracing that is off costs nothing.
 */
export function tracingEnabled(env: Env): boolean {
  if (sdkDisabled(env)) return false;
  const exporters = listOf(env.OTEL_TRACES_EXPORTER);
  if (exporters.length > 0) return !exporters.includes('none');
  return (env.OTEL_EXPORTER_OTLP_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? '') !== '';
}

/** Whether metrics are also pushed over OTLP (they are always served on `/metrics`). */
export function otlpMetricsEnabled(env: Env): boolean {
  if (sdkDisabled(env)) return false;
  const exporters = listOf(env.OTEL_METRICS_EXPORTER);
  if (exporters.length > 0) return exporters.includes('otlp');
  return (env.OTEL_EXPORTER_OTLP_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT ?? '') !== '';
}

export interface TelemetryOptions {
  /** `rosetta-<service>` is the OpenTelemetry service name unless `OTEL_SERVICE_NAME` says otherwise. */
  readonly service: string;
  /** The process environment, whose standard `OTEL_*` variables configure OpenTelemetry; none when unset. */
  readonly env?: Env;
  /** Where spans go instead of the exporter `OTEL_*` names (tests use an in-memory exporter). */
  readonly spanProcessors?: SpanProcessor[];
}

export interface Telemetry {
  /** Whether spans are recorded and exported. */
  readonly tracing: boolean;
  /** Whether metrics are collected (not with `OTEL_SDK_DISABLED=true`). */
  readonly metrics: boolean;
  /** Answers a scrape with every metric of the process in Prometheus' text format. */
  serveMetrics(req: IncomingMessage, res: ServerResponse): void;
  /** The same text, for callers that write the response themselves. */
  scrape(): Promise<string>;
  /** Flushes what is buffered (spans, the last metrics push) and stops. */
  shutdown(): Promise<void>;
}

let started: Telemetry | undefined;

/** What `writeMetrics` needs of a response: node:http's and node:http2's compatibility API both fit. */
export interface MetricsResponse {
  writeHead(status: number, headers: Record<string, string>): unknown;
  end(): unknown;
  end(body: string): unknown;
}

/**
 * Answers a scrape with `scrape`'s text (Prometheus' text format), or 500 when collecting fails
 * (`onError` hears why; the body does not say).
 */
export function writeMetrics(
  scrape: () => Promise<string>,
  res: MetricsResponse,
  options: { readonly head?: boolean; readonly onError?: (error: unknown) => void } = {},
): void {
  scrape().then(
    (text) => {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'cache-control': 'no-store' });
      if (options.head === true) res.end();
      else res.end(text);
    },
    (error: unknown) => {
      options.onError?.(error);
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('metrics collection failed\n');
    },
  );
}

/** Names a request's dialect and route template; undefined when no route took it. */
export type RouteNamer = (req: IncomingMessage) => { readonly dialect: string; readonly route: string } | undefined;

let routeNamer: RouteNamer | undefined;

/**
 * Lets HTTP server spans carry the route template (`http.route`, also in place of `url.path`)
 * and the dialect instead of the concrete path: the gateway names its routes with `namer`.
 */
export function nameHttpRoutes(namer: RouteNamer): void {
  routeNamer = namer;
}

/**
 * Starts OpenTelemetry for this process, once: the metrics every process serves on `/metrics`
 * (and pushes over OTLP when configured), and, when `OTEL_*` asks for it, traces from the
 * standard instrumentations of http, Express, GraphQL, pg, ioredis and undici, continued across
 * the record-service calls by Rosetta's own RPC spans. Call it before the instrumented modules
 * are loaded (each app's `instrumentation.ts`, imported first by its main).
 */
export function startTelemetry(options: TelemetryOptions): Telemetry {
  if (started !== undefined) return started;
  const env = options.env ?? {};
  if (sdkDisabled(env) && options.spanProcessors === undefined) {
    started = {
      tracing: false,
      metrics: false,
      scrape: () => Promise.resolve(''),
      serveMetrics(_req, res) {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('metrics are off (OTEL_SDK_DISABLED=true)\n');
      },
      shutdown: () => Promise.resolve(),
    };
    return started;
  }
  const tracing = options.spanProcessors !== undefined || tracingEnabled(env);
  // Before any instrumentation exists: the first one installs the require hook, which would
  // remember node:http (loaded by the OTLP half) unpatched, and the http instrumentation would
  // then never see it.
  const pushMetrics = otlpMetricsEnabled(env);
  const otlp = tracing || pushMetrics ? loadOtlp() : undefined;
  const prometheus = new PrometheusExporter({ preventServerStart: true });
  const readers: MetricReader[] = [prometheus];
  if (otlp !== undefined && pushMetrics) {
    readers.push(otlp.otlpMetricReader(env));
  }
  // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (the env detector) override these; the instance
  // id tells replicas of one service apart.
  const resource = resourceFromAttributes({
    [ATTR_SERVICE_NAME]: `rosetta-${options.service}`,
    'service.instance.id': `${hostname()}/${process.pid}`,
  }).merge(detectResources({ detectors: [envDetector] }));
  const runtime = new RuntimeNodeInstrumentation({ monitoringPrecision: 5000 });
  let stop: () => Promise<void>;
  if (otlp !== undefined && tracing) {
    stop = otlp.startTracing({
      resource,
      readers,
      views: VIEWS,
      runtime,
      nameRoute: (req) => routeNamer?.(req),
      ...(options.spanProcessors === undefined ? {} : { spanProcessors: options.spanProcessors }),
    });
  } else {
    // No SDK: no context manager, no propagator, no patched module; only the meters.
    const provider = new MeterProvider({ resource, readers, views: VIEWS });
    metrics.setGlobalMeterProvider(provider);
    registerInstrumentations({ instrumentations: [runtime], meterProvider: provider });
    stop = () => provider.shutdown();
  }
  rosettaMeter()
    .createObservableGauge('rosetta_process_resident_memory_bytes', {
      unit: 'By',
      description: 'Resident set size of the process',
    })
    .addCallback((result) => result.observe(process.memoryUsage.rss()));
  const stopSampling = recordEventLoopDelay();
  const serializer = new PrometheusSerializer();
  const scrape = async () => {
    const { resourceMetrics } = await prometheus.collect();
    return serializer.serialize(resourceMetrics);
  };
  started = {
    tracing,
    metrics: true,
    scrape,
    serveMetrics: (req, res) => writeMetrics(scrape, res, { head: req.method === 'HEAD' }),
    shutdown: () => {
      stopSampling();
      return stop();
    },
  };
  return started;
}

/** Rosetta's meter. Make instruments with it after `startTelemetry` (before, they record nothing). */
export function rosettaMeter(): Meter {
  return metrics.getMeter('rosetta');
}

/** The trace and span ids of the active span, for log lines; nothing when no span is active. */
export function traceFields(): { trace_id?: string; span_id?: string } {
  const span = trace.getActiveSpan();
  if (span === undefined) return {};
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}

/** The W3C traceparent of the active span, to carry into work done later; empty when none is active. */
export function currentTraceparent(): string {
  if (trace.getActiveSpan() === undefined) return '';
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent ?? '';
}
