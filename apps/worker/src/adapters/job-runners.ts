import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Queue } from 'bullmq';
import type { Logger } from '@rosetta/platform';
import { jobsRunJob, type Job } from '@rosetta/proto';
import { isPermanentError } from '../job-errors';
import { jobContext, jobTraceMetadata } from '../job-trace';
import { timeJob } from '../metrics';
import type { JobRunner } from '../jobs/bulk-delete';

/** The BullMQ id of a job's run: one per job, so that a job queued twice runs once. */
export const jobRunId = (id: bigint) => `job-${id}`;

/**
 * The clustered worker's: one `jobs.run` BullMQ job per job id. A BullMQ job leaves Redis
 * when it completes or fails for good, so a job the record service still holds unfinished (handed
 * back at a shutdown, or out of attempts during an outage) is queued again by the next dispatch.
 *
 * A job that carries the `traceparent` of the request that created it is queued with that
 * context as BullMQ's telemetry metadata, so its runs continue the request's trace. Not by
 * queueing it inside that context: every dispatch queues every unfinished job again (BullMQ
 * ignores the repeats), and each would add a producer span to the request's trace.
 */
export class QueueJobRunner implements JobRunner {
  constructor(private readonly queue: Queue) {}

  async run(jobs: readonly Job[]): Promise<void> {
    if (jobs.length === 0) return;
    await this.queue.addBulk(
      jobs.map((job) => {
        const metadata = jobTraceMetadata(job.traceparent);
        return {
          name: jobsRunJob.name,
          data: { jobId: String(job.id), kind: job.kind, space: job.space },
          opts: {
            jobId: jobRunId(job.id),
            attempts: jobsRunJob.attempts,
            backoff: { type: 'exponential', delay: jobsRunJob.backoffMs },
            removeOnComplete: true,
            removeOnFail: true,
            ...(metadata === undefined ? {} : { telemetry: { metadata } }),
          },
        };
      }),
    );
  }
}

/**
 * The all-in-one process's: each job runs in the process, at most `concurrency` at once (the
 * others wait for a later dispatch). A failed run is logged and left to the next dispatch, which
 * runs the job again from its last committed step. Each run is a `jobs.run` span, a child of the
 * request that created the job when the job carries its `traceparent`.
 */
export class InProcessJobRunner implements JobRunner {
  private readonly stopping = new AbortController();
  private readonly running = new Map<bigint, Promise<void>>();
  private readonly tracer = trace.getTracer('rosetta');

  constructor(
    private readonly execute: (job: Job, signal: AbortSignal) => Promise<unknown>,
    private readonly concurrency: number,
    private readonly logger: Logger,
  ) {}

  async run(jobs: readonly Job[]): Promise<void> {
    for (const job of jobs) {
      const { id } = job;
      if (this.stopping.signal.aborted || this.running.size >= this.concurrency) return;
      if (this.running.has(id)) continue;
      const run = this.traced(job)
        .then(
          () => undefined,
          (error: unknown) => {
            const context = { err: error, job: jobsRunJob.name, jobId: String(id), kind: job.kind };
            if (isPermanentError(error)) this.logger.error(context, 'job failed');
            else this.logger.warn(context, 'job run failed; the next dispatch runs it again');
          },
        )
        .finally(() => this.running.delete(id));
      this.running.set(id, run);
    }
  }

  private traced(job: Job): Promise<unknown> {
    const attributes = { 'rosetta.job.id': String(job.id), 'rosetta.job.kind': job.kind };
    return context.with(jobContext(job.traceparent) ?? ROOT_CONTEXT, () =>
      this.tracer.startActiveSpan(jobsRunJob.name, { kind: SpanKind.CONSUMER, attributes }, (span) =>
        timeJob(jobsRunJob.name, () => this.execute(job, this.stopping.signal)).then(
          (result) => {
            span.end();
            return result;
          },
          (error: unknown) => {
            span.recordException(error instanceof Error ? error : String(error));
            span.setStatus({ code: SpanStatusCode.ERROR });
            span.end();
            throw error;
          },
        ),
      ),
    );
  }

  /** Stops every job after its current step and resolves once all have stopped. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await Promise.allSettled([...this.running.values()]);
  }
}
