import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import {
  createEmbeddedRelay,
  createWorkerRuntime,
  InProcessEventBus,
  InProcessWebhookDispatcher,
  loadConfig as loadWorkerConfig,
  MemoryCursorStore,
  WebhookTargets,
  type WorkerRuntime,
} from '../../apps/worker/src';
import { createLogger, startTelemetry } from '../../packages/platform/src';
import { serviceClients, startTestApi, type TestApi } from '../support/api';
import { redisPrefix } from '../support/database';
import { REDIS_URL } from '../support/env';
import { expectEventually } from '../support/expect-eventually';
import { embeddedJobs } from '../support/jobs';

/**
 * The clustered worker's metrics, scraped from its health server's `/metrics` after real work on
 * real Postgres and Redis: change events relayed (with their lag), a bulk delete run through
 * BullMQ, webhook deliveries that succeed and one that keeps failing, and the queues' depths;
 * and `/readyz` naming each of its checks. The all-in-one process's runners record the same
 * series (but queue depths, having no queues).
 */

// Once per process (each test file is one), before any instrument is made.
const telemetry = startTelemetry({ service: 'worker-test', env: {} });

const logger = createLogger({ name: 'test', level: 'silent' });
const SPACE = 'default';
const COLLECTION = 'metered';
const RECORDS = 20;
const DELETED = 5;

let api: TestApi;
let redis: Redis;
let receiver: Server;
let base: string;
const prefixes: string[] = [];
/** Requests each receiver path got. */
const hits = new Map<string, number>();

function newPrefix(): string {
  const prefix = redisPrefix();
  prefixes.push(prefix);
  return prefix;
}

