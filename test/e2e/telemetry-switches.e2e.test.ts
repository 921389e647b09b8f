import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../support/processes';

/**
 * Whichever OTEL_* combination turns tracing on, the standard instrumentations patch what the
 * process loads after startTelemetry: a fresh Node process (Jest's own module loader is never
 * patched) starts telemetry as each app's instrumentation.ts does, then serves one HTTP request
 * and says whether its handler ran inside the http instrumentation's span.
 */

const PROBE = `
const { startTelemetry } = require(${JSON.stringify(join(ROOT, 'packages/platform/dist'))});
startTelemetry({ service: 'probe', env: process.env });
const http = require('node:http');
const { trace } = require(require.resolve('@opentelemetry/api', { paths: [${JSON.stringify(join(ROOT, 'packages/platform'))}] }));
const server = http.createServer((req, res) => {
  process.stdout.write(trace.getActiveSpan() === undefined ? 'no span' : 'span');
  res.end(() => process.exit(0));
});
server.listen(0, '127.0.0.1', () => http.get('http://127.0.0.1:' + server.address().port + '/', (res) => res.resume()));
`;

const run = promisify(execFile);

async function probe(env: Record<string, string>): Promise<string> {
  // An endpoint nothing listens on: spans and metrics are dropped, which is all this needs.
  const { stdout } = await run(process.execPath, ['-e', PROBE], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', OTEL_BSP_SCHEDULE_DELAY: '60000', ...env },
    timeout: 20_000,
  });
  return stdout;
}

const UNUSED = 'http://127.0.0.1:9';

it.each([
  ['an OTLP endpoint (traces and metrics pushed)', { OTEL_EXPORTER_OTLP_ENDPOINT: UNUSED }],
  ['an OTLP endpoint, metrics only scraped', { OTEL_EXPORTER_OTLP_ENDPOINT: UNUSED, OTEL_METRICS_EXPORTER: 'none' }],
  ['OTEL_TRACES_EXPORTER alone', { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: UNUSED }],
  ['a traces endpoint alone', { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: UNUSED }],
])('traces incoming requests with %s', async (_name, env) => {
  expect(await probe(env)).toBe('span');
});

it.each([
  ['no OTEL_* variable', {}],
  ['OTEL_TRACES_EXPORTER=none', { OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: UNUSED }],
  ['OTEL_SDK_DISABLED=true', { OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: UNUSED }],
])('instruments nothing with %s', async (_name, env) => {
  expect(await probe(env)).toBe('no span');
});
