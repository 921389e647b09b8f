// Fallback load generator, used only when wrk is missing and autocannon is already installed.
// Runs in its own process (so it is measured like wrk) and prints one JSON line.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { valueOf } from './value.mjs';

const options = JSON.parse(process.argv[2]);
const autocannon = createRequire(join(options.dir, 'package.json'))(options.dir);

const config = {
  url: options.url,
  headers: options.headers,
  connections: options.connections,
  duration: options.duration,
  timeout: options.timeout,
};
if (options.method === 'PUT') {
  const body = valueOf(options.valueBytes);
  let counter = 0;
  config.requests = [
    {
      method: 'PUT',
      headers: { ...options.headers, 'content-type': 'application/octet-stream' },
      body,
      setupRequest: (req) => ({ ...req, path: `${options.putBase}/${++counter}` }),
    },
  ];
}

const instance = autocannon(config, (error, result) => {
  if (error) {
    console.error(error);
    process.exit(1);
  }
  const summary = {
    requests: result.requests.total,
    rps: result.requests.total / result.duration,
    mbps: result.throughput.total / result.duration / 1e6,
    p50Ms: result.latency.p50,
    p75Ms: result.latency.p75,
    p90Ms: result.latency.p90,
    p99Ms: result.latency.p99,
    p999Ms: result.latency.p99_9,
    maxMs: result.latency.max,
    meanMs: result.latency.mean,
    non2xx: result.non2xx,
    socketErrors: result.errors - result.timeouts,
    timeouts: result.timeouts,
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
});
// SIGINT ends the run early, with the figures so far (runCommand's `stopWhen`).
process.once('SIGINT', () => instance.stop());
