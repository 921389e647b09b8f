import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort } from './processes';

/**
 * A Postgres and a Redis of the test's own, on free ports, that it may stop and start at will:
 * the machine's shared services must never be restarted under other tests.
 */

const run = promisify(execFile);

/** A Postgres program: on PATH, or in the newest /usr/lib/postgresql/<major>/bin (Debian keeps the server's there). */
export function postgresTool(name: string): string {
  const onPath = (process.env.PATH ?? '').split(':').find((dir) => dir !== '' && existsSync(join(dir, name)));
  if (onPath !== undefined) return join(onPath, name);
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  const found = majors.map((major) => join(root, major, 'bin', name)).find((path) => existsSync(path));
  if (found === undefined) throw new Error(`${name} is neither on PATH nor in ${root}/*/bin`);
  return found;
}

/** Postgres refuses to run as root: as root, its tools run as the postgres user. */
const asServerUser = (command: string, args: string[]): [string, string[]] =>
  process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];

export interface PrivatePostgres {
  /** A connection URL to its database `rosetta`. */
  readonly url: string;
  /** A fast shutdown: open sessions are ended, committed data kept. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Runs pg_resetwal with `args` on its data directory (stop it first). */
  resetWal(...args: string[]): Promise<void>;
  /** Stops it for good and deletes its files. */
  destroy(): Promise<void>;
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'rosetta-pg-'));
  if (process.getuid?.() === 0) chownSync(dir, Number((await run('id', ['-u', 'postgres'])).stdout.trim()), -1);
  const data = join(dir, 'data');
  const port = await freePort();
  const pgCtl = async (...args: string[]) => {
    const [command, argv] = asServerUser(postgresTool('pg_ctl'), ['-D', data, '-w', ...args]);
    await run(command, argv);
  };
  const [initCommand, initArgs] = asServerUser(postgresTool('initdb'), [
    '-D',
    data,
    '-A',
    'trust',
    '-U',
    'postgres',
    '-E',
    'UTF8',
    '--no-sync',
  ]);
  await run(initCommand, initArgs);
  const start = () =>
    pgCtl('-l', join(dir, 'log'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`, 'start');
  await start();
  const admin = `postgres://postgres@127.0.0.1:${port}/postgres`;
  await run(postgresTool('psql'), [admin, '-c', 'CREATE DATABASE rosetta']);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/rosetta`,
    stop: () => pgCtl('-m', 'fast', 'stop'),
    start,
    async resetWal(...args) {
      const [command, argv] = asServerUser(postgresTool('pg_resetwal'), [...args, '-D', data]);
      await run(command, argv);
    },
    async destroy() {
      await pgCtl('-m', 'immediate', 'stop').catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface PrivateRedis {
  readonly url: string;
  /** Stops it as an operator would (SIGTERM): with `persist`, it saves what it holds first. */
  stop(): Promise<void>;
  /** Starts it again on the same port, from its saved data when `persist`. */
  start(): Promise<void>;
  /** Stops it for good and deletes its files. */
  destroy(): Promise<void>;
}

/** A redis-server on a free port; `persist` keeps its data across a stop (an append-only file). */
export async function startPrivateRedis(options: { persist: boolean }): Promise<PrivateRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'rosetta-redis-'));
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let server: ChildProcess | undefined;
  const start = async () => {
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        options.persist ? 'yes' : 'no',
        '--maxmemory-policy',
        'noeviction',
      ],
      { stdio: 'ignore' },
    );
    server = child;
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    const deadline = Date.now() + 10_000;
    try {
      for (;;) {
        try {
          await probe.connect();
          // A Redis loading its append-only file answers LOADING until it is done.
          await probe.ping();
          return;
        } catch (error) {
          probe.disconnect();
          if (Date.now() > deadline || child.exitCode !== null) throw error;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    } finally {
      probe.disconnect();
    }
  };
  const stop = async () => {
    const child = server;
    if (child === undefined || child.exitCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  };
  await start();
  return {
    url,
    stop,
    start,
    async destroy() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
