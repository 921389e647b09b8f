// `npm start`: install what is missing, build, then run the store. With no argument it runs the
// all-in-one process (gateway + api + worker); `api`, `gateway` or `worker` runs one of them
// (the cluster shape, as `npm run start:api` etc.).
import { execFileSync, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withMallocEnv } from './malloc-env.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const target = process.argv[2] ?? 'standalone';
const entries = {
  standalone: 'apps/standalone/dist/main.js',
  api: 'apps/api/dist/main.js',
  gateway: 'apps/gateway/dist/main.js',
  worker: 'apps/worker/dist/main.js',
};
const entry = entries[target];
if (entry === undefined) {
  console.error(`unknown target "${target}"; expected one of ${Object.keys(entries).join(', ')}`);
  process.exit(2);
}

execFileSync(process.execPath, [join(root, 'scripts', 'ensure-install.mjs')], { stdio: 'inherit' });
execFileSync(join(root, 'node_modules', '.bin', 'turbo'), ['run', 'build', '--output-logs=errors-only'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', TURBO_NO_UPDATE_NOTIFIER: '1' },
});

// Run the service as a child so that signals reach it and its exit code becomes ours, with the C
// allocator's settings (malloc-env.mjs). In a terminal, log lines are pretty unless LOG_FORMAT
// says otherwise.
const env = withMallocEnv(
  process.stdout.isTTY && process.env.LOG_FORMAT === undefined ? { ...process.env, LOG_FORMAT: 'pretty' } : process.env,
);
const child = spawn(process.execPath, ['--enable-source-maps', join(root, entry)], { stdio: 'inherit', env });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal === 'SIGINT' ? 130 : 143)));
