import type { Client } from '@connectrpc/connect';
import type { Logger } from '@rosetta/platform';
import { eventsCompactJob, eventsRelayJob, jobsDispatchJob, type JobDefinition, type JobService } from '@rosetta/proto';
import type { z } from 'zod';
import { isPermanentError } from './job-errors';
import { timeJob } from './metrics';
import { InProcessJobRunner } from './adapters/job-runners';
import { TimerScheduleSync } from './adapters/snapshot-schedulers';
import { dispatchJobs } from './jobs/bulk-delete';
import { runJob, type RunJobDeps } from './jobs/run-job';
import { compactChanges, type CompactChangesDeps } from './jobs/compact-changes';
import { relayEvents, type RelayEventsDeps } from './jobs/events-relay';

export interface EmbeddedRelayOptions extends Omit<RelayEventsDeps, 'signal'> {
  /** Pause between the end of one run and the start of the next (ms). */
  readonly intervalMs: number;
  readonly logger: Logger;
}

export interface EmbeddedCompactorOptions extends Omit<CompactChangesDeps, 'signal'> {
  readonly intervalMs: number;
  readonly logger: Logger;
}

export interface EmbeddedRelay {
  /** Stops scheduling, lets a running run finish its current page, and resolves once it has. */
  stop(): Promise<void>;
}

/** Cap of the extra pause after repeated failures, so that an outage logs about twice a minute. */
const MAX_BACKOFF_MS = 30_000;

/**
 * A job of the catalog without Redis or BullMQ, for the all-in-one process: `run` on a timer. A
 * run starts `intervalMs` after the previous one ended, so runs never overlap; after a failure
 * the pause grows like BullMQ's exponential backoff of the job's policy. Each run is recorded
 * as the clustered worker's are (rosetta_job_duration_seconds).
 */
function runEvery(
  job: JobDefinition<z.ZodType>,
  intervalMs: number,
  logger: Logger,
  run: (signal: AbortSignal) => Promise<number>,
): EmbeddedRelay {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let failures = 0;

  const once = async (): Promise<void> => {
    try {
      const done = await timeJob(job.name, () => run(controller.signal));
      failures = 0;
      if (done > 0) logger.debug({ job: job.name, done }, 'job ran');
    } catch (error) {
      failures += 1;
      const context = { err: error, job: job.name, failures };
      if (isPermanentError(error)) logger.error(context, 'job failed permanently');
      else logger.warn(context, 'job failed');
    }
  };

  const schedule = (delayMs: number): void => {
    timer = setTimeout(() => {
      timer = undefined;
      running = once().then(() => {
        running = undefined;
        if (controller.signal.aborted) return;
        const backoff = failures === 0 ? 0 : job.backoffMs * 2 ** (failures - 1);
        schedule(intervalMs + Math.min(backoff, MAX_BACKOFF_MS));
      });
    }, delayMs);
  };

  schedule(0);
  return {
    async stop() {
      controller.abort();
      clearTimeout(timer);
      await running;
    },
  };
}

/** The outbox relay of the all-in-one process: `relayEvents` every `intervalMs`. */
export function createEmbeddedRelay(options: EmbeddedRelayOptions): EmbeddedRelay {
  const { intervalMs, logger, ...deps } = options;
  return runEvery(eventsRelayJob, intervalMs, logger, (signal) => relayEvents({ ...deps, signal }));
}

/** The change feed's retention in the all-in-one process: `compactChanges` every `intervalMs`. */
export function createEmbeddedCompactor(options: EmbeddedCompactorOptions): EmbeddedRelay {
  const { intervalMs, logger, ...deps } = options;
  return runEvery(eventsCompactJob, intervalMs, logger, (signal) => compactChanges({ ...deps, signal }));
}

export interface EmbeddedJobsOptions extends Omit<RunJobDeps, 'jobs' | 'snapshots'> {
  readonly jobs: RunJobDeps['jobs'] & Pick<Client<typeof JobService>, 'unfinishedJobs'>;
  readonly snapshots: RunJobDeps['snapshots'];
  /** How often to look for jobs to run (ms). */
  readonly intervalMs: number;
  /** Jobs run at once. */
  readonly concurrency: number;
  readonly logger: Logger;
}

/**
 * The JobService's jobs in the all-in-one process: the same dispatcher and the same runs as the
 * clustered worker's, with the process as the runner and timers for the snapshot schedules.
 * Stopping hands every running job back after its current step; the next start goes on from there.
 */
export function createEmbeddedJobs(options: EmbeddedJobsOptions): EmbeddedRelay {
  const { intervalMs, concurrency, logger, ...deps } = options;
  const runner = new InProcessJobRunner((job, signal) => runJob(deps, job, signal), concurrency, logger);
  const schedules = new TimerScheduleSync((id) => deps.snapshots.runSchedule({ id }), logger);
  const dispatcher = runEvery(jobsDispatchJob, intervalMs, logger, () =>
    dispatchJobs({ jobs: deps.jobs, snapshots: deps.snapshots, runner, schedules }),
  );
  return {
    async stop() {
      await dispatcher.stop();
      schedules.stop();
      await runner.stop();
    },
  };
}
