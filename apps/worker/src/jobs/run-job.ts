import type { Client } from '@connectrpc/connect';
import type { Job, JobService } from '@rosetta/proto';
import { isFinished, runDeleteJob } from './bulk-delete';
import { restoreSnapshot, takeSnapshot, type SnapshotJobDeps } from './snapshots';

/** The job to run, as the dispatcher found it. */
export interface JobRef {
  readonly id: bigint;
  readonly kind: string;
  readonly space: string;
}

export interface RunJobDeps extends Omit<SnapshotJobDeps, 'signal' | 'jobs'> {
  readonly jobs: Pick<Client<typeof JobService>, 'runJobStep' | 'failJob' | 'getJob'>;
}

/**
 * Runs a job of the JobService by its kind until it finishes or `signal` stops it; a stopped job
 * is handed back unfinished (resolves with undefined) for a later run to go on.
 */
export async function runJob(deps: RunJobDeps, ref: JobRef, signal: AbortSignal | undefined): Promise<Job | undefined> {
  try {
    if (ref.kind === 'delete')
      return await runDeleteJob({ jobs: deps.jobs, id: ref.id, batch: deps.deleteBatch, signal });
    const { job } = await deps.jobs.getJob({ space: ref.space, id: ref.id });
    if (job === undefined || isFinished(job)) return job;
    const snapshotDeps = { ...deps, signal };
    if (ref.kind === 'snapshot') return await takeSnapshot(snapshotDeps, job);
    if (ref.kind === 'restore') return await restoreSnapshot(snapshotDeps, job);
    throw new Error(`no runner for jobs of kind "${ref.kind}"`);
  } catch (error) {
    if (signal?.aborted === true) return undefined;
    throw error;
  }
}
