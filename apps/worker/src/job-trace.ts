import { isSpanContextValid, propagation, ROOT_CONTEXT, trace, type Context } from '@opentelemetry/api';

/**
 * The trace context of the request that created a job, from the W3C `traceparent` the job
 * carries; undefined when it carries none, when it is malformed, or when tracing is off (no
 * propagator is registered then, so nothing is extracted).
 */
export function jobContext(traceparent: string): Context | undefined {
  if (traceparent === '') return undefined;
  const context = propagation.extract(ROOT_CONTEXT, { traceparent });
  const parent = trace.getSpanContext(context);
  return parent !== undefined && isSpanContextValid(parent) ? context : undefined;
}

/**
 * The same context as BullMQ's telemetry metadata (what its producer would have put in the job),
 * so that the run's consumer span is a child of the request's span.
 */
export function jobTraceMetadata(traceparent: string): string | undefined {
  const context = jobContext(traceparent);
  if (context === undefined) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(context, carrier);
  return JSON.stringify(carrier);
}
