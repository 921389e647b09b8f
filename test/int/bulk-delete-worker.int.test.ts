import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { createWorkerRuntime, loadConfig as loadWorkerConfig, type WorkerRuntime } from '../../apps/worker/src';
import { createLogger } from '../../packages/platform/src';
import { jobsRunJob, type Job } from '../../packages/proto/src';
import { serviceClients, startTestApi, type TestApi } from '../support/api';
import { redisPrefix } from '../support/database';
import { REDIS_URL } from '../support/env';
import { expectEventually } from '../support/expect-eventually';
import { embeddedJobs } from '../support/jobs';

/**
 * Bulk deletes run by the worker as it is deployed — BullMQ on real Redis, the record service on
 * real Postgres — and by the all-in-one process's runner: a job runs to its end, a worker that
 * stops hands its job back after the step in flight and the next one goes on where it ended,
 * with every record deleted once and one change event each, and a cancel stops it.
 */

const logger = createLogger({ name: 'test', level: 'silent' });
const enc = new TextEncoder();
const SPACE = 'default';

let api: TestApi;
let redis: Redis;
let collections = 0;

beforeAll(async () => {
  api = await startTestApi();
  redis = new Redis(REDIS_URL);
});

afterAll(async () => {
  redis.disconnect();
  await api.close();
});

const clients = () => serviceClients(api.runtime);

/** A new collection of `n` records `k000000`…, with `keep` more records outside the job's prefix. */
async function collectionOf(n: number, keep = 5) {
  collections += 1;
  const ref = { space: SPACE, collection: `bulk-${collections}` };
  await api.collections.createCollection({ collection: ref });
  const keys = [
    ...Array.from({ length: n }, (_, i) => `k${String(i).padStart(6, '0')}`),
    ...Array.from({ length: keep }, (_, i) => `other-${i}`),
  ];
  for (let i = 0; i < keys.length; i += 1000) {
    await api.records.batchPut({
      collection: ref,
      entries: keys.slice(i, i + 1000).map((key) => ({ key, value: enc.encode(`value of ${key}`) })),
      omitRecords: true,
    });
  }
  return ref;
}

async function count(ref: { space: string; collection: string }, prefix = ''): Promise<number> {
  return Number((await api.records.count({ collection: ref, filter: { prefix } })).count);
}

/** How many delete events each key has in the collection's feed. */
async function deleteEventsByKey(ref: { space: string; collection: string }): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  let after = '';
  for (;;) {
    const page = await api.changes.readCollectionChanges(
      after === '' ? { collection: ref, afterRevision: 0n, limit: 1000 } : { collection: ref, after, limit: 1000 },
    );
    for (const event of page.events.filter((e) => e.op === 'delete')) {
      seen.set(event.key, (seen.get(event.key) ?? 0) + 1);
    }
    if (page.events.length === 0) return seen;
    after = page.position;
  }
}

const jobOf = async (id: bigint): Promise<Job> => {
  const { job } = await api.jobs.getJob({ space: SPACE, id });
  if (job === undefined) throw new Error(`job ${id} is gone`);
  return job;
};

async function expectFinishedExactly(ref: { space: string; collection: string }, id: bigint, n: number) {
  const job = await expectEventually(
    async () => {
      const current = await jobOf(id);
      expect(current.state).toBe('succeeded');
      return current;
    },
    { timeoutMs: 60_000, intervalMs: 50 },
  );
  expect(job.done).toBe(BigInt(n));
  expect(await count(ref, 'k')).toBe(0);
  expect(await count(ref, 'other-')).toBe(5);
  const events = await deleteEventsByKey(ref);
  expect(events.size).toBe(n);
  expect([...events.values()].every((times) => times === 1)).toBe(true);
}

function workerWith(prefix: string, env: Record<string, string> = {}): Promise<WorkerRuntime> {
  return createWorkerRuntime(
    loadWorkerConfig({
      REDIS_URL,
      REDIS_PREFIX: prefix,
      JOB_POLL_MS: '50',
      DELETE_JOB_BATCH: '200',
      WORKER_HEALTH_PORT: '0',
      LOG_LEVEL: 'silent',
      ...env,
    }),
    logger,
    clients(),
  );
}

