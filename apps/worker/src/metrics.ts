import {
  metrics,
  type Counter,
  type Histogram,
  type MeterProvider,
  type ObservableGauge,
  type ObservableResult,
} from '@opentelemetry/api';
import type { Queue } from 'bullmq';
import { LATENCY_BUCKETS, rosettaMeter, type Logger } from '@rosetta/platform';

/** How a run (an attempt) of a catalog job ended. */
export type JobOutcome = 'completed' | 'failed';

/** What a webhook delivery attempt left in the delivery log. */
export type DeliveryOutcome = 'delivered' | 'retrying' | 'dead';

/** The queue states `rosetta_queue_jobs` counts. */
export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;

/**
 * Bounds of the change-feed lag (seconds): the latency buckets, then minutes to an hour, since a
 * backlog or an outage of the relay is measured in minutes, not milliseconds.
 */
export const LAG_BUCKETS = [...LATENCY_BUCKETS, 30, 60, 300, 900, 3600] as const;

/** How long queue depths are trusted (ms): scrapes in between read the cached counts. */
export const QUEUE_DEPTH_MAX_AGE_MS = 5000;

interface Instruments {
  readonly jobDuration: Histogram;
  readonly jobFailures: Counter;
  readonly feedLag: Histogram;
  readonly feedEvents: Counter;
  readonly deliveries: Counter;
  readonly deliveryDuration: Histogram;
  readonly queueJobs: ObservableGauge;
}

let current: { readonly provider: MeterProvider; readonly instruments: Instruments } | undefined;

/**
 * The worker's instruments, made on first use from the meter provider registered then (by
 * `startTelemetry`): instruments made before it would record nothing for ever, so they are made
 * again if the provider changes. Shared by the clustered worker and the all-in-one runners.
 */
function instruments(): Instruments {
  const provider = metrics.getMeterProvider();
  if (current?.provider === provider) return current.instruments;
  const meter = rosettaMeter();
  const latency = { explicitBucketBoundaries: [...LATENCY_BUCKETS] };
  const made: Instruments = {
    jobDuration: meter.createHistogram('rosetta_job_duration_seconds', {
      unit: 's',
      description: 'Duration of background jobs, by job and outcome (completed or failed)',
      advice: latency,
    }),
    jobFailures: meter.createCounter('rosetta_job_failures_total', {
      description: 'Background job runs that failed, by job',
    }),
    feedLag: meter.createHistogram('rosetta_changefeed_lag_seconds', {
      unit: 's',
      description:
        'Per collection and relayed page, time from its oldest event being written (the start of its transaction) to the relay onto the live event bus',
      advice: { explicitBucketBoundaries: [...LAG_BUCKETS] },
    }),
    feedEvents: meter.createCounter('rosetta_changefeed_events_total', {
      description: 'Change events relayed from the change feed to the live event bus',
    }),
    deliveries: meter.createCounter('rosetta_webhook_deliveries_total', {
      description: 'Webhook delivery attempts, by outcome (delivered, retrying or dead)',
    }),
    deliveryDuration: meter.createHistogram('rosetta_webhook_delivery_duration_seconds', {
      unit: 's',
      description: 'Duration of webhook delivery attempts, by outcome (delivered, retrying or dead)',
      advice: latency,
    }),
    queueJobs: meter.createObservableGauge('rosetta_queue_jobs', {
      description: 'Jobs in a queue, by queue and state (waiting, active, delayed or failed)',
    }),
  };
  current = { provider, instruments: made };
  return made;
}

/** Records one run of a catalog job (`events.relay`, `jobs.run`, …): its duration and outcome. */
export function recordJobRun(job: string, outcome: JobOutcome, seconds: number): void {
  const { jobDuration, jobFailures } = instruments();
  jobDuration.record(seconds, { job, outcome });
  if (outcome === 'failed') jobFailures.add(1, { job });
}

/** Runs `run` as a run of the catalog job `job`, recording its duration and outcome. */
export async function timeJob<T>(job: string, run: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    const result = await run();
    recordJobRun(job, 'completed', (performance.now() - started) / 1000);
    return result;
  } catch (error) {
    recordJobRun(job, 'failed', (performance.now() - started) / 1000);
    throw error;
  }
}

/**
 * Records a relayed page of change events, from its summary: the events counted, and per
 * collection one lag, of its oldest event in the page (the longest any of them waited), from the
 * time it carries (`at_us`: the start of the transaction that wrote it; see
 * docs/observability.md) to `nowMs`. A clock behind the database's counts as no lag rather than
 * a negative one.
 */
export function recordRelayed(
  collections: ReadonlyArray<{ readonly count: number; readonly oldestAtUs: bigint }>,
  nowMs = Date.now(),
): void {
  if (collections.length === 0) return;
  const { feedLag, feedEvents } = instruments();
  for (const { count, oldestAtUs } of collections) {
    feedEvents.add(count);
    feedLag.record(Math.max(0, nowMs - Number(oldestAtUs) / 1000) / 1000);
  }
}

/** Records a webhook delivery attempt: what it left in the delivery log, and how long the POST took. */
export function recordDelivery(outcome: DeliveryOutcome, seconds: number): void {
  const { deliveries, deliveryDuration } = instruments();
  deliveries.add(1, { outcome });
  deliveryDuration.record(seconds, { outcome });
}

type Counts = ReadonlyArray<readonly [queue: string, counts: Readonly<Record<string, number>>]>;

/**
 * Reports the depth of `queues` as `rosetta_queue_jobs{queue,state}`. The counts are read from
 * Redis at most every `maxAgeMs` whatever the scrape rate (concurrent scrapes share one read). A
 * read that fails observes nothing new and is not retried before `maxAgeMs` either (the SDK goes
 * on exporting the last depths it saw; `/readyz` says Redis is away). Returns the function that
 * stops reporting (at shutdown).
 */
export function observeQueueDepths(
  queues: ReadonlyArray<Pick<Queue, 'name' | 'getJobCounts'>>,
  logger: Logger,
  maxAgeMs = QUEUE_DEPTH_MAX_AGE_MS,
): () => void {
  const { queueJobs } = instruments();
  let cached: { readonly at: number; readonly counts: Counts | undefined } | undefined;
  let pending: Promise<Counts | undefined> | undefined;

  const read = async (): Promise<Counts> =>
    Promise.all(
      queues.map(async (queue) => {
        const counts = await queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed');
        // A prioritized job waits as much as any other; the catalog gives none a priority today.
        const waiting = (counts.waiting ?? 0) + (counts.prioritized ?? 0);
        return [queue.name, { ...counts, waiting }] as const;
      }),
    );

  const refresh = (): Promise<Counts | undefined> =>
    (pending ??= read()
      .catch((error: unknown) => {
        logger.debug({ err: error }, 'reading queue depths failed');
        return undefined;
      })
      .then((counts) => {
        cached = { at: performance.now(), counts };
        return counts;
      })
      .finally(() => {
        pending = undefined;
      }));

  const callback = async (result: ObservableResult): Promise<void> => {
    const fresh = cached !== undefined && performance.now() - cached.at < maxAgeMs;
    const counts = fresh ? cached?.counts : await refresh();
    for (const [queue, byState] of counts ?? []) {
      for (const state of QUEUE_STATES) result.observe(byState[state] ?? 0, { queue, state });
    }
  };
  queueJobs.addCallback(callback);
  return () => queueJobs.removeCallback(callback);
}
