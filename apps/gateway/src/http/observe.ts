import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { LATENCY_BUCKETS, nameHttpRoutes, rosettaMeter, type Logger } from '@rosetta/platform';

/** The `dialect` label: who answered a request. `meta`: health checks, /metrics, the OpenAPI document, no route. */
export type DialectLabel = 'v1' | 'graphql' | 'kopano' | 'rivet' | 'prosody' | 'openfn' | 'dvid' | 'meta';

export const DIALECT_LABELS: readonly DialectLabel[] = [
  'v1',
  'graphql',
  'kopano',
  'rivet',
  'prosody',
  'openfn',
  'dvid',
  'meta',
];

/** The route of a request no route took. */
export const UNMATCHED = 'unmatched';

/** The route of a CORS preflight, which a CORS policy answers before any route. */
export const PREFLIGHT = 'preflight';

/** Methods that are their own label value; any other is `OTHER`. */
const METHODS: ReadonlySet<string> = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'PATCH',
  'DELETE',
  'OPTIONS',
  'CONNECT',
  'TRACE',
]);

/** An incoming X-Request-Id that is kept; others are replaced by a fresh id. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Status of a response that was never started: the client went away first (nginx's 499). */
const CLIENT_CLOSED = 499;

const EXCHANGE = Symbol('rosetta.exchange');

/**
 * What the gateway knows of one request while it runs: set by the listener when it arrives,
 * named by the route that takes it, read once when its response closes. One object per request
 * and no closure: the `close` listener is shared, and finds it on the request.
 */
class Exchange {
  /** The `dialect` label of the histogram (the route may still make it `meta`). */
  dialect: DialectLabel = 'meta';
  /** The route template, once a route named it. */
  route: string | undefined = undefined;
  /** The dialect counted in flight, once counted. */
  inFlight: DialectLabel | undefined = undefined;
  closed = false;

  constructor(
    readonly id: string,
    readonly start: number,
    /** `req.url` as it arrived (Express rewrites it inside mounted routers). */
    readonly url: string,
    /** The client's address, when the access log wants it (read early: a closed socket forgets it). */
    readonly remote: string | undefined,
  ) {}
}

interface Observed {
  [EXCHANGE]?: Exchange;
}

/** The id of a request (its X-Request-Id), for log lines about it; undefined outside the gateway's listener. */
export function requestIdOf(req: IncomingMessage): string | undefined {
  return (req as Observed)[EXCHANGE]?.id;
}

/**
 * Names the route template a request reached (`/store/:user/*key`): a bounded value, never a
 * key, a user or a collection. Routes call it as soon as they know, before anything can fail.
 */
export function routeIs(req: IncomingMessage, route: string): void {
  const exchange = (req as Observed)[EXCHANGE];
  if (exchange !== undefined) exchange.route = route;
}

/** Marks a request no route took: it is counted as `meta`, route `unmatched`. */
export function unmatched(req: IncomingMessage): void {
  const exchange = (req as Observed)[EXCHANGE];
  if (exchange === undefined) return;
  exchange.dialect = 'meta';
  exchange.route = UNMATCHED;
}

