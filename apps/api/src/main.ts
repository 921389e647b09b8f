import { telemetry } from './instrumentation';
import { once } from 'node:events';
import { createLogger, ShutdownManager } from '@rosetta/platform';
import { loadConfig } from './config';
import { createApiRuntime } from './runtime';
import { firstStartBanner } from './services/bootstrap';
import { createRpcServer } from './transport/server';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ name: 'api', level: config.LOG_LEVEL });
  const shutdown = new ShutdownManager(logger, config.SHUTDOWN_TIMEOUT_MS);
  shutdown.installSignalHandlers();
  shutdown.add('telemetry', () => telemetry.shutdown());
  if (config.ROSETTA_INTERNAL_SECRET === undefined) {
    logger.warn(
      'ROSETTA_INTERNAL_SECRET is unset: a random one is used, so no worker and no other api instance can join',
    );
  }
  const runtime = await createApiRuntime(config, logger);
  shutdown.add('runtime', () => runtime.close());
  const rpc = createRpcServer(runtime, { maxMessageBytes: config.MAX_VALUE_BYTES_CEILING * 2, telemetry });
  const { server } = rpc;
  server.listen(config.API_PORT, config.API_HOST);
  await once(server, 'listening');
  shutdown.add('rpc server', () => rpc.close());
  const bound = server.address();
  const port = typeof bound === 'object' && bound !== null ? bound.port : config.API_PORT;
  logger.info({ url: `http://${config.API_HOST}:${port}` }, 'record service listening');
  const token = runtime.bootstrap.generatedToken;
  if (token !== undefined) {
    // Written to the terminal once, never to the log.
    process.stdout.write(firstStartBanner(token));
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
