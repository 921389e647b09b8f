import { startTelemetry } from '@rosetta/platform';
import { jobContext, jobTraceMetadata } from './job-trace';

// Metrics only: without tracing no propagator is registered.
const telemetry = startTelemetry({ service: 'worker-unit', env: {} });

afterAll(() => telemetry.shutdown());

describe('job trace context', () => {
  it('is nothing when the job carries no traceparent, or tracing is off', () => {
    expect(jobContext('')).toBeUndefined();
    expect(jobTraceMetadata('')).toBeUndefined();
    // No propagator is registered without tracing: a traceparent is not even read.
    expect(jobTraceMetadata('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01')).toBeUndefined();
  });
});
