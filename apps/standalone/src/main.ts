import { telemetry } from './instrumentation';
import { createApiRuntime, firstStartBanner, loadConfig as loadApiConfig } from '@rosetta/api';
import {
  busChangeEvents,
  connectChangeEvents,
  createApp,
  graphqlOptions,
  legacyOptions,
  loadConfig as loadGatewayConfig,
  serverLimits,
  startHttpServer,
  type ChangeEvents,
  type RecordApi,
} from '@rosetta/gateway';
import { createLogger, createSnapshotStore, ShutdownManager } from '@rosetta/platform';
import {
  AdminService,
  AuthService,
  ChangeFeedService,
  CollectionService,
  HealthService,
  VersionService,
  RecordService,
  ServiceGrant,
  WebhookService,
  JobService,
  SnapshotService,
  createDirectClient,
  withHeaders,
} from '@rosetta/proto';
import {
  COMPACT_BATCH,
  COMPACT_MAX_BATCHES,
  createEmbeddedCompactor,
  createEmbeddedJobs,
  createEmbeddedRelay,
  createWorkerRuntime,
  InProcessEventBus,
  InProcessWebhookDispatcher,
  loadConfig as loadWorkerConfig,
  MemoryCursorStore,
  WebhookTargets,
} from '@rosetta/worker';

/**
 * The all-in-one process: api, worker and gateway in one Node process, wired through the
 * direct binding instead of HTTP/2. Without DATABASE_URL it stores data with the embedded
 * Postgres under ROSETTA_DATA_DIR; without REDIS_URL it caches in memory and runs the outbox
 * relay on an in-process timer with an in-process event bus. Each part reads its own settings.
 */
