import type { Client } from '@connectrpc/connect';
import type { Job, JobService, SnapshotService } from '@rosetta/proto';
import type { ScheduleSync } from '../adapters/snapshot-schedulers';

/** The finished states of a job (packages/core's FINISHED_JOB_STATES, as the wire spells them). */
const FINISHED = new Set(['succeeded', 'failed', 'cancelled']);

export const isFinished = (job: Pick<Job, 'state'>) => FINISHED.has(job.state);

/** Runs jobs: BullMQ in the cluster, the process itself in the all-in-one. */
export interface JobRunner {
  /** Makes sure each job is run, once: a job already queued or running is left as it is. */
  run(jobs: readonly Job[]): Promise<void>;
}

export interface RunDeleteJobDeps {
  readonly jobs: Pick<Client<typeof JobService>, 'runJobStep'>;
  readonly id: bigint;
  /** Records per step (one transaction each). */
  readonly batch: number;
  /** Stops the job between steps: it is handed back unfinished, for a later run to go on. */
  readonly signal?: AbortSignal | undefined;
  /** Stops once a step answers a job this holds for (a restore leaving its delete phase). */
  readonly until?: (job: Job) => boolean;
}

/**
 * Runs a bulk delete step by step until it has finished (succeeded, failed or cancelled) or
 * `signal` stops it. Each step commits its deletions and the job's progress together in the
 * record service, so a run that dies between steps loses nothing: the next run goes on after
 * the last committed step. A step in flight is not interrupted. Resolves with the job as it
 * last stood.
 */
export async function runDeleteJob(deps: RunDeleteJobDeps): Promise<Job | undefined> {
  let job: Job | undefined;
  while (deps.signal?.aborted !== true) {
    job = (await deps.jobs.runJobStep({ id: deps.id, batchSize: deps.batch })).job;
    if (job === undefined || isFinished(job) || deps.until?.(job) === true) break;
  }
  return job;
}

export interface DispatchJobsDeps {
  readonly jobs: Pick<Client<typeof JobService>, 'unfinishedJobs'>;
  readonly snapshots: Pick<Client<typeof SnapshotService>, 'listSchedules'>;
  readonly runner: JobRunner;
  readonly schedules: ScheduleSync;
}

/**
 * Hands every queued or running job to the runner, and brings the snapshot schedules' turns in
 * step with the schedules; resolves with how many jobs there were.
 */
export async function dispatchJobs(deps: DispatchJobsDeps): Promise<number> {
  const { jobs } = await deps.jobs.unfinishedJobs({});
  await deps.runner.run(jobs);
  const { schedules } = await deps.snapshots.listSchedules({});
  await deps.schedules.sync(schedules);
  return jobs.length;
}
