import type { DescMethod, DescService } from '@bufbuild/protobuf';
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from '@connectrpc/connect';
import {
  context as otelContext,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Histogram,
  type Meter,
  type Span,
  type TextMapGetter,
} from '@opentelemetry/api';
import { readWireError } from '../errors';
import { requestHeaderValue } from './wire';

/**
 * Traces and metrics of record-service calls, on both ends of the wire. node:http2 has no
 * standard instrumentation, so the RPC client (`createRpcTransport`) and the services (wrapped
 * once by `createRpcObserver`) make the spans and carry the W3C trace context themselves:
 *
 * - CLIENT span `<package.Service>/<Method>` around each call made while a span is active, its
 *   context injected into the request headers (`traceparent`, `tracestate`);
 * - SERVER span of the same name around each call served, child of the caller's span;
 * - `rosetta_rpc_duration_seconds{service,method,code}` for every call served.
 *
 * Attributes name the service, the method and, on the server, the space and collection the
 * request addresses: never a key, a value, a token or an error message (messages quote keys).
 */

/** `rpc.system` of every span: the Connect protocol. */
export const RPC_SYSTEM = 'connect_rpc';

/** The tracer of Rosetta's own spans (a proxy: it follows an SDK registered after this module loads). */
const tracer = trace.getTracer('rosetta');

/** `ok`, or the Connect code in snake case (`not_found`, `failed_precondition`, …), by code. */
const CODE_NAMES: readonly string[] = (() => {
  const names: string[] = ['ok'];
  for (const [name, value] of Object.entries(Code)) {
    if (typeof value === 'number')
      names[value] = name.replace(/[A-Z]/g, (c, at: number) => `${at === 0 ? '' : '_'}${c.toLowerCase()}`);
  }
  return names;
})();

/** The metric label and span attribute of a Connect code (`not_found`), or `ok`. */
export function rpcCodeName(code: Code | undefined): string {
  return code === undefined ? 'ok' : (CODE_NAMES[code] ?? 'unknown');
}

function baseAttributes(method: DescMethod): Attributes {
  return { 'rpc.system': RPC_SYSTEM, 'rpc.service': method.parent.typeName, 'rpc.method': method.name };
}

/** Marks a span failed: the Connect code and the domain code (a closed set), never the message. */
function fail(span: Span, error: unknown): string {
  const wire = readWireError(error);
  const code = rpcCodeName(wire.connectCode);
  span.setAttribute('rpc.connect_rpc.error_code', code);
  if (wire.code !== undefined) span.setAttribute('rosetta.error_code', wire.code);
  span.recordException({ name: 'ConnectError', message: code });
  span.setStatus({ code: SpanStatusCode.ERROR, message: code });
  return code;
}

// ---------------------------------------------------------------------------------------------
// Client side

/**
 * The CLIENT span of a call about to be made, or undefined when no span is active (so when
 * tracing is off: without a context manager there never is one, and asking costs ~40 ns).
 */
export function startClientSpan(
  method: DescMethod,
  server: { readonly address: string; readonly port: number },
): { readonly span: Span; readonly context: Context } | undefined {
  if (trace.getActiveSpan() === undefined) return undefined;
  const active = otelContext.active();
  const span = tracer.startSpan(
    `${method.parent.typeName}/${method.name}`,
    {
      kind: SpanKind.CLIENT,
      attributes: { ...baseAttributes(method), 'server.address': server.address, 'server.port': server.port },
    },
    active,
  );
  return { span, context: trace.setSpan(active, span) };
}

/** Ends a CLIENT span, failed when `error` is given. */
export function endClientSpan(span: Span, error?: unknown): void {
  if (error !== undefined) fail(span, error);
  span.end();
}

// ---------------------------------------------------------------------------------------------
// Server side

/** Reads the trace context off a call's headers without building a Headers object on the lean path. */
const headerGetter: TextMapGetter<HandlerContext> = {
  get: (context, key) => requestHeaderValue(context, key) ?? undefined,
  keys: (context) => [...context.requestHeader.keys()],
};

/** The space and collection a request addresses (names only), when it has them. */
function requestAttributes(method: DescMethod, request: unknown): Attributes {
  const attributes = baseAttributes(method);
  const message = request as { space?: unknown; collection?: unknown } | undefined;
  let space = message?.space;
  let collection = message?.collection;
  if (typeof collection === 'object' && collection !== null) {
    const ref = collection as { space?: unknown; collection?: unknown };
    space = ref.space;
    collection = ref.collection;
  }
  if (typeof space === 'string' && space !== '') attributes['rosetta.space'] = space;
  if (typeof collection === 'string' && collection !== '') attributes['rosetta.collection'] = collection;
  return attributes;
}

/**
 * Whether spans are made. Asked on every call, not once: the SDK may start after the services
 * are wrapped. A registered propagator is the sign (startTelemetry registers the W3C one exactly
 * when tracing is on): `propagation.fields()` costs ~12 ns here, where making a no-op span with
 * the API alone (extract, start, activate, end) cost ~260 ns per call.
 */
function tracing(): boolean {
  return propagation.fields().length !== 0;
}

type Unary = (request: unknown, context: HandlerContext) => unknown;
type Streaming = (request: unknown, context: HandlerContext) => AsyncIterable<unknown>;