async function main(): Promise<void> {
  const apiConfig = loadApiConfig();
  const gatewayConfig = loadGatewayConfig();
  const workerConfig = loadWorkerConfig();
  const logger = createLogger({ name: 'rosetta', level: gatewayConfig.LOG_LEVEL, format: gatewayConfig.LOG_FORMAT });
  const shutdown = new ShutdownManager(logger, gatewayConfig.SHUTDOWN_TIMEOUT_MS);
  shutdown.installSignalHandlers();
  shutdown.add('telemetry', () => telemetry.shutdown());

  const runtime = await createApiRuntime(apiConfig, logger.child({ component: 'api' }));
  shutdown.add('record service', () => runtime.close());
  const api: RecordApi = {
    records: createDirectClient(RecordService, runtime.impls.records),
    collections: createDirectClient(CollectionService, runtime.impls.collections),
    changes: createDirectClient(ChangeFeedService, runtime.impls.changes),
    auth: createDirectClient(AuthService, runtime.impls.auth),
    admin: createDirectClient(AdminService, runtime.impls.admin),
    health: createDirectClient(HealthService, runtime.impls.health),
    versions: createDirectClient(VersionService, runtime.impls.versions),
    webhooks: createDirectClient(WebhookService, runtime.impls.webhooks),
    jobs: createDirectClient(JobService, runtime.impls.jobs),
    snapshots: createDirectClient(SnapshotService, runtime.impls.snapshots),
  };
  const grant = new ServiceGrant(api.auth, runtime.internalSecret);
  const feed = withHeaders(ChangeFeedService, api.changes, () => grant.headers());
  const webhooks = withHeaders(WebhookService, api.webhooks, () => grant.headers());
  const jobs = withHeaders(JobService, api.jobs, () => grant.headers());
  const snapshots = withHeaders(SnapshotService, api.snapshots, () => grant.headers());
  const records = withHeaders(RecordService, api.records, () => grant.headers());

  const workerLogger = logger.child({ component: 'worker' });
  let events: ChangeEvents;
  if (workerConfig.REDIS_URL === undefined) {
    const onListenerError = (error: unknown, event: { revision: bigint }) =>
      workerLogger.warn({ err: error, revision: String(event.revision) }, 'event listener failed');
    const bus = new InProcessEventBus(onListenerError);
    events = busChangeEvents((listener) => bus.subscribe(listener), onListenerError);
    const cursor = new MemoryCursorStore();
    const deliveries = new InProcessWebhookDispatcher(
      new WebhookTargets(webhooks),
      webhooks,
      { attempts: workerConfig.WEBHOOK_ATTEMPTS, backoffMs: workerConfig.WEBHOOK_BACKOFF_MS },
      workerLogger,
    );
    shutdown.add('webhook deliveries', () => deliveries.stop());
    const relay = createEmbeddedRelay({
      feed,
      publisher: bus,
      cursor,
      batch: workerConfig.RELAY_BATCH,
      intervalMs: workerConfig.RELAY_INTERVAL_MS,
      logger: workerLogger,
      webhooks: deliveries,
    });
    shutdown.add('outbox relay', () => relay.stop());
    const compactor = createEmbeddedCompactor({
      feed,
      cursor,
      retentionMs: workerConfig.CHANGE_RETENTION_HOURS * 3_600_000,
      batch: COMPACT_BATCH,
      maxBatches: COMPACT_MAX_BATCHES,
      intervalMs: workerConfig.COMPACT_INTERVAL_MS,
      logger: workerLogger,
    });
    shutdown.add('change feed retention', () => compactor.stop());
    const bulkJobs = createEmbeddedJobs({
      jobs,
      snapshots,
      records,
      store: await createSnapshotStore(workerConfig),
      deleteBatch: workerConfig.DELETE_JOB_BATCH,
      intervalMs: workerConfig.JOB_POLL_MS,
      concurrency: workerConfig.JOB_CONCURRENCY,
      logger: workerLogger,
    });
    shutdown.add('jobs', () => bulkJobs.stop());
  } else {
    const worker = await createWorkerRuntime(
      workerConfig,
      workerLogger,
      {
        changes: feed,
        webhooks,
        jobs,
        snapshots,
        records,
      },
      { scrape: telemetry.scrape },
    );
    shutdown.add('worker', () => worker.close());
    const subscriber = connectChangeEvents(workerConfig.REDIS_URL, workerConfig.REDIS_PREFIX, logger);
    shutdown.add('event bus subscriber', () => subscriber.close());
    events = subscriber;
  }

  const app = createApp({
    api,
    logger: logger.child({ component: 'gateway' }),
    maxBodyBytes: gatewayConfig.MAX_BODY_BYTES,
    legacy: legacyOptions(gatewayConfig),
    trustedProxies: gatewayConfig.TRUST_PROXY ?? [],
    graphql: graphqlOptions(gatewayConfig),
    snapshots: await createSnapshotStore(gatewayConfig),
    events,
    telemetry,
    accessLog: gatewayConfig.ACCESS_LOG,
    serverTiming: gatewayConfig.SERVER_TIMING,
  });
  const http = await startHttpServer(app, gatewayConfig.HOST, gatewayConfig.PORT, serverLimits(gatewayConfig));
  shutdown.add('http server', () => http.close());

  const storage =
    apiConfig.DATABASE_URL === undefined
      ? `embedded Postgres in ${apiConfig.ROSETTA_DATA_DIR}`
      : 'Postgres at DATABASE_URL';
  const cache = apiConfig.REDIS_URL === undefined ? 'in-process cache, jobs and events' : 'Redis cache, BullMQ jobs';
  logger.info({ url: http.url, storage, cache }, 'rosetta listening');
  const token = runtime.bootstrap.generatedToken;
  const credential = token === undefined ? '<your token>' : token;
  process.stdout.write(
    `\n  Rosetta is running at ${http.url}\n  storage: ${storage}; ${cache}\n` +
      (token === undefined ? '' : firstStartBanner(token)) +
      `  try: curl -H 'Authorization: Bearer ${credential}' ${http.url}/v1/spaces/${apiConfig.ROSETTA_DEFAULT_SPACE}/collections\n\n`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
