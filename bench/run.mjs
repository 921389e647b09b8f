// `npm run bench`: the cluster shape of Rosetta next to two anchors, in one invocation, on this
// machine. See docs/benchmarks.md for what is measured and how to read it.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { rm, rmdir } from 'node:fs/promises';
import { cpus, freemem, release, totalmem } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { withMallocEnv } from '../scripts/malloc-env.mjs';
import {
  checkPostgres,
  checkRedis,
  connectionsInUse,
  databaseUrl,
  deleteRedisPrefix,
  dropDatabase,
  initPgbench,
  preparePgbench,
  recreateDatabase,
  runPgbench,
} from './lib/backends.mjs';
import {
  BENCH_DIR,
  CLUSTER_WORKLOADS,
  DB_NAME,
  DOC_PATH,
  EXPORT_COLLECTION,
  HOT_COLLECTION,
  PGBENCH_DB_NAME,
  PGBENCH_SELECT_DB_NAME,
  PGBENCH_SELECT_SCALE,
  REDIS_LIMIT_WORKLOADS,
  REDIS_URL,
  RESULTS_DIR,
  ROOT,
  SPACE,
  VALUE_BYTES,
  loadSettings,
  AUTH_HEADERS,
  BENCH_INTERNAL_SECRET,
  BENCH_TOKEN,
  DIALECT_WORKLOADS,
  DVID_WORKLOADS,
  FEED_WORKLOADS,
  GRAPHQL_WORKLOADS,
  ETCD_PEER_WORKLOADS,
  PEER_WORKLOADS,
  PROSODY_PEER_WORKLOADS,
  OPENFN_MILLION,
  OPENFN_WORKLOADS,
  SNAPSHOT_WORKLOADS,
  TELEMETRY_DB_NAME,
  TELEMETRY_WORKLOADS,
} from './lib/config.mjs';
import { OPENFN_COLLECTIONS, OPENFN_SPACE, prepareOpenFn, streamItems, upsertItems } from './lib/openfn.mjs';
import {
  DVID_BATCH,
  DVID_INSTANCE,
  DVID_LANES,
  createRepo,
  ingest,
  keyOf,
  runRandomGets,
  seedVersions,
  spotCheck,
  streamKeyValues,
  valueAt,
} from './lib/dvid.mjs';
import { DEFAULT_RELAY_MS, FEED_COLLECTION, FEED_FAST_RELAY_MS, prepareFeed, runFeedLag } from './lib/feed-lag.mjs';
import {
  BULK_COLLECTION,
  BULK_PREFIX,
  KEEP_PREFIX,
  KEEP_RECORDS,
  checkBulk,
  deleteAndWatch,
  seedBulk,
} from './lib/bulk-delete.mjs';
import { POLL_MS, deadlineSeconds, waitForRelay } from './lib/jobs.mjs';
import {
  RESTORE_COLLECTION,
  SNAPSHOT_COLLECTION,
  SNAPSHOT_PREFIX,
  checkRestored,
  downloadSnapshot,
  restoreSnapshot,
  seedSnapshotSource,
  takeSnapshot,
} from './lib/snapshot.mjs';
import { GRAPHQL_BODIES, GRAPHQL_HEADERS, GRAPHQL_PATH, checkGraphql } from './lib/graphql.mjs';
import { KOPANO_API_ENV, preparePeerProsody, seedDialects } from './lib/dialects.mjs';
import { checkRange, compactEtcd, countPut, preparePeerEtcd } from './lib/etcd.mjs';
import { GATEWAY_PROCESSES, groupOf, killOrphans, waitForWorkers } from './lib/gateway-cluster.mjs';
import { mixArgs, mixEntries } from './lib/mix.mjs';
import { BATCH_LANES, BATCH_PATH, BATCH_SIZE, copyBatch, prepareBatch, upsertBatches } from './lib/batch.mjs';
import {
  REDIS_BENCH_DB,
  cleanupRedisBench,
  prepareRedisBench,
  redisServerPid,
  runRedisBench,
  warmRedisBench,
} from './lib/redis-bench.mjs';
import { DOC_TEMPLATE } from './lib/doc-template.mjs';
import { measureAuthCost } from './lib/auth-cost.mjs';
import { closeAgent } from './lib/http.mjs';
import { detectLoadgen, runLoad, setScriptDir } from './lib/loadgen.mjs';
import { takeRunLock } from './lib/lock.mjs';
import { freePort, killAllNow, startService, stopAll, stopProcess, waitReady, which } from './lib/procs.mjs';
import { markdown, mb, ms, num, ratios, summarize, targets, writeDoc } from './lib/report.mjs';
import { Sampler, procAvailable, readMemory } from './lib/sampler.mjs';
import { seedExport, seedGraphql, seedHotAndList } from './lib/seed.mjs';
import { streamNdjson } from './lib/stream.mjs';
import {
  TELEMETRY_SETTINGS,
  countAndTrimLog,
  otelOf,
  startOtlpSink,
  startScraper,
  telemetryEnv,
} from './lib/telemetry.mjs';

const HTTP_WORKLOADS = new Set([
  'node-http',
  'express',
  'hot-get',
  'hot-get-cluster',
  'list',
  'put',
  ...DIALECT_WORKLOADS,
  ...PEER_WORKLOADS,
  'dvid-version-get',
  ...GRAPHQL_WORKLOADS,
  'bulk-delete',
  'all-in-one',
  ...TELEMETRY_WORKLOADS,
]);
/** The order of a round. */
/** Idle means: the services together use less than this much of one core. */
const IDLE_CPU_PCT = 5;
/** Quiet means: everything else on the machine uses less than this much of one core. */
const QUIET_CPU_PCT = 30;
const SETTLE_WINDOW_MS = 500;
const SETTLE_MAX_MS = 60_000;
const QUIET_MAX_MS = 15_000;
/** Waiting for a quiet machine stops after this much in total, to keep a run's duration bounded. */
const QUIET_BUDGET_MS = 60_000;

const log = (...args) => console.log(...args);
const warn = (text) => console.error(`\n  ! ${text}\n`);

const state = {
  services: {},
  createdDbs: new Set(),
  redisPrefix: undefined,
  redisUsed: false,
  peerProsody: undefined,
  peerEtcd: undefined,
  /** The raw Redis limit wrote its key (deleted at the end); the redis-server it measures. */
  redisBench: false,
  redisPid: undefined,
  /** Paths and credentials of the dialect workloads (kept out of the saved results). */
  dialects: undefined,
  /** The DVID repos: the one ingest runs write to, and the one with the chain of versions. */
  dvid: undefined,
  /** The workers the gateway with GATEWAY_PROCESSES forked (seen so far), and the entry they run. */
  gatewayWorkers: new Set(),
  gatewayEntry: undefined,
  /** The snapshot store's directory (SNAPSHOT_DIR of the gateway and the worker), removed at the end. */
  snapshotDir: undefined,
  /** The snapshot the round's snapshot-export took, which its restore and download use. */
  snapshot: undefined,
  /** Releases bench/results/run.lock (one run at a time). */
  releaseLock: undefined,
  cleaning: undefined,
  interrupted: false,
  quietWaitMs: 0,
};

/** First line a tool prints about itself (wrk -v exits with 1, so the status is ignored). */
function tool(command, args) {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  const text = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  return text === '' ? undefined : text.split('\n')[0];
}

