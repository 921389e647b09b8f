import { z } from 'zod';

/**
 * The job catalog: what producers and the worker agree on. Each job has a `domain.action` name,
 * the queue it runs on, a payload schema and a retry policy.
 */
export interface JobDefinition<P extends z.ZodType> {
  readonly name: string;
  readonly queue: string;
  readonly payload: P;
  /** Attempts before the job is failed for good. */
  readonly attempts: number;
  /** First retry delay in ms; each later one doubles it. */
  readonly backoffMs: number;
}

function defineJob<P extends z.ZodType>(job: JobDefinition<P>): JobDefinition<P> {
  return job;
}

/** Relays committed change events from the outbox to the event bus (Redis pub/sub when clustered). */
export const eventsRelayJob = defineJob({
  name: 'events.relay',
  queue: 'rosetta-events',
  payload: z.object({}).strict(),
  // The scheduler starts the next run within RELAY_INTERVAL_MS anyway: retrying a failed run as
  // well would only pile attempts onto an outage.
  attempts: 1,
  backoffMs: 200,
});

/** Retention: deletes change events older than the window, never before they were relayed. */
export const eventsCompactJob = defineJob({
  name: 'events.compact',
  queue: 'rosetta-events',
  payload: z.object({}).strict(),
  // Scheduled every COMPACT_INTERVAL_MS: the next run retries.
  attempts: 1,
  backoffMs: 1000,
});

/**
 * Delivers one change event to one webhook. The id of the job is the webhook's and the event's,
 * so that an event relayed twice is queued once while its job is kept.
 */
export const webhooksDeliverJob = defineJob({
  name: 'webhooks.deliver',
  queue: 'rosetta-webhooks',
  payload: z
    .object({
      webhookId: z.string().regex(/^\d{1,19}$/),
      // The change event, as proto3 JSON (its value travels with it up to 64 KiB).
      event: z.string(),
    })
    .strict(),
  // Exponential: 1 s, 2 s, 4 s … about 4 minutes over 8 attempts (WEBHOOK_ATTEMPTS and
  // WEBHOOK_BACKOFF_MS change them).
  attempts: 8,
  backoffMs: 1000,
});

/**
 * Finds the jobs of the JobService that are queued or running and queues each as a `jobs.run`
 * (one BullMQ job per job id, so that a job is never run twice at once).
 */
export const jobsDispatchJob = defineJob({
  name: 'jobs.dispatch',
  queue: 'rosetta-jobs',
  payload: z.object({}).strict(),
  // Scheduled every JOB_POLL_MS: the next run retries.
  attempts: 1,
  backoffMs: 1000,
});

/**
 * Runs a job of the JobService (a bulk delete, a snapshot, a restore) until it finishes. Its
 * progress lives in Postgres, so a retry (or another worker, after a crash) goes on where the
 * last committed step ended (a snapshot starts over).
 */
export const jobsRunJob = defineJob({
  name: 'jobs.run',
  queue: 'rosetta-jobs',
  payload: z
    .object({
      jobId: z.string().regex(/^\d{1,19}$/),
      kind: z.enum(['delete', 'snapshot', 'restore']),
      space: z.string().min(1),
    })
    .strict(),
  // Exponential from 1 s; after the last attempt the dispatcher queues the job again, so an
  // outage delays a job but never abandons it.
  attempts: 10,
  backoffMs: 1000,
});

/** Starts the snapshot of a snapshot schedule (a BullMQ job scheduler per schedule). */
export const snapshotsScheduleJob = defineJob({
  name: 'snapshots.schedule',
  queue: 'rosetta-jobs',
  payload: z.object({ scheduleId: z.string().regex(/^\d{1,19}$/) }).strict(),
  // The next turn of the schedule retries.
  attempts: 3,
  backoffMs: 5000,
});

export const JOBS = [
  eventsRelayJob,
  eventsCompactJob,
  webhooksDeliverJob,
  jobsDispatchJob,
  jobsRunJob,
  snapshotsScheduleJob,
] as const;

export type EventsRelayPayload = z.infer<typeof eventsRelayJob.payload>;
