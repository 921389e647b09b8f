// The change-feed lag workload: PUTs of distinct keys at a fixed rate (open loop, scheduled by
// the clock), one Server-Sent Events reader on the collection's /changes, and for every key the
// time from its PUT's answer (the commit, as the client sees it) to its `change` event. Both
// times are performance.now() of this process. A subscriber on the worker's Redis channel tells
// when the relay published each key, which splits the lag into the relay's part and the rest: the
// relay publishes, per page of the feed, the collection's newest event, so a key counts as
// published with the first message of a revision at least its own (its PUT's ETag). A write that
// took a smaller revision but committed after that message's (rare) counts as published early.
import { Agent, request } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { AUTH_HEADERS, REDIS_URL, ROOT, SPACE, VALUE_BYTES } from './config.mjs';
import { jsonRequest } from './http.mjs';
import { valueOf } from './value.mjs';

const { Redis } = createRequire(join(ROOT, 'apps', 'api', 'package.json'))('ioredis');

export const FEED_COLLECTION = 'feed';
/** The relay interval of `feed-lag-10ms`, whose worker is restarted with it. */
export const FEED_FAST_RELAY_MS = 10;
/** The relay interval of the worker when RELAY_INTERVAL_MS is not set (apps/worker/src/config.ts). */
export const DEFAULT_RELAY_MS = 250;
/** A send that leaves more than this after its scheduled time is late. */
export const LATE_MS = 10;
/** After the last answer, events still missing are waited for this long (the gateway reads again every 2 s). */
const DRAIN_MS = 10_000;

const VALUE = Buffer.from(valueOf(VALUE_BYTES));
const PUT_HEADERS = {
  ...AUTH_HEADERS,
  'content-type': 'text/plain; charset=utf-8',
  'content-length': String(VALUE.length),
};

const collectionUrl = (base) => `${base}/v1/spaces/${SPACE}/collections/${FEED_COLLECTION}`;

/** The collection the workload writes to and follows. */
export async function prepareFeed(base) {
  await jsonRequest('POST', `${base}/v1/spaces/${SPACE}/collections`, { name: FEED_COLLECTION }, [201]);
}

/**
 * One SSE reader of the collection's changes on a connection of its own. `onChange(key, at)`
 * is called for every `change` event, `at` being when the chunk that completed it arrived.
 * Resolves once the stream's `ready` event arrived, with { close, ended } (`ended` resolves
 * when the stream ends, with the reason).
 */
function openChanges(base, onChange) {
  return new Promise((resolve, reject) => {
    let ready = false;
    let endedResolve;
    const ended = new Promise((r) => (endedResolve = r));
    const req = request(
      `${collectionUrl(base)}/changes`,
      { agent: false, headers: { ...AUTH_HEADERS, accept: 'text/event-stream' } },
      (res) => {
        if (res.statusCode !== 200 || !String(res.headers['content-type']).startsWith('text/event-stream')) {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () =>
            reject(
              new Error(
                `GET …/changes answered ${res.statusCode} (${res.headers['content-type']}): ${Buffer.concat(chunks).toString('utf8', 0, 300)}`,
              ),
            ),
          );
          return;
        }
        res.setEncoding('utf8');
        let buffered = '';
        res.on('data', (text) => {
          const at = performance.now();
          buffered += text;
          let end = buffered.indexOf('\n\n');
          while (end !== -1) {
            const block = buffered.slice(0, end);
            buffered = buffered.slice(end + 2);
            end = buffered.indexOf('\n\n');
            let event = 'message';
            let data = '';
            for (const line of block.split('\n')) {
              if (line === '' || line.startsWith(':')) continue;
              const colon = line.indexOf(':');
              const field = colon === -1 ? line : line.slice(0, colon);
              const value = colon === -1 ? '' : line.slice(colon + (line[colon + 1] === ' ' ? 2 : 1));
              if (field === 'event') event = value;
              else if (field === 'data') data = data === '' ? value : `${data}\n${value}`;
            }
            if (event === 'ready' && !ready) {
              ready = true;
              resolve({ close: () => req.destroy(), ended });
            } else if (event === 'change') {
              onChange(JSON.parse(data).key, at);
            }
          }
        });
        res.on('end', () => endedResolve('the stream ended'));
        res.on('error', (error) => endedResolve(error.message));
      },
    );
    req.on('error', (error) => {
      if (!ready) reject(error);
      endedResolve(error.message);
    });
    req.end();
  });
}

/** A subscriber on the relay's channel of the collection: `onPublish(revision, at)` per message. */
async function tapRelay(redisPrefix, onPublish) {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 0 });
  redis.on('error', () => {});
  redis.on('message', (_channel, message) => {
    const at = performance.now();
    onPublish(Number(JSON.parse(message).revision), at);
  });
  await redis.subscribe(`${redisPrefix}events:${SPACE}/${FEED_COLLECTION}`);
  return { close: () => redis.disconnect() };
}

