import pino from 'pino';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { JobSchema, type Job } from '@rosetta/proto';
import { InProcessJobRunner } from '../adapters/job-runners';
import { dispatchJobs, runDeleteJob } from './bulk-delete';

const job = (fields: MessageInitShape<typeof JobSchema>): Job =>
  create(JobSchema, { kind: 'delete', state: 'running', ...fields });

/** A JobService whose steps answer the given states in turn, recording what was asked. */
function stepsAnswering(states: readonly string[]) {
  const calls: Array<{ id: bigint; batchSize: number }> = [];
  let i = 0;
  return {
    calls,
    runJobStep: (request: { id: bigint; batchSize: number }) => {
      calls.push(request);
      const state = states[Math.min(i, states.length - 1)] ?? 'running';
      i += 1;
      return Promise.resolve({ job: job({ id: request.id, state, done: BigInt(i) }) });
    },
  };
}

describe('runDeleteJob', () => {
  it('runs steps of the given size until the job has finished, and answers it', async () => {
    const jobs = stepsAnswering(['running', 'running', 'succeeded']);
    const last = await runDeleteJob({ jobs: jobs as never, id: 7n, batch: 250 });
    expect(last).toMatchObject({ id: 7n, state: 'succeeded', done: 3n });
    expect(jobs.calls).toEqual([
      { id: 7n, batchSize: 250 },
      { id: 7n, batchSize: 250 },
      { id: 7n, batchSize: 250 },
    ]);
  });

  it.each(['failed', 'cancelled'])('stops at a %s job', async (state) => {
    const jobs = stepsAnswering(['running', state, 'running']);
    expect((await runDeleteJob({ jobs: jobs as never, id: 1n, batch: 10 }))?.state).toBe(state);
    expect(jobs.calls).toHaveLength(2);
  });

  it('hands the job back between steps once stopped, without cutting the step in flight', async () => {
    const controller = new AbortController();
    const jobs = stepsAnswering(['running']);
    const step = jobs.runJobStep;
    jobs.runJobStep = (request) => {
      if (jobs.calls.length === 1) controller.abort();
      return step(request);
    };
    const last = await runDeleteJob({ jobs: jobs as never, id: 3n, batch: 10, signal: controller.signal });
    expect(last?.state).toBe('running');
    expect(jobs.calls).toHaveLength(2);
  });

  it('propagates a failed step, for the runner to retry', async () => {
    const jobs = { runJobStep: () => Promise.reject(new Error('unavailable')) };
    await expect(runDeleteJob({ jobs: jobs as never, id: 1n, batch: 10 })).rejects.toThrow('unavailable');
  });
});

describe('dispatchJobs', () => {
  it('hands every unfinished job to the runner, brings the schedules in step, and counts the jobs', async () => {
    const run = jest.fn((_jobs: readonly Job[]) => Promise.resolve());
    const sync = jest.fn((_schedules: readonly unknown[]) => Promise.resolve());
    const unfinished = [job({ id: 4n, state: 'queued' }), job({ id: 9n, state: 'running', kind: 'snapshot' })];
    const schedules = [{ id: 1n, everySeconds: 60 }];
    const count = await dispatchJobs({
      jobs: { unfinishedJobs: () => Promise.resolve({ jobs: unfinished }) } as never,
      snapshots: { listSchedules: () => Promise.resolve({ schedules }) } as never,
      runner: { run },
      schedules: { sync },
    });
    expect(count).toBe(2);
    expect(run).toHaveBeenCalledWith(unfinished);
    expect(sync).toHaveBeenCalledWith(schedules);
  });
});

describe('InProcessJobRunner', () => {
  const logger = pino({ level: 'silent' });

  it('runs each job once at a time, at most `concurrency` together, and stops them all', async () => {
    const started: bigint[] = [];
    const signals: AbortSignal[] = [];
    const runner = new InProcessJobRunner(
      ({ id }, signal) => {
        started.push(id);
        signals.push(signal);
        return new Promise((resolve) => signal.addEventListener('abort', resolve));
      },
      2,
      logger,
    );
    await runner.run([job({ id: 1n }), job({ id: 2n }), job({ id: 3n })]);
    await runner.run([job({ id: 1n }), job({ id: 2n })]);
    expect(started).toEqual([1n, 2n]);
    await runner.stop();
    expect(signals.every((s) => s.aborted)).toBe(true);
    await runner.run([job({ id: 5n })]);
    expect(started).toEqual([1n, 2n]);
  });

  it('runs a job again after its run failed or ended', async () => {
    let runs = 0;
    const runner = new InProcessJobRunner(
      () => {
        runs += 1;
        return runs === 1 ? Promise.reject(new Error('down')) : Promise.resolve();
      },
      1,
      logger,
    );
    await runner.run([job({ id: 8n })]);
    await new Promise((resolve) => setImmediate(resolve));
    await runner.run([job({ id: 8n })]);
    await runner.stop();
    expect(runs).toBe(2);
  });
});
