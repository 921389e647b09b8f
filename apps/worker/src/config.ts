import { z } from 'zod';
import {
  envLogFormat,
  envLogLevel,
  envOptionalString,
  envPort,
  parseEnv,
  SnapshotStoreConfigSchema,
} from '@rosetta/platform';

export const WorkerConfigSchema = z
  .object({
    /** Base URL of the record service (HTTP/2 cleartext), whose change feed the relay reads. */
    API_URL: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:8081'),
    /** Redis for BullMQ, the event bus and the relay cursor; the worker process requires it (see requireRedisUrl). */
    REDIS_URL: envOptionalString(),
    /** The cluster's internal secret, shared with the api: the worker's credential. Required by the worker process. */
    ROSETTA_INTERNAL_SECRET: envOptionalString().pipe(z.string().min(32).optional()),
    /** Prefix of every Redis key and channel, so deployments (and tests) can share a server. */
    REDIS_PREFIX: z.string().default('rosetta:'),
    /** How often the outbox relay runs (ms); each run drains everything committed so far. */
    RELAY_INTERVAL_MS: z.coerce.number().int().min(10).default(250),
    /** Change events per ReadChanges page; the record service refuses more than 1000. */
    RELAY_BATCH: z.coerce.number().int().min(1).max(1000).default(500),
    /** How long the change feed keeps events (hours); readers resuming from older revisions get 410. */
    CHANGE_RETENTION_HOURS: z.coerce.number().positive().default(168),
    /** How often the retention job runs (ms). */
    COMPACT_INTERVAL_MS: z.coerce.number().int().min(100).default(10_000),
    /** Attempts of a webhook delivery before it is dead (the dead-letter list). */
    WEBHOOK_ATTEMPTS: z.coerce.number().int().min(1).max(30).default(8),
    /** The first retry's delay of a webhook delivery (ms); each later one doubles it. */
    WEBHOOK_BACKOFF_MS: z.coerce.number().int().min(1).default(1000),
    /** Webhook deliveries in flight at once, per worker process. */
    WEBHOOK_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(16),
    /** How often the worker looks for bulk-delete jobs to run (ms). */
    JOB_POLL_MS: z.coerce.number().int().min(50).default(1000),
    /** Bulk-delete jobs run at once, per worker process. */
    JOB_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
    /** Records a bulk-delete job deletes per step (one transaction each); the record service allows 1 to 50,000. */
    DELETE_JOB_BATCH: z.coerce.number().int().min(1).max(50_000).default(5000),
    /**
     * How long a running job's lock lasts without renewal (ms): after a worker dies, its jobs run
     * again on another worker (or after its restart) about this long after.
     */
    JOB_LOCK_MS: z.coerce.number().int().min(1000).default(30_000),
    /** Interface the health server (/healthz, /readyz) binds to. */
    WORKER_HEALTH_HOST: z.string().default('127.0.0.1'),
    /** Port of the health server; 0 picks a free one. */
    WORKER_HEALTH_PORT: envPort(8082),
    /** pino level: trace, debug, info, warn, error, fatal or silent. */
    LOG_LEVEL: envLogLevel(),
    /** `json` lines, or `pretty` ones for a terminal. */
    LOG_FORMAT: envLogFormat(),
    /** Deadline for a graceful shutdown (ms). */
    SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  })
  .extend(SnapshotStoreConfigSchema.shape);

export type WorkerConfig = z.output<typeof WorkerConfigSchema>;

export function loadConfig(env: Record<string, string | undefined> = process.env): WorkerConfig {
  return parseEnv(WorkerConfigSchema, env);
}

/** The worker process authenticates to the record service with the internal secret; it must be set. */
export function requireInternalSecret(config: WorkerConfig): string {
  if (config.ROSETTA_INTERNAL_SECRET === undefined) {
    throw new Error(
      "invalid configuration:\n  ROSETTA_INTERNAL_SECRET: required by the worker process (the same value as the api's)",
    );
  }
  return config.ROSETTA_INTERNAL_SECRET;
}

/**
 * REDIS_URL, which the clustered worker cannot run without. The schema keeps it optional because
 * the all-in-one process reuses the schema and relays in-process when Redis is absent.
 */
export function requireRedisUrl(config: WorkerConfig): string {
  if (config.REDIS_URL === undefined) {
    throw new Error(
      'invalid configuration:\n  REDIS_URL: required by the worker process (the all-in-one `npm start` runs without Redis)',
    );
  }
  return config.REDIS_URL;
}