/** The label sets of one method, made once per code (a label object per call would cost an allocation). */
class MethodLabels {
  private readonly byCode = new Map<string, Attributes>();
  readonly ok: Attributes;

  constructor(
    private readonly service: string,
    private readonly method: string,
  ) {
    this.ok = { service, method, code: 'ok' };
  }

  of(code: string): Attributes {
    let labels = this.byCode.get(code);
    if (labels === undefined) {
      labels = { service: this.service, method: this.method, code };
      this.byCode.set(code, labels);
    }
    return labels;
  }
}

const codeOf = (error: unknown): string => rpcCodeName(ConnectError.from(error).code);

export interface RpcObserverOptions {
  /** Where `rosetta_rpc_duration_seconds` is made (make the observer after the meter provider is set). */
  readonly meter: Meter;
  /** Bucket bounds of the duration histogram (seconds). */
  readonly latencyBuckets: readonly number[];
}

export interface RpcObserver {
  /**
   * The service's implementation with every method traced and timed. Wrap once and hand the
   * result to every path that serves calls (the lean unary path, Connect's handler, the direct
   * binding), so that each call is observed exactly once whichever path takes it.
   */
  observe<S extends DescService>(service: S, impl: ServiceImpl<S>): ServiceImpl<S>;
}

export function createRpcObserver(options: RpcObserverOptions): RpcObserver {
  const duration: Histogram = options.meter.createHistogram('rosetta_rpc_duration_seconds', {
    unit: 's',
    description: 'Duration of record-service calls served, by service, method and outcome (ok or the Connect code)',
    advice: { explicitBucketBoundaries: [...options.latencyBuckets] },
  });
  const seconds = (started: number) => (performance.now() - started) / 1000;

  function unary(method: DescMethod, handler: Unary): Unary {
    const labels = new MethodLabels(method.parent.name, method.name);
    const name = `${method.parent.typeName}/${method.name}`;
    const traced = async (request: unknown, context: HandlerContext, started: number) => {
      const parent = propagation.extract(otelContext.active(), context, headerGetter);
      const span = tracer.startSpan(
        name,
        { kind: SpanKind.SERVER, attributes: requestAttributes(method, request) },
        parent,
      );
      try {
        const output = await otelContext.with(trace.setSpan(parent, span), handler, undefined, request, context);
        duration.record(seconds(started), labels.ok);
        return output;
      } catch (error) {
        duration.record(seconds(started), labels.of(fail(span, error)));
        throw error;
      } finally {
        span.end();
      }
    };
    return async (request, context) => {
      const started = performance.now();
      if (tracing()) return traced(request, context, started);
      try {
        const output = await handler(request, context);
        duration.record(seconds(started), labels.ok);
        return output;
      } catch (error) {
        duration.record(seconds(started), labels.of(codeOf(error)));
        throw error;
      }
    };
  }

  function serverStreaming(method: DescMethod, handler: Streaming): Streaming {
    const labels = new MethodLabels(method.parent.name, method.name);
    const name = `${method.parent.typeName}/${method.name}`;
    return async function* (request, context) {
      const started = performance.now();
      let span: Span | undefined;
      let active: Context | undefined;
      if (tracing()) {
        const parent = propagation.extract(otelContext.active(), context, headerGetter);
        span = tracer.startSpan(
          name,
          { kind: SpanKind.SERVER, attributes: requestAttributes(method, request) },
          parent,
        );
        active = trace.setSpan(parent, span);
      }
      let code: string | undefined;
      try {
        if (active === undefined) {
          yield* handler(request, context);
        } else {
          // Each step of the generator runs with the span active, so that what it does (queries,
          // cache reads) hangs off the span; between steps the caller's context applies.
          const within = active;
          const iterator = otelContext.with(within, () => handler(request, context)[Symbol.asyncIterator]());
          let finished = false;
          try {
            for (;;) {
              const step = await otelContext.with(within, () => iterator.next());
              if (step.done === true) break;
              yield step.value;
            }
            finished = true;
          } catch (error) {
            finished = true;
            throw error;
          } finally {
            // The reader stopped early: let the generator release what it holds.
            if (!finished) await otelContext.with(within, () => iterator.return?.());
          }
        }
        code = 'ok';
      } catch (error) {
        code = span === undefined ? codeOf(error) : fail(span, error);
        throw error;
      } finally {
        // Neither finished nor failed: the reader stopped reading (a client that went away).
        code ??= context.signal.aborted ? 'canceled' : 'ok';
        duration.record(seconds(started), code === 'ok' ? labels.ok : labels.of(code));
        span?.end();
      }
    };
  }

  return {
    observe<S extends DescService>(service: S, impl: ServiceImpl<S>): ServiceImpl<S> {
      const handlers = impl as unknown as Record<string, Unary | Streaming | undefined>;
      const out: Record<string, Unary | Streaming> = {};
      for (const method of service.methods) {
        const handler = handlers[method.localName];
        if (handler === undefined) continue;
        if (method.methodKind === 'unary') out[method.localName] = unary(method, handler as Unary);
        else if (method.methodKind === 'server_streaming') {
          out[method.localName] = serverStreaming(method, handler as Streaming);
        } else out[method.localName] = handler;
      }
      return out as unknown as ServiceImpl<S>;
    },
  };
}