function gitInfo() {
  const env = { ...process.env, GIT_OPTIONAL_LOCKS: '0' };
  const run = (args) => {
    try {
      return execFileSync('git', args, {
        cwd: ROOT,
        env,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
    } catch {
      return undefined;
    }
  };
  const commit = run(['rev-parse', '--short', 'HEAD']) ?? 'unknown';
  const status = run(['status', '--porcelain', '--untracked-files=no']);
  return { commit, dirty: status === undefined ? undefined : status !== '' };
}

function expressVersion() {
  try {
    const pkg = join(ROOT, 'node_modules', 'express', 'package.json');
    return JSON.parse(readFileSync(pkg, 'utf8')).version;
  } catch {
    return 'unknown';
  }
}

/** Stops every process, drops the databases, deletes the Redis keys and the snapshot store; runs once. */
function cleanup() {
  state.cleaning ??= (async () => {
    await stopAll().catch((e) => warn(`stopping processes: ${e.message}`));
    const orphans = killOrphans(state.gatewayWorkers, state.gatewayEntry);
    if (orphans > 0) warn(`killed ${orphans} gateway worker(s) that outlived their primary`);
    await state.peerProsody?.stop().catch((e) => warn(`stopping the Prosody peer: ${e.message}`));
    if (state.peerEtcd)
      await state.peerEtcd.stop().then(
        (n) => log(`  deleted ${n} etcd keys of this run`),
        (e) => warn(`cleaning up the etcd peer: ${e.message}`),
      );
    for (const db of state.createdDbs) {
      await dropDatabase(db).then(
        () => state.createdDbs.delete(db),
        (e) => warn(`could not drop database ${db}: ${e.message}`),
      );
    }
    if (state.redisBench) {
      await cleanupRedisBench().then(
        (n) => log(`  deleted ${n} key of redis-benchmark in Redis database ${REDIS_BENCH_DB}`),
        (e) => warn(`could not delete redis-benchmark's key in database ${REDIS_BENCH_DB}: ${e.message}`),
      );
    }
    if (state.redisUsed && state.redisPrefix) {
      await deleteRedisPrefix(state.redisPrefix).then(
        (n) => log(`  deleted ${n} Redis keys under ${state.redisPrefix}`),
        (e) => warn(`could not delete Redis keys under ${state.redisPrefix}: ${e.message}`),
      );
    }
    if (state.snapshotDir) {
      await rm(state.snapshotDir, { recursive: true, force: true }).then(
        // Its parent goes too once no other run's store is in it.
        () => rmdir(dirname(state.snapshotDir)).catch(() => {}),
        (e) => warn(`could not delete the snapshot store ${state.snapshotDir}: ${e.message}`),
      );
    }
    closeAgent();
    state.releaseLock?.();
  })();
  return state.cleaning;
}

function installSignalHandlers() {
  let interrupted = false;
  const onSignal = (signal) => {
    if (interrupted) {
      killAllNow();
      process.exit(130);
    }
    interrupted = true;
    state.interrupted = true;
    console.error(`\n${signal}: stopping everything and cleaning up (press Ctrl-C again to force)…`);
    void cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  process.on('exit', killAllNow);
  const onCrash = (error) => {
    console.error('\nbenchmark crashed:', error);
    void cleanup().finally(() => process.exit(1));
  };
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
}

/**
 * Waits until the services are idle (e.g. the worker has relayed a PUT run's events) and the
 * rest of the machine is quiet (Postgres done with its work, no one else's build running).
 * Gives up on the machine after QUIET_MAX_MS: the run's CPU table then shows the interference.
 */
async function settle() {
  const pids = {};
  for (const [name, proc] of Object.entries(state.services)) if (proc.running) pids[name] = proc.pid;
  if (!procAvailable) return { ms: 0, quiet: undefined };
  const started = performance.now();
  let quiet = false;
  while (performance.now() - started < SETTLE_MAX_MS) {
    const sampler = new Sampler(pids);
    await sleep(SETTLE_WINDOW_MS);
    const { cpu } = sampler.stop();
    const ours = Object.keys(pids).reduce((a, name) => a + (cpu[name] ?? 0), 0);
    const rest = Math.max(0, cpu.machine - ours - cpu.runner);
    if (ours < IDLE_CPU_PCT && rest < QUIET_CPU_PCT) {
      quiet = true;
      break;
    }
    if (ours < IDLE_CPU_PCT) {
      const waited = performance.now() - started;
      if (waited > QUIET_MAX_MS || state.quietWaitMs + waited > QUIET_BUDGET_MS) break;
    }
  }
  const ms = Math.round(performance.now() - started);
  state.quietWaitMs += ms;
  return { ms, quiet };
}

/** The pids a service is measured by: its own, or its primary's and its workers' (the gateway with GATEWAY_PROCESSES). */
function pidsOf(proc) {
  if (proc.group !== true) return [proc.pid];
  const pids = groupOf(proc);
  for (const pid of pids.slice(1)) state.gatewayWorkers.add(pid);
  return pids;
}

/** VmRSS (`rss`) or VmHWM (`hwm`) of a service, in bytes: summed over a group. */
function memoryOf(proc, field) {
  const values = pidsOf(proc).map((pid) => readMemory(pid)?.[field]);
  return values.every((v) => v === undefined) ? undefined : values.reduce((a, v) => a + (v ?? 0), 0);
}

/** Current VmRSS of every running service (bytes). */
function rssOfServices() {
  const out = {};
  for (const [name, proc] of Object.entries(state.services)) if (proc.running) out[name] = memoryOf(proc, 'rss');
  return out;
}

function targetsFor(anchor) {
  const t = {};
  for (const name of ['gateway', 'api', 'worker']) {
    const proc = state.services[name];
    if (proc?.running) t[name] = proc.pid;
  }
  const peers = { 'peer-prosody': state.peerProsody, 'peer-etcd': state.peerEtcd };
  if (anchor) t.anchor = anchor in peers ? peers[anchor]?.pid : state.services[anchor]?.pid;
  return t;
}

function assertRunning() {
  for (const proc of Object.values(state.services)) {
    if (!proc.running) {
      throw new Error(
        `${proc.name} is no longer running (${JSON.stringify(proc.exitInfo)}). Last lines of ${proc.logFile}:\n${proc.logTail()}`,
      );
    }
  }
}

async function main() {
  const settings = loadSettings();
  mkdirSync(RESULTS_DIR, { recursive: true });
  state.releaseLock = takeRunLock(join(RESULTS_DIR, 'run.lock'));
  const started = new Date();
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  const logDir = join(RESULTS_DIR, `${stamp}-logs`);
  log(`Rosetta benchmark — ${started.toISOString()}`);
  log(
    `  ${settings.connections} connections, ${settings.duration} s runs after ${settings.warmup} s warm-up, ` +
      `${settings.runs} run(s), workloads: ${settings.workloads.join(', ')}`,
  );

  // ---- preflight: tools, builds, backends -------------------------------------------------
  if (!procAvailable) warn('/proc is not readable here: no RSS or CPU figures');
  if (settings.cpuProf) warn('BENCH_CPU_PROF=1: services run under --cpu-prof; figures are slower than usual');
  const loadgen = detectLoadgen();
  if (loadgen === undefined) {
    warn(
      'neither wrk nor autocannon was found: skipping the HTTP workloads (node-http, express, hot-get, list, put).\n' +
        '    Install wrk from the distribution (apt-get install wrk) to measure them. Nothing is installed by this script.',
    );
    settings.workloads = settings.workloads.filter((w) => !HTTP_WORKLOADS.has(w));
  } else if (loadgen.kind === 'autocannon') {
    warn(`wrk was not found: using the autocannon already installed at ${loadgen.dir}`);
  }
  const pgbench = which('pgbench');
  const pgbenchWorkloads = ['pgbench', 'pgbench-select'];
  if (pgbench === undefined && settings.workloads.some((w) => pgbenchWorkloads.includes(w))) {
    warn('pgbench was not found (it ships with the Postgres client tools): skipping the pgbench workloads');
    settings.workloads = settings.workloads.filter((w) => !pgbenchWorkloads.includes(w));
  }
  const needRedisLimit = settings.workloads.some((w) => REDIS_LIMIT_WORKLOADS.includes(w));
  if (needRedisLimit && which('redis-benchmark') === undefined) {
    warn('redis-benchmark was not found (it ships with redis-tools): skipping the redis-get and redis-set workloads');
    settings.workloads = settings.workloads.filter((w) => !REDIS_LIMIT_WORKLOADS.includes(w));
  }
  if (settings.workloads.length === 0) throw new Error('no workload left to run');
  const needCluster = settings.workloads.some((w) => CLUSTER_WORKLOADS.has(w));
  const needTelemetry = settings.workloads.some((w) => TELEMETRY_WORKLOADS.includes(w));
  const needPostgres = needCluster || needTelemetry || settings.workloads.some((w) => pgbenchWorkloads.includes(w));
  const dist = (app) => join(ROOT, 'apps', app, 'dist', 'main.js');
  const profileDir = join(logDir, 'profiles');
  // Each service is `node apps/<app>/dist/main.js`, started through a symlink to that file in the
  // run's log directory (Node runs the real path, so nothing else changes): on a shared machine
  // a `pkill -f dist/main.js` meant for someone else's processes would otherwise end the run.
  // BENCH_DIRECT=1 starts `node apps/<app>/dist/main.js` literally.
  const entryDir = join(logDir, 'entry');
  const entry = (app) => {
    if (process.env.BENCH_DIRECT === '1') return `apps/${app}/dist/main.js`;
    const link = join(entryDir, `rosetta-bench-${app}.js`);
    if (!existsSync(link)) {
      mkdirSync(entryDir, { recursive: true });
      symlinkSync(dist(app), link);
    }
    return relative(ROOT, link);
  };
  // BENCH_NODE_ARGS: node options for the services' processes only (V8 flags NODE_OPTIONS refuses).
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter((arg) => arg !== '');
  const serviceArgs = (app) =>
    settings.cpuProf
      ? [...nodeArgs, '--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${app}.cpuprofile`, entry(app)]
      : [...nodeArgs, entry(app)];
  if (needCluster || needTelemetry) {
    for (const app of ['api', 'gateway']) {
      if (!existsSync(dist(app))) throw new Error(`${dist(app)} is missing: build first (npx turbo run build)`);
    }
  }
  const withWorker = needCluster && settings.withWorker && existsSync(dist('worker'));
  if (needCluster && !withWorker) {
    warn(
      settings.withWorker
        ? 'apps/worker/dist/main.js is missing: running the cluster without the worker'
        : 'BENCH_NO_WORKER=1: running the cluster without the worker',
    );
  }
  const pgInfo = needPostgres ? await checkPostgres() : undefined;
  const redisInfo =
    needCluster || needTelemetry || settings.workloads.some((w) => REDIS_LIMIT_WORKLOADS.includes(w))
      ? await checkRedis()
      : undefined;
  if (
    settings.workloads.some((w) => pgbenchWorkloads.includes(w)) &&
    pgInfo &&
    settings.connections + 25 > pgInfo.maxConnections
  ) {
    warn(`pgbench with ${settings.connections} clients may exceed max_connections=${pgInfo.maxConnections}`);
  }

  const meta = {
    date: started.toISOString(),
    command: `${process.env.npm_lifecycle_event === 'bench' ? 'npm run bench' : 'node bench/run.mjs'}${
      settings.cli.length > 0
        ? `${process.env.npm_lifecycle_event === 'bench' ? ' --' : ''} ${settings.cli.join(' ')}`
        : ''
    }`,
    env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('BENCH_'))),
    settings,
    git: gitInfo(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryBytes: totalmem(),
      freeMemoryBytes: freemem(),
      kernel: release(),
    },
    versions: {
      node: process.versions.node,
      postgres: pgInfo?.version,
      redis: redisInfo?.version,
      loadgen:
        loadgen?.kind === 'wrk'
          ? tool('wrk', ['-v'])?.split('\n')[0]?.split(' Copyright')[0]
          : loadgen
            ? 'autocannon'
            : undefined,
      pgbench: pgbench ? tool('pgbench', ['--version']) : undefined,
      redisBenchmark: settings.workloads.some((w) => REDIS_LIMIT_WORKLOADS.includes(w))
        ? tool('redis-benchmark', ['--version'])
        : undefined,
      express: expressVersion(),
    },
    postgresSettings: pgInfo?.settings,
    worker: withWorker ? 'running' : 'not running',
    logDir,
    commands: [],
  };
  log(
    `  ${meta.machine.cpus} × ${meta.machine.cpuModel}, ${num(meta.machine.memoryBytes / 2 ** 30, 1)} GiB; Node ${meta.versions.node}` +
      `${pgInfo ? `, PostgreSQL ${pgInfo.version}` : ''}${redisInfo ? `, Redis ${redisInfo.version}` : ''}, ${meta.versions.loadgen ?? 'no HTTP load generator'}`,
  );
  mkdirSync(logDir, { recursive: true });
  setScriptDir(logDir);
  log(`  logs: ${logDir}`);

  // ---- start processes ------------------------------------------------------------------------
  const ports = new Set();
  // Every node process runs with the C allocator's settings the start script and the images give
  // Rosetta's (scripts/malloc-env.mjs; a value in the bench's own environment wins).
  const baseEnv = withMallocEnv({ ...process.env, NODE_ENV: 'production', LOG_LEVEL: 'warn' });
  const urls = {};
  for (const anchor of ['node-http', 'express']) {
    if (!settings.workloads.includes(anchor)) continue;
    const port = await freePort(ports);
    state.services[anchor] = startService(anchor, process.execPath, [join(BENCH_DIR, 'anchors', `${anchor}.mjs`)], {
      cwd: ROOT,
      env: { ...baseEnv, PORT: String(port), HOST: '127.0.0.1' },
      logFile: join(logDir, `${anchor}.log`),
    });
    urls[anchor] = `http://127.0.0.1:${port}`;
  }
  for (const anchor of ['node-http', 'express']) {
    if (urls[anchor]) await waitReady(`${urls[anchor]}${recordPath('hot')}`, { watch: [state.services[anchor]] });
  }

  let seed;
  if (needCluster) {
    state.redisPrefix = `rosetta-bench-${process.pid}:`;
    // The worker writes snapshot objects here and the gateway serves them from here.
    state.snapshotDir = join(RESULTS_DIR, 'tmp', `${stamp}-snapshots`);
    await recreateDatabase(DB_NAME);
    state.createdDbs.add(DB_NAME);
    const apiPort = await freePort(ports);
    const gatewayPort = await freePort(ports);
    const workerPort = await freePort(ports);
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    state.redisUsed = true;
    state.services.api = startService('api', process.execPath, serviceArgs('api'), {
      cwd: ROOT,
      env: {
        ...baseEnv,
        API_HOST: '127.0.0.1',
        API_PORT: String(apiPort),
        DATABASE_URL: databaseUrl(DB_NAME),
        REDIS_URL,
        REDIS_PREFIX: state.redisPrefix,
        ROSETTA_ADMIN_TOKEN: BENCH_TOKEN,
        ROSETTA_INTERNAL_SECRET: BENCH_INTERNAL_SECRET,
        ...KOPANO_API_ENV,
      },
      logFile: join(logDir, 'api.log'),
    });
    const gatewayEnv = {
      ...baseEnv,
      // Every load comes from 127.0.0.1, one address standing for BENCH_CONNECTIONS clients: the
      // per-client cap on open streams (16 by default) would refuse all but 16 of the list
      // workload's 64 concurrent lists, so it is raised to the connection count (the global cap
      // stays at its default). A run can still set its own.
      GATEWAY_MAX_STREAMS_PER_CLIENT: process.env.GATEWAY_MAX_STREAMS_PER_CLIENT ?? String(settings.connections),
      HOST: '127.0.0.1',
      API_URL: apiUrl,
      // Redis as in the cluster shape (docs/deployment.md): the worker's change events wake the
      // gateway's live change readers (SSE, long-polls, GraphQL subscriptions).
      REDIS_URL,
      REDIS_PREFIX: state.redisPrefix,
      SNAPSHOT_DIR: state.snapshotDir,
    };
    state.services.gateway = startService('gateway', process.execPath, serviceArgs('gateway'), {
      cwd: ROOT,
      env: { ...gatewayEnv, PORT: String(gatewayPort) },
      logFile: join(logDir, 'gateway.log'),
    });
    urls.gateway = `http://127.0.0.1:${gatewayPort}`;
    log(
      `  starting api (:${apiPort}) and gateway (:${gatewayPort})${withWorker ? ` and worker (health :${workerPort})` : ''}…`,
    );
    await waitReady(`${urls.gateway}/readyz`, { watch: [state.services.api, state.services.gateway] });
    if (withWorker) {
      // `extraEnv` overrides the worker's settings (the feed-lag-10ms workload restarts it with
      // another RELAY_INTERVAL_MS, then again without).
      state.startWorker = async (extraEnv = {}) => {
        state.workerStarts = (state.workerStarts ?? 0) + 1;
        const args = serviceArgs('worker');
        if (settings.cpuProf && state.workerStarts > 1)
          args.splice(
            args.indexOf('--cpu-prof-name=worker.cpuprofile'),
            1,
            `--cpu-prof-name=worker-${state.workerStarts}.cpuprofile`,
          );
        state.services.worker = startService('worker', process.execPath, args, {
          cwd: ROOT,
          env: {
            ...baseEnv,
            API_URL: apiUrl,
            REDIS_URL,
            REDIS_PREFIX: state.redisPrefix,
            ROSETTA_INTERNAL_SECRET: BENCH_INTERNAL_SECRET,
            SNAPSHOT_DIR: state.snapshotDir,
            WORKER_HEALTH_HOST: '127.0.0.1',
            WORKER_HEALTH_PORT: String(workerPort),
            ...extraEnv,
          },
          logFile: join(logDir, 'worker.log'),
        });
        await waitReady(`http://127.0.0.1:${workerPort}/readyz`, { timeoutMs: 30_000, watch: [state.services.worker] });
      };
      try {
        await state.startWorker();
      } catch (error) {
        warn(`the worker did not become ready, continuing without it:\n${error.message}`);
        await stopProcess(state.services.worker);
        delete state.services.worker;
        delete state.startWorker;
        meta.worker = 'failed to start';
      }
    }
    if (settings.workloads.includes('hot-get-cluster')) {
      // A second gateway on the same api, one process per core; stopped at the end with the rest.
      const port = await freePort(ports);
      const proc = startService('gateway-cluster', process.execPath, serviceArgs('gateway'), {
        cwd: ROOT,
        env: { ...gatewayEnv, PORT: String(port), GATEWAY_PROCESSES: String(GATEWAY_PROCESSES) },
        logFile: join(logDir, 'gateway-cluster.log'),
      });
      proc.group = true;
      state.services['gateway-cluster'] = proc;
      state.gatewayEntry = serviceArgs('gateway').at(-1);
      urls['gateway-cluster'] = `http://127.0.0.1:${port}`;
      await waitReady(`${urls['gateway-cluster']}/readyz`, { watch: [proc] });
      const workers = await waitForWorkers(proc);
      pidsOf(proc);
      meta.gatewayCluster = { processes: GATEWAY_PROCESSES, workers };
      log(`  gateway with GATEWAY_PROCESSES=${GATEWAY_PROCESSES} (:${port}) ready: ${workers} worker process(es)`);
      if (workers === 0)
        warn(
          `the gateway ignored GATEWAY_PROCESSES=${GATEWAY_PROCESSES}: hot-get-cluster measures one gateway process`,
        );
    }
    meta.rssAfterStart = rssOfServices();
    log('  cluster ready; seeding through /v1…');
    if (
      settings.workloads.some((w) =>
        ['hot-get', 'hot-get-cluster', 'list', 'put', 'bulk-delete', 'all-in-one', ...GRAPHQL_WORKLOADS].includes(w),
      )
    )
      await seedHotAndList(urls.gateway);
    // The all-in-one mix sends every kind of request: it needs every seed.
    const mixed = settings.workloads.includes('all-in-one');
    if (mixed || settings.workloads.some((w) => GRAPHQL_WORKLOADS.includes(w))) await seedGraphql(urls.gateway);
    if (mixed || settings.workloads.some((w) => DIALECT_WORKLOADS.includes(w)))
      state.dialects = await seedDialects(urls.gateway);
    if (settings.workloads.some((w) => FEED_WORKLOADS.includes(w))) await prepareFeed(urls.gateway);
    if (settings.workloads.includes('export')) {
      let lastShown = 0;
      seed = await seedExport(urls.gateway, settings.exportRecords, (done) => {
        if (done - lastShown >= 20_000 || done === settings.exportRecords) {
          lastShown = done;
          log(`    export seed: ${num(done)} / ${num(settings.exportRecords)}`);
        }
      });
      log(
        `    seeded ${num(seed.records)} records in ${num(seed.seconds, 1)} s (${num(seed.recordsPerSecond)} records/s)`,
      );
    }
  }

  if (needCluster && settings.workloads.some((w) => OPENFN_WORKLOADS.includes(w)))
    await seedOpenFn(urls.gateway, settings);

  if (needCluster && settings.workloads.includes('batch-upsert')) await prepareBatch(urls.gateway);

  if (needCluster && settings.workloads.some((w) => DVID_WORKLOADS.includes(w)))
    meta.dvidSeed = await seedDvid(urls.gateway, settings);

  if (needCluster) meta.rssAfterSeed = rssOfServices();

  if (settings.workloads.some((w) => PROSODY_PEER_WORKLOADS.includes(w))) {
    state.peerProsody = await preparePeerProsody(warn);
    if (state.peerProsody === undefined)
      settings.workloads = settings.workloads.filter((w) => !PROSODY_PEER_WORKLOADS.includes(w));
    else {
      urls['peer-prosody'] = state.peerProsody.url;
      const version = tool('dpkg-query', ['-W', '-f=${Version}', 'prosody']);
      meta.versions.prosody = `Prosody ${version ?? '(version unknown)'} (peer)`;
    }
  }

  if (settings.workloads.some((w) => ETCD_PEER_WORKLOADS.includes(w))) {
    state.peerEtcd = await preparePeerEtcd(warn);
    if (state.peerEtcd === undefined)
      settings.workloads = settings.workloads.filter((w) => !ETCD_PEER_WORKLOADS.includes(w));
    else {
      urls['peer-etcd'] = state.peerEtcd.url;
      meta.versions.etcd = `etcd ${tool('etcd', ['--version'])?.replace('etcd Version: ', '') ?? '(version unknown)'} (peer)`;
    }
  }

  if (needTelemetry) {
    // The pairs of the telemetry settings: a database of their own, Redis keys and a snapshot
    // store under the run's (deleted at the end with the cluster's).
    state.redisPrefix ??= `rosetta-bench-${process.pid}:`;
    state.redisUsed = true;
    state.snapshotDir ??= join(RESULTS_DIR, 'tmp', `${stamp}-snapshots`);
    await recreateDatabase(TELEMETRY_DB_NAME);
    state.createdDbs.add(TELEMETRY_DB_NAME);
    const telemetryEnvBase = { ...baseEnv, LOG_LEVEL: 'info' };
    state.startTelemetryPair = async (workload, round, sinkUrl) => {
      const env = telemetryEnv(workload, telemetryEnvBase, sinkUrl);
      const apiPort = await freePort(ports);
      const gatewayPort = await freePort(ports);
      const apiUrl = `http://127.0.0.1:${apiPort}`;
      const name = (app) => `${workload}-r${round}-${app}`;
      const args = (app) =>
        settings.cpuProf
          ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${name(app)}.cpuprofile`, entry(app)]
          : [entry(app)];
      const redis = { REDIS_URL, REDIS_PREFIX: `${state.redisPrefix}telemetry:` };
      const api = startService(`api (${workload})`, process.execPath, args('api'), {
        cwd: ROOT,
        env: {
          ...env,
          API_HOST: '127.0.0.1',
          API_PORT: String(apiPort),
          DATABASE_URL: databaseUrl(TELEMETRY_DB_NAME),
          ...redis,
          ROSETTA_ADMIN_TOKEN: BENCH_TOKEN,
          ROSETTA_INTERNAL_SECRET: BENCH_INTERNAL_SECRET,
        },
        logFile: join(logDir, `${name('api')}.log`),
      });
      state.services['telemetry-api'] = api;
      const gateway = startService(`gateway (${workload})`, process.execPath, args('gateway'), {
        cwd: ROOT,
        env: {
          ...env,
          HOST: '127.0.0.1',
          PORT: String(gatewayPort),
          API_URL: apiUrl,
          ...redis,
          SNAPSHOT_DIR: state.snapshotDir,
        },
        logFile: join(logDir, `${name('gateway')}.log`),
      });
      state.services['telemetry-gateway'] = gateway;
      const url = `http://127.0.0.1:${gatewayPort}`;
      await waitReady(`${url}/readyz`, { watch: [api, gateway] });
      return { api, gateway, url, apiUrl, otel: otelOf(env) };
    };
  }

  let pgb;
  const pgbenchDir = join(logDir, 'pgbench');
  // The raw COPY writes its tables into pgbench's database.
  if (settings.workloads.some((w) => w === 'pgbench' || w === 'pg-copy')) {
    await recreateDatabase(PGBENCH_DB_NAME);
    state.createdDbs.add(PGBENCH_DB_NAME);
  }
  if (settings.workloads.includes('pgbench')) pgb = await preparePgbench(PGBENCH_DB_NAME, pgbenchDir, VALUE_BYTES);
  if (settings.workloads.includes('pgbench-select')) {
    await recreateDatabase(PGBENCH_SELECT_DB_NAME);
    state.createdDbs.add(PGBENCH_SELECT_DB_NAME);
    mkdirSync(pgbenchDir, { recursive: true });
    const started = performance.now();
    meta.pgbenchInit = await initPgbench(pgbench, PGBENCH_SELECT_DB_NAME, PGBENCH_SELECT_SCALE);
    log(`  pgbench -i -s ${PGBENCH_SELECT_SCALE} in ${num((performance.now() - started) / 1000, 1)} s`);
  }
  if (settings.workloads.some((w) => REDIS_LIMIT_WORKLOADS.includes(w))) {
    await prepareRedisBench();
    state.redisBench = true;
    state.redisPid = redisServerPid();
  }

  // ---- the rounds -----------------------------------------------------------------------------
  const runs = Object.fromEntries(settings.workloads.map((w) => [w, []]));
  const rounds = [];
  try {
    for (let round = 1; round <= settings.runs; round++) {
      const results = {};
      rounds.push(results);
      for (const workload of settings.workloads) {
        assertRunning();
        const settled = await settle();
        let result;
        try {
          result = await runWorkload(workload, round, { settings, loadgen, urls, pgb, pgbench, pgbenchDir, meta });
        } catch (error) {
          result = { error: error instanceof Error ? error.message : String(error) };
          if (state.interrupted) return;
          warn(`${workload} (run ${round}) failed: ${result.error}`);
        }
        result.settleMs = settled.ms;
        result.quietBefore = settled.quiet;
        runs[workload].push(result);
        results[workload] = result;
        if (!result.error) log(`  [run ${round}/${settings.runs}] ${describeRun(workload, result)}`);
      }
    }
  } catch (error) {
    // A service died (or was killed from outside): report what was measured, but do not
    // overwrite the figures in the doc with an incomplete run.
    if (state.interrupted) return;
    meta.aborted = (error instanceof Error ? error.message : String(error)).split('. Last lines')[0].split('\n')[0];
    warn(`run aborted: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }

  const authCost = settings.workloads.includes('hot-get') && !meta.aborted ? await measureAuthCost() : undefined;
  if (authCost !== undefined)
    meta.commands.push('in process: bench/lib/auth-cost.mjs (gateway and api auth code, built)');

  const hwm = {};
  for (const [name, proc] of Object.entries(state.services)) {
    if (proc.running) hwm[name] = memoryOf(proc, 'hwm');
  }
  // The RSS target holds for each of its processes too.
  const group = state.services['gateway-cluster'];
  if (group?.running)
    meta.gatewayCluster.largestHwm = Math.max(...pidsOf(group).map((pid) => readMemory(pid)?.hwm ?? 0));

  await cleanup();

  meta.ports = Object.fromEntries(Object.entries(urls).map(([name, url]) => [name, Number(new URL(url).port)]));
  meta.commands = meta.commands.map((command) => {
    let text = command.split(`${ROOT}/`).join('');
    for (const [name, url] of Object.entries(urls)) text = text.split(url).join(`http://127.0.0.1:<${name}-port>`);
    return text;
  });

  report({ meta, seed, hwm, runs, rounds, authCost }, join(RESULTS_DIR, `${stamp}.json`), settings.writeDocs);
}

/** Summary, ratios, verdicts; printed, saved as JSON and (for a complete run) written to the doc. */
function report({ meta, seed, hwm, runs, rounds, authCost }, jsonPath, writeDocs) {
  const summary = Object.fromEntries(Object.entries(runs).map(([w, r]) => [w, summarize(r, w)]));
  const r = ratios(summary, rounds);
  const t = targets(summary, r, authCost, hwm, meta.gatewayCluster?.largestHwm);
  const result = { meta, seed, summary, ratios: r, targets: t, hwm, runs, authCost };
  const block = markdown(result);
  log(`\n${block}`);
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(jsonPath, `${JSON.stringify(result, null, 2)}\n`);
  log(`raw results: ${jsonPath}`);
  if (meta.aborted) {
    log(`incomplete run (${meta.aborted}): docs/benchmarks.md left as it was`);
  } else if (writeDocs) {
    writeDoc(DOC_PATH, block, DOC_TEMPLATE);
    log(`updated ${DOC_PATH}`);
  }
  for (const x of t) log(`${x.result.padEnd(4)}  ${x.target} — ${x.measured}`);
}

/** Headers with the ones set to undefined (to leave the admin token out) removed. */
function withoutUndefined(headers) {
  return Object.fromEntries(Object.entries(headers).filter(([, value]) => value !== undefined));
}

function recordPath(key, collection = HOT_COLLECTION) {
  return `/v1/spaces/${SPACE}/collections/${collection}/records/${key}`;
}

function describeRun(workload, r) {
  const rss = Object.entries(r.peakRss ?? {})
    .filter(([name]) => name !== 'loadgen')
    .map(([name, bytes]) => `${name} ${mb(bytes)}`)
    .join(', ');
  const cpu = Object.entries(r.cpu ?? {})
    .filter(([name, v]) => v >= 5 && !['others', 'unseen', 'irq'].includes(name))
    .map(([name, v]) => `${name} ${num(v)}%`)
    .join(' ');
  if (workload.startsWith('openfn-')) {
    return (
      `${workload.padEnd(9)} ${num(r.items)} items in ${ms(r.totalMs ?? r.seconds * 1000)}: ${num(r.itemsPerSecond)} items/s` +
      `${r.ttfbMs === undefined ? `, p50 ${ms(r.p50Ms)} p99 ${ms(r.p99Ms)} per batch` : `, first byte ${ms(r.ttfbMs)}`} | RSS ${rss} | CPU ${cpu}`
    );
  }
  if (workload === 'dvid-version-get') {
    return (
      `${workload.padEnd(9)} root ${num(r.rootRps)} req/s p50 ${ms(r.rootP50Ms)} p99 ${ms(r.rootP99Ms)}, ` +
      `leaf ${num(r.rps)} req/s p50 ${ms(r.p50Ms)} p99 ${ms(r.p99Ms)} (leaf/root ${num(r.leafVsRoot * 100, 1)}%) | RSS ${rss} | CPU leaf ${cpu}`
    );
  }
  if (workload === 'batch-upsert' || workload === 'pg-copy') {
    return (
      `${workload.padEnd(9)} ${num(r.records)} records in ${ms(r.totalMs)}: ${num(r.recordsPerSecond)} records/s` +
      `${r.p50Ms === undefined ? '' : `, p50 ${ms(r.p50Ms)} p99 ${ms(r.p99Ms)} per POST`} | RSS ${rss} | CPU ${cpu}`
    );
  }
  if (workload.startsWith('dvid-')) {
    return (
      `${workload.padEnd(9)} ${num(r.records)} records in ${ms(r.totalMs)}: ${num(r.recordsPerSecond)} records/s` +
      `${r.ttfbMs === undefined ? `, p50 ${ms(r.p50Ms)} p99 ${ms(r.p99Ms)} per POST` : `, first byte ${ms(r.ttfbMs)}`} | RSS ${rss} | CPU ${cpu}`
    );
  }
  if (FEED_WORKLOADS.includes(workload)) {
    return (
      `${workload.padEnd(9)} ${num(r.writesPerSecond)} writes/s (relay ${r.relayIntervalMs ?? '–'} ms), ${num(r.events)}/${num(r.acked)} events, ` +
      `lag p50 ${ms(r.lagP50Ms)} p90 ${ms(r.lagP90Ms)} p99 ${ms(r.lagP99Ms)} max ${ms(r.lagMaxMs)}; published p50 ${ms(r.relayP50Ms)} p99 ${ms(r.relayP99Ms)}, ` +
      `${num((r.beforeRelayShare ?? 0) * 100)}% before it (the rest: lag p50 ${ms(r.afterRelayP50Ms)} p99 ${ms(r.afterRelayP99Ms)}); ` +
      `PUT p50 ${ms(r.putP50Ms)} p99 ${ms(r.putP99Ms)}${r.late ? `, ${num(r.late)} late` : ''}${r.missed ? `, ${num(r.missed)} NOT SENT` : ''}` +
      `${r.missing ? `, ${num(r.missing)} MISSING` : ''} | RSS ${rss} | CPU ${cpu}`
    );
  }
  if (workload === 'bulk-delete') {
    return (
      `${workload.padEnd(9)} ${num(r.records)} records in ${ms(r.jobMs)}: ${num(r.recordsPerSecond)} records/s ` +
      `(POST ${ms(r.postMs)}, queued ${ms(r.queuedMs)}; client ${num(r.clientRecordsPerSecond)} records/s over ${ms(r.clientMs)}; ` +
      `relay caught up ${ms(r.relayMs)} after); ` +
      `hot GET meanwhile ${num(r.hotRps)} req/s p50 ${ms(r.hotP50Ms)} p99 ${ms(r.hotP99Ms)} | RSS ${rss} | CPU ${cpu}`
    );
  }
  if (SNAPSHOT_WORKLOADS.includes(workload)) {
    return (
      `${workload.padEnd(9)} ${num(r.records)} records in ${ms(r.jobMs ?? r.totalMs)}: ${num(r.recordsPerSecond)} records/s, ` +
      `${num(r.mbPerSecond, 1)} MB/s of keys and values` +
      `${r.objectMbPerSecond === undefined ? '' : `, ${num(r.objectMbPerSecond, 2)} MB/s of the ${num(r.bytes / 1e6, 1)} MB object`}` +
      `${r.clientMs === undefined ? '' : ` (wall ${ms(r.clientMs)}, POST ${ms(r.postMs)}, queued ${ms(r.queuedMs)})`}` +
      `${r.relayMs === undefined ? '' : `; relay caught up ${ms(r.relayMs)} after`} | RSS ${rss} | CPU ${cpu}`
    );
  }
  if (workload === 'export') {
    return (
      `${workload.padEnd(9)} ${num(r.records)} records in ${ms(r.totalMs)}: ${num(r.recordsPerSecond)} rec/s, ` +
      `${num(r.mbPerSecond, 1)} MB/s, first byte ${ms(r.ttfbMs)} | RSS ${rss} | CPU ${cpu}`
    );
  }
  const errors = (r.non2xx ?? 0) + (r.socketErrors ?? 0) + (r.timeouts ?? 0);
  const telemetry = TELEMETRY_WORKLOADS.includes(workload)
    ? ` | access log ${num(r.accessLinesPerRequest, 2)} lines/request` +
      ['gateway', 'api']
        .filter((name) => r[`${name}Scrapes`] !== undefined)
        .map(
          (name) =>
            `, ${name} /metrics ${r[`${name}ScrapesOk`]}/${r[`${name}Scrapes`]} ok` +
            `${r[`${name}ScrapeStatus`] === 200 ? '' : ` (else ${r[`${name}ScrapeStatus`] || 'no answer'})`}`,
        )
        .join('') +
      (r.traceRequests === undefined
        ? ''
        : `, OTLP ${num(r.traceRequests)} trace POSTs (${num(r.traceBytes / 1e6, 1)} MB, ${num(r.spansPerRequest, 2)} spans/request: ` +
          `gateway ${num(r.gatewaySpansPerRequest, 2)}, api ${num(r.apiSpansPerRequest, 2)}), ` +
          `${num(r.metricRequests)} metric POSTs`)
    : '';
  return (
    `${workload.padEnd(9)} ${num(r.rps).padStart(7)} req/s  p50 ${ms(r.p50Ms)}  p99 ${ms(r.p99Ms)}` +
    `${errors ? `  ERRORS ${errors}` : ''} | RSS ${rss} | CPU ${cpu}${telemetry}`
  );
}

async function runWorkload(workload, round, ctx) {
  const { settings, loadgen, urls, pgb, pgbench, pgbenchDir, meta } = ctx;
  const common = { connections: settings.connections, threads: settings.threads };
  const anchor =
    workload === 'node-http' || workload === 'express'
      ? workload
      : PROSODY_PEER_WORKLOADS.includes(workload)
        ? 'peer-prosody'
        : ETCD_PEER_WORKLOADS.includes(workload)
          ? 'peer-etcd'
          : undefined;

  if (workload === 'export') return runExport(ctx, round);
  if (workload === 'openfn-upsert') return runOpenFnUpsert(ctx, round);
  if (workload === 'openfn-list' || workload === 'openfn-list-1m') return runOpenFnList(workload, ctx, round);
  if (workload === 'dvid-ingest') return runDvidIngest(ctx, round);
  if (workload === 'batch-upsert') return runBatchUpsert(ctx, round);
  if (workload === 'pg-copy') return runPgCopy(ctx, round);
  if (workload === 'dvid-version-get') return runDvidVersionGet(ctx, round);
  if (workload === 'dvid-range') return runDvidRange(ctx, round);
  if (FEED_WORKLOADS.includes(workload)) return runFeedLagWorkload(workload, ctx, round);
  if (workload === 'bulk-delete') return runBulkDeleteWorkload(ctx, round);
  if (workload === 'snapshot-export') return runSnapshotExport(ctx, round);
  if (workload === 'snapshot-restore') return runSnapshotRestore(ctx, round);
  if (workload === 'snapshot-download') return runSnapshotDownload(ctx, round);
  if (TELEMETRY_WORKLOADS.includes(workload)) return runTelemetryWorkload(workload, ctx, round);

  if (workload === 'pgbench' || workload === 'pgbench-select') {
    const inUse = await connectionsInUse();
    const max = (await checkPostgres()).maxConnections;
    if (inUse + settings.connections > max) {
      throw new Error(
        `${workload} needs ${settings.connections} connections; ${inUse} of max_connections=${max} are in use`,
      );
    }
    // The upsert script with its value, or pgbench's own select-only script (-S).
    const spec =
      workload === 'pgbench'
        ? { pgbench, database: PGBENCH_DB_NAME, ...pgb, ...common, dir: pgbenchDir }
        : { pgbench, database: PGBENCH_SELECT_DB_NAME, ...common, dir: pgbenchDir };
    if (settings.warmup > 0) await runPgbench({ ...spec, duration: settings.warmup, log: false });
    const sampler = new Sampler(targetsFor(undefined));
    let window;
    let r;
    try {
      r = await runPgbench({
        ...spec,
        duration: settings.duration,
        log: true,
        onStart: (pid) => sampler.add('loadgen', pid),
      });
    } finally {
      window = sampler.stop();
    }
    if (round === settings.runs)
      meta.commands.push(
        ...(workload === 'pgbench-select' ? [`${meta.pgbenchInit}   # once, before the runs`] : []),
        r.command,
      );
    return { ...r, peakRss: window.peakRss, cpu: window.cpu, windowMs: window.windowMs };
  }

  if (REDIS_LIMIT_WORKLOADS.includes(workload)) {
    const test = workload.slice('redis-'.length);
    const requests = await warmRedisBench({ test, connections: settings.connections, duration: settings.duration });
    const sampler = new Sampler({ ...targetsFor(undefined), redis: state.redisPid });
    let window;
    let r;
    try {
      r = await runRedisBench({
        test,
        requests,
        connections: settings.connections,
        onStart: (pid) => sampler.add('loadgen', pid),
      });
    } finally {
      window = sampler.stop();
    }
    if (round === settings.runs)
      meta.commands.push(`${r.command}   # -n: ${settings.duration} s at the rate of a warm-up of 50,000 requests`);
    return { ...r, peakRss: window.peakRss, cpu: window.cpu, windowMs: window.windowMs };
  }

  let spec;
  const base = anchor ? urls[anchor] : workload === 'hot-get-cluster' ? urls['gateway-cluster'] : urls.gateway;
  switch (workload) {
    case 'node-http':
    case 'express':
    case 'hot-get':
    case 'hot-get-cluster':
      spec = hotGetSpec(base);
      break;
    case 'list':
      spec = {
        url: `${base}/v1/spaces/${SPACE}/collections/${HOT_COLLECTION}/records?prefix=list/&limit=1000`,
        method: 'GET',
        headers: AUTH_HEADERS,
      };
      break;
    case 'put':
      spec = { url: `${base}${recordPath('put')}`, method: 'PUT', valueBytes: VALUE_BYTES, headers: AUTH_HEADERS };
      break;
    case 'kopano-get':
    case 'rivet-get':
    case 'prosody-get': {
      const { path, headers } = state.dialects[workload.split('-')[0]];
      spec = { url: `${base}${path}`, method: 'GET', headers: withoutUndefined(headers) };
      break;
    }
    case 'graphql-get':
    case 'graphql-page':
      spec = {
        url: `${base}${GRAPHQL_PATH}`,
        method: 'POST',
        script: 'post',
        scriptArgs: [GRAPHQL_BODIES[workload]],
        headers: { ...AUTH_HEADERS, ...GRAPHQL_HEADERS },
        // Checked once before the load: the answer holds the seeded data and no `errors`.
        answerBytes: await checkGraphql(base, workload),
      };
      break;
    case 'peer-prosody-get':
      spec = { url: `${base}${state.peerProsody.get.path}`, method: 'GET', headers: state.peerProsody.get.headers };
      break;
    case 'prosody-put':
    case 'peer-prosody-put': {
      const headers = workload === 'prosody-put' ? state.dialects.prosody.headers : state.peerProsody.put.headers;
      spec = { url: `${base}/data/`, method: 'PUT', script: 'prosody-put', valueBytes: VALUE_BYTES, headers };
      break;
    }
    case 'all-in-one':
      // The GraphQL query is checked once; the other kinds fail with a non-2xx.
      await checkGraphql(base, 'graphql-get');
      spec = { url: `${base}/`, method: 'GET', script: 'mix', headers: {} };
      break;
    case 'peer-etcd-range': {
      await compactEtcd();
      const { path, body, headers } = state.peerEtcd.range;
      // Checked once before the load: etcd answers a range of a missing key with a 200 too.
      spec = { url: `${base}${path}`, method: 'POST', script: 'post', scriptArgs: [body], headers };
      spec.answerBytes = await checkRange();
      break;
    }
    case 'peer-etcd-put': {
      await compactEtcd();
      const { path, headers } = state.peerEtcd.put;
      spec = { url: `${base}${path}`, method: 'POST', script: 'etcd-put', valueBytes: VALUE_BYTES, headers };
      break;
    }
    default:
      throw new Error(`unknown workload ${workload}`);
  }
  const putBase = (phase) => {
    if (spec.script === 'prosody-put') return '/data/bench_';
    if (spec.script === 'etcd-put') return state.peerEtcd.put.base(round, phase);
    return `${recordPath('put')}/p${process.pid}-r${round}-${phase}`;
  };
  // The mix's arguments hold its PUTs' key prefix.
  const phase = (name, duration) => ({
    ...spec,
    ...common,
    duration,
    putBase: putBase(name),
    ...(spec.script === 'mix' ? { scriptArgs: mixArgs(mixEntries(state.dialects, putBase(name))) } : {}),
  });
  if (settings.warmup > 0) await runLoad(loadgen, phase('warm', settings.warmup));
  // The gateway with GATEWAY_PROCESSES is measured as its primary and workers together.
  const sampler = new Sampler(
    workload === 'hot-get-cluster'
      ? { ...targetsFor(undefined), gateway: pidsOf(state.services['gateway-cluster']) }
      : targetsFor(anchor),
  );
  let window;
  let r;
  try {
    r = await runLoad(loadgen, phase('run', settings.duration), { onStart: (pid) => sampler.add('loadgen', pid) });
  } finally {
    window = sampler.stop();
  }
  if (round === settings.runs && r.command) {
    const mix =
      spec.script === 'mix'
        ? `   # per 1000 requests: ${mixEntries(state.dialects, '')
            .map(({ name, weight }) => `${name} ${weight}`)
            .join(', ')}`
        : '';
    meta.commands.push(`${r.command.replace(/p\d+-r\d+-run/, 'p<pid>-r<run>-run')}${mix}`);
  }
  checkLoad(workload, r);
  if (spec.script === 'mix' && r.non2xx > 0)
    throw new Error(`${workload}: ${num(r.non2xx)} of ${num(r.requests)} responses were not 2xx; run not counted`);
  if (spec.script === 'etcd-put') {
    // Every put answered 2xx and stored its key (the run's keys, counted by a range).
    const stored = await countPut(putBase('run'));
    if (r.non2xx > 0 || stored < r.requests)
      throw new Error(
        `${workload}: ${num(r.requests)} puts answered (${num(r.non2xx)} not 2xx), ${num(stored)} keys stored; run not counted`,
      );
  }
  if (spec.answerBytes !== undefined) {
    // GraphQL answers errors with a 200, etcd a range of a missing key: answers shorter than the
    // checked one (headers aside) are errors.
    const perResponse = (r.mbps * 1e6) / r.rps;
    if (perResponse < spec.answerBytes)
      throw new Error(
        `${workload}: ${num(perResponse)} bytes per response, less than the ${num(spec.answerBytes)}-byte body of the checked answer; run not counted`,
      );
  }
  return { ...r, peakRss: window.peakRss, cpu: window.cpu, windowMs: window.windowMs };
}

/** The hot-get request: the hot record, read over and over. */
function hotGetSpec(base) {
  return { url: `${base}${recordPath('hot')}`, method: 'GET', headers: AUTH_HEADERS };
}

/** A load run counts when requests completed and at most 0.1% of them failed. */
function checkLoad(workload, r) {
  if (r.requests === 0) throw new Error(`${workload}: no request completed`);
  const failures = (r.non2xx ?? 0) + (r.socketErrors ?? 0) + (r.timeouts ?? 0);
  if (failures > r.requests * 0.001) {
    throw new Error(
      `${workload}: ${failures} of ${r.requests} requests failed (non-2xx ${r.non2xx}, socket errors ${r.socketErrors}, timeouts ${r.timeouts}); run not counted`,
    );
  }
}

async function runExport(ctx, round) {
  const { settings, urls, meta } = ctx;
  const listUrl = (limit) =>
    `${urls.gateway}/v1/spaces/${SPACE}/collections/${EXPORT_COLLECTION}/records?prefix=export/&limit=${limit}&format=ndjson`;
  // Warm-up: short complete exports of the same shape.
  const warmUntil = performance.now() + settings.warmup * 1000;
  while (performance.now() < warmUntil) await streamNdjson(listUrl(10_000));
  await settle();
  const limit = Math.max(200_000, settings.exportRecords * 2);
  const sampler = new Sampler(targetsFor(undefined));
  let window;
  let r;
  try {
    r = await streamNdjson(listUrl(limit));
  } finally {
    window = sampler.stop();
  }
  if (round === settings.runs)
    meta.commands.push(`node client: GET ${listUrl(limit).replace(urls.gateway, '')} (lines counted)`);
  if (!r.complete) throw new Error(`export stream ended without its {"done":true} line after ${r.records} records`);
  if (r.records !== settings.exportRecords)
    throw new Error(`export returned ${r.records} records, expected ${settings.exportRecords}`);
  return { ...r, startRss: window.startRss, peakRss: window.peakRss, cpu: window.cpu, windowMs: window.windowMs };
}

/** The OpenFn project, and the collections the listings read (the 1M one only when it runs). */
async function seedOpenFn(base, settings) {
  await prepareOpenFn(base);
  const seedList = async (collection, total) => {
    let lastShown = 0;
    const seeded = await upsertItems(base, collection, total, 'item-', (done) => {
      if (done - lastShown >= 100_000 || done === total) {
        lastShown = done;
        log(`    openfn seed (${collection}): ${num(done)} / ${num(total)}`);
      }
    });
    log(`    seeded ${num(total)} OpenFn items in ${num(seeded.seconds, 1)} s (${num(seeded.itemsPerSecond)} items/s)`);
  };
  if (settings.workloads.includes('openfn-list')) await seedList(OPENFN_COLLECTIONS.list, settings.openfnItems);
  if (settings.workloads.includes('openfn-list-1m')) await seedList(OPENFN_COLLECTIONS.list1m, OPENFN_MILLION);
}

/** 100k items (BENCH_OPENFN_ITEMS) upserted in POSTs of 1000, fresh keys each run. */
async function runOpenFnUpsert(ctx, round) {
  const { settings, urls, meta } = ctx;
  const collection = OPENFN_COLLECTIONS.upsert;
  if (settings.warmup > 0) await upsertItems(urls.gateway, collection, 10_000, `warm-r${round}-`);
  await settle();
  const sampler = new Sampler(targetsFor(undefined));
  let window;
  let r;
  try {
    r = await upsertItems(urls.gateway, collection, settings.openfnItems, `run-r${round}-`);
  } finally {
    window = sampler.stop();
  }
  if (round === settings.runs)
    meta.commands.push(
      `node client: POST /collections/${collection} {"items": [1000 × ~256 B]} × ${num(settings.openfnItems / 1000)}, 4 in flight (project ${OPENFN_SPACE})`,
    );
  return { ...r, totalMs: r.seconds * 1000, peakRss: window.peakRss, cpu: window.cpu, windowMs: window.windowMs };
}

/**
 * BENCH_BATCH_RECORDS records of 1 KiB through the native API's transactional batch route, in
 * POSTs of BATCH_SIZE, BATCH_LANES in flight, fresh keys each run; then counted (not measured).
 */
async function runBatchUpsert(ctx, round) {
  const { settings, urls, meta } = ctx;
  if (settings.warmup > 0) await upsertBatches(urls.gateway, 10_000, `r${round}-warm/`);
  await settle();
  const { result, window } = await inWindow(() => upsertBatches(urls.gateway, settings.batchRecords, `r${round}-run/`));
  if (round === settings.runs)
    meta.commands.push(
      `node client: POST ${BATCH_PATH} {"records": [${BATCH_SIZE} × {"key","value": 1 KiB}]} × ${num(settings.batchRecords / BATCH_SIZE)}, ` +
        `${BATCH_LANES} in flight, keys r<run>-run/<n>; then GET …/batch/count?prefix=r<run>-run/`,
    );
  return { ...result, ...window };
}

/** The batch upsert's raw limit: the same rows in one COPY … FROM STDIN into a new table of pgbench's database. */
async function runPgCopy(ctx, round) {
  const { settings, meta } = ctx;
  const records = settings.batchRecords;
  if (settings.warmup > 0) await copyBatch(PGBENCH_DB_NAME, `copy_r${round}_warm`, 10_000, `r${round}-warm/`);
  await settle();
  const { result, window } = await inWindow(() =>
    copyBatch(PGBENCH_DB_NAME, `copy_r${round}_run`, records, `r${round}-run/`),
  );
  if (round === settings.runs)
    meta.commands.push(
      `node client (pg): CREATE TABLE copy_r<run>_run (k text PRIMARY KEY, v text NOT NULL); ` +
        `COPY copy_r<run>_run (k, v) FROM STDIN   # ${num(records)} rows of the same keys and 1 KiB value, text format, in ${PGBENCH_DB_NAME}`,
    );
  return { ...result, ...window };
}

/** One GET of a whole collection (limit = its size), items counted as they stream in. */
async function runOpenFnList(workload, ctx, round) {
  const { settings, urls, meta } = ctx;
  const million = workload === 'openfn-list-1m';
  const total = million ? OPENFN_MILLION : settings.openfnItems;
  const url = `${urls.gateway}/collections/${million ? OPENFN_COLLECTIONS.list1m : OPENFN_COLLECTIONS.list}?limit=${total}`;
  await settle();
  const sampler = new Sampler(targetsFor(undefined));
  let window;
  let r;
  try {
    r = await streamItems(url);
  } finally {
    window = sampler.stop();
  }
  if (round === settings.runs) meta.commands.push(`node client: GET ${url.replace(urls.gateway, '')} (items counted)`);
  if (!r.complete || r.items !== total)
    throw new Error(`${workload} returned ${r.items} of ${total} items${r.complete ? '' : ', incomplete'}`);
  return { ...r, startRss: window.startRss, peakRss: window.peakRss, cpu: window.cpu, windowMs: window.windowMs };
}

/**
 * The DVID repos, in the admin's personal space (no DVID_SPACE): one whose open root the ingest
 * runs write to, and, for the reads, BENCH_DVID_RECORDS keys at a root under a chain of
 * BENCH_DVID_VERSIONS versions that each overwrite a few hundred of them.
 */
async function seedDvid(base, settings) {
  const { records, versions } = settings.dvid;
  state.dvid = {};
  if (settings.workloads.includes('dvid-ingest')) state.dvid.ingestRoot = await createRepo(base, 'bench-ingest');
  if (!settings.workloads.some((w) => w === 'dvid-version-get' || w === 'dvid-range')) return undefined;
  let lastShown = 0;
  const chain = await seedVersions(base, { records, versions }, (done, version) => {
    if (version !== undefined) log(`    dvid chain: ${num(version)} / ${num(versions)} versions`);
    else if (done - lastShown >= 25_000 || done === records) {
      lastShown = done;
      log(`    dvid seed: ${num(done)} / ${num(records)}`);
    }
  });
  state.dvid.chain = chain;
  log(
    `    seeded ${num(records)} DVID records in ${num(chain.seed.seconds, 1)} s (${num(chain.seed.recordsPerSecond)} records/s); ` +
      `${num(versions)} versions over them (${num(chain.overwrites)} overwrites) in ${num(chain.chainSeconds, 1)} s`,
  );
  if (chain.retried > 0) warn(`${chain.retried} DVID seed POST(s) answered 401 (an expired grant) and were sent again`);
  return {
    records,
    versions,
    overwrites: chain.overwrites,
    seconds: chain.seed.seconds,
    recordsPerSecond: chain.seed.recordsPerSecond,
    chainSeconds: chain.chainSeconds,
    retried: chain.retried,
  };
}

/** BENCH_DVID_RECORDS records of 1 KiB in protobuf POSTs of 1000, 4 in flight, fresh keys each run. */
async function runDvidIngest(ctx, round) {
  const { settings, urls, meta } = ctx;
  const uuid = state.dvid.ingestRoot;
  const value = valueAt(0);
  if (settings.warmup > 0) await ingest(urls.gateway, uuid, 10_000, { prefix: `warm${round}-`, value });
  await settle();
  const prefix = `run${round}-`;
  const sampler = new Sampler(targetsFor(undefined));
  let window;
  let r;
  try {
    r = await ingest(urls.gateway, uuid, settings.dvid.records, { prefix, value });
  } finally {
    window = sampler.stop();
  }
  await spotCheck(urls.gateway, uuid, settings.dvid.records, prefix, value);
  if (round === settings.runs)
    meta.commands.push(
      `node client: POST /api/node/<root>/${DVID_INSTANCE}/keyvalues (protobuf KeyValues, ${DVID_BATCH} × 1 KiB) × ${num(settings.dvid.records / DVID_BATCH)}, ${DVID_LANES} in flight`,
    );
  return { ...r, peakRss: window.peakRss, cpu: window.cpu, windowMs: window.windowMs };
}

/**
 * GETs of random keys at the root and at the leaf of the chain, each measured like an HTTP
 * workload (warm-up, then its own window; the same key sequence at both); the leaf's figures
 * are the workload's own.
 */
async function runDvidVersionGet(ctx, round) {
  const { settings, loadgen, urls, meta } = ctx;
  const { root, leaf, records } = state.dvid.chain;
  const common = {
    base: urls.gateway,
    records,
    connections: settings.connections,
    threads: settings.threads,
  };
  const measure = async (uuid) => {
    if (settings.warmup > 0) await runRandomGets(loadgen, { ...common, uuid, duration: settings.warmup });
    await settle();
    const sampler = new Sampler(targetsFor(undefined));
    let window;
    let r;
    try {
      r = await runRandomGets(
        loadgen,
        { ...common, uuid, duration: settings.duration },
        { onStart: (pid) => sampler.add('loadgen', pid) },
      );
    } finally {
      window = sampler.stop();
    }
    const failures = r.non2xx + r.socketErrors + r.timeouts;
    if (r.requests === 0 || failures > r.requests * 0.001)
      throw new Error(`dvid-version-get: ${failures} of ${r.requests} GETs at ${uuid} failed; run not counted`);
    if (round === settings.runs) meta.commands.push(r.command.replaceAll(uuid, uuid === root ? '<root>' : '<leaf>'));
    return { ...r, peakRss: window.peakRss, cpu: window.cpu, windowMs: window.windowMs };
  };
  // The first of the two runs after a pause pays for warming up: the order alternates by round.
  let atRoot;
  let atLeaf;
  if (round % 2 === 1) {
    atRoot = await measure(root);
    atLeaf = await measure(leaf);
  } else {
    atLeaf = await measure(leaf);
    atRoot = await measure(root);
  }
  return {
    ...atLeaf,
    rootRps: atRoot.rps,
    rootP50Ms: atRoot.p50Ms,
    rootP99Ms: atRoot.p99Ms,
    rootCpu: atRoot.cpu,
    rootPeakRss: atRoot.peakRss,
    leafVsRoot: atLeaf.rps / atRoot.rps,
  };
}

/** One streamed keyrangevalues (protobuf) over every key at the leaf, entries counted. */
async function runDvidRange(ctx, round) {
  const { settings, urls, meta } = ctx;
  const { leaf, records } = state.dvid.chain;
  const path = `/api/node/${leaf}/${DVID_INSTANCE}/keyrangevalues/${keyOf(0)}/${keyOf(records - 1)}`;
  await settle();
  const sampler = new Sampler(targetsFor(undefined));
  let window;
  let r;
  try {
    r = await streamKeyValues(`${urls.gateway}${path}`);
  } finally {
    window = sampler.stop();
  }
  if (round === settings.runs)
    meta.commands.push(`node client: GET ${path.replace(leaf, '<leaf>')} (protobuf entries counted)`);
  if (!r.complete || r.records !== records)
    throw new Error(`dvid-range returned ${r.records} of ${records} records${r.complete ? '' : ', malformed or cut'}`);
  return { ...r, startRss: window.startRss, peakRss: window.peakRss, cpu: window.cpu, windowMs: window.windowMs };
}

/** Stops the worker and starts it again with `env` over its settings. */
async function restartWorker(env) {
  if (state.services.worker) await stopProcess(state.services.worker);
  await state.startWorker(env);
}

/**
 * PUTs of distinct 1 KiB keys at BENCH_FEED_RATE per second (open loop) and one SSE reader of
 * the collection: the lag from each PUT's answer to its `change` event. feed-lag-10ms restarts
 * the worker with RELAY_INTERVAL_MS=10 for its run, and again with its own settings after it.
 */
async function runFeedLagWorkload(workload, ctx, round) {
  const { settings, urls, meta } = ctx;
  const fast = workload === 'feed-lag-10ms';
  const worker = state.services.worker?.running === true;
  if (fast && (!worker || state.startWorker === undefined))
    throw new Error(`${workload} restarts the worker, which is not running`);
  const relayIntervalMs = !worker
    ? undefined
    : fast
      ? FEED_FAST_RELAY_MS
      : Number(process.env.RELAY_INTERVAL_MS ?? DEFAULT_RELAY_MS);
  if (fast) {
    await restartWorker({ RELAY_INTERVAL_MS: String(FEED_FAST_RELAY_MS) });
    await settle();
  }
  try {
    let sampler;
    let window;
    const r = await runFeedLag(urls.gateway, {
      tag: `p${process.pid}-r${round}-${fast ? 'fast' : 'relay'}`,
      rate: settings.feedRate,
      durationMs: settings.duration * 1000,
      warmupMs: settings.warmup * 1000,
      connections: settings.connections,
      redisPrefix: state.redisPrefix,
      onMeasureStart: () => (sampler = new Sampler(targetsFor(undefined))),
      onMeasureEnd: () => (window = sampler.stop()),
    });
    if (round === settings.runs)
      meta.commands.push(
        `node client (${workload}${fast ? `, worker restarted with RELAY_INTERVAL_MS=${FEED_FAST_RELAY_MS}` : ''}): ` +
          `PUT /v1/spaces/${SPACE}/collections/${FEED_COLLECTION}/records/p<pid>-r<run>-…-run/<i> (1 KiB text/plain) at ${num(settings.feedRate)}/s, ` +
          `at most ${settings.connections} in flight; GET /v1/spaces/${SPACE}/collections/${FEED_COLLECTION}/changes (Accept: text/event-stream); ` +
          `SUBSCRIBE <prefix>events:${SPACE}/${FEED_COLLECTION}`,
      );
    if (r.acked === 0) throw new Error(`${workload}: no PUT was acknowledged (${r.firstError ?? 'no answer'})`);
    if (r.missing > 0)
      warn(
        `${workload}: ${num(r.missing)} of ${num(r.acked)} acknowledged writes never reached the SSE reader` +
          `${r.streamEnded ? ` (${r.streamEnded})` : ''}`,
      );
    return { ...r, relayIntervalMs, peakRss: window.peakRss, cpu: window.cpu, windowMs: window.windowMs };
  } finally {
    if (fast) await restartWorker({});
  }
}

/**
 * BENCH_BULK_RECORDS records of 1 KiB under `bulk/` and 1000 under `keep/`, seeded into the
 * round's own collection (not measured); then the hot GET's load (after its warm-up) and, as it
 * starts, one delete job over `bulk/`, polled every POLL_MS until it succeeded, which ends the
 * load. Then the wait for the relay to publish the job's last event (it trails the job), and the
 * checks: nothing left under `bulk/`, every `keep/` record there, one delete event per record.
 */
async function runBulkDeleteWorkload(ctx, round) {
  const { settings, loadgen, urls, meta } = ctx;
  needWorker('bulk-delete');
  const records = settings.bulkRecords;
  const collection = `${BULK_COLLECTION}-r${round}`;
  const seedSeconds = await seedBulk(urls.gateway, collection, records);
  log(
    `    seeded ${num(records)} + ${num(KEEP_RECORDS)} records into ${collection} in ${num(seedSeconds, 1)} s ` +
      '(INSERT … SELECT generate_series, VACUUM ANALYZE records)',
  );
  const spec = { ...hotGetSpec(urls.gateway), connections: settings.connections, threads: settings.threads };
  if (settings.warmup > 0) await runLoad(loadgen, { ...spec, duration: settings.warmup });
  await settle();
  let jobSeen;
  const stopWhen = new Promise((resolve) => (jobSeen = resolve));
  const sampler = new Sampler(targetsFor(undefined));
  const outcomes = await Promise.allSettled([
    // Bounded by the job's deadline; ended when the job is seen finished.
    runLoad(
      loadgen,
      { ...spec, duration: deadlineSeconds(records) + 10 },
      { onStart: (pid) => sampler.add('loadgen', pid), stopWhen },
    ),
    deleteAndWatch(urls.gateway, collection, records).finally(jobSeen),
  ]);
  const window = sampler.stop();
  const [load, { seenAt, figures: deleted }] = outcomes.map((o) => {
    if (o.status === 'rejected') throw o.reason;
    return o.value;
  });
  checkLoad('bulk-delete (hot GET)', load);
  // Not measured against a target, and kept out of the next workload.
  const relayMs = await waitForRelay(state.redisPrefix, records, seenAt);
  const events = await checkBulk(urls.gateway, collection, records);
  if (round === settings.runs)
    meta.commands.push(
      ...(load.command ? [`${load.command} (stopped with SIGINT once the job was seen finished)`] : []),
      `node client: POST /v1/spaces/${SPACE}/collections/${BULK_COLLECTION}-r<run>/delete-jobs {"prefix":"${BULK_PREFIX}"} ` +
        `(${num(records)} records of 1 KiB under ${BULK_PREFIX}, ${num(KEEP_RECORDS)} under ${KEEP_PREFIX}), ` +
        `then GET /v1/spaces/${SPACE}/jobs/<id> every ${POLL_MS} ms until it succeeded`,
    );
  return {
    ...deleted,
    relayMs,
    events,
    seedMs: seedSeconds * 1000,
    hotRps: load.rps,
    hotP50Ms: load.p50Ms,
    hotP99Ms: load.p99Ms,
    non2xx: load.non2xx,
    socketErrors: load.socketErrors,
    timeouts: load.timeouts,
    peakRss: window.peakRss,
    cpu: window.cpu,
    windowMs: window.windowMs,
  };
}

/** Jobs run in the worker: a workload that starts them fails at once without it. */
function needWorker(workload) {
  if (state.services.worker?.running !== true)
    throw new Error(`${workload} needs the worker (it runs the jobs), which is not running`);
}

/** Runs `measured` in a window of the cluster's processes: its result, and the window's RSS and CPU. */
async function inWindow(measured) {
  const sampler = new Sampler(targetsFor(undefined));
  let window;
  const result = await measured().finally(() => (window = sampler.stop()));
  return { result, window };
}

/** The snapshot the round's snapshot-export took. */
function roundSnapshot(workload) {
  if (state.snapshot === undefined)
    throw new Error(`${workload} needs the snapshot that snapshot-export takes in the same round, and it took none`);
  return state.snapshot;
}

/**
 * BENCH_SNAPSHOT_RECORDS records of 1 KiB under `snap/`, seeded straight into Postgres before the
 * first run (not measured); then one snapshot of them, taken through /v1 and its job polled every
 * POLL_MS until it succeeded. The round's restore and download use that snapshot.
 */
async function runSnapshotExport(ctx, round) {
  const { settings, urls, meta } = ctx;
  needWorker('snapshot-export');
  state.snapshot = undefined;
  const records = settings.snapshotRecords;
  if (meta.snapshotSeed === undefined) {
    const seconds = await seedSnapshotSource(urls.gateway, records);
    meta.snapshotSeed = { records, seconds };
    log(
      `    seeded ${num(records)} records into ${SNAPSHOT_COLLECTION} in ${num(seconds, 1)} s ` +
        '(INSERT … SELECT generate_series, VACUUM ANALYZE records)',
    );
    await settle();
  }
  const {
    result: { snapshot, figures },
    window,
  } = await inWindow(() => takeSnapshot(urls.gateway, records));
  state.snapshot = snapshot;
  if (round === settings.runs)
    meta.commands.push(
      `node client: POST /v1/spaces/${SPACE}/collections/${SNAPSHOT_COLLECTION}/snapshots {} ` +
        `(${num(records)} records of 1 KiB under ${SNAPSHOT_PREFIX}), then GET /v1/spaces/${SPACE}/jobs/<id> every ${POLL_MS} ms until it succeeded`,
    );
  return { ...figures, ...window };
}

/**
 * The round's snapshot restored into a collection of the round's own, the job polled until it
 * succeeded (after verifying the copy against the checksum). Then, not measured, the wait for the
 * relay to publish the restore's change events, and the count of the restored records.
 */
async function runSnapshotRestore(ctx, round) {
  const { settings, urls, meta } = ctx;
  needWorker('snapshot-restore');
  const snapshot = roundSnapshot('snapshot-restore');
  const collection = `${RESTORE_COLLECTION}-r${round}`;
  const {
    result: { seenAt, figures },
    window,
  } = await inWindow(() => restoreSnapshot(urls.gateway, snapshot, collection));
  // Not measured: the restore wrote a change event per record, which the relay publishes after it.
  const relayMs = await waitForRelay(state.redisPrefix, snapshot.records, seenAt);
  await checkRestored(urls.gateway, snapshot, collection);
  if (round === settings.runs)
    meta.commands.push(
      `node client: POST /v1/spaces/${SPACE}/snapshots/<id>/restore {"collection":"${RESTORE_COLLECTION}-r<run>"}, ` +
        `then GET /v1/spaces/${SPACE}/jobs/<id> every ${POLL_MS} ms until it succeeded`,
    );
  return { ...figures, ...window, relayMs };
}

/** The round's snapshot's object, streamed through the gateway and discarded (its bytes counted). */
async function runSnapshotDownload(ctx, round) {
  const { settings, urls, meta } = ctx;
  const snapshot = roundSnapshot('snapshot-download');
  const { result, window } = await inWindow(() => downloadSnapshot(urls.gateway, snapshot));
  if (round === settings.runs)
    meta.commands.push(`node client: GET /v1/spaces/${SPACE}/snapshots/<id>/download (bytes counted and discarded)`);
  return { ...result, ...window };
}

/**
 * One telemetry setting: a gateway + api pair started for the run with the setting's environment
 * (bench/lib/telemetry.mjs), the hot record seeded through the first pair of the invocation; then
 * the `hot-get` load as that workload runs it (warm-up, measured window), with /metrics of both
 * scraped every second from the warm-up on (settings 2 and 3) and the OTLP exports received by a
 * sink of the run's own (3). Then the pair is stopped (its telemetry flushed) and the gateway's
 * access-log lines counted.
 */
async function runTelemetryWorkload(workload, ctx, round) {
  const { settings, loadgen, meta } = ctx;
  if (state.startTelemetryPair === undefined) throw new Error(`${workload}: the telemetry pairs were not prepared`);
  const setting = TELEMETRY_SETTINGS[workload];
  const sink = setting.otlp ? await startOtlpSink() : undefined;
  let pair;
  let scraper;
  let load;
  let warm;
  let window;
  let scrapes;
  let otlp;
  // The gateway first: it calls the api. Each flushes its telemetry as it stops.
  const stopPair = async () => {
    const exits = {};
    for (const app of ['gateway', 'api']) {
      const proc = state.services[`telemetry-${app}`];
      if (proc === undefined) continue;
      exits[app] = { ...(await stopProcess(proc)), logFile: proc.logFile };
      delete state.services[`telemetry-${app}`];
    }
    return exits;
  };
  try {
    pair = await state.startTelemetryPair(workload, round, sink?.url);
    if (!state.telemetrySeeded) {
      await seedHotAndList(pair.url);
      state.telemetrySeeded = true;
    }
    // The pair's start (and the seeding) done before the load.
    await settle();
    const spec = { ...hotGetSpec(pair.url), connections: settings.connections, threads: settings.threads };
    if (setting.scrape) scraper = startScraper({ gateway: pair.url, api: pair.apiUrl });
    if (settings.warmup > 0) warm = await runLoad(loadgen, { ...spec, duration: settings.warmup });
    scraper?.mark();
    sink?.mark();
    const sampler = new Sampler({ gateway: pair.gateway.pid, api: pair.api.pid });
    try {
      load = await runLoad(
        loadgen,
        { ...spec, duration: settings.duration },
        { onStart: (pid) => sampler.add('loadgen', pid) },
      );
    } finally {
      window = sampler.stop();
    }
    otlp = sink?.counts().window;
    scrapes = await scraper?.stop();
    scraper = undefined;
  } finally {
    await scraper?.stop();
    const exits = await stopPair();
    // A service ends a SIGTERM with 128 + 15 once it has shut down; anything else is worth a look.
    for (const [app, { code, signal, logFile }] of Object.entries(exits))
      if (code !== 0 && code !== 143 && signal !== 'SIGTERM')
        warn(`${workload}: the ${app} exited with code ${code}, signal ${signal} (${logFile})`);
    await sink?.close();
  }
  checkLoad(workload, load);
  const totals = sink?.counts().total;
  const access = await countAndTrimLog(pair.gateway.logFile);
  await countAndTrimLog(pair.api.logFile);
  if (round === settings.runs && load.command)
    meta.commands.push(
      `${load.command.replace(pair.url, 'http://127.0.0.1:<gateway-port>')}   # ${setting.label}: ` +
        `${pair.otel.replace(sink?.url ?? '\0', 'http://127.0.0.1:<sink-port>') || 'no OTEL_* variable'}; LOG_LEVEL=info` +
        `${setting.scrape ? '; GET /metrics of gateway and api every second' : ''}`,
    );
  const served = (warm?.requests ?? 0) + load.requests;
  const scrapeFields = (name) => {
    const x = scrapes?.[name];
    if (x === undefined) return {};
    return {
      [`${name}Scrapes`]: x.scrapes,
      [`${name}ScrapesOk`]: x.ok,
      [`${name}ScrapeStatus`]: x.status,
      [`${name}ScrapeBytes`]: x.bytes,
      [`${name}ScrapeP50Ms`]: x.p50Ms,
      [`${name}ScrapeMaxMs`]: x.maxMs,
    };
  };
  return {
    ...load,
    peakRss: window.peakRss,
    cpu: window.cpu,
    windowMs: window.windowMs,
    warmRequests: warm?.requests,
    accessLines: access.accessLines,
    accessLinesPerRequest: served > 0 ? access.accessLines / served : undefined,
    ...scrapeFields('gateway'),
    ...scrapeFields('api'),
    ...(otlp === undefined
      ? {}
      : {
          traceRequests: otlp.traceRequests,
          traceBytes: otlp.traceBytes,
          spans: otlp.spans,
          spansPerRequest: load.requests > 0 ? otlp.spans / load.requests : undefined,
          ...Object.fromEntries(
            ['gateway', 'api'].map((app) => [
              `${app}SpansPerRequest`,
              load.requests > 0 ? (otlp.spansByService[`rosetta-${app}`] ?? 0) / load.requests : undefined,
            ]),
          ),
          spansByService: otlp.spansByService,
          spansUndecoded: otlp.undecoded,
          // Spans flushed after the window (the batch in hand, and at shutdown).
          spansAfterShutdown: totals.spans,
          metricRequests: otlp.metricRequests,
          metricBytes: otlp.metricBytes,
        }),
  };
}

/** `node bench/run.mjs --from bench/results/<timestamp>.json` renders a saved run again. */
function rerender(path) {
  const saved = JSON.parse(readFileSync(path, 'utf8'));
  const rounds = [];
  for (const [w, list] of Object.entries(saved.runs)) list.forEach((run, i) => ((rounds[i] ??= {})[w] = run));
  report({ ...saved, rounds }, path, process.env.BENCH_WRITE_DOCS !== '0');
}

installSignalHandlers();
try {
  if (process.argv[2] === '--from' && process.argv[3]) rerender(process.argv[3]);
  else await main();
} catch (error) {
  if (!state.interrupted)
    console.error(`\nbenchmark failed: ${error instanceof Error ? error.message : String(error)}`);
  await cleanup();
  process.exitCode = 1;
}
await cleanup();
