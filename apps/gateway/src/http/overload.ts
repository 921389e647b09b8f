import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { DomainError } from '@rosetta/core';
import { rosettaMeter } from '@rosetta/platform';

/** What the HTTP server allows slow clients and a busy process (see docs/deployment.md). */
export interface ServerLimits {
  /** Time for a request's headers to arrive (ms): a slowloris client is answered 408 and cut. */
  readonly headersTimeoutMs: number;
  /** Time for a whole request, headers and body, to arrive (ms): a trickled upload is cut. */
  readonly requestTimeoutMs: number;
  /** How long an idle keep-alive connection is kept (ms). */
  readonly keepAliveTimeoutMs: number;
  /** Requests answered at once (streams not counted); past it new requests are answered 503. 0: no cap. */
  readonly maxInflight: number;
  /** Event-loop delay (ms) past which new requests are answered 503 until it recovers. 0: not watched. */
  readonly maxEventLoopDelayMs: number;
  /** A streamed response whose written chunk is not taken by the client in this long is cut (ms). */
  readonly streamStallMs: number;
  /** Streamed responses open at once; past it a new one is refused (UNAVAILABLE). 0: no cap. */
  readonly maxStreams: number;
  /** Streamed responses open at once for one client address; past it RATE_LIMITED. 0: no cap. */
  readonly maxStreamsPerClient: number;
}

export const DEFAULT_SERVER_LIMITS: ServerLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  keepAliveTimeoutMs: 5_000,
  maxInflight: 1024,
  maxEventLoopDelayMs: 0,
  streamStallMs: 30_000,
  maxStreams: 256,
  maxStreamsPerClient: 16,
};

/** Paths never shed: probes and scrapes must see the process as it is. */
const EXEMPT: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

/** Seconds a shed or refused caller is told to wait. */
const RETRY_AFTER_SECONDS = 1;

const SHED_BODY = JSON.stringify({
  error: { code: 'UNAVAILABLE', message: 'the gateway is overloaded; retry shortly' },
});

type ShedReason = 'inflight' | 'event_loop' | 'streams' | 'client_streams';

const ADMISSION = Symbol('rosetta.admission');

/** One admitted request: counted in flight until its response closes, or as a stream once it became one. */
interface Admission {
  readonly gate: OverloadGate;
  readonly res: ServerResponse;
  /** performance.now() when a sweep first saw the stream waiting for its client to read; unset once it read. */
  blockedSince: number | undefined;
  /** The client address a stream is counted against, once the request became a stream. */
  stream: string | undefined;
  /** Set when its response closed: a stream opened after that (the client left first) is not counted. */
  released: boolean;
}

interface Admitted {
  [ADMISSION]?: Admission;
}

/**
 * The gateway's guard against overload, in front of every dialect: a cap on requests in flight
 * and, optionally, on event-loop delay, past which a request is answered 503 before anything
 * reads its body; caps on streamed responses (global and per client address); the stall limit
 * of streams: a sweep every quarter of it cuts a stream whose client has not taken what was
 * written (its buffer over the high-water mark, no 'drain' since) for the whole limit.
 *
 * - `rosetta_gateway_shed_total` (counter): requests refused, by `reason` (inflight, event_loop,
 *   streams, client_streams);
 * - `rosetta_gateway_stream_stalls_total` (counter): streams cut because the client stopped reading;
 * - `rosetta_gateway_streams_open` (up-down counter): streamed responses being written.
 */
export class OverloadGate {
  private inflight = 0;
  private streams = 0;
  private readonly perClient = new Map<string, number>();
  private lagging = false;
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly sweeper: NodeJS.Timeout;
  private readonly open = new Set<Admission>();
  private readonly shed;
  private readonly stalls;

  constructor(
    readonly limits: ServerLimits,
    private readonly clientAddress: (req: IncomingMessage) => string,
  ) {
    const meter = rosettaMeter();
    this.shed = meter.createCounter('rosetta_gateway_shed_total', {
      description: 'Requests refused with 503 or 429 because the gateway was overloaded, by reason',
    });
    this.stalls = meter.createCounter('rosetta_gateway_stream_stalls_total', {
      description: 'Streamed responses cut because the client stopped reading',
    });
    meter
      .createObservableUpDownCounter('rosetta_gateway_streams_open', {
        description: 'Streamed responses being written',
      })
      .addCallback((result) => result.observe(this.streams));
    if (limits.maxEventLoopDelayMs > 0) {
      // A tick that comes late by more than the limit marks the loop as lagging until one is on time.
      const every = Math.min(500, Math.max(20, Math.floor(limits.maxEventLoopDelayMs / 2)));
      let last = performance.now();
      this.timer = setInterval(() => {
        const now = performance.now();
        this.lagging = now - last - every > limits.maxEventLoopDelayMs;
        last = now;
      }, every);
      this.timer.unref();
    }
    this.sweeper = setInterval(() => this.sweep(), Math.max(10, Math.floor(limits.streamStallMs / 4)));
    this.sweeper.unref();
  }

  /**
   * Admits a request, or answers it 503 with Retry-After at once (its body unread: the
   * connection is closed after the answer when one is coming). Health checks and /metrics are
   * always admitted, and not counted.
   */
  admit(req: IncomingMessage, res: ServerResponse): boolean {
    if (EXEMPT.has(pathOf(req.url ?? ''))) return true;
    const { maxInflight } = this.limits;
    const reason =
      maxInflight > 0 && this.inflight >= maxInflight ? 'inflight' : this.lagging ? 'event_loop' : undefined;
    if (reason !== undefined) {
      this.refuse(req, res, reason);
      return false;
    }
    const admission: Admission = { gate: this, res, blockedSince: undefined, stream: undefined, released: false };
    (req as Admitted)[ADMISSION] = admission;
    this.inflight += 1;
    res.once('close', () => this.release(admission));
    return true;
  }

