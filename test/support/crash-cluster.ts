import { createTestDatabase, redisPrefix, type TestDatabase } from './database';
import { REDIS_URL, TEST_INTERNAL_SECRET } from './env';
import { freePort, startService, startServicePair, waitUntilReady, type ServiceProcess } from './processes';

/**
 * Gateway and api as processes of their own, on a database and Redis prefix of their own, and a
 * worker that a test starts, kills (SIGKILL) and starts again: the shape of the worker crash tests.
 */
export interface CrashCluster {
  /** The gateway's base URL. */
  readonly base: string;
  /** The Redis prefix of the api and the worker (BullMQ's keys are under `<prefix>bull`). */
  readonly redisPrefix: string;
  /** Starts a worker (the same settings each time) and waits until it is ready. */
  startWorker(): Promise<void>;
  /** Kills the running worker with SIGKILL and waits for it to be gone. */
  killWorker(): Promise<void>;
  /** Stops every process and drops the database. */
  stop(): Promise<void>;
}

export async function startCrashCluster(
  env: { readonly worker?: Record<string, string>; readonly gateway?: Record<string, string> } = {},
): Promise<CrashCluster> {
  const db: TestDatabase = await createTestDatabase();
  const prefix = redisPrefix();
  const pair = await startServicePair(db.url, prefix, { gateway: { LOG_LEVEL: 'warn', ...env.gateway } }).catch(
    async (error: unknown) => {
      await db.drop();
      throw error;
    },
  );
  const workerPort = await freePort();
  const workerEnv = {
    API_URL: `http://127.0.0.1:${pair.apiPort}`,
    REDIS_URL,
    REDIS_PREFIX: prefix,
    WORKER_HEALTH_PORT: String(workerPort),
    ROSETTA_INTERNAL_SECRET: TEST_INTERNAL_SECRET,
    LOG_LEVEL: 'warn',
    ...env.worker,
  };
  let worker: ServiceProcess | undefined;
  return {
    base: pair.base,
    redisPrefix: prefix,
    async startWorker() {
      const started = startService('worker', 'apps/worker/dist/main.js', workerEnv);
      await waitUntilReady(started, `http://127.0.0.1:${workerPort}/readyz`);
      worker = started;
    },
    async killWorker() {
      worker?.child.kill('SIGKILL');
      await worker?.stop();
      worker = undefined;
    },
    async stop() {
      await Promise.all([pair.stop(), worker?.stop()]);
      await db.drop();
    },
  };
}
