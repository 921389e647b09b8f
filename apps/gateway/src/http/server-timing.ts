import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';

/**
 * The gateway's Server-Timing (SERVER_TIMING): every response says
 *
 *     Server-Timing: db;dur=0.84, cache;dur=0.21, api;dur=2.10, total;dur=3.02
 *
 * `total` is the gateway's time from the request's arrival until its headers leave; `db` and
 * `cache` are what the record service reported for the calls made for the request (its own
 * SERVER_TIMING), and `api` the time the gateway waited on those calls, summed over them. A
 * request that made no unary call that reported (health checks, errors found before any call,
 * streamed listings) gets `total` alone. Nothing here runs when the setting is off.
 */

/** One metric of a Server-Timing header: its name and its `dur` in ms (0 when it has none). */
export interface ServerTimingMetric {
  readonly name: string;
  readonly dur: number;
}

/** What a request spent in the record service (ms), summed over the calls that reported. */
export class RequestTiming {
  db = 0;
  cache = 0;
  api = 0;
  /** Calls whose timing was added. */
  calls = 0;

  add(other: RequestTiming): void {
    this.db += other.db;
    this.cache += other.cache;
    this.api += other.api;
    this.calls += other.calls;
  }

  /** The response's header value, once the request took `totalMs`. */
  header(totalMs: number): string {
    const metrics: ServerTimingMetric[] =
      this.calls === 0
        ? [{ name: 'total', dur: totalMs }]
        : [
            { name: 'db', dur: this.db },
            { name: 'cache', dur: this.cache },
            { name: 'api', dur: this.api },
            { name: 'total', dur: totalMs },
          ];
    return formatServerTiming(metrics);
  }
}

/** `name;dur=1.23, …` (W3C Server-Timing), durations in ms with 2 decimals. */
export function formatServerTiming(metrics: readonly ServerTimingMetric[]): string {
  return metrics.map(({ name, dur }) => `${name};dur=${dur.toFixed(2)}`).join(', ');
}

/** Splits on `separator` outside double-quoted strings (where `\` escapes the next character). */
function split(text: string, separator: string): string[] {
  const parts: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === separator) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/**
 * The metrics of a Server-Timing header value, in order. As the W3C processing model says: a
 * metric's first `dur` counts and later ones are ignored; a missing or unparsable one is 0;
 * other parameters (`desc`) are skipped; entries without a name are dropped.
 */
export function parseServerTiming(value: string): ServerTimingMetric[] {
  const metrics: ServerTimingMetric[] = [];
  for (const entry of split(value, ',')) {
    const [first = '', ...params] = split(entry, ';');
    const name = first.trim();
    if (name === '') continue;
    let dur: number | undefined;
    for (const param of params) {
      const at = param.indexOf('=');
      if (at === -1 || param.slice(0, at).trim().toLowerCase() !== 'dur') continue;
      let raw = param.slice(at + 1).trim();
      if (raw.startsWith('"') && raw.endsWith('"') && raw.length >= 2) raw = raw.slice(1, -1);
      const parsed = raw === '' ? Number.NaN : Number(raw);
      dur = Number.isFinite(parsed) ? parsed : 0;
      break;
    }
    metrics.push({ name, dur: dur ?? 0 });
  }
  return metrics;
}

const requests = new AsyncLocalStorage<RequestTiming>();

/** The timing of the request in whose async context this runs, if it is measured. */
export function currentTiming(): RequestTiming | undefined {
  return requests.getStore();
}

/** Runs `work` with `timing` as the one calls made from it add to. */
export function runWithTiming<T>(timing: RequestTiming, work: () => T): T {
  return requests.run(timing, work);
}

/**
 * Makes one record-service call on behalf of several requests (a coalesced batch). When any of
 * them is measured, the call runs in a RequestTiming of its own, added to each of them once the
 * call is over and before the returned promise settles (so before any request gets its answer):
 * each waited for the whole call. Otherwise the call would count only for the request in whose
 * async context the batch happens to be sent.
 */
export function callForRequests<T>(
  timings: ReadonlyArray<RequestTiming | undefined>,
  call: () => Promise<T>,
): Promise<T> {
  if (timings.every((timing) => timing === undefined)) return call();
  const shared = new RequestTiming();
  const share = () => {
    for (const timing of timings) timing?.add(shared);
  };
  return runWithTiming(shared, call).then(
    (answer) => {
      share();
      return answer;
    },
    (error: unknown) => {
      share();
      throw error;
    },
  );
}

/**
 * The record-service transport's `onServerTiming`: adds one call — the `db` and `cache` its
 * Server-Timing header reports, and how long it took — to the request it was made for.
 */
export function addApiCall(value: string, elapsedMs: number): void {
  const timing = requests.getStore();
  if (timing === undefined) return;
  timing.calls++;
  timing.api += elapsedMs;
  for (const { name, dur } of parseServerTiming(value)) {
    if (name === 'db') timing.db += dur;
    else if (name === 'cache') timing.cache += dur;
  }
}

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * The listener, with each request run in a RequestTiming of its own and its response's
 * Server-Timing header set as its headers leave. Every way headers leave goes through the
 * response's `writeHead` (an implicit one too: `write`, `end` and `flushHeaders` call it), so
 * that is hooked, on this response only.
 */
export function withServerTiming(listener: Listener): Listener {
  return (req, res) => {
    const started = performance.now();
    const timing = new RequestTiming();
    const writeHead = res.writeHead;
    res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
      if (!this.headersSent) this.setHeader('server-timing', timing.header(performance.now() - started));
      return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
    } as ServerResponse['writeHead'];
    requests.run(timing, listener, req, res);
  };
}
