import { telemetry } from './instrumentation';
import { createClient } from '@connectrpc/connect';
import { createLogger, ShutdownManager } from '@rosetta/platform';
import {
  AuthService,
  ChangeFeedService,
  createRpcTransport,
  ServiceGrant,
  JobService,
  RecordService,
  SnapshotService,
  WebhookService,
  withHeaders,
} from '@rosetta/proto';
import { loadConfig, requireInternalSecret, requireRedisUrl } from './config';
import { createWorkerRuntime } from './runtime';

/** A hung call would hold the relay job (and its BullMQ lock) for as long as it hangs. */
const CALL_TIMEOUT_MS = 30_000;
/** A page of change events: up to 1000 events, each carrying at most 64 KiB of value. */
const MAX_MESSAGE_BYTES = 128 * 1024 * 1024;

async function main(): Promise<void> {
  const config = loadConfig();
  requireRedisUrl(config);
  const secret = requireInternalSecret(config);
  const logger = createLogger({ name: 'worker', level: config.LOG_LEVEL, format: config.LOG_FORMAT });
  const shutdown = new ShutdownManager(logger, config.SHUTDOWN_TIMEOUT_MS);
  shutdown.installSignalHandlers();
  shutdown.add('telemetry', () => telemetry.shutdown());
  const transport = createRpcTransport({
    baseUrl: config.API_URL,
    defaultTimeoutMs: CALL_TIMEOUT_MS,
    maxMessageBytes: MAX_MESSAGE_BYTES,
  });
  shutdown.add('record service connection', () => transport.close());
  const grant = new ServiceGrant(createClient(AuthService, transport), secret);
  const feed = withHeaders(ChangeFeedService, createClient(ChangeFeedService, transport), () => grant.headers());
  const webhooks = withHeaders(WebhookService, createClient(WebhookService, transport), () => grant.headers());
  const jobs = withHeaders(JobService, createClient(JobService, transport), () => grant.headers());
  const snapshots = withHeaders(SnapshotService, createClient(SnapshotService, transport), () => grant.headers());
  const records = withHeaders(RecordService, createClient(RecordService, transport), () => grant.headers());
  const runtime = await createWorkerRuntime(
    config,
    logger,
    { changes: feed, webhooks, jobs, snapshots, records },
    { scrape: telemetry.scrape },
  );
  shutdown.add('worker runtime', () => runtime.close());
  logger.info({ api: config.API_URL, health: runtime.healthUrl }, 'worker running');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
