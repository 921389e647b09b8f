import { createClient } from '@connectrpc/connect';
import { createConnectTransport, Http2SessionManager } from '@connectrpc/connect-node';
import { createLogger, ShutdownManager } from '@rosetta/platform';
import { ChangeFeedService } from '@rosetta/proto';
import { loadConfig, requireRedisUrl } from './config';
import { createWorkerRuntime } from './runtime';

/** A hung call would hold the relay job (and its BullMQ lock) for as long as it hangs. */
const CALL_TIMEOUT_MS = 30_000;

async function main(): Promise<void> {
  const config = loadConfig();
  requireRedisUrl(config);
  const logger = createLogger({ name: 'worker', level: config.LOG_LEVEL });
  const shutdown = new ShutdownManager(logger, config.SHUTDOWN_TIMEOUT_MS);
  shutdown.installSignalHandlers();
  // Our own session manager, so that shutdown can close the HTTP/2 connection to the api.
  const sessionManager = new Http2SessionManager(config.API_URL);
  shutdown.add('record service connection', () => sessionManager.abort());
  const transport = createConnectTransport({
    baseUrl: config.API_URL,
    httpVersion: '2',
    useBinaryFormat: true,
    sessionManager,
    defaultTimeoutMs: CALL_TIMEOUT_MS,
  });
  const feed = createClient(ChangeFeedService, transport);
  const runtime = await createWorkerRuntime(config, logger, feed);
  shutdown.add('worker runtime', () => runtime.close());
  logger.info({ api: config.API_URL, health: runtime.healthUrl }, 'worker running');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