beforeAll(async () => {
  api = await startTestApi();
  redis = new Redis(REDIS_URL);
  receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const path = req.url ?? '';
      hits.set(path, (hits.get(path) ?? 0) + 1);
      res.writeHead(path === '/ok' ? 204 : 503).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => receiver?.close(resolve));
  for (const prefix of prefixes) {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  }
  redis?.disconnect();
  await api?.close();
  await telemetry.shutdown();
});

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** The samples of a Prometheus text exposition (comments and types left out). */
function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (match === null) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key as string] = value as string;
    }
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The sum of the samples of `name` whose labels include `labels`; undefined when there is none. */
function valueOf(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter(
    (sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  );
  return found.length === 0 ? undefined : found.reduce((sum, sample) => sum + sample.value, 0);
}

async function scrape(worker: WorkerRuntime): Promise<{ text: string; samples: Sample[] }> {
  const response = await fetch(`${worker.healthUrl}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  const text = await response.text();
  return { text, samples: parseSamples(text) };
}

describe('the clustered worker, scraped', () => {
  let worker: WorkerRuntime;
  let prefix: string;
  let jobId: bigint;

  beforeAll(async () => {
    const ref = { space: SPACE, collection: COLLECTION };
    await api.collections.createCollection({ collection: ref });
    // Registered before the worker starts, so that its first read of the webhooks has them.
    for (const path of ['/ok', '/down']) {
      await api.webhooks.createWebhook({ collection: ref, url: `${base}${path}`, secret: 'webhook-secret-0123456789' });
    }
    prefix = newPrefix();
    worker = await createWorkerRuntime(
      loadWorkerConfig({
        REDIS_URL,
        REDIS_PREFIX: prefix,
        RELAY_INTERVAL_MS: '20',
        JOB_POLL_MS: '50',
        DELETE_JOB_BATCH: '2',
        // The failing receiver's delivery waits a minute for its second attempt: it stays retrying.
        WEBHOOK_ATTEMPTS: '3',
        WEBHOOK_BACKOFF_MS: '60000',
        WORKER_HEALTH_PORT: '0',
        LOG_LEVEL: 'silent',
      }),
      logger,
      serviceClients(api.runtime),
      { scrape: () => telemetry.scrape() },
    );
    // The relay starts at the feed's tail: what is written from now on is relayed.
    await expectEventually(async () => expect(await redis.get(`${prefix}relay:cursor`)).not.toBeNull());
    for (let i = 0; i < RECORDS; i++) {
      const key = i < DELETED ? `gone/${i}` : `kept/${i}`;
      await api.records.putRecord({
        collection: ref,
        key,
        value: Buffer.from(`value ${i}`),
        contentType: 'text/plain',
      });
    }
    const { job } = await api.jobs.startDeleteJob({ collection: ref, filter: { prefix: 'gone/' } });
    jobId = job?.id ?? 0n;
    await expectEventually(
      async () => expect((await api.jobs.getJob({ space: SPACE, id: jobId })).job?.state).toBe('succeeded'),
      { timeoutMs: 20_000, intervalMs: 50 },
    );
  }, 30_000);

  afterAll(async () => {
    await worker?.close();
  });

  it('serves the change feed, job, webhook and queue series with sane values on /metrics', async () => {
    const events = RECORDS + DELETED;
    // Everything the work above causes is eventually counted (the queue depths are read at most
    // every 5 s, so this may take that long).
    const { text, samples } = await expectEventually(
      async () => {
        const scraped = await scrape(worker);
        const { samples: s } = scraped;
        expect(valueOf(s, 'rosetta_changefeed_events_total')).toBeGreaterThanOrEqual(events);
        expect(valueOf(s, 'rosetta_webhook_deliveries_total', { outcome: 'delivered' })).toBeGreaterThanOrEqual(events);
        expect(valueOf(s, 'rosetta_webhook_deliveries_total', { outcome: 'retrying' })).toBeGreaterThanOrEqual(1);
        // A delivery's run ends (and is timed) after its outcome is counted.
        expect(
          valueOf(s, 'rosetta_job_duration_seconds_count', { job: 'webhooks.deliver', outcome: 'completed' }),
        ).toBeGreaterThanOrEqual(events);
        expect(
          valueOf(s, 'rosetta_queue_jobs', { queue: 'rosetta-webhooks', state: 'delayed' }),
        ).toBeGreaterThanOrEqual(1);
        return scraped;
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );

    expect(text).toContain('# TYPE rosetta_changefeed_events_total counter');
    expect(text).toContain('# TYPE rosetta_changefeed_lag_seconds histogram');
    expect(text).toContain('# TYPE rosetta_job_duration_seconds histogram');
    expect(text).toContain('# TYPE rosetta_job_failures_total counter');
    expect(text).toContain('# TYPE rosetta_webhook_deliveries_total counter');
    expect(text).toContain('# TYPE rosetta_webhook_delivery_duration_seconds histogram');
    expect(text).toContain('# TYPE rosetta_queue_jobs gauge');

    // Change feed: a lag measured for each collection of each relayed page (at least one, at most
    // one per event), each well under a minute.
    const relayed = valueOf(samples, 'rosetta_changefeed_events_total') ?? 0;
    const lags = valueOf(samples, 'rosetta_changefeed_lag_seconds_count') ?? 0;
    expect(lags).toBeGreaterThan(0);
    expect(lags).toBeLessThanOrEqual(relayed);
    const lagSum = valueOf(samples, 'rosetta_changefeed_lag_seconds_sum') ?? 0;
    expect(lagSum).toBeGreaterThan(0);
    expect(lagSum / lags).toBeLessThan(60);
    expect(valueOf(samples, 'rosetta_changefeed_lag_seconds_bucket', { le: '60' })).toBe(lags);

    // Jobs: runs of each catalog job, by outcome, with plausible durations.
    const runs = (job: string, outcome: string) =>
      valueOf(samples, 'rosetta_job_duration_seconds_count', { job, outcome }) ?? 0;
    expect(runs('events.relay', 'completed')).toBeGreaterThan(0);
    expect(runs('jobs.dispatch', 'completed')).toBeGreaterThan(0);
    expect(runs('jobs.run', 'completed')).toBeGreaterThanOrEqual(1);
    expect(runs('webhooks.deliver', 'completed')).toBeGreaterThanOrEqual(events);
    expect(runs('webhooks.deliver', 'failed')).toBeGreaterThanOrEqual(1);
    const jobRunSeconds = valueOf(samples, 'rosetta_job_duration_seconds_sum', { job: 'jobs.run' }) ?? 0;
    expect(jobRunSeconds).toBeGreaterThan(0);
    expect(jobRunSeconds / runs('jobs.run', 'completed')).toBeLessThan(20);
    // Failed runs are counted once each, under the job's name only.
    expect(valueOf(samples, 'rosetta_job_failures_total', { job: 'webhooks.deliver' })).toBe(
      runs('webhooks.deliver', 'failed'),
    );
    expect(valueOf(samples, 'rosetta_job_failures_total', { job: 'jobs.run' }) ?? 0).toBe(runs('jobs.run', 'failed'));
    const jobLabels = new Set(
      samples.filter((s) => s.name === 'rosetta_job_duration_seconds_count').map((s) => s.labels.job),
    );
    for (const job of jobLabels) {
      expect(['events.relay', 'events.compact', 'webhooks.deliver', 'jobs.dispatch', 'jobs.run']).toContain(job);
    }

    // Webhooks: one delivery per event to the receiver that answers; the other one is retrying.
    const delivered = valueOf(samples, 'rosetta_webhook_deliveries_total', { outcome: 'delivered' }) ?? 0;
    expect(delivered).toBeLessThanOrEqual(hits.get('/ok') ?? 0);
    expect(valueOf(samples, 'rosetta_webhook_deliveries_total', { outcome: 'dead' }) ?? 0).toBe(0);
    expect(valueOf(samples, 'rosetta_webhook_delivery_duration_seconds_count', { outcome: 'delivered' })).toBe(
      delivered,
    );
    const deliverySeconds =
      valueOf(samples, 'rosetta_webhook_delivery_duration_seconds_sum', { outcome: 'delivered' }) ?? 0;
    expect(deliverySeconds).toBeGreaterThan(0);
    expect(deliverySeconds / delivered).toBeLessThan(10);

    // Queues: every state of each of the worker's queues, as whole non-negative numbers.
    for (const queue of ['rosetta-events', 'rosetta-webhooks', 'rosetta-jobs']) {
      for (const state of ['waiting', 'active', 'delayed', 'failed']) {
        const depth = valueOf(samples, 'rosetta_queue_jobs', { queue, state });
        expect(depth).toBeDefined();
        expect(Number.isInteger(depth) && (depth ?? -1) >= 0).toBe(true);
      }
    }
    // The failing receiver's deliveries wait out their backoff, one per event.
    expect(valueOf(samples, 'rosetta_queue_jobs', { queue: 'rosetta-webhooks', state: 'delayed' })).toBeLessThanOrEqual(
      events,
    );
  }, 30_000);

  it("serves the metrics of deploy/observability/metrics.json that are the worker's with their types and labels", async () => {
    const catalog = (
      JSON.parse(readFileSync(`${__dirname}/../../deploy/observability/metrics.json`, 'utf8')) as Array<{
        name: string;
        type: string;
        labels: string[];
      }>
    ).filter((m) => /^rosetta_(queue|job|changefeed|webhook)_/.test(m.name));
    expect(catalog.map((m) => m.name).sort()).toEqual([
      'rosetta_changefeed_events_total',
      'rosetta_changefeed_lag_seconds',
      'rosetta_job_duration_seconds',
      'rosetta_job_failures_total',
      'rosetta_queue_jobs',
      'rosetta_webhook_deliveries_total',
      'rosetta_webhook_delivery_duration_seconds',
    ]);
    const { text, samples } = await scrape(worker);
    for (const metric of catalog) {
      const type = new RegExp(`^# TYPE ${metric.name} (\\w+)$`, 'm').exec(text)?.[1];
      expect({ metric: metric.name, type }).toEqual({ metric: metric.name, type: metric.type });
      const series = samples.filter((sample) => sample.name.replace(/_(bucket|sum|count)$/, '') === metric.name);
      expect(series.length).toBeGreaterThan(0);
      for (const { labels } of series) {
        const names = Object.keys(labels).filter((label) => label !== 'le' && !label.startsWith('otel_scope_'));
        expect({ metric: metric.name, labels: names.sort() }).toEqual({
          metric: metric.name,
          labels: [...metric.labels].sort(),
        });
      }
    }
  });

  it('answers /readyz with each check', async () => {
    const response = await fetch(`${worker.healthUrl}/readyz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ready', checks: { redis: 'ok', api: 'ok', worker: 'ok' } });
    await expect(worker.checks()).resolves.toEqual({ redis: 'ok', api: 'ok', worker: 'ok' });
    await expect(worker.ready()).resolves.toBe(true);
  });
});

describe('a worker whose record service does not answer', () => {
  it('answers /readyz 503 naming the failing check, and /metrics 404 without a scrape', async () => {
    const clients = serviceClients(api.runtime);
    const worker = await createWorkerRuntime(
      loadWorkerConfig({ REDIS_URL, REDIS_PREFIX: newPrefix(), WORKER_HEALTH_PORT: '0', LOG_LEVEL: 'silent' }),
      logger,
      { ...clients, changes: { ...clients.changes, tailPosition: () => Promise.reject(new Error('unreachable')) } },
    );
    try {
      const response = await fetch(`${worker.healthUrl}/readyz`);
      expect(response.status).toBe(503);
      expect(await response.json()).toEqual({
        status: 'unavailable',
        checks: { redis: 'ok', api: 'failing', worker: 'ok' },
      });
      await expect(worker.ready()).resolves.toBe(false);
      expect((await fetch(`${worker.healthUrl}/metrics`)).status).toBe(404);
    } finally {
      await worker.close();
    }
  });
});

describe("the all-in-one process's runners", () => {
  it('record the same series as the clustered worker', async () => {
    const ref = { space: SPACE, collection: 'metered-embedded' };
    await api.collections.createCollection({ collection: ref });
    await api.webhooks.createWebhook({ collection: ref, url: `${base}/ok`, secret: 'webhook-secret-0123456789' });
    const before = parseSamples(await telemetry.scrape());
    const clients = serviceClients(api.runtime);
    const deliveries = new InProcessWebhookDispatcher(
      new WebhookTargets(clients.webhooks),
      clients.webhooks,
      { attempts: 2, backoffMs: 60_000 },
      logger,
    );
    const cursor = new MemoryCursorStore();
    const relay = createEmbeddedRelay({
      feed: clients.changes,
      publisher: new InProcessEventBus(() => undefined),
      cursor,
      batch: 100,
      intervalMs: 20,
      logger,
      webhooks: deliveries,
    });
    const jobs = embeddedJobs(api, { deleteBatch: 2 });
    try {
      await expectEventually(async () => expect(await cursor.get()).toBeDefined());
      for (let i = 0; i < 10; i++) {
        const key = i < 3 ? `gone/${i}` : `kept/${i}`;
        await api.records.putRecord({ collection: ref, key, value: Buffer.from('v'), contentType: 'text/plain' });
      }
      const { job } = await api.jobs.startDeleteJob({ collection: ref, filter: { prefix: 'gone/' } });
      await expectEventually(
        async () => expect((await api.jobs.getJob({ space: SPACE, id: job?.id ?? 0n })).job?.state).toBe('succeeded'),
        { timeoutMs: 20_000, intervalMs: 50 },
      );
      const events = 13;
      const grew = (after: readonly Sample[], name: string, labels: Record<string, string> = {}) =>
        (valueOf(after, name, labels) ?? 0) - (valueOf(before, name, labels) ?? 0);
      const runs = 'rosetta_job_duration_seconds_count';
      await expectEventually(
        async () => {
          const after = parseSamples(await telemetry.scrape());
          expect(grew(after, 'rosetta_changefeed_events_total')).toBeGreaterThanOrEqual(events);
          expect(grew(after, 'rosetta_changefeed_lag_seconds_count')).toBeGreaterThan(0);
          expect(grew(after, 'rosetta_changefeed_lag_seconds_count')).toBeLessThanOrEqual(
            grew(after, 'rosetta_changefeed_events_total'),
          );
          expect(grew(after, 'rosetta_webhook_deliveries_total', { outcome: 'delivered' })).toBeGreaterThanOrEqual(
            events,
          );
          expect(grew(after, runs, { job: 'webhooks.deliver', outcome: 'completed' })).toBeGreaterThanOrEqual(events);
          expect(grew(after, runs, { job: 'events.relay', outcome: 'completed' })).toBeGreaterThan(0);
          expect(grew(after, runs, { job: 'jobs.dispatch', outcome: 'completed' })).toBeGreaterThan(0);
          expect(grew(after, runs, { job: 'jobs.run', outcome: 'completed' })).toBeGreaterThanOrEqual(1);
        },
        { timeoutMs: 10_000, intervalMs: 100 },
      );
    } finally {
      await jobs.stop();
      await relay.stop();
      await deliveries.stop();
    }
  }, 30_000);
});
