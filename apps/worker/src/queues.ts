import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { BullMQOtel } from 'bullmq-otel';
import type { Redis } from 'ioredis';
import type { Logger } from '@rosetta/platform';
import {
  eventsCompactJob,
  eventsRelayJob,
  jobsDispatchJob,
  jobsRunJob,
  snapshotsScheduleJob,
  webhooksDeliverJob,
} from '@rosetta/proto';
import type { z } from 'zod';
import { toJobError, unrecoverable } from './job-errors';
import { timeJob } from './metrics';
import type { JobRef } from './jobs/run-job';

/** BullMQ keys live beside the deployment's other keys: `<REDIS_PREFIX>bull:<queue>:…`. */
export function bullPrefix(redisPrefix: string): string {
  return `${redisPrefix}bull`;
}

/** Ids of the schedulers that enqueue the relay and the retention; every worker upserts them (idempotent). */
export const RELAY_SCHEDULER_ID = eventsRelayJob.name;
export const COMPACT_SCHEDULER_ID = eventsCompactJob.name;
export const DISPATCH_SCHEDULER_ID = jobsDispatchJob.name;

/** What the worker runs for each job of the catalog. */
export interface JobHandlers {
  /** `events.relay`: resolves with the number of events relayed. */
  readonly relayEvents: (signal: AbortSignal | undefined) => Promise<number>;
  /** `events.compact`: resolves with the number of events deleted. */
  readonly compactChanges: (signal: AbortSignal | undefined) => Promise<number>;
  /** `webhooks.deliver`: one attempt (1 for the first); `final` when no retry follows a failure. */
  readonly deliverWebhook?: (
    payload: z.infer<typeof webhooksDeliverJob.payload>,
    attempt: { readonly number: number; readonly final: boolean },
    signal: AbortSignal | undefined,
  ) => Promise<unknown>;
  /** `jobs.dispatch`: resolves with the number of unfinished jobs handed to the runner. */
  readonly dispatchJobs?: (signal: AbortSignal | undefined) => Promise<number>;
  /** `jobs.run`: runs the job until it finishes or `signal` hands it back. */
  readonly runJob?: (job: JobRef, signal: AbortSignal | undefined) => Promise<unknown>;
  /** `snapshots.schedule`: starts a schedule's snapshot. */
  readonly runSchedule?: (scheduleId: bigint) => Promise<unknown>;
}

/** The part of a BullMQ job that the processor reads. */
export type JobInput = Pick<Job<unknown, unknown, string>, 'name' | 'data'> &
  Partial<Pick<Job<unknown, unknown, string>, 'attemptsMade' | 'opts'>>;

/** The catalog's job names: the only values of the `job` label (anything else counts as `unknown`). */
const CATALOG_NAMES: ReadonlySet<string> = new Set([
  eventsRelayJob.name,
  eventsCompactJob.name,
  webhooksDeliverJob.name,
  jobsDispatchJob.name,
  jobsRunJob.name,
  snapshotsScheduleJob.name,
]);

/**
 * BullMQ's OpenTelemetry support: a producer span for each job queued, whose context travels
 * in the job, and a consumer span for each run, continuing it. Without a tracer provider (tracing
 * off) the spans are no-ops.
 */
function bullTelemetry(): BullMQOtel {
  return new BullMQOtel({ tracerName: 'rosetta' });
}

/**
 * The BullMQ processor: checks the payload against the catalog, dispatches by name, maps errors,
 * and records each run's duration and outcome (rosetta_job_duration_seconds).
 */
export function createJobProcessor(
  handlers: JobHandlers,
): (job: JobInput, token?: string, signal?: AbortSignal) => Promise<unknown> {
  const run = processorOf(handlers);
  return (job, token, signal) =>
    timeJob(CATALOG_NAMES.has(job.name) ? job.name : 'unknown', () => run(job, token, signal));
}

function processorOf(handlers: JobHandlers): (job: JobInput, token?: string, signal?: AbortSignal) => Promise<unknown> {
  return async (job, _token, signal) => {
    try {
      switch (job.name) {
        case eventsRelayJob.name: {
          const payload = eventsRelayJob.payload.safeParse(job.data);
          if (!payload.success) {
            throw unrecoverable(`${job.name}: invalid payload`, payload.error);
          }
          return await handlers.relayEvents(signal);
        }
        case eventsCompactJob.name: {
          const payload = eventsCompactJob.payload.safeParse(job.data);
          if (!payload.success) {
            throw unrecoverable(`${job.name}: invalid payload`, payload.error);
          }
          return await handlers.compactChanges(signal);
        }
        case webhooksDeliverJob.name: {
          const payload = webhooksDeliverJob.payload.safeParse(job.data);
          if (!payload.success || handlers.deliverWebhook === undefined) {
            throw unrecoverable(`${job.name}: invalid payload`, payload.error);
          }
          const number = (job.attemptsMade ?? 0) + 1;
          return await handlers.deliverWebhook(
            payload.data,
            { number, final: number >= (job.opts?.attempts ?? 1) },
            signal,
          );
        }
        case jobsDispatchJob.name: {
          const payload = jobsDispatchJob.payload.safeParse(job.data);
          if (!payload.success || handlers.dispatchJobs === undefined) {
            throw unrecoverable(`${job.name}: invalid payload`, payload.error);
          }
          return await handlers.dispatchJobs(signal);
        }
        case jobsRunJob.name: {
          const payload = jobsRunJob.payload.safeParse(job.data);
          if (!payload.success || handlers.runJob === undefined) {
            throw unrecoverable(`${job.name}: invalid payload`, payload.error);
          }
          const { jobId, kind, space } = payload.data;
          return await handlers.runJob({ id: BigInt(jobId), kind, space }, signal);
        }
        case snapshotsScheduleJob.name: {
          const payload = snapshotsScheduleJob.payload.safeParse(job.data);
          if (!payload.success || handlers.runSchedule === undefined) {
            throw unrecoverable(`${job.name}: invalid payload`, payload.error);
          }
          return await handlers.runSchedule(BigInt(payload.data.scheduleId));
        }
        default:
          throw new UnrecoverableError(`no handler for job "${job.name}"`);
      }
    } catch (error) {
      throw toJobError(job.name, error);
    }
  };
}

