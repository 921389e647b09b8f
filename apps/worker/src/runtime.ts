import type { Client } from '@connectrpc/connect';
import { Redis } from 'ioredis';
import type { Logger } from '@rosetta/platform';
import {
  decodeEventMessage,
  jobsRunJob,
  webhooksDeliverJob,
  type ChangeFeedService,
  type JobService,
  type RecordService,
  type SnapshotService,
  type WebhookService,
} from '@rosetta/proto';
import { RedisCursorStore } from './adapters/redis-cursor-store';
import { RedisEventPublisher } from './adapters/redis-event-publisher';
import { requireRedisUrl, type WorkerConfig } from './config';
import { isReady, startHealthServer, type CheckState, type ReadinessChecks } from './health-server';
import { observeQueueDepths } from './metrics';
import { relayEvents } from './jobs/events-relay';
import { compactChanges, COMPACT_BATCH, COMPACT_MAX_BATCHES } from './jobs/compact-changes';
import { QueueWebhookDispatcher } from './adapters/webhook-dispatchers';
import { deliverWebhook, WebhookTargets } from './jobs/webhooks';
import { QueueJobRunner } from './adapters/job-runners';
import { dispatchJobs } from './jobs/bulk-delete';
import { runJob } from './jobs/run-job';
import { QueueScheduleSync } from './adapters/snapshot-schedulers';
import { createSnapshotStore } from '@rosetta/platform';
import {
  createEventsQueue,
  createEventsWorker,
  scheduleCompaction,
  scheduleDispatch,
  scheduleRelay,
  type JobHandlers,
} from './queues';

export interface WorkerRuntime {
  /** Base URL of the health server (`/healthz`, `/readyz`, and `/metrics` when given `scrape`). */
  readonly healthUrl: string;
  /** Whether Redis is ready, the worker runs and the record service answers. */
  ready(): Promise<boolean>;
  /** The same, check by check (what `/readyz` answers). */
  checks(): Promise<ReadinessChecks>;
  /** Closes the health server, then worker.close(), queue.close(), redis.quit(). */
  close(): Promise<void>;
}

/** Bounds the readiness probe's call, so that a hung record service reads as not ready. */
const READY_TIMEOUT_MS = 2000;
/**
 * The lock of a run of the events queue (relay, retention) and of a webhook delivery, renewed
 * every half of it while the run goes on. A run of a worker that died is handed back only once
 * its lock has expired and a stalled-job check (every as long) has seen it twice: with BullMQ's
 * 30 s, the relay (one run at a time) stopped, and the deliveries in flight waited, for about a
 * minute after a worker crash; with 5 s, about 10 s.
 */
const EVENTS_LOCK_MS = 5_000;

/** The record service's clients the worker calls, with the worker's credential. */
export interface WorkerClients {
  readonly changes: Client<typeof ChangeFeedService>;
  readonly webhooks: Client<typeof WebhookService>;
  readonly jobs: Client<typeof JobService>;
  readonly snapshots: Client<typeof SnapshotService>;
  readonly records: Client<typeof RecordService>;
}

export interface WorkerRuntimeOptions {
  /**
   * The process's metrics in Prometheus' text format (`startTelemetry(…).scrape`), served on the
   * health server's `/metrics`; without it, `/metrics` answers 404.
   */
  readonly scrape?: (() => Promise<string>) | undefined;
}

/**
 * The clustered worker: BullMQ on Redis runs the catalog's jobs (the outbox relay, the
 * retention and the jobs' dispatcher on job schedulers), change events go to Redis pub/sub, and
 * a health server answers probes and scrapes. The record service is reached only through
 * `clients`. Its metrics are recorded on the meter `startTelemetry` registered, which must have
 * run before.
 */
