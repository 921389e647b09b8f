import { metrics, trace } from '@opentelemetry/api';
import {
  LATENCY_BUCKETS,
  otlpMetricsEnabled,
  rosettaMeter,
  startTelemetry,
  traceFields,
  tracingEnabled,
} from './telemetry';

describe('tracingEnabled', () => {
  it.each([
    [{}, false],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, true],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }, true],
    [{ OTEL_TRACES_EXPORTER: 'otlp' }, true],
    [{ OTEL_TRACES_EXPORTER: 'console,otlp' }, true],
    [{ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, false],
    [{ OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' }, false],
    [{ OTEL_SDK_DISABLED: 'false', OTEL_TRACES_EXPORTER: 'otlp' }, true],
  ])('%j → %s', (env, expected) => {
    expect(tracingEnabled(env)).toBe(expected);
  });
});

describe('otlpMetricsEnabled', () => {
  it.each([
    [{}, false],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, true],
    [{ OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://collector:4318/v1/metrics' }, true],
    [{ OTEL_METRICS_EXPORTER: 'prometheus' }, false],
    [{ OTEL_METRICS_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, false],
    [{ OTEL_SDK_DISABLED: 'TRUE', OTEL_METRICS_EXPORTER: 'otlp' }, false],
  ])('%j → %s', (env, expected) => {
    expect(otlpMetricsEnabled(env)).toBe(expected);
  });
});

describe('startTelemetry without OTEL_* settings', () => {
  const telemetry = startTelemetry({ service: 'unit', env: {} });

  it('records nothing as spans and instruments nothing', () => {
    expect(telemetry.tracing).toBe(false);
    const span = trace.getTracer('unit').startSpan('noop');
    expect(span.isRecording()).toBe(false);
    span.end();
    expect(traceFields()).toEqual({});
  });

  it('is started once per process', () => {
    expect(startTelemetry({ service: 'other', env: {} })).toBe(telemetry);
  });

  it('serves what the meters recorded in Prometheus text format, with the latency buckets', async () => {
    const histogram = rosettaMeter().createHistogram('unit_duration_seconds', {
      unit: 's',
      advice: { explicitBucketBoundaries: [...LATENCY_BUCKETS] },
    });
    histogram.record(0.003, { route: '/x' });
    histogram.record(0.2, { route: '/x' });
    rosettaMeter().createCounter('unit_things_total').add(3, { kind: 'a' });
    const text = await telemetry.scrape();
    expect(text).toMatch(/^unit_duration_seconds_count\{route="\/x",.*\} 2$/m);
    expect(text).toMatch(/^unit_duration_seconds_bucket\{route="\/x",.*le="0\.005"\} 1$/m);
    expect(text).toMatch(/^unit_duration_seconds_bucket\{route="\/x",.*le="0\.25"\} 2$/m);
    expect(text).toMatch(/^unit_things_total\{kind="a",.*\} 3$/m);
    expect(text).toMatch(/^target_info\{service_name="rosetta-unit",service_instance_id="[^"]+\/\d+"\} 1$/m);
    const rss = /^rosetta_process_resident_memory_bytes\{.*\} (\d+)$/m.exec(text)?.[1];
    expect(Number(rss)).toBeGreaterThan(10 * 1024 * 1024);
  });

  it('samples how late the event loop runs', async () => {
    const blockFor = (ms: number) => {
      const until = performance.now() + ms;
      while (performance.now() < until);
    };
    await new Promise((resolve) => setTimeout(resolve, 100));
    blockFor(80);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const text = await telemetry.scrape();
    const count = Number(/^rosetta_event_loop_delay_seconds_count\{.*\} (\d+)$/m.exec(text)?.[1]);
    const upTo25ms = Number(/^rosetta_event_loop_delay_seconds_bucket\{.*le="0\.025"\} (\d+)$/m.exec(text)?.[1]);
    const upTo100ms = Number(/^rosetta_event_loop_delay_seconds_bucket\{.*le="0\.1"\} (\d+)$/m.exec(text)?.[1]);
    // A sample every 20 ms over ~200 ms; the one due during the block fired ~60 ms late.
    expect(count).toBeGreaterThanOrEqual(5);
    expect(upTo25ms).toBeLessThan(count);
    expect(upTo100ms).toBe(count);
    expect(text).toMatch(/^nodejs_eventloop_utilization\{/m);
  });

  it("drops the runtime instrumentation's nodejs.eventloop.delay.* gauges (the resolution left in)", async () => {
    // The instrumentation reports them only after 5 samples of its 5 s resolution: gauges of the
    // same names stand in for them here.
    const meter = metrics.getMeter('@opentelemetry/instrumentation-runtime-node');
    meter.createObservableGauge('nodejs.eventloop.delay.p99', { unit: 's' }).addCallback((r) => r.observe(5.003));
    meter.createObservableGauge('nodejs.eventloop.time', { unit: 's' }).addCallback((r) => r.observe(1));
    const text = await telemetry.scrape();
    expect(text).not.toMatch(/nodejs_eventloop_delay/);
    expect(text).toMatch(/^nodejs_eventloop_time\{.*\} 1$/m);
  });
});
