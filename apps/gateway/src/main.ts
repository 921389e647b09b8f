import { telemetry } from './instrumentation';
import { createLogger, createSnapshotStore, ShutdownManager } from '@rosetta/platform';
import { createApp } from './app';
import { legacyOptions } from './legacy';
import { createHttpRecordApi } from './clients/record-api';
import { graphqlOptions, loadConfig } from './config';
import { connectChangeEvents, type RedisChangeEvents } from './events/redis-change-events';
import { startHttpServer } from './server';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ name: 'gateway', level: config.LOG_LEVEL, format: config.LOG_FORMAT });
  const shutdown = new ShutdownManager(logger, config.SHUTDOWN_TIMEOUT_MS);
  shutdown.installSignalHandlers();
  shutdown.add('telemetry', () => telemetry.shutdown());
  const api = createHttpRecordApi({
    baseUrl: config.API_URL,
    timeoutMs: config.API_TIMEOUT_MS,
    maxMessageBytes: config.MAX_BODY_BYTES * 2,
    serverTiming: config.SERVER_TIMING,
  });
  shutdown.add('record service client', () => api.close());
  let events: RedisChangeEvents | undefined;
  if (config.REDIS_URL !== undefined) {
    events = connectChangeEvents(config.REDIS_URL, config.REDIS_PREFIX, logger);
    const subscriber = events;
    shutdown.add('event bus subscriber', () => subscriber.close());
  }
  const app = createApp({
    api,
    logger,
    maxBodyBytes: config.MAX_BODY_BYTES,
    legacy: legacyOptions(config),
    trustedProxies: config.TRUST_PROXY ?? [],
    graphql: graphqlOptions(config),
    snapshots: await createSnapshotStore(config),
    telemetry,
    accessLog: config.ACCESS_LOG,
    serverTiming: config.SERVER_TIMING,
    ...(events === undefined ? {} : { events }),
  });
  const http = await startHttpServer(app, config.HOST, config.PORT);
  shutdown.add('http server', () => http.close());
  logger.info({ url: http.url, api: config.API_URL }, 'gateway listening');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
