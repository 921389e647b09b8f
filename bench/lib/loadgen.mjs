// The HTTP load generator: wrk (preferred), else an autocannon that is already installed.
// Nothing is installed here; with neither tool the HTTP workloads are skipped.
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { BENCH_DIR, ROOT } from './config.mjs';
import { runCommand, which } from './procs.mjs';

const REPORT_LUA = readFileSync(join(BENCH_DIR, 'lua', 'report.lua'), 'utf8');
/** Numbers the threads (`thread_id`) for the named scripts, which key their requests by it. */
const THREADS_LUA = readFileSync(join(BENCH_DIR, 'lua', 'threads.lua'), 'utf8');
/**
 * wrk scripts: a new key per request, a Prosody store per request, a new etcd key per request, a
 * random DVID key per request, one fixed POST body (a GraphQL query, an etcd range), a mix of
 * requests picked by weight. Each takes its arguments after `--`.
 */
const SCRIPTS = {
  put: readFileSync(join(BENCH_DIR, 'lua', 'put.lua'), 'utf8'),
  'etcd-put': readFileSync(join(BENCH_DIR, 'lua', 'etcd-put.lua'), 'utf8'),
  mix: readFileSync(join(BENCH_DIR, 'lua', 'mix.lua'), 'utf8'),
  'prosody-put': readFileSync(join(BENCH_DIR, 'lua', 'prosody-put.lua'), 'utf8'),
  'dvid-get': readFileSync(join(BENCH_DIR, 'lua', 'dvid-get.lua'), 'utf8'),
  post: readFileSync(join(BENCH_DIR, 'lua', 'post.lua'), 'utf8'),
};
/** Per-request timeout: a 1000-record list under 64 connections can take a while. */
const TIMEOUT_S = 30;

/** Where the generated wrk scripts go (the run's log directory keeps them for reference). */
let scriptDir;
export function setScriptDir(dir) {
  scriptDir = dir;
}

function findAutocannon() {
  try {
    return dirname(createRequire(join(ROOT, 'package.json')).resolve('autocannon/package.json'));
  } catch {
    // not in the workspace
  }
  const bin = which('autocannon');
  if (bin === undefined) return undefined;
  try {
    return dirname(realpathSync(bin));
  } catch {
    return undefined;
  }
}

/** Which tool drives the HTTP workloads: { kind: 'wrk', path } | { kind: 'autocannon', dir } | undefined. */
export function detectLoadgen() {
  const wrk = which('wrk');
  if (wrk !== undefined) return { kind: 'wrk', path: wrk };
  const dir = findAutocannon();
  if (dir !== undefined) return { kind: 'autocannon', dir };
  return undefined;
}

/** An argument as a shell reads it back: in single quotes when it holds anything but plain characters. */
function shellWord(arg) {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`;
}

function parseWrk(stdout) {
  const line = stdout.split('\n').find((l) => l.startsWith('BENCH_JSON '));
  if (line === undefined) throw new Error(`wrk printed no summary:\n${stdout}`);
  const r = JSON.parse(line.slice('BENCH_JSON '.length));
  const seconds = r.durationUs / 1e6;
  return {
    requests: r.requests,
    rps: r.requests / seconds,
    mbps: r.bytes / seconds / 1e6,
    p50Ms: r.p50Us / 1000,
    p75Ms: r.p75Us / 1000,
    p90Ms: r.p90Us / 1000,
    p99Ms: r.p99Us / 1000,
    p999Ms: r.p999Us / 1000,
    maxMs: r.maxUs / 1000,
    meanMs: r.meanUs / 1000,
    non2xx: r.non2xx,
    socketErrors: r.connectErrors + r.readErrors + r.writeErrors,
    timeouts: r.timeouts,
  };
}

/**
 * One load run. `spec` = { url, method: 'GET' | 'PUT', headers?, putBase?, valueBytes?, script?,
 * scriptArgs?, duration, connections, threads }. For PUT, every request writes a new key under
 * `putBase` (a path); `script: 'prosody-put'` writes Prosody stores named `<putBase><letters>`
 * instead, `script: 'etcd-put'` POSTs etcd puts of new keys under `putBase` (a key) to `url`,
 * `script: 'dvid-get'` GETs random keys (`scriptArgs`: the path, the key count), and
 * `script: 'post'` POSTs the same body to `url` (`scriptArgs`: the body), `script: 'mix'` sends
 * the requests its `scriptArgs` describe (bench/lua/mix.lua); named scripts need wrk.
 * `duration` is then a bound: when `stopWhen` resolves, the run ends early (its figures cover
 * the time it ran).
 */
export async function runLoad(loadgen, spec, { onStart, stopWhen } = {}) {
  const writes = spec.script ?? (spec.method === 'PUT' ? 'put' : undefined);
  if (loadgen.kind === 'wrk') {
    const script = join(scriptDir, `wrk-${writes ?? 'get'}.lua`);
    writeFileSync(script, `${writes === undefined ? '' : `${THREADS_LUA}\n${SCRIPTS[writes]}`}\n${REPORT_LUA}`);
    const args = [
      `-t${spec.threads}`,
      `-c${spec.connections}`,
      `-d${spec.duration}s`,
      '--latency',
      '--timeout',
      `${TIMEOUT_S}s`,
      ...Object.entries(spec.headers ?? {}).flatMap(([name, value]) => ['-H', `${name}: ${value}`]),
      '-s',
      script,
      spec.url,
    ];
    if (writes !== undefined) {
      args.push('--', ...(spec.scriptArgs ?? [spec.putBase, String(spec.valueBytes ?? 1024)]));
    }
    const { code, stdout, stderr } = await runCommand('wrk', loadgen.path, args, { onStart, stopWhen });
    if (code !== 0) throw new Error(`wrk exited with ${code}: ${stderr || stdout}`);
    return {
      ...parseWrk(stdout),
      tool: 'wrk',
      command: `wrk ${args.map(shellWord).join(' ')}`,
    };
  }
  if (spec.script !== undefined) throw new Error(`the ${spec.script} workload needs wrk (apt-get install wrk)`);
  const options = {
    dir: loadgen.dir,
    url: spec.url,
    method: spec.method,
    headers: spec.headers ?? {},
    putBase: spec.putBase,
    valueBytes: spec.valueBytes ?? 1024,
    duration: spec.duration,
    connections: spec.connections,
    timeout: TIMEOUT_S,
  };
  const { code, stdout, stderr } = await runCommand(
    'autocannon',
    process.execPath,
    [join(BENCH_DIR, 'lib', 'autocannon-child.mjs'), JSON.stringify(options)],
    { onStart, stopWhen },
  );
  if (code !== 0) throw new Error(`autocannon exited with ${code}: ${stderr || stdout}`);
  return { ...JSON.parse(stdout.trim().split('\n').pop()), tool: 'autocannon' };
}