/** The path of a URL, without its query (which may carry credentials). */
export function pathOfUrl(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/** The route template Express matched (its route's path), if one did. */
function expressRoute(req: IncomingMessage): string | undefined {
  const path = (req as { route?: { path?: unknown } }).route?.path;
  return typeof path === 'string' ? path : undefined;
}

/** A request's dialect and route template as the metrics label them; undefined outside the listener. */
function routeOf(req: IncomingMessage): { dialect: DialectLabel; route: string } | undefined {
  const exchange = (req as Observed)[EXCHANGE];
  if (exchange === undefined) return undefined;
  return { dialect: exchange.dialect, route: exchange.route ?? expressRoute(req) ?? UNMATCHED };
}

export interface ObserverOptions {
  readonly logger: Logger;
  /** One `request` line per request at info level. */
  readonly accessLog: boolean;
  /** The client's address for the access log (X-Forwarded-For from trusted proxies). */
  readonly clientAddress?: (req: IncomingMessage) => string;
}

/**
 * Request metrics and the access log of the gateway's listener: `begin` when a request
 * arrives, `dispatched` once a dialect took it; the rest happens when its response closes
 * (finished, or the client went away). Instruments are made here, so the observer must be
 * made after `startTelemetry` (before it, they record nothing).
 *
 * - `rosetta_http_request_duration_seconds` (histogram): dialect, route (a template), method,
 *   status (`499` when the client left before any answer);
 * - `rosetta_http_requests_in_flight` (up-down counter): dialect. Kept in plain counters and
 *   observed at collection, so a request costs no metric call for it.
 */
export class RequestObserver {
  private readonly inFlight: Record<DialectLabel, number> = {
    v1: 0,
    graphql: 0,
    kopano: 0,
    rivet: 0,
    prosody: 0,
    openfn: 0,
    dvid: 0,
    meta: 0,
  };
  private readonly duration;
  /** The shared `close` listener (`this` is the response). */
  private readonly onClose: (this: ServerResponse) => void;

  constructor(private readonly options: ObserverOptions) {
    const meter = rosettaMeter();
    this.duration = meter.createHistogram('rosetta_http_request_duration_seconds', {
      unit: 's',
      description: 'Time from a request arriving to its response ending, by dialect, route template, method and status',
      advice: { explicitBucketBoundaries: [...LATENCY_BUCKETS] },
    });
    meter
      .createObservableUpDownCounter('rosetta_http_requests_in_flight', {
        description: 'Requests being answered, by dialect',
      })
      .addCallback((result) => {
        for (const dialect of DIALECT_LABELS) result.observe(this.inFlight[dialect], { dialect });
      });
    nameHttpRoutes(routeOf);
    const closed = (res: ServerResponse) => this.closed(res);
    this.onClose = function (this: ServerResponse) {
      closed(this);
    };
  }

  /**
   * A request arrived: its id (a valid incoming X-Request-Id, else a fresh one) is echoed in
   * the response's X-Request-Id, and its clock starts.
   */
  begin(req: IncomingMessage, res: ServerResponse): void {
    const incoming = req.headers['x-request-id'];
    const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    const remote = this.logs() ? (this.options.clientAddress?.(req) ?? req.socket.remoteAddress) : undefined;
    (req as Observed)[EXCHANGE] = new Exchange(id, performance.now(), req.url ?? '', remote);
    res.setHeader('x-request-id', id);
    res.on('close', this.onClose);
  }

  /** A dialect took the request: it counts in flight until its response closes. */
  dispatched(req: IncomingMessage, dialect: DialectLabel): void {
    const exchange = (req as Observed)[EXCHANGE];
    if (exchange === undefined) return;
    exchange.dialect = dialect;
    if (exchange.closed) return;
    exchange.inFlight = dialect;
    this.inFlight[dialect] += 1;
  }

  /** Whether access-log lines are written (ACCESS_LOG, and a level that lets info through). */
  private logs(): boolean {
    return this.options.accessLog && this.options.logger.isLevelEnabled('info');
  }

  private closed(res: ServerResponse): void {
    const req = res.req;
    const exchange = (req as Observed)[EXCHANGE];
    if (exchange === undefined || exchange.closed) return;
    exchange.closed = true;
    const seconds = (performance.now() - exchange.start) / 1000;
    if (exchange.inFlight !== undefined) this.inFlight[exchange.inFlight] -= 1;
    const route = exchange.route ?? expressRoute(req) ?? UNMATCHED;
    const method = req.method !== undefined && METHODS.has(req.method) ? req.method : 'OTHER';
    const status = res.headersSent ? res.statusCode : CLIENT_CLOSED;
    this.duration.record(seconds, { dialect: exchange.dialect, route, method, status: String(status) });
    if (!this.logs()) return;
    // The body's declared length: cheap, and absent for streamed answers (undefined is not written).
    const length = method === 'HEAD' ? undefined : res.getHeader('content-length');
    this.options.logger.info(
      {
        request_id: exchange.id,
        method: req.method,
        route,
        path: pathOfUrl(exchange.url),
        status,
        duration_ms: Math.round(seconds * 1_000_000) / 1000,
        bytes: length === undefined ? undefined : Number(length),
        dialect: exchange.dialect,
        remote: exchange.remote,
      },
      'request',
    );
  }
}
