import cluster from 'node:cluster';
import { createLogger } from '@rosetta/platform';
import { processCount, runPrimary } from './cluster';
import { loadConfig } from './config';

const config = loadConfig();
const processes = processCount(config.GATEWAY_PROCESSES);
if (cluster.isPrimary && processes > 1) {
  runPrimary({
    processes,
    logger: createLogger({ name: 'gateway', level: config.LOG_LEVEL, format: config.LOG_FORMAT }),
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
  });
} else {
  // Loaded only here: serve.ts starts telemetry before the modules it instruments, which the
  // primary never needs.
  import('./serve.js')
    .then(({ serve }) => serve(config))
    .catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
}