describe('the clustered worker', () => {
  it('runs a bulk delete to its end through BullMQ', async () => {
    const ref = await collectionOf(3000);
    const worker = await workerWith(redisPrefix());
    try {
      const { job } = await api.jobs.startDeleteJob({ collection: ref, filter: { prefix: 'k' } });
      await expectFinishedExactly(ref, job?.id ?? 0n, 3000);
    } finally {
      await worker.close();
    }
  }, 60_000);

  it('hands a job back when it stops, and the next worker goes on without redoing or missing a record', async () => {
    const ref = await collectionOf(4000);
    const prefix = redisPrefix();
    const { job } = await api.jobs.startDeleteJob({ collection: ref, filter: { prefix: 'k' } });
    const id = job?.id ?? 0n;
    const first = await workerWith(prefix, { DELETE_JOB_BATCH: '25' });
    await expectEventually(async () => expect(Number((await jobOf(id)).done)).toBeGreaterThan(0), {
      timeoutMs: 30_000,
    });
    await first.close();
    const handedBack = await jobOf(id);
    expect(handedBack.state).toBe('running');
    expect(Number(handedBack.done)).toBeLessThan(4000);
    // What the job counts is exactly what is gone: no step was half done.
    expect(await count(ref, 'k')).toBe(4000 - Number(handedBack.done));
    // Its BullMQ run completed as it was handed back: no run of it is active in Redis. (A dispatch
    // that was finishing while the worker stopped may have queued a fresh run for the next worker.)
    const queue = new Queue(jobsRunJob.queue, { connection: redis, prefix: `${prefix}bull` });
    const left = await queue.getJob(`job-${id}`);
    expect([undefined, 'waiting']).toContain(await left?.getState());
    await queue.close();

    const second = await workerWith(prefix);
    try {
      await expectFinishedExactly(ref, id, 4000);
    } finally {
      await second.close();
    }
  }, 90_000);

  it('stops a running job that is cancelled', async () => {
    const ref = await collectionOf(5000);
    const worker = await workerWith(redisPrefix(), { DELETE_JOB_BATCH: '10' });
    try {
      const { job } = await api.jobs.startDeleteJob({ collection: ref, filter: { prefix: 'k' } });
      const id = job?.id ?? 0n;
      await expectEventually(async () => expect(Number((await jobOf(id)).done)).toBeGreaterThan(0), {
        timeoutMs: 30_000,
      });
      const { job: cancelled } = await api.jobs.cancelJob({ space: SPACE, id });
      const done = Number(cancelled?.done);
      expect(cancelled?.state).toBe('cancelled');
      expect(done).toBeLessThan(5000);
      // The step in flight when the cancel came had to end first; none followed.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await jobOf(id)).toMatchObject({ state: 'cancelled', done: BigInt(done) });
      expect(await count(ref, 'k')).toBe(5000 - done);
    } finally {
      await worker.close();
    }
  }, 60_000);
});

describe('the all-in-one process', () => {
  it('runs the same steps in process, and a restart goes on where a stop left the job', async () => {
    const ref = await collectionOf(3000);
    const { job } = await api.jobs.startDeleteJob({ collection: ref, filter: { prefix: 'k' } });
    const id = job?.id ?? 0n;
    const first = embeddedJobs(api, { deleteBatch: 25 });
    await expectEventually(async () => expect(Number((await jobOf(id)).done)).toBeGreaterThan(0), {
      timeoutMs: 30_000,
    });
    await first.stop();
    const stopped = await jobOf(id);
    expect(stopped.state).toBe('running');
    expect(await count(ref, 'k')).toBe(3000 - Number(stopped.done));

    const second = embeddedJobs(api, { deleteBatch: 500 });
    try {
      await expectFinishedExactly(ref, id, 3000);
    } finally {
      await second.stop();
    }
  }, 60_000);
});
