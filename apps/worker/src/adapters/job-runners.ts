import type { Queue } from 'bullmq';
import type { Logger } from '@rosetta/platform';
import { recordsDeleteJob } from '@rosetta/proto';
import { isPermanentError } from '../job-errors';
import type { JobRunner } from '../jobs/bulk-delete';

/** The BullMQ id of a job's run: one per job, so that a job queued twice runs once. */
export const deleteRunId = (id: bigint) => `delete-${id}`;

/**
 * The clustered worker's: one `records.delete` BullMQ job per job id. A BullMQ job leaves Redis
 * when it completes or fails for good, so a job the record service still holds unfinished (handed
 * back at a shutdown, or out of attempts during an outage) is queued again by the next dispatch.
 */
export class QueueJobRunner implements JobRunner {
  constructor(private readonly queue: Queue) {}

  async run(ids: readonly bigint[]): Promise<void> {
    if (ids.length === 0) return;
    await this.queue.addBulk(
      ids.map((id) => ({
        name: recordsDeleteJob.name,
        data: { jobId: String(id) },
        opts: {
          jobId: deleteRunId(id),
          attempts: recordsDeleteJob.attempts,
          backoff: { type: 'exponential', delay: recordsDeleteJob.backoffMs },
          removeOnComplete: true,
          removeOnFail: true,
        },
      })),
    );
  }
}

/**
 * The all-in-one process's: each job runs in the process, at most `concurrency` at once (the
 * others wait for a later dispatch). A failed run is logged and left to the next dispatch, which
 * runs the job again from its last committed step.
 */
export class InProcessJobRunner implements JobRunner {
  private readonly stopping = new AbortController();
  private readonly running = new Map<bigint, Promise<void>>();

  constructor(
    private readonly execute: (id: bigint, signal: AbortSignal) => Promise<unknown>,
    private readonly concurrency: number,
    private readonly logger: Logger,
  ) {}

  async run(ids: readonly bigint[]): Promise<void> {
    for (const id of ids) {
      if (this.stopping.signal.aborted || this.running.size >= this.concurrency) return;
      if (this.running.has(id)) continue;
      const run = this.execute(id, this.stopping.signal)
        .then(
          () => undefined,
          (error: unknown) => {
            const context = { err: error, job: recordsDeleteJob.name, jobId: String(id) };
            if (isPermanentError(error)) this.logger.error(context, 'job failed');
            else this.logger.warn(context, 'job run failed; the next dispatch runs it again');
          },
        )
        .finally(() => this.running.delete(id));
      this.running.set(id, run);
    }
  }

  /** Stops every job after its current step and resolves once all have stopped. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await Promise.allSettled([...this.running.values()]);
  }
}
