export { WorkerConfigSchema, loadConfig, requireRedisUrl, type WorkerConfig } from './config';
export type { CursorStore, EventPublisher } from './ports';
export {
  InProcessEventBus,
  type ChangeEventListener,
  type ListenerErrorHandler,
} from './adapters/in-process-event-bus';
export { MemoryCursorStore } from './adapters/memory-cursor-store';
export { RedisCursorStore } from './adapters/redis-cursor-store';
export { RedisEventPublisher } from './adapters/redis-event-publisher';
export { relayEvents, type RelayEventsDeps } from './jobs/events-relay';
export {
  createEmbeddedCompactor,
  createEmbeddedJobs,
  createEmbeddedRelay,
  type EmbeddedCompactorOptions,
  type EmbeddedJobsOptions,
  type EmbeddedRelay,
  type EmbeddedRelayOptions,
} from './embedded-relay';
export { compactChanges, COMPACT_BATCH, COMPACT_MAX_BATCHES, type CompactChangesDeps } from './jobs/compact-changes';
export { createWorkerRuntime, type WorkerClients, type WorkerRuntime, type WorkerRuntimeOptions } from './runtime';
export type { CheckState, ReadinessChecks } from './health-server';
export { dispatchJobs, runDeleteJob, type JobRunner } from './jobs/bulk-delete';
export { runJob, type JobRef, type RunJobDeps } from './jobs/run-job';
export { restoreSnapshot, takeSnapshot } from './jobs/snapshots';
export { readSnapshot, recordLine, SnapshotChecksum } from './jobs/snapshot-format';
export { InProcessJobRunner, QueueJobRunner } from './adapters/job-runners';
export { InProcessWebhookDispatcher, QueueWebhookDispatcher, type RetryPolicy } from './adapters/webhook-dispatchers';
export { deliverWebhook, webhookBody, webhookSignature, WebhookTargets, type WebhookDispatcher } from './jobs/webhooks';
