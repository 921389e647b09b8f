import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { REDIS_URL, TEST_ADMIN_TOKEN, TEST_INTERNAL_SECRET } from './env';

/** Repository root, for the built entry points (`apps/<app>/dist/main.js`). */
export const ROOT = join(__dirname, '..', '..');

export interface ServiceProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Everything the process printed, for failure messages. */
  output(): string;
  /** Peak resident memory so far (VmHWM), in bytes. */
  peakRss(): number;
  /** Starts the peak over from the memory resident now (Linux's clear_refs), to measure one phase. */
  resetPeakRss(): void;
  /** SIGTERM, then the exit code (or 128 + signal). SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<number>;
}

/** Ports this process has handed out, so that two calls never give the same one. */
const handedOut = new Set<number>();

/**
 * A free TCP port on 127.0.0.1 for a server a test starts later, picked below Linux's ephemeral
 * range (32768–60999): a port the kernel picked (`listen(0)`) comes from that range, where any
 * outgoing connection of a parallel test can take it as its source port before the server
 * listens (CI once saw EADDRINUSE so). Checked free by listening on it; as bench/lib/procs.mjs does.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (handedOut.has(port)) continue;
    const server = createServer();
    const free = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (free) {
      await new Promise((resolve) => server.close(resolve));
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('found no free port between 20000 and 32000 on 127.0.0.1');
}

/** Starts `node apps/<app>/dist/main.js` with exactly `env` (plus PATH). */
export function startService(name: string, entry: string, env: Record<string, string>): ServiceProcess {
  const child = spawn(process.execPath, [join(ROOT, entry)], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<number>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? 128 + (signal === 'SIGKILL' ? 9 : 15)));
  });
  return {
    name,
    child,
    output: () => output,
    resetPeakRss() {
      writeFileSync(`/proc/${child.pid}/clear_refs`, '5');
    },
    peakRss() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kb = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
      return Number(kb ?? 0) * 1024;
    },
    async stop(graceMs = 15_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/**
 * The record service as a process of its own on `port`, migrating the test database at start,
 * with the test admin token and internal secret (the cluster shape's api); `extra` adds or overrides settings.
 */
export function startApiService(
  port: number,
  databaseUrl: string,
  redisPrefix: string,
  extra: Record<string, string> = {},
): ServiceProcess {
  return startService('api', 'apps/api/dist/main.js', {
    API_PORT: String(port),
    DATABASE_URL: databaseUrl,
    REDIS_URL,
    REDIS_PREFIX: redisPrefix,
    MIGRATE_ON_START: 'true',
    ROSETTA_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    ROSETTA_INTERNAL_SECRET: TEST_INTERNAL_SECRET,
    LOG_LEVEL: 'warn',
    ...extra,
  });
}

/** Polls `url` until it answers 2xx, or fails with the service's output. */
export async function waitUntilReady(service: ServiceProcess, url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (service.child.exitCode !== null) {
      throw new Error(`${service.name} exited with ${service.child.exitCode}:\n${service.output()}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${service.name} not ready at ${url} after ${timeoutMs} ms:\n${service.output()}`);
}

/**
 * A gateway and a record service as processes of their own, each on a port that stays its own
 * across restarts: the shape of the fault tests, which stop, kill and start them again.
 */
export interface ServicePair {
  /** The gateway's base URL. */
  readonly base: string;
  readonly apiPort: number;
  readonly gatewayPort: number;
  /** The running processes: a test that starts a new one puts it here. */
  api: ServiceProcess;
  gateway: ServiceProcess;
  /** Starts a record service (a gateway) on the pair's port with the pair's settings. */
  startApi(): ServiceProcess;
  startGateway(): ServiceProcess;
  /** Stops the gateway, then the record service. */
  stop(): Promise<void>;
}

/**
 * Starts a pair on `databaseUrl` and `redisPrefix` and waits until the gateway is ready; `env`
 * adds or overrides settings of each (the gateway logs errors only unless told otherwise).
 */
export async function startServicePair(
  databaseUrl: string,
  redisPrefix: string,
  env: { readonly api?: Record<string, string>; readonly gateway?: Record<string, string> } = {},
): Promise<ServicePair> {
  const [apiPort, gatewayPort] = [await freePort(), await freePort()];
  const startApi = () => startApiService(apiPort, databaseUrl, redisPrefix, env.api);
  const startGateway = () =>
    startService('gateway', 'apps/gateway/dist/main.js', {
      PORT: String(gatewayPort),
      API_URL: `http://127.0.0.1:${apiPort}`,
      LOG_LEVEL: 'error',
      ...env.gateway,
    });
  const pair: ServicePair = {
    base: `http://127.0.0.1:${gatewayPort}`,
    apiPort,
    gatewayPort,
    api: startApi(),
    gateway: startGateway(),
    startApi,
    startGateway,
    async stop() {
      await pair.gateway.stop();
      await pair.api.stop();
    },
  };
  try {
    await waitUntilReady(pair.gateway, `${pair.base}/readyz`);
  } catch (error) {
    // A pair that never became ready is stopped here: its caller has nothing to stop, and a
    // process left running keeps Jest from exiting (CI once hung so after the test failed).
    await pair.stop();
    throw error;
  }
  return pair;
}
