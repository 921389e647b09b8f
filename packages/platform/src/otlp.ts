import { IncomingMessage } from 'node:http';
import { createNoopMeter, type MeterProvider } from '@opentelemetry/api';
import { OTLPMetricExporter as GrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as JsonMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtobufMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { ExpressInstrumentation, ExpressLayerType } from '@opentelemetry/instrumentation-express';
import { GraphQLInstrumentation } from '@opentelemetry/instrumentation-graphql';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import type { RuntimeNodeInstrumentation } from '@opentelemetry/instrumentation-runtime-node';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import type { Resource } from '@opentelemetry/resources';
import {
  PeriodicExportingMetricReader,
  type MetricReader,
  type PushMetricExporter,
  type ViewOptions,
} from '@opentelemetry/sdk-metrics';
import { NodeSDK } from '@opentelemetry/sdk-node';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';

/** The process environment (OTEL_* variables). */
type Env = Record<string, string | undefined>;

/** Paths of the health checks and the scrape, which get no spans of their own. */
const PLUMBING = new Set(['/healthz', '/readyz', '/metrics']);

/** The OTLP metric exporter of the protocol OTEL_EXPORTER_OTLP_(METRICS_)PROTOCOL names (`http/protobuf` by default). */
function otlpMetricExporter(env: Env): PushMetricExporter {
  const protocol = (env.OTEL_EXPORTER_OTLP_METRICS_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? '').trim();
  if (protocol === 'http/json') return new JsonMetricExporter();
  if (protocol === 'grpc') return new GrpcMetricExporter();
  return new ProtobufMetricExporter();
}

/** Pushes the metrics over OTLP every OTEL_METRIC_EXPORT_INTERVAL ms (60 s). */
export function otlpMetricReader(env: Env): MetricReader {
  return new PeriodicExportingMetricReader({
    exporter: otlpMetricExporter(env),
    exportIntervalMillis: Number(env.OTEL_METRIC_EXPORT_INTERVAL ?? 60_000),
  });
}

export interface TracingOptions {
  readonly resource: Resource;
  readonly readers: MetricReader[];
  /** The metric views (instruments dropped, …), as the metrics-only provider has them. */
  readonly views: ViewOptions[];
  readonly runtime: RuntimeNodeInstrumentation;
  /** A request's dialect and route template, for its HTTP server span. */
  readonly nameRoute: (req: IncomingMessage) => { readonly dialect: string; readonly route: string } | undefined;
  /** Instead of the exporter OTEL_* names. */
  readonly spanProcessors?: SpanProcessor[];
}

/** Starts the NodeSDK with the standard instrumentations; returns what shuts it down. */
export function startTracing(options: TracingOptions): () => Promise<void> {
  const instrumentations = [
    options.runtime,
    new HttpInstrumentation({
      ignoreIncomingRequestHook: (req) => PLUMBING.has((req.url ?? '').split('?', 1)[0] ?? ''),
      applyCustomAttributesOnSpan: (span, request) => {
        if (!(request instanceof IncomingMessage)) return;
        const named = options.nameRoute(request);
        if (named === undefined) return;
        // The template replaces the concrete path, which holds keys, users and collections.
        span.setAttribute('http.route', named.route);
        span.setAttribute('url.path', named.route);
        span.setAttribute('rosetta.dialect', named.dialect);
        span.updateName(`${request.method ?? 'HTTP'} ${named.route}`);
      },
    }),
    new ExpressInstrumentation({ ignoreLayersType: [ExpressLayerType.MIDDLEWARE] }),
    new GraphQLInstrumentation({ mergeItems: true, ignoreTrivialResolveSpans: true }),
    new PgInstrumentation({ enhancedDatabaseReporting: false }),
    // The command's name only: its arguments are keys and values.
    new IORedisInstrumentation({ dbStatementSerializer: (command) => command }),
    new UndiciInstrumentation(),
  ];
  const sdk = new NodeSDK({
    resource: options.resource,
    autoDetectResources: false,
    metricReaders: options.readers,
    views: options.views,
    logRecordProcessors: [],
    instrumentations,
    ...(options.spanProcessors === undefined ? {} : { spanProcessors: options.spanProcessors }),
  });
  sdk.start();
  // Rosetta records its own request, RPC, database and cache metrics (the catalog); the
  // instrumentations' copies of them would only cost time on every request.
  const noMetrics: MeterProvider = { getMeter: () => createNoopMeter() };
  for (const instrumentation of instrumentations) {
    if (instrumentation !== options.runtime) instrumentation.setMeterProvider(noMetrics);
  }
  // Shut down, nothing stays patched (undici's diagnostics channels are the process's own).
  return async () => {
    await sdk.shutdown();
    for (const instrumentation of instrumentations) instrumentation.disable();
  };
}