export async function createWorkerRuntime(
  config: WorkerConfig,
  logger: Logger,
  clients: WorkerClients,
  options: WorkerRuntimeOptions = {},
): Promise<WorkerRuntime> {
  const { changes: feed, webhooks, jobs, snapshots, records } = clients;
  const redisUrl = requireRedisUrl(config);
  // Whatever is created is closed again, last first, if a later step fails.
  const cleanup: Array<() => Promise<unknown>> = [];
  try {
    // Producing fails fast rather than queueing while Redis is away: a failed publish or cursor
    // write fails the relay job, and BullMQ retries it with backoff.
    const redis = new Redis(redisUrl, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectionName: 'rosetta-worker-producer',
    });
    redis.on('error', (error: Error) => logger.warn({ err: error }, 'redis error'));
    cleanup.push(() => redis.quit().catch(() => redis.disconnect()));
    await redis.connect().catch((error: unknown) => {
      throw new Error('cannot connect to Redis at REDIS_URL', { cause: error });
    });

    const queue = createEventsQueue(redis, config.REDIS_PREFIX, logger);
    cleanup.push(() => queue.close());
    await scheduleRelay(queue, config.RELAY_INTERVAL_MS);
    await scheduleCompaction(queue, config.COMPACT_INTERVAL_MS);

    const publisher = new RedisEventPublisher(redis, config.REDIS_PREFIX);
    const cursor = new RedisCursorStore(redis, config.REDIS_PREFIX);
    const targets = new WebhookTargets(webhooks);
    const deliveries = createEventsQueue(redis, config.REDIS_PREFIX, logger, webhooksDeliverJob.queue);
    cleanup.push(() => deliveries.close());
    const dispatcher = new QueueWebhookDispatcher(deliveries, targets, {
      attempts: config.WEBHOOK_ATTEMPTS,
      backoffMs: config.WEBHOOK_BACKOFF_MS,
    });
    const jobsQueue = createEventsQueue(redis, config.REDIS_PREFIX, logger, jobsRunJob.queue);
    cleanup.push(() => jobsQueue.close());
    await scheduleDispatch(jobsQueue, config.JOB_POLL_MS);
    const stopObserving = observeQueueDepths([queue, deliveries, jobsQueue], logger);
    cleanup.push(() => Promise.resolve(stopObserving()));
    const runner = new QueueJobRunner(jobsQueue);
    const scheduleSync = new QueueScheduleSync(jobsQueue);
    const store = await createSnapshotStore(config);
    const handlers: JobHandlers = {
      dispatchJobs: () => dispatchJobs({ jobs, snapshots, runner, schedules: scheduleSync }),
      // What BullMQ keeps as the run's result (JSON): where the job stood when the run ended.
      runJob: async (ref, signal) => {
        const job = await runJob(
          { jobs, snapshots, records, store, deleteBatch: config.DELETE_JOB_BATCH },
          ref,
          signal,
        );
        return job === undefined ? null : { state: job.state, done: Number(job.done) };
      },
      runSchedule: async (id) => {
        const { snapshot } = await snapshots.runSchedule({ id });
        return snapshot === undefined ? null : { snapshot: Number(snapshot.id) };
      },
      relayEvents: (signal) =>
        relayEvents({ feed, publisher, cursor, batch: config.RELAY_BATCH, signal, webhooks: dispatcher }),
      compactChanges: (signal) =>
        compactChanges({
          feed,
          cursor,
          retentionMs: config.CHANGE_RETENTION_HOURS * 3_600_000,
          batch: COMPACT_BATCH,
          maxBatches: COMPACT_MAX_BATCHES,
          signal,
        }),
      deliverWebhook: async (payload, attempt, signal) => {
        const target = await targets.byId(BigInt(payload.webhookId));
        // A webhook deleted since the event was queued gets no more deliveries.
        if (target === undefined) return 'dropped';
        const event = decodeEventMessage(payload.event);
        await deliverWebhook({ target, event, attempt: attempt.number, final: attempt.final, webhooks, signal });
        return 'delivered';
      },
    };
    const worker = createEventsWorker({
      redisUrl,
      redisPrefix: config.REDIS_PREFIX,
      logger,
      handlers,
      lockDurationMs: EVENTS_LOCK_MS,
    });
    cleanup.push(async () => {
      // A relay with a backlog stops after its current page instead of draining everything.
      worker.cancelAllJobs('shutting down');
      await worker.close();
    });
    await worker.waitUntilReady();
    const webhookWorker = createEventsWorker({
      redisUrl,
      redisPrefix: config.REDIS_PREFIX,
      logger,
      handlers,
      queue: webhooksDeliverJob.queue,
      concurrency: config.WEBHOOK_CONCURRENCY,
      lockDurationMs: EVENTS_LOCK_MS,
    });
    cleanup.push(async () => {
      // A delivery in flight is cancelled; BullMQ runs it again (at least once).
      webhookWorker.cancelAllJobs('shutting down');
      await webhookWorker.close();
    });
    await webhookWorker.waitUntilReady();
    const jobsWorker = createEventsWorker({
      redisUrl,
      redisPrefix: config.REDIS_PREFIX,
      logger,
      handlers,
      queue: jobsRunJob.queue,
      concurrency: config.JOB_CONCURRENCY,
      lockDurationMs: config.JOB_LOCK_MS,
    });
    cleanup.push(async () => {
      // A job ends after its current step and is handed back unfinished; the next dispatch
      // queues it again and it goes on from there.
      jobsWorker.cancelAllJobs('shutting down');
      await jobsWorker.close();
    });
    await jobsWorker.waitUntilReady();

    const state = (ok: boolean): CheckState => (ok ? 'ok' : 'failing');
    const checks = async (): Promise<ReadinessChecks> => {
      const api = await feed.tailPosition({}, { timeoutMs: READY_TIMEOUT_MS }).then(
        () => true,
        (error: unknown) => {
          logger.debug({ err: error }, 'readiness: the record service does not answer');
          return false;
        },
      );
      return {
        redis: state(redis.status === 'ready'),
        api: state(api),
        worker: state([worker, webhookWorker, jobsWorker].every((w) => w.isRunning())),
      };
    };
    const health = await startHealthServer({
      host: config.WORKER_HEALTH_HOST,
      port: config.WORKER_HEALTH_PORT,
      checks,
      scrape: options.scrape,
      logger,
    });
    cleanup.push(() => health.close());

    let closing: Promise<void> | undefined;
    return {
      healthUrl: health.url,
      ready: () => checks().then(isReady, () => false),
      checks,
      close: () => (closing ??= closeAll(cleanup, logger)),
    };
  } catch (error) {
    await closeAll(cleanup, logger).catch(() => undefined);
    throw error;
  }
}

/** Runs every step, last created first; a failing step is logged and does not skip the others. */
async function closeAll(steps: ReadonlyArray<() => Promise<unknown>>, logger: Logger): Promise<void> {
  let firstError: unknown;
  for (const step of [...steps].reverse()) {
    try {
      await step();
    } catch (error) {
      logger.error({ err: error }, 'closing the worker runtime failed');
      firstError ??= error;
    }
  }
  if (firstError !== undefined) throw firstError;
}
