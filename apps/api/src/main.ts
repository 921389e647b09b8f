import { once } from 'node:events';
import { createLogger, ShutdownManager } from '@rosetta/platform';
import { loadConfig } from './config';
import { createApiRuntime } from './runtime';
import { createRpcServer } from './transport/server';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ name: 'api', level: config.LOG_LEVEL });
  const shutdown = new ShutdownManager(logger, config.SHUTDOWN_TIMEOUT_MS);
  shutdown.installSignalHandlers();
  const runtime = await createApiRuntime(config, logger);
  shutdown.add('runtime', () => runtime.close());
  const rpc = createRpcServer(runtime, { maxMessageBytes: config.MAX_VALUE_BYTES_CEILING * 2 });
  const { server } = rpc;
  server.listen(config.API_PORT, config.API_HOST);
  await once(server, 'listening');
  shutdown.add('rpc server', () => rpc.close());
  const bound = server.address();
  const port = typeof bound === 'object' && bound !== null ? bound.port : config.API_PORT;
  logger.info({ url: `http://${config.API_HOST}:${port}` }, 'record service listening');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
