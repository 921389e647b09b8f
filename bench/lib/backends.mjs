// Postgres and Redis: reachability checks with clear errors, the bench databases and keys,
// and the raw Postgres limits measured with pgbench (an upsert, and its built-in select-only
// script). The clients are the workspace's own pg and ioredis packages.
import { once } from 'node:events';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { PG, REDIS_URL, ROOT } from './config.mjs';
import { runCommand } from './procs.mjs';
import { valueOf } from './value.mjs';

const requireFromApi = createRequire(join(ROOT, 'apps', 'api', 'package.json'));
const pg = requireFromApi('pg');
const { Redis } = requireFromApi('ioredis');

const IDENT = /^[a-z_][a-z0-9_]*$/;

export function databaseUrl(database) {
  return `postgres://${PG.user}@${PG.host}:${PG.port}/${database}`;
}

/** A client of `database` for the time `fn` runs. */
export async function withClient(database, fn) {
  const client = new pg.Client({ ...PG, database, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Server version and connection headroom; a clear error when Postgres is down. */
export async function checkPostgres() {
  try {
    return await withClient('postgres', async (c) => {
      const version = (await c.query('SHOW server_version')).rows[0].server_version;
      const max = Number((await c.query('SHOW max_connections')).rows[0].max_connections);
      const settings = {};
      for (const name of ['synchronous_commit', 'fsync', 'shared_buffers', 'wal_sync_method']) {
        settings[name] = (await c.query(`SHOW ${name}`)).rows[0][name];
      }
      return { version, maxConnections: max, settings };
    });
  } catch (error) {
    throw new Error(
      `Postgres is not reachable at ${PG.host}:${PG.port} as user "${PG.user}" (trust auth expected): ${describe(error)}.\n` +
        '  Start it (e.g. `pg_ctlcluster 15 main start`, or `docker compose up -d postgres`) and run the benchmark again.',
    );
  }
}

export async function connectionsInUse() {
  return withClient('postgres', async (c) =>
    Number((await c.query('SELECT count(*) AS n FROM pg_stat_activity')).rows[0].n),
  );
}

/** Drops (forcibly: a crashed earlier run may have left sessions) and creates a database. */
export async function recreateDatabase(name) {
  if (!IDENT.test(name)) throw new Error(`unsafe database name ${name}`);
  await withClient('postgres', async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${name}`);
  });
}

export async function dropDatabase(name) {
  if (!IDENT.test(name)) throw new Error(`unsafe database name ${name}`);
  await withClient('postgres', (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

/**
 * A `COPY … FROM STDIN` as a query of pg's client (a "submittable": pg calls submit and the
 * handlers below): once the server asks for the data, `chunks` go out as CopyData messages
 * (waiting for the socket to drain), then CopyDone. `done` resolves with the rows copied.
 */
class CopyFrom {
  constructor(text, chunks) {
    this.text = text;
    this.chunks = chunks;
    this.done = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  submit(connection) {
    connection.query(this.text);
  }

  handleCopyInResponse(connection) {
    void (async () => {
      for (const chunk of this.chunks) {
        connection.sendCopyFromChunk(chunk);
        if (connection.stream.writableNeedDrain) await once(connection.stream, 'drain');
      }
      connection.endCopyFrom();
    })().catch((error) => this.reject(error));
  }

  handleCommandComplete(msg) {
    this.rows = Number(/^COPY (\d+)/.exec(msg.text)?.[1]);
  }

  handleError(error) {
    this.reject(error);
  }

  handleReadyForQuery() {
    this.resolve(this.rows);
  }
}

/** Runs `copy` (a `COPY … FROM STDIN`) with `chunks` as its data; resolves with the rows and the ms it took. */
export function copyRows(database, copy, chunks) {
  return withClient(database, async (c) => {
    const query = new CopyFrom(copy, chunks);
    const started = performance.now();
    c.query(query);
    const rows = await query.done;
    return { rows, ms: performance.now() - started };
  });
}

function describe(error) {
  if (error instanceof AggregateError) return error.errors.map(describe).join('; ');
  if (error instanceof Error) return error.code ? `${error.code} ${error.message}` : error.message;
  return String(error);
}

function redisClient() {
  return new Redis(REDIS_URL, {
    lazyConnect: true,
    connectTimeout: 3000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
}

/** Redis version; a clear error when Redis is down. */
export async function checkRedis() {
  const redis = redisClient();
  let firstError;
  redis.on('error', (error) => (firstError ??= error));
  try {
    await redis.connect();
    const info = await redis.info('server');
    return { version: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown' };
  } catch (error) {
    throw new Error(
      `Redis is not reachable at ${REDIS_URL}: ${describe(firstError ?? error).replace(/\.$/, '')}.\n` +
        '  Start it (e.g. `redis-server --daemonize yes`, or `docker compose up -d redis`) and run the benchmark again.',
    );
  } finally {
    redis.disconnect();
  }
}

/** A Redis client for the time `fn` runs. */
export async function withRedis(fn) {
  const redis = redisClient();
  redis.on('error', () => {});
  await redis.connect();
  try {
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}

/** Deletes every key under `prefix`; returns how many. */
export async function deleteRedisPrefix(prefix) {
  if (!/^[A-Za-z0-9:_-]+$/.test(prefix)) throw new Error(`unsafe Redis prefix ${prefix}`);
  return withRedis(async (redis) => {
    let deleted = 0;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.unlink(...keys);
    } while (cursor !== '0');
    return deleted;
  });
}

/** The pgbench table and script: an upsert of a 1 KiB value under a random integer key. */
export async function preparePgbench(database, dir, valueBytes) {
  await withClient(database, (c) =>
    c.query('CREATE TABLE bench_kv (k bigint PRIMARY KEY, v bytea NOT NULL, updated timestamptz NOT NULL)'),
  );
  mkdirSync(dir, { recursive: true });
  const script = join(dir, 'upsert.sql');
  writeFileSync(
    script,
    [
      '\\set k random(1, 1000000000)',
      'INSERT INTO bench_kv (k, v, updated) VALUES (:k, :v, now()) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v, updated = EXCLUDED.updated;',
      '',
    ].join('\n'),
  );
  return { script, value: valueOf(valueBytes) };
}

/** `pgbench -i -q -s <scale>`: the tables of pgbench's built-in scripts (100,000 accounts per scale unit). */
export async function initPgbench(pgbench, database, scale) {
  const args = ['-h', PG.host, '-p', String(PG.port), '-U', PG.user, '-i', '-q', '-s', String(scale), database];
  const { code, stdout, stderr } = await runCommand('pgbench -i', pgbench, args);
  if (code !== 0) throw new Error(`pgbench -i exited with ${code}:\n${stderr.trim() || stdout.trim()}`);
  return `pgbench ${args.join(' ')}`;
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/**
 * pgbench -n -c N -j T -T D -M prepared -f script (with `value` as :v), or -S (pgbench's
 * select-only script) without a script. With `log`, per-transaction latencies are logged and
 * turned into p50/p99 like wrk's.
 */
export async function runPgbench({
  pgbench,
  database,
  script,
  value,
  connections,
  threads,
  duration,
  dir,
  log,
  onStart,
}) {
  const tag = `pgbench-${Date.now()}`;
  const args = [
    '-h',
    PG.host,
    '-p',
    String(PG.port),
    '-U',
    PG.user,
    '-n',
    '-c',
    String(connections),
    '-j',
    String(threads),
    '-T',
    String(duration),
    '-M',
    'prepared',
    ...(script === undefined ? ['-S'] : ['-D', `v=${value}`, '-f', script]),
  ];
  if (log) args.push('--log', `--log-prefix=${join(dir, tag)}`);
  args.push(database);
  const { code, stdout, stderr } = await runCommand('pgbench', pgbench, args, { cwd: dir, onStart });
  if (code !== 0) throw new Error(`pgbench exited with ${code}:\n${stderr.trim() || stdout.trim()}`);
  const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(stdout)?.[1]);
  const processed = Number(/number of transactions actually processed: (\d+)/.exec(stdout)?.[1]);
  const failed = Number(/number of failed transactions: (\d+)/.exec(stdout)?.[1] ?? 0);
  const result = {
    rps: tps,
    requests: processed,
    non2xx: failed,
    socketErrors: 0,
    timeouts: 0,
    meanMs: Number(/latency average = ([\d.]+) ms/.exec(stdout)?.[1]),
    tool: 'pgbench',
    command: `pgbench ${args.map((a) => (a.startsWith('v=') ? `v=<${value.length} bytes>` : a)).join(' ')}`,
  };
  if (log) {
    const latencies = [];
    for (const file of readdirSync(dir).filter((f) => f.startsWith(`${tag}.`))) {
      for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
        if (line === '') continue;
        // client_id transaction_no time(us) script_no time_epoch time_us
        const us = Number(line.split(' ')[2]);
        if (Number.isFinite(us)) latencies.push(us);
      }
    }
    const sorted = Float64Array.from(latencies).sort();
    Object.assign(result, {
      p50Ms: percentile(sorted, 50) / 1000,
      p75Ms: percentile(sorted, 75) / 1000,
      p90Ms: percentile(sorted, 90) / 1000,
      p99Ms: percentile(sorted, 99) / 1000,
      p999Ms: percentile(sorted, 99.9) / 1000,
      maxMs: sorted.length ? sorted[sorted.length - 1] / 1000 : NaN,
    });
  }
  return result;
}