  /** Stops the event-loop watch and the stall sweep. */
  close(): void {
    clearInterval(this.timer);
    clearInterval(this.sweeper);
  }

  /** Counts a request as a stream instead of in flight; throws when a cap is reached. */
  openStream(req: IncomingMessage, admission: Admission): void {
    if (admission.stream !== undefined || admission.released) return;
    const client = this.clientAddress(req);
    const refused = this.claimStream(client);
    if (refused === 'streams') {
      throw new DomainError('UNAVAILABLE', 'stream cap reached', {
        publicMessage: 'too many streams are open; retry shortly',
        retryAfterSeconds: RETRY_AFTER_SECONDS,
      });
    }
    if (refused === 'client_streams') {
      throw new DomainError('RATE_LIMITED', 'per-client stream cap reached', {
        publicMessage: `at most ${this.limits.maxStreamsPerClient} streams may be open at once; retry when one has ended`,
        retryAfterSeconds: RETRY_AFTER_SECONDS,
      });
    }
    this.inflight -= 1;
    admission.stream = client;
    this.open.add(admission);
    admission.res.on('drain', () => {
      admission.blockedSince = undefined;
    });
  }

  /**
   * Counts a WebSocket upgrade (GraphQL subscriptions, the Rivet watch) against the caps on
   * streams until its socket closes; past a cap, answers the handshake 503 or 429 with
   * Retry-After, closes the socket and answers false. Streams and WebSockets share the caps.
   */
  admitUpgrade(req: IncomingMessage, socket: Duplex): boolean {
    const client = this.clientAddress(req);
    const refused = this.claimStream(client);
    if (refused !== undefined) {
      const [status, code, message] =
        refused === 'streams'
          ? ['503 Service Unavailable', 'UNAVAILABLE', 'too many streams are open; retry shortly']
          : [
              '429 Too Many Requests',
              'RATE_LIMITED',
              `at most ${this.limits.maxStreamsPerClient} streams may be open at once; retry when one has ended`,
            ];
      const body = JSON.stringify({ error: { code, message } });
      socket.end(
        `HTTP/1.1 ${status}\r\nContent-Type: application/json; charset=utf-8\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nRetry-After: ${RETRY_AFTER_SECONDS}\r\n` +
          `Connection: close\r\n\r\n${body}`,
      );
      return false;
    }
    socket.once('close', () => this.releaseStream(client));
    return true;
  }

  /** Takes a stream slot for `client`, or answers the cap that refuses it (counted as shed). */
  private claimStream(client: string): 'streams' | 'client_streams' | undefined {
    const { maxStreams, maxStreamsPerClient } = this.limits;
    const open = this.perClient.get(client) ?? 0;
    const refused =
      maxStreams > 0 && this.streams >= maxStreams
        ? 'streams'
        : maxStreamsPerClient > 0 && open >= maxStreamsPerClient
          ? 'client_streams'
          : undefined;
    if (refused !== undefined) {
      this.shed.add(1, { reason: refused });
      return refused;
    }
    this.perClient.set(client, open + 1);
    this.streams += 1;
    return undefined;
  }

  private releaseStream(client: string): void {
    this.streams -= 1;
    const open = (this.perClient.get(client) ?? 1) - 1;
    if (open === 0) this.perClient.delete(client);
    else this.perClient.set(client, open);
  }

  /** Cuts the streams whose client has taken nothing for the stall limit. */
  private sweep(): void {
    const now = performance.now();
    for (const admission of this.open) {
      if (!admission.res.writableNeedDrain) admission.blockedSince = undefined;
      else if (admission.blockedSince === undefined) admission.blockedSince = now;
      else if (now - admission.blockedSince >= this.limits.streamStallMs) {
        this.stalls.add(1);
        admission.res.destroy();
      }
    }
  }

  private release(admission: Admission): void {
    admission.released = true;
    const client = admission.stream;
    if (client === undefined) {
      this.inflight -= 1;
      return;
    }
    this.open.delete(admission);
    this.releaseStream(client);
  }

  private refuse(req: IncomingMessage, res: ServerResponse, reason: ShedReason): void {
    this.shed.add(1, { reason });
    res.statusCode = 503;
    res.setHeader('content-type', 'application/json; charset=utf-8');
    res.setHeader('content-length', Buffer.byteLength(SHED_BODY));
    res.setHeader('retry-after', String(RETRY_AFTER_SECONDS));
    // An unread body would have to be read to keep the connection: close it instead.
    if (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined) {
      res.setHeader('connection', 'close');
    }
    res.end(SHED_BODY);
  }
}

function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/**
 * Marks a response as a stream before its first byte: it no longer counts in flight, and counts
 * against the caps on streams. Throws DomainError UNAVAILABLE (every stream slot taken) or
 * RATE_LIMITED (the client's slots taken), with Retry-After, for the dialect to render. Outside
 * the gateway's server (a bare listener in tests) nothing is counted.
 */
export function openStream(res: ServerResponse): void {
  const admission = (res.req as Admitted)[ADMISSION];
  admission?.gate.openStream(res.req, admission);
}