function percentile(sorted, p) {
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/**
 * Sends `rate` PUTs per second for `durationMs` (open loop: each send has its slot in time; at
 * most `connections` in flight), keys `<prefix>/<i>`. Resolves with the send and answer times
 * per key (NaN where there was none) and the counts.
 */
async function drive(base, { prefix, rate, durationMs, connections, agent }) {
  const total = Math.round((rate * durationMs) / 1000);
  const interval = 1000 / rate;
  const sentAt = new Float64Array(total).fill(NaN);
  const ackAt = new Float64Array(total).fill(NaN);
  const revisions = new Float64Array(total).fill(NaN);
  let inFlight = 0;
  let failed = 0;
  let socketErrors = 0;
  let late = 0;
  let maxSlipMs = 0;
  let firstError;
  let idle;
  const put = (i) => {
    inFlight++;
    sentAt[i] = performance.now();
    const req = request(
      `${collectionUrl(base)}/records/${prefix}/${i}`,
      { method: 'PUT', agent, headers: PUT_HEADERS },
      (res) => {
        const ok = res.statusCode === 200 || res.statusCode === 201;
        if (ok) {
          ackAt[i] = performance.now();
          revisions[i] = Number(/^"(\d+)"$/.exec(res.headers.etag ?? '')?.[1] ?? NaN);
        } else {
          failed++;
          firstError ??= `HTTP ${res.statusCode}`;
        }
        res.resume();
        res.on('end', done);
        res.on('error', done);
      },
    );
    let finished = false;
    function done(error) {
      if (finished) return;
      finished = true;
      if (error) {
        socketErrors++;
        firstError ??= error.message;
      }
      inFlight--;
      idle?.();
    }
    req.on('error', done);
    req.end(VALUE);
  };
  const t0 = performance.now();
  let next = 0;
  for (;;) {
    const now = performance.now();
    const elapsed = now - t0;
    const due = Math.min(total, Math.floor(elapsed / interval) + 1);
    while (next < due && inFlight < connections) {
      const slip = now - (t0 + next * interval);
      if (slip > LATE_MS) late++;
      if (slip > maxSlipMs) maxSlipMs = slip;
      put(next++);
    }
    // The window is over: what could not be sent by now is missed.
    if (next >= total || elapsed >= durationMs) break;
    // Behind (every connection busy): go on as soon as one is free; else at the next slot.
    if (next < due) await new Promise((r) => (idle = r));
    else await sleep(Math.max(0, t0 + next * interval - performance.now()));
    idle = undefined;
  }
  const sendEnd = performance.now();
  while (inFlight > 0) await new Promise((r) => (idle = r));
  return {
    total,
    sent: next,
    missed: total - next,
    sentAt,
    ackAt,
    revisions,
    failed,
    socketErrors,
    firstError,
    late,
    maxSlipMs,
    sendWindowMs: sendEnd - t0,
    lastAck: performance.now(),
  };
}

/**
 * The workload: one SSE reader and one relay tap, a warm-up of `warmupMs` at the rate (its
 * events drained and ignored), then the measured `durationMs`. Resolves with the figures of
 * the measured part; `onMeasureStart` and `onMeasureEnd` bracket it (the sampler's window).
 */
export async function runFeedLag(
  base,
  { tag, rate, durationMs, warmupMs, connections, redisPrefix, onMeasureStart, onMeasureEnd },
) {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const phases = new Map();
  const phase = (name) => {
    const p = { prefix: `${tag}-${name}`, receivedAt: undefined, duplicates: 0 };
    p.keyPrefix = `${p.prefix}/`;
    phases.set(name, p);
    return p;
  };
  const indexOf = (key) => {
    for (const p of phases.values()) {
      if (key.startsWith(p.keyPrefix)) return [p, Number(key.slice(p.keyPrefix.length))];
    }
    return [undefined, -1];
  };
  const onChange = (key, at) => {
    const [p, i] = indexOf(key);
    if (p === undefined || p.receivedAt === undefined || !(i >= 0 && i < p.receivedAt.length)) return;
    if (Number.isNaN(p.receivedAt[i])) p.receivedAt[i] = at;
    else p.duplicates++;
  };
  /** Every relay message on the collection's channel, in the order they came: its revision and when. */
  const messages = [];
  const onPublish = (revision, at) => {
    messages.push({ revision, at });
  };
  const stream = await openChanges(base, onChange);
  const tap = await tapRelay(redisPrefix, onPublish);
  const arm = (p, ms) => {
    const n = Math.round((rate * ms) / 1000);
    p.receivedAt = new Float64Array(n).fill(NaN);
  };
  const received = (p, acked) => {
    let n = 0;
    for (let i = 0; i < acked.length; i++) if (!Number.isNaN(acked[i]) && !Number.isNaN(p.receivedAt[i])) n++;
    return n;
  };
  const countAcked = (ackAt) => ackAt.reduce((a, t) => a + (Number.isNaN(t) ? 0 : 1), 0);
  /** When the relay first published a revision at least each key's (NaN: not yet, or no ETag). */
  const publishedAt = (run) => {
    const at = new Float64Array(run.revisions.length).fill(NaN);
    const order = [...run.revisions.keys()]
      .filter((i) => !Number.isNaN(run.revisions[i]))
      .sort((a, b) => run.revisions[a] - run.revisions[b]);
    let k = 0;
    let newest = -Infinity;
    for (const { revision, at: time } of messages) {
      newest = Math.max(newest, revision);
      while (k < order.length && run.revisions[order[k]] <= newest) at[order[k++]] = time;
    }
    return at;
  };
  const newestAcked = (run) => run.revisions.reduce((a, r) => (Number.isNaN(r) ? a : Math.max(a, r)), -Infinity);
  const newestPublished = () => messages.reduce((a, m) => Math.max(a, m.revision), -Infinity);
  /** Waits until every acknowledged key's event arrived, or DRAIN_MS after the last answer. */
  const drain = async (p, run) => {
    const acked = countAcked(run.ackAt);
    const deadline = run.lastAck + DRAIN_MS;
    while (received(p, run.ackAt) < acked && performance.now() < deadline) await sleep(20);
  };
  /** Then for the relay to have published them all (events often reach the reader first), at most 2 s. */
  const drainRelay = async (run) => {
    const deadline = performance.now() + 2000;
    while (newestPublished() < newestAcked(run) && performance.now() < deadline) await sleep(20);
  };
  try {
    if (warmupMs > 0) {
      const warm = phase('warm');
      arm(warm, warmupMs);
      const run = await drive(base, { prefix: warm.prefix, rate, durationMs: warmupMs, connections, agent });
      await drain(warm, run);
    }
    const p = phase('run');
    arm(p, durationMs);
    onMeasureStart?.();
    let run;
    try {
      run = await drive(base, { prefix: p.prefix, rate, durationMs, connections, agent });
      await drain(p, run);
    } finally {
      onMeasureEnd?.();
    }
    await drainRelay(run);
    const published = publishedAt(run);
    const streamEnded = await Promise.race([stream.ended, sleep(0).then(() => undefined)]);
    const lags = [];
    const relayLags = [];
    const puts = [];
    let early = 0;
    let beforePublish = 0;
    /** Lags of the events that reached the reader only after the relay published them. */
    const woken = [];
    let acked = 0;
    for (let i = 0; i < run.total; i++) {
      const ack = run.ackAt[i];
      if (Number.isNaN(ack)) continue;
      acked++;
      puts.push(ack - run.sentAt[i]);
      const pub = published[i];
      if (!Number.isNaN(pub)) relayLags.push(pub - ack);
      const got = p.receivedAt[i];
      if (Number.isNaN(got)) continue;
      lags.push(got - ack);
      if (got < ack) early++;
      if (!Number.isNaN(pub) && got < pub) beforePublish++;
      else if (!Number.isNaN(pub)) woken.push(got - ack);
    }
    const sort = (v) => Float64Array.from(v).sort();
    const lag = sort(lags);
    const relay = sort(relayLags);
    const put = sort(puts);
    const afterRelay = sort(woken);
    const seconds = durationMs / 1000;
    return {
      rate,
      scheduled: run.total,
      sent: run.sent,
      missed: run.missed,
      late: run.late,
      maxSlipMs: run.maxSlipMs,
      sendWindowMs: run.sendWindowMs,
      acked,
      writesPerSecond: acked / seconds,
      non2xx: run.failed,
      socketErrors: run.socketErrors,
      firstError: run.firstError,
      events: lags.length,
      missing: acked - lags.length,
      duplicates: p.duplicates,
      streamEnded,
      early,
      published: relayLags.length,
      beforePublish,
      beforeRelayShare: lags.length ? beforePublish / lags.length : undefined,
      lagP50Ms: percentile(lag, 50),
      lagP90Ms: percentile(lag, 90),
      lagP99Ms: percentile(lag, 99),
      lagMaxMs: lag.length ? lag[lag.length - 1] : undefined,
      relayP50Ms: percentile(relay, 50),
      relayP90Ms: percentile(relay, 90),
      relayP99Ms: percentile(relay, 99),
      relayMaxMs: relay.length ? relay[relay.length - 1] : undefined,
      afterRelayP50Ms: percentile(afterRelay, 50),
      afterRelayP99Ms: percentile(afterRelay, 99),
      putP50Ms: percentile(put, 50),
      putP99Ms: percentile(put, 99),
    };
  } finally {
    stream.close();
    tap.close();
    agent.destroy();
  }
}