/**
 * A queue of the catalog (the `events.*` jobs' by default), on the producer connection (fail
 * fast: `enableOfflineQueue: false`).
 */
export function createEventsQueue(
  producer: Redis,
  redisPrefix: string,
  logger: Logger,
  name = eventsRelayJob.queue,
): Queue {
  const queue = new Queue(name, { connection: producer, prefix: bullPrefix(redisPrefix), telemetry: bullTelemetry() });
  queue.on('error', (error) => logger.error({ err: error, queue: name }, 'queue error'));
  return queue;
}

/** Makes the relay run every `everyMs`, with the catalog's retry policy. */
export async function scheduleRelay(queue: Queue, everyMs: number): Promise<void> {
  // One relay at a time across every worker of the deployment: two concurrent runs would publish
  // the same page twice and could interleave pages out of order. The price is that a relay
  // stalled by a crashed worker holds the slot until BullMQ's stalled check frees it.
  await queue.setGlobalConcurrency(1);
  await queue.upsertJobScheduler(
    RELAY_SCHEDULER_ID,
    { every: everyMs },
    {
      name: eventsRelayJob.name,
      data: {},
      opts: {
        attempts: eventsRelayJob.attempts,
        backoff: { type: 'exponential', delay: eventsRelayJob.backoffMs },
      },
    },
  );
}

/**
 * Makes the retention run every `everyMs`. It shares the queue (and its one-at-a-time slot) with
 * the relay, so each run deletes a bounded number of events (see compactChanges).
 */
export async function scheduleCompaction(queue: Queue, everyMs: number): Promise<void> {
  await queue.upsertJobScheduler(
    COMPACT_SCHEDULER_ID,
    { every: everyMs },
    {
      name: eventsCompactJob.name,
      data: {},
      opts: {
        attempts: eventsCompactJob.attempts,
        backoff: { type: 'exponential', delay: eventsCompactJob.backoffMs },
      },
    },
  );
}

/** Makes the dispatcher of the JobService's jobs run every `everyMs`. */
export async function scheduleDispatch(queue: Queue, everyMs: number): Promise<void> {
  await queue.upsertJobScheduler(
    DISPATCH_SCHEDULER_ID,
    { every: everyMs },
    { name: jobsDispatchJob.name, data: {}, opts: { attempts: jobsDispatchJob.attempts } },
  );
}

export interface EventsWorkerOptions {
  readonly redisUrl: string;
  readonly redisPrefix: string;
  readonly handlers: JobHandlers;
  readonly logger: Logger;
  /** The queue worked (default: the events queue) and how many of its jobs run at once (default 1). */
  readonly queue?: string;
  readonly concurrency?: number;
  /**
   * How long a job's lock lasts without renewal (ms; BullMQ's default 30 s): a job whose worker
   * died is run again about this long after.
   */
  readonly lockDurationMs?: number;
}

/**
 * The BullMQ worker of the `events.*` queue. It opens and owns its connections, with
 * `maxRetriesPerRequest: null` as BullMQ requires of blocking connections: a worker waits for
 * Redis to come back rather than failing its commands.
 */
export function createEventsWorker(options: EventsWorkerOptions): Worker {
  const { logger } = options;
  const queue = options.queue ?? eventsRelayJob.queue;
  const worker = new Worker(queue, createJobProcessor(options.handlers), {
    connection: { url: options.redisUrl, maxRetriesPerRequest: null, connectionName: `rosetta-worker-${queue}` },
    prefix: bullPrefix(options.redisPrefix),
    telemetry: bullTelemetry(),
    concurrency: options.concurrency ?? 1,
    ...(options.lockDurationMs === undefined
      ? {}
      : { lockDuration: options.lockDurationMs, stalledInterval: options.lockDurationMs }),
    removeOnComplete: { count: 100 },
    removeOnFail: { age: 7 * 24 * 3600, count: 1000 },
  });
  worker.on('error', (error) => logger.error({ err: error }, 'worker error'));
  worker.on('failed', (job, error) => {
    const context = { err: error, job: job?.name, jobId: job?.id, attemptsMade: job?.attemptsMade };
    // While the record service is down, every attempt of every scheduled run fails: a warning per
    // run, not per attempt, is enough.
    const lastAttempt = job === undefined || job.attemptsMade >= (job.opts.attempts ?? 1);
    if (error instanceof UnrecoverableError) logger.error(context, 'job failed permanently');
    else if (lastAttempt) logger.warn(context, 'job failed after its last attempt');
    else logger.debug(context, 'job attempt failed; retrying');
  });
  worker.on('completed', (job, result) => logger.trace({ job: job.name, jobId: job.id, result }, 'job completed'));
  return worker;
}
