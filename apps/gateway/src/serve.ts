import { telemetry } from './instrumentation';
import cluster from 'node:cluster';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createLogger, createSnapshotStore, ShutdownManager, writeMetrics } from '@rosetta/platform';
import { createApp } from './app';
import { legacyOptions } from './legacy';
import { createHttpRecordApi } from './clients/record-api';
import { clusterScrape } from './cluster';
import { graphqlOptions, serverLimits, type GatewayConfig } from './config';
import { HttpDrain, DRAIN_IDLE_GRACE_MS } from './drain';
import { connectChangeEvents, type RedisChangeEvents } from './events/redis-change-events';
import { startHttpServer } from './server';
import { connectLeaseBus } from './clients/lease-bus';
import { LeaseCache } from './clients/lease-cache';

/** The largest value held under a lease (the record service's cache holds up to 256 KiB by default). */
const LEASE_MAX_VALUE_BYTES = 256 * 1024;
/** The longest lease taken: the record service's READ_LEASE_MS is at most this. */
const MAX_LEASE_MS = 10_000;

/**
 * One gateway process: its own telemetry (imported first, see instrumentation.ts), the record
 * service client, the app and the HTTP server. As a worker of the primary in cluster.ts, its
 * `/metrics` serves every worker's metrics.
 */
export async function serve(config: GatewayConfig): Promise<void> {
  const logger = createLogger({ name: 'gateway', level: config.LOG_LEVEL, format: config.LOG_FORMAT });
  const shutdown = new ShutdownManager(logger, config.SHUTDOWN_TIMEOUT_MS);
  shutdown.installSignalHandlers();
  shutdown.add('telemetry', () => telemetry.shutdown());
  const api = createHttpRecordApi({
    baseUrl: config.API_URL,
    timeoutMs: config.API_TIMEOUT_MS,
    refusedRetryMs: config.API_REFUSED_RETRY_MS,
    maxMessageBytes: config.MAX_BODY_BYTES * 2,
    serverTiming: config.SERVER_TIMING,
  });
  shutdown.add('record service client', () => api.close());
  let events: RedisChangeEvents | undefined;
  let leases: LeaseCache | undefined;
  if (config.REDIS_URL !== undefined) {
    events = connectChangeEvents(config.REDIS_URL, config.REDIS_PREFIX, logger);
    const subscriber = events;
    shutdown.add('event bus subscriber', () => subscriber.close());
    if (config.GATEWAY_LEASE_CACHE_BYTES > 0) {
      leases = new LeaseCache({
        maxBytes: config.GATEWAY_LEASE_CACHE_BYTES,
        maxValueBytes: LEASE_MAX_VALUE_BYTES,
        maxLeaseMs: MAX_LEASE_MS,
      });
      const bus = connectLeaseBus(leases, config.REDIS_URL, config.REDIS_PREFIX, logger.child({ component: 'leases' }));
      shutdown.add('read leases', () => bus.close());
    }
  }
  const app = createApp({
    api,
    logger,
    maxBodyBytes: config.MAX_BODY_BYTES,
    legacy: legacyOptions(config),
    trustedProxies: config.TRUST_PROXY ?? [],
    graphql: graphqlOptions(config),
    snapshots: await createSnapshotStore(config),
    telemetry: cluster.isWorker && telemetry.metrics ? clusterMetrics(logger) : telemetry,
    accessLog: config.ACCESS_LOG,
    serverTiming: config.SERVER_TIMING,
    ...(events === undefined ? {} : { events }),
    ...(leases === undefined ? {} : { leases }),
  });
  const drain = new HttpDrain({ delayMs: config.GATEWAY_DRAIN_DELAY_MS, idleGraceMs: DRAIN_IDLE_GRACE_MS });
  const http = await startHttpServer(drain.wrap(app), config.HOST, config.PORT, serverLimits(config));
  shutdown.add('http server', async () => {
    await drain.drain(http.server);
    await http.close();
  });
  logger.info({ url: http.url, api: config.API_URL }, 'gateway listening');
}

function clusterMetrics(logger: ReturnType<typeof createLogger>) {
  const scrape = clusterScrape(() => telemetry.scrape());
  return {
    serveMetrics: (req: IncomingMessage, res: ServerResponse) =>
      writeMetrics(scrape, res, {
        head: req.method === 'HEAD',
        onError: (error) => logger.warn({ err: error }, 'metrics scrape failed'),
      }),
  };
}
