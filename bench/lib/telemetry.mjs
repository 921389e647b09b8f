// The telemetry settings of the `telemetry` suite, and what it runs beside the load: a
// Prometheus-style scraper of /metrics (HTTP/1.1 for the gateway, HTTP/2 cleartext for the api),
// an OTLP/HTTP sink that counts what the services export, and the access log's line count.
import { once } from 'node:events';
import { createReadStream, statSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import http2 from 'node:http2';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { clearInterval, setInterval } from 'node:timers';
import { gunzipSync } from 'node:zlib';

/** What each workload of the suite turns on. */
export const TELEMETRY_SETTINGS = {
  'telemetry-off': { label: '(1) off', scrape: false, otlp: false },
  'telemetry-metrics': { label: '(2) metrics only', scrape: true, otlp: false },
  'telemetry-traces': { label: '(3) metrics + traces', scrape: true, otlp: true },
};
/** Seconds between two scrapes of each /metrics, as a Prometheus with `scrape_interval: 1s`. */
export const SCRAPE_INTERVAL_MS = 1000;
/** A scrape without an answer after this long counts as failed (Prometheus' default is 10 s). */
const SCRAPE_TIMEOUT_MS = 5000;
/** OTEL_METRIC_EXPORT_INTERVAL of setting (3) unless the environment sets it: a push per scrape. */
export const METRIC_PUSH_MS = 1000;
/** The access-log line of the gateway (pino's message). */
const ACCESS_LINE = '"msg":"request"';

/**
 * The environment of a pair for one setting: every OTEL_* variable of `inherited` removed, then
 * (1) OTEL_SDK_DISABLED=true; (2) nothing; (3) the sink as OTLP endpoint, the metrics pushed every
 * METRIC_PUSH_MS, and the bench's own OTEL_* tuning (protocol, batch sizes, sampler) kept, except
 * the endpoints and OTEL_SDK_DISABLED.
 */
export function telemetryEnv(workload, inherited, sinkUrl) {
  const env = {};
  const otel = {};
  for (const [name, value] of Object.entries(inherited)) {
    if (name.startsWith('OTEL_')) otel[name] = value;
    else env[name] = value;
  }
  if (workload === 'telemetry-off') return { ...env, OTEL_SDK_DISABLED: 'true' };
  if (workload === 'telemetry-metrics') return env;
  const kept = Object.fromEntries(
    Object.entries(otel).filter(([name]) => !name.includes('ENDPOINT') && name !== 'OTEL_SDK_DISABLED'),
  );
  return {
    ...env,
    OTEL_METRIC_EXPORT_INTERVAL: String(METRIC_PUSH_MS),
    ...kept,
    OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl,
  };
}

/** The OTEL_* variables of a setting's environment, for the record of the commands. */
export function otelOf(env) {
  return Object.entries(env)
    .filter(([name]) => name.startsWith('OTEL_'))
    .map(([name, value]) => `${name}=${value}`)
    .join(' ');
}

function median(values) {
  const v = [...values].sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

// ---- the OTLP sink ------------------------------------------------------------------------------

/** Reads a protobuf varint at `i`: [value, next index]. */
function varint(buf, i) {
  let value = 0;
  let scale = 1;
  for (;;) {
    if (i >= buf.length) throw new Error('protobuf: truncated varint');
    const byte = buf[i++];
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return [value, i];
    scale *= 128;
  }
}

/** Calls `onField(field, start, end)` for every length-delimited field of the message in buf[start, end). */
function eachLengthField(buf, start, end, onField) {
  let i = start;
  while (i < end) {
    const [tag, afterTag] = varint(buf, i);
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    i = afterTag;
    if (wire === 0) i = varint(buf, i)[1];
    else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else if (wire === 2) {
      const [length, from] = varint(buf, i);
      i = from + length;
      if (i > end) throw new Error('protobuf: field runs past its message');
      onField(field, from, i);
    } else throw new Error(`protobuf: wire type ${wire}`);
  }
}

/** `service.name` of a protobuf Resource: attributes (1) → KeyValue { key (1), value (2) → AnyValue.string_value (1) }. */
function serviceOfResource(buf, start, end) {
  let service;
  eachLengthField(buf, start, end, (field, from, to) => {
    if (field !== 1) return;
    let key;
    let value;
    eachLengthField(buf, from, to, (f, s, e) => {
      if (f === 1) key = buf.toString('utf8', s, e);
      else if (f === 2)
        eachLengthField(buf, s, e, (af, as, ae) => {
          if (af === 1) value = buf.toString('utf8', as, ae);
        });
    });
    if (key === 'service.name') service = value;
  });
  return service;
}

/**
 * Spans in an OTLP trace export, by `service.name`: ExportTraceServiceRequest.resource_spans (1)
 * → ResourceSpans { resource (1), scope_spans (2) } → ScopeSpans.spans (2), in protobuf or in
 * JSON. Returns { spans, byService: { <service.name>: spans } }.
 */
export function countSpans(body, { json = false, gzip = false } = {}) {
  const buf = gzip ? gunzipSync(body) : body;
  let spans = 0;
  const byService = {};
  const add = (service, n) => {
    spans += n;
    const name = service ?? 'unknown';
    byService[name] = (byService[name] ?? 0) + n;
  };
  if (json) {
    const request = JSON.parse(buf.toString('utf8'));
    for (const resource of request.resourceSpans ?? []) {
      const service = resource.resource?.attributes?.find((a) => a.key === 'service.name')?.value?.stringValue;
      for (const scope of resource.scopeSpans ?? []) add(service, scope.spans?.length ?? 0);
    }
    return { spans, byService };
  }
  eachLengthField(buf, 0, buf.length, (f1, s1, e1) => {
    if (f1 !== 1) return;
    let service;
    let n = 0;
    eachLengthField(buf, s1, e1, (f2, s2, e2) => {
      if (f2 === 1) service = serviceOfResource(buf, s2, e2);
      else if (f2 === 2)
        eachLengthField(buf, s2, e2, (f3) => {
          if (f3 === 2) n++;
        });
    });
    add(service, n);
  });
  return { spans, byService };
}

function sinkCounts() {
  return {
    traceRequests: 0,
    traceBytes: 0,
    spans: 0,
    /** Spans by the `service.name` of their resource (`rosetta-gateway`, `rosetta-api`). */
    spansByService: {},
    metricRequests: 0,
    metricBytes: 0,
    otherRequests: 0,
    undecoded: 0,
  };
}

/**
 * A receiver on 127.0.0.1 for the services' OTLP/HTTP exports: answers 200 to POST /v1/traces
 * and /v1/metrics (an empty message, in the request's encoding), and counts requests, bytes
 * and spans; 404 to anything else. `mark()` starts a window of counts of its own (the measured
 * run); `counts()` returns { total, window }.
 */
export async function startOtlpSink() {
  const total = sinkCounts();
  let window = sinkCounts();
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const path = (req.url ?? '').split('?', 1)[0];
      const json = (req.headers['content-type'] ?? '').includes('json');
      const known = req.method === 'POST' && (path === '/v1/traces' || path === '/v1/metrics');
      let counted = { spans: 0, byService: {} };
      let undecoded = 0;
      if (known && path === '/v1/traces') {
        try {
          counted = countSpans(body, { json, gzip: req.headers['content-encoding'] === 'gzip' });
        } catch {
          undecoded = 1;
        }
      }
      for (const c of [total, window]) {
        if (!known) c.otherRequests++;
        else if (path === '/v1/traces') {
          c.traceRequests++;
          c.traceBytes += body.length;
          c.spans += counted.spans;
          for (const [service, n] of Object.entries(counted.byService))
            c.spansByService[service] = (c.spansByService[service] ?? 0) + n;
          c.undecoded += undecoded;
        } else {
          c.metricRequests++;
          c.metricBytes += body.length;
        }
      }
      if (!known) {
        res.writeHead(404);
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' });
      res.end(json ? '{}' : '');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    mark() {
      window = sinkCounts();
    },
    counts: () => ({
      total: { ...total, spansByService: { ...total.spansByService } },
      window: { ...window, spansByService: { ...window.spansByService } },
    }),
    async close() {
      const closed = new Promise((resolve) => server.close(resolve));
      server.closeAllConnections();
      await closed;
    },
  };
}

// ---- the scraper --------------------------------------------------------------------------------

function scrapeStats() {
  return { scrapes: 0, ok: 0, skipped: 0, statuses: {}, bytes: 0, ms: [] };
}

/** One GET /metrics over HTTP/1.1 (keep-alive, no credentials, as Prometheus sends it). */
function scrapeHttp1(base, agent) {
  return new Promise((resolve) => {
    const req = request(`${base}/metrics`, { agent, headers: { accept: 'text/plain' } }, (res) => {
      let bytes = 0;
      res.on('data', (chunk) => (bytes += chunk.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
      res.on('error', () => resolve({ status: 0, bytes }));
    });
    req.setTimeout(SCRAPE_TIMEOUT_MS, () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, bytes: 0 }));
    req.end();
  });
}

/** One GET /metrics over HTTP/2 cleartext on `session()` (the api speaks nothing else). */
function scrapeHttp2(session) {
  return new Promise((resolve) => {
    let s;
    try {
      s = session();
    } catch {
      resolve({ status: 0, bytes: 0 });
      return;
    }
    const stream = s.request({ ':method': 'GET', ':path': '/metrics', accept: 'text/plain' });
    let status = 0;
    let bytes = 0;
    stream.setTimeout(SCRAPE_TIMEOUT_MS, () => stream.close(http2.constants.NGHTTP2_CANCEL));
    stream.on('response', (headers) => (status = Number(headers[':status'] ?? 0)));
    stream.on('data', (chunk) => (bytes += chunk.length));
    stream.on('close', () => resolve({ status, bytes }));
    stream.on('error', () => {});
    stream.end();
  });
}

/**
 * Scrapes `GET /metrics` of each target every SCRAPE_INTERVAL_MS (a target whose last scrape has
 * not answered yet is skipped once, as Prometheus does not overlap scrapes of one target).
 * `targets`: { gateway?: base URL (HTTP/1.1), api?: base URL (HTTP/2 cleartext) }. `mark()`
 * starts the counted window; `stop()` ends it and returns per target { scrapes, ok, skipped,
 * status, bytes, p50Ms, maxMs }.
 */
export function startScraper(targets) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  let h2;
  const session = () => {
    if (h2 === undefined || h2.closed || h2.destroyed) {
      h2 = http2.connect(targets.api);
      h2.on('error', () => {});
    }
    return h2;
  };
  const scrapers = {};
  if (targets.gateway !== undefined) scrapers.gateway = () => scrapeHttp1(targets.gateway, agent);
  if (targets.api !== undefined) scrapers.api = () => scrapeHttp2(session);
  let stats = Object.fromEntries(Object.keys(scrapers).map((name) => [name, scrapeStats()]));
  const inFlight = new Map();
  const tick = () => {
    for (const [name, scrape] of Object.entries(scrapers)) {
      if (inFlight.has(name)) {
        stats[name].skipped++;
        continue;
      }
      const started = performance.now();
      const counted = stats[name];
      const done = scrape().then(({ status, bytes }) => {
        inFlight.delete(name);
        counted.scrapes++;
        counted.statuses[status] = (counted.statuses[status] ?? 0) + 1;
        if (status === 200) {
          counted.ok++;
          counted.bytes = bytes;
          counted.ms.push(performance.now() - started);
        }
      });
      inFlight.set(name, done);
    }
  };
  tick();
  const timer = setInterval(tick, SCRAPE_INTERVAL_MS);
  return {
    mark() {
      stats = Object.fromEntries(Object.keys(scrapers).map((name) => [name, scrapeStats()]));
    },
    async stop() {
      clearInterval(timer);
      await Promise.all(inFlight.values());
      agent.destroy();
      h2?.close();
      const out = {};
      for (const [name, s] of Object.entries(stats)) {
        const failed = Object.entries(s.statuses).filter(([status]) => status !== '200');
        out[name] = {
          scrapes: s.scrapes,
          ok: s.ok,
          skipped: s.skipped,
          // The answer of the failed scrapes (0: no answer), when any failed.
          status: failed.length === 0 ? 200 : Number(failed.sort((a, b) => b[1] - a[1])[0][0]),
          bytes: s.bytes,
          p50Ms: median(s.ms),
          maxMs: s.ms.length === 0 ? undefined : Math.max(...s.ms),
        };
      }
      return out;
    },
  };
}

// ---- the access log -----------------------------------------------------------------------------

/**
 * Counts the lines and the access-log lines of a stopped service's log, then cuts the file to its
 * first and last `keep` lines when it is over 1 MB (a run writes one line per request: tens of MB).
 */
export async function countAndTrimLog(file, keep = 50) {
  let bytes;
  try {
    bytes = statSync(file).size;
  } catch {
    return { lines: 0, accessLines: 0, bytes: 0 };
  }
  let lines = 0;
  let accessLines = 0;
  const head = [];
  const tail = [];
  const input = createReadStream(file, 'utf8');
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    lines++;
    if (line.includes(ACCESS_LINE)) accessLines++;
    if (head.length < keep) head.push(line);
    else {
      tail.push(line);
      if (tail.length > keep * 2) tail.splice(0, keep);
    }
  }
  if (bytes > 1e6) {
    const last = tail.slice(-keep);
    const cut = lines - head.length - last.length;
    writeFileSync(
      file,
      `${[...head, `… ${cut} lines (${accessLines} access-log lines in all, ${Math.round(bytes / 1e6)} MB) cut by bench/run.mjs …`, ...last].join('\n')}\n`,
    );
  }
  return { lines, accessLines, bytes };
}
