// The raw Redis limit: redis-benchmark GET and SET of a 1 KiB value at the bench's concurrency, in
// a database of its own. Without -r redis-benchmark uses one key, `key:__rand_int__`: the GETs
// read the value the bench wrote there, the SETs overwrite it, and the bench deletes it at the end.
import { readdirSync, readFileSync } from 'node:fs';
import { REDIS_URL, VALUE_BYTES } from './config.mjs';
import { withRedis } from './backends.mjs';
import { runCommand } from './procs.mjs';
import { valueOf } from './value.mjs';

/** The Redis database (--dbnum) the raw limit writes to; the cluster uses database 0. */
export const REDIS_BENCH_DB = 15;
/** The one key redis-benchmark reads and writes without -r. */
const KEY = 'key:__rand_int__';
/** Requests of the warm-up, whose rate sizes the measured run (redis-benchmark has no duration). */
const WARMUP_REQUESTS = 50_000;
const { hostname: HOST, port: PORT } = new URL(REDIS_URL);

/** A client of the bench's database for the time `fn` runs. */
function inBenchDb(fn) {
  return withRedis(async (redis) => {
    await redis.select(REDIS_BENCH_DB);
    return fn(redis);
  });
}

/** Writes the 1 KiB value the GETs read; refuses a database whose key someone else holds. */
export async function prepareRedisBench() {
  await inBenchDb(async (redis) => {
    if ((await redis.exists(KEY)) === 1)
      throw new Error(`Redis database ${REDIS_BENCH_DB} already holds ${KEY}: not ours to overwrite`);
    await redis.set(KEY, valueOf(VALUE_BYTES));
  });
}

/** Deletes the one key the raw limit wrote; resolves with how many keys went (0 or 1). */
export function cleanupRedisBench() {
  return inBenchDb((redis) => redis.del(KEY));
}

/** The pid of the redis-server listening on the bench's port, read from /proc (its RSS is the peer's). */
export function redisServerPid() {
  const listening = new RegExp(`:${PORT}(\\s|\\0|$)`);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Redis rewrites its title: `redis-server 127.0.0.1:6379` in one argument.
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'redis-server') continue;
      if (listening.test(readFileSync(`/proc/${entry}/cmdline`, 'utf8'))) return Number(entry);
    } catch {
      // gone, or not ours to read
    }
  }
  return undefined;
}

/** `redis-benchmark … -t <test> -n <requests> --csv`; req/s, p50 and p99 from its CSV line. */
export async function runRedisBench({ test, requests, connections, onStart }) {
  const args = [
    '-h',
    HOST,
    '-p',
    PORT,
    '-c',
    String(connections),
    '-d',
    String(VALUE_BYTES),
    '-t',
    test,
    '-n',
    String(requests),
    '--dbnum',
    String(REDIS_BENCH_DB),
    '--csv',
  ];
  const { code, stdout, stderr } = await runCommand('redis-benchmark', 'redis-benchmark', args, { onStart });
  if (code !== 0) throw new Error(`redis-benchmark exited with ${code}: ${stderr.trim() || stdout.trim()}`);
  const [header, line] = stdout
    .trim()
    .split('\n')
    .map((l) => l.split(',').map((cell) => cell.replaceAll('"', '')));
  const row = Object.fromEntries(header.map((name, i) => [name, line?.[i]]));
  if (row.test !== test.toUpperCase() || !(Number(row.rps) > 0))
    throw new Error(`redis-benchmark printed no ${test.toUpperCase()} figures:\n${stdout}${stderr}`);
  return {
    rps: Number(row.rps),
    requests,
    meanMs: Number(row.avg_latency_ms),
    p50Ms: Number(row.p50_latency_ms),
    p99Ms: Number(row.p99_latency_ms),
    maxMs: Number(row.max_latency_ms),
    non2xx: 0,
    socketErrors: 0,
    timeouts: 0,
    tool: 'redis-benchmark',
    command: `redis-benchmark ${args.join(' ')}`,
  };
}

/**
 * The warm-up: WARMUP_REQUESTS of `test`. Resolves with the requests of a measured run of about
 * `duration` seconds at its rate (redis-benchmark has no duration of its own).
 */
export async function warmRedisBench({ test, connections, duration }) {
  const warm = await runRedisBench({ test, requests: WARMUP_REQUESTS, connections });
  return Math.max(WARMUP_REQUESTS, Math.round((warm.rps * duration) / 1000) * 1000);
}
