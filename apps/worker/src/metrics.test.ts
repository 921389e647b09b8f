import { startTelemetry } from '@rosetta/platform';
import pino from 'pino';
import { observeQueueDepths, recordDelivery, recordRelayed, timeJob } from './metrics';

// Metrics only (no tracing: no propagator is registered), once for this file.
const telemetry = startTelemetry({ service: 'worker-unit', env: {} });
const logger = pino({ level: 'silent' });

afterAll(() => telemetry.shutdown());

/** The value of the first sample of `name` whose label text contains every `labels` pair. */
async function sample(name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  for (const line of (await telemetry.scrape()).split('\n')) {
    const match = /^([\w:]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match?.[1] === name && wanted.every((pair) => (match[2] ?? '').includes(pair))) return Number(match[3]);
  }
  return undefined;
}

function fakeQueue(name: string, counts: Record<string, number>) {
  return { name, getJobCounts: jest.fn(() => Promise.resolve(counts)) };
}

describe('timeJob', () => {
  it('records a run by job and outcome, and counts failures', async () => {
    await expect(timeJob('events.relay', () => Promise.resolve(3))).resolves.toBe(3);
    await expect(timeJob('events.relay', () => Promise.reject(new Error('down')))).rejects.toThrow('down');

    expect(await sample('rosetta_job_duration_seconds_count', { job: 'events.relay', outcome: 'completed' })).toBe(1);
    expect(await sample('rosetta_job_duration_seconds_count', { job: 'events.relay', outcome: 'failed' })).toBe(1);
    expect(await sample('rosetta_job_failures_total', { job: 'events.relay' })).toBe(1);
  });
});

describe('recordRelayed', () => {
  it('counts the events and records the lag of each collection’s oldest, never below zero', async () => {
    const now = 1_700_000_000_000;
    const of = (count: number, ms: number) => ({ count, oldestAtUs: BigInt(ms) * 1000n });
    recordRelayed([of(4, now - 1500), of(1, now - 500), of(2, now + 2000)], now);

    expect(await sample('rosetta_changefeed_events_total')).toBe(7);
    expect(await sample('rosetta_changefeed_lag_seconds_count')).toBe(3);
    expect(await sample('rosetta_changefeed_lag_seconds_sum')).toBeCloseTo(2, 6);
    expect(await sample('rosetta_changefeed_lag_seconds_bucket', { le: '0.5' })).toBe(2);
  });
});

describe('recordDelivery', () => {
  it('counts deliveries and times them by outcome', async () => {
    recordDelivery('delivered', 0.02);
    recordDelivery('retrying', 10);

    expect(await sample('rosetta_webhook_deliveries_total', { outcome: 'delivered' })).toBe(1);
    expect(await sample('rosetta_webhook_deliveries_total', { outcome: 'retrying' })).toBe(1);
    expect(await sample('rosetta_webhook_delivery_duration_seconds_sum', { outcome: 'retrying' })).toBe(10);
  });
});

describe('observeQueueDepths', () => {
  it('reports each state of each queue, reading Redis at most once per max age', async () => {
    const events = fakeQueue('rosetta-events', { waiting: 2, prioritized: 1, active: 1, delayed: 0, failed: 4 });
    const jobs = fakeQueue('rosetta-jobs', { waiting: 0, prioritized: 0, active: 0, delayed: 7, failed: 0 });
    const stop = observeQueueDepths([events, jobs], logger, 60_000);
    try {
      // Concurrent scrapes share one read, and later ones within the max age read none.
      await Promise.all([telemetry.scrape(), telemetry.scrape(), telemetry.scrape()]);
      expect(await sample('rosetta_queue_jobs', { queue: 'rosetta-events', state: 'waiting' })).toBe(3);
      expect(await sample('rosetta_queue_jobs', { queue: 'rosetta-events', state: 'active' })).toBe(1);
      expect(await sample('rosetta_queue_jobs', { queue: 'rosetta-events', state: 'failed' })).toBe(4);
      expect(await sample('rosetta_queue_jobs', { queue: 'rosetta-jobs', state: 'delayed' })).toBe(7);
      expect(await sample('rosetta_queue_jobs', { queue: 'rosetta-jobs', state: 'active' })).toBe(0);
      expect(events.getJobCounts).toHaveBeenCalledTimes(1);
      expect(jobs.getJobCounts).toHaveBeenCalledTimes(1);
    } finally {
      stop();
    }
  });

  it('reads again once the counts are older than the max age', async () => {
    const counts = { waiting: 1, active: 0, delayed: 0, failed: 0 };
    const queue = fakeQueue('rosetta-webhooks', counts);
    const stop = observeQueueDepths([queue], logger, 0);
    try {
      expect(await sample('rosetta_queue_jobs', { queue: 'rosetta-webhooks', state: 'waiting' })).toBe(1);
      counts.waiting = 5;
      expect(await sample('rosetta_queue_jobs', { queue: 'rosetta-webhooks', state: 'waiting' })).toBe(5);
    } finally {
      stop();
    }
  });

  it('answers the scrape when Redis does not, and tries again only after the max age', async () => {
    const queue = fakeQueue('rosetta-failing', {});
    queue.getJobCounts.mockImplementation(() => Promise.reject(new Error('Redis is away')));
    const stop = observeQueueDepths([queue], logger, 60_000);
    try {
      await telemetry.scrape();
      expect(await sample('rosetta_queue_jobs', { queue: 'rosetta-failing' })).toBeUndefined();
      expect(queue.getJobCounts).toHaveBeenCalledTimes(1);
    } finally {
      stop();
    }
  });
});
