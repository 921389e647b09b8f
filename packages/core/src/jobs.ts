/**
 * Background jobs of a collection, run by the worker in bounded steps. The record service keeps
 * each job's state and progress in Postgres, so a job outlives the worker that runs it: a step
 * commits its work and its progress together, and whichever worker runs the next step goes on
 * from there.
 */

/**
 * `delete`: deletes the records that match a filter (a bulk delete); `snapshot`: copies a
 * collection into the snapshot store; `restore`: writes a snapshot into a collection.
 */
export const JOB_KINDS = ['delete', 'snapshot', 'restore'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

/**
 * `queued` until its first step, `running` until done; then `succeeded`, `failed` (a domain
 * error stopped it: the job records which) or `cancelled`.
 */
export const JOB_STATES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];

export const FINISHED_JOB_STATES: readonly JobState[] = ['succeeded', 'failed', 'cancelled'];

export function isJobState(value: string): value is JobState {
  return (JOB_STATES as readonly string[]).includes(value);
}

export function isFinishedJobState(state: JobState): boolean {
  return FINISHED_JOB_STATES.includes(state);
}

/** Records a bulk delete removes per step (one transaction each), unless the worker says otherwise. */
export const DEFAULT_DELETE_STEP = 5000;
export const MAX_DELETE_STEP = 50_000;

/** How far a job has come, for people watching it. */
export interface JobProgress {
  readonly done: number;
  /** The estimate made when the job was created: what matched then. */
  readonly total: number;
  /** done / total, from 0 to 1 (1 once the job succeeded, whatever the estimate said). */
  readonly fraction: number;
  /** Records per second since the job started; undefined before it started. */
  readonly ratePerSecond: number | undefined;
  /** Seconds left at that rate; undefined while it is unknown or once the job finished. */
  readonly etaSeconds: number | undefined;
}

/** The times (µs since the epoch; 0: not yet) and counts a progress estimate is made of. */
export interface JobTimes {
  readonly state: JobState;
  readonly done: number;
  readonly total: number;
  readonly startedUs: number;
  readonly finishedUs: number;
}

export function jobProgress(job: JobTimes, nowUs: number): JobProgress {
  const finished = isFinishedJobState(job.state);
  const fraction = job.state === 'succeeded' ? 1 : job.total <= 0 ? 0 : Math.min(1, Math.max(0, job.done / job.total));
  if (job.startedUs === 0)
    return { done: job.done, total: job.total, fraction, ratePerSecond: undefined, etaSeconds: undefined };
  const end = finished && job.finishedUs > 0 ? job.finishedUs : nowUs;
  const elapsedUs = end - job.startedUs;
  // Under a millisecond (the resolution of some clocks) no rate can be told.
  if (elapsedUs < 1000)
    return { done: job.done, total: job.total, fraction, ratePerSecond: undefined, etaSeconds: undefined };
  const ratePerSecond = job.done / (elapsedUs / 1e6);
  const left = Math.max(job.total - job.done, 0);
  const etaSeconds = finished || ratePerSecond <= 0 ? undefined : left / ratePerSecond;
  return { done: job.done, total: job.total, fraction, ratePerSecond, etaSeconds };
}

/**
 * A restore's phases: `write` the snapshot's records, then (over an existing collection)
 * `delete` the records the snapshot does not hold, then `verify` the result against the
 * snapshot's checksum.
 */
export const RESTORE_PHASES = ['write', 'delete', 'verify'] as const;
export type RestorePhase = (typeof RESTORE_PHASES)[number];

/** Records a restore step writes at most (one transaction). */
export const MAX_RESTORE_STEP = 10_000;

/** Snapshot schedules: how often (at least every minute) and how many of their snapshots they keep. */
export const MIN_SCHEDULE_SECONDS = 60;
export const MAX_SCHEDULE_SECONDS = 366 * 24 * 3600;
export const MAX_SCHEDULE_KEEP = 1000;
export const MAX_SCHEDULES_PER_COLLECTION = 10;
