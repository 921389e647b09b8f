import { randomBytes } from 'node:crypto';
import { SpanKind, trace } from '@opentelemetry/api';
import { createWorkerRuntime, loadConfig as loadWorkerConfig } from '../../apps/worker/src';
import { createLogger, startTelemetry, type TelemetryOptions } from '../../packages/platform/src';
import type { Job } from '../../packages/proto/src';
import { serviceClients, startTestApi, type TestApi } from '../support/api';
import { redisPrefix } from '../support/database';
import { REDIS_URL } from '../support/env';
import { expectEventually } from '../support/expect-eventually';
import { embeddedJobs } from '../support/jobs';

/**
 * A job started by a request continues that request's trace when the worker runs it: the job
 * carries the request's W3C `traceparent` (Job.traceparent; the record service fills it), and
 * both the clustered worker's BullMQ run and the all-in-one process's run are children of that
 * span. A job without one runs as before, in a trace of its own.
 */

type SpanProcessor = NonNullable<TelemetryOptions['spanProcessors']>[number];
type FinishedSpan = Parameters<SpanProcessor['onEnd']>[0];

/** Every span that ended, kept in memory. */
const finished: FinishedSpan[] = [];
const collector: SpanProcessor = {
  onStart: () => undefined,
  onEnd: (span) => {
    finished.push(span);
  },
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
};
// Once per process (each test file is one), with tracing on and spans kept here.
const telemetry = startTelemetry({ service: 'worker-trace-test', env: {}, spanProcessors: [collector] });

const logger = createLogger({ name: 'test', level: 'silent' });
const SPACE = 'default';

let api: TestApi;
let collections = 0;

beforeAll(async () => {
  api = await startTestApi();
});

afterAll(async () => {
  await api?.close();
  await telemetry.shutdown();
});

/** A request's trace context, as the record service would have stored it with the job. */
function requestContext() {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

/** A bulk delete of a few records of a new collection. */
async function deleteJob(): Promise<bigint> {
  collections += 1;
  const ref = { space: SPACE, collection: `traced-${collections}` };
  await api.collections.createCollection({ collection: ref });
  for (let i = 0; i < 3; i++) {
    await api.records.putRecord({ collection: ref, key: `k${i}`, value: Buffer.from('v'), contentType: 'text/plain' });
  }
  const { job } = await api.jobs.startDeleteJob({ collection: ref, filter: { prefix: 'k' } });
  return job?.id ?? 0n;
}

async function expectSucceeded(id: bigint): Promise<void> {
  await expectEventually(
    async () => expect((await api.jobs.getJob({ space: SPACE, id })).job?.state).toBe('succeeded'),
    { timeoutMs: 20_000, intervalMs: 50 },
  );
}

/**
 * The JobService's clients, but the jobs the dispatcher finds carry the given traceparents: what
 * the record service answers once it stores the creating request's context with each job.
 */
function jobsCarrying(parents: ReadonlyMap<bigint, string>) {
  const jobs = serviceClients(api.runtime).jobs;
  return {
    ...jobs,
    unfinishedJobs: async (...args: Parameters<typeof jobs.unfinishedJobs>) => {
      const answer = await jobs.unfinishedJobs(...args);
      const carrying = (job: Job): Job => ({ ...job, traceparent: parents.get(job.id) ?? job.traceparent });
      return { ...answer, jobs: answer.jobs.map(carrying) };
    },
  };
}

describe('the record service', () => {
  it('stores the trace of the call that created a job with it', async () => {
    const tracer = trace.getTracer('test');
    const { id, traceId } = await tracer.startActiveSpan('request', async (span) => {
      try {
        return { id: await deleteJob(), traceId: span.spanContext().traceId };
      } finally {
        span.end();
      }
    });
    const { job } = await api.jobs.getJob({ space: SPACE, id });
    expect(job?.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    await api.jobs.cancelJob({ space: SPACE, id });
  });
});

describe('the clustered worker', () => {
  it("runs a job carrying a traceparent as a child of the request's span, and one without in a trace of its own", async () => {
    const parent = requestContext();
    const traced = await deleteJob();
    const untraced = await deleteJob();
    const worker = await createWorkerRuntime(
      loadWorkerConfig({
        REDIS_URL,
        REDIS_PREFIX: redisPrefix(),
        JOB_POLL_MS: '50',
        WORKER_HEALTH_PORT: '0',
        LOG_LEVEL: 'silent',
      }),
      logger,
      {
        ...serviceClients(api.runtime),
        jobs: jobsCarrying(
          new Map([
            [traced, parent.traceparent],
            [untraced, ''],
          ]),
        ),
      },
    );
    try {
      await expectSucceeded(traced);
      await expectSucceeded(untraced);
      // BullMQ's consumer span of each job's run (it ends after the run is stored as completed).
      const runOf = (id: bigint) =>
        expectEventually(() => {
          const span = finished.find(
            (s) =>
              s.name === 'process rosetta-jobs' &&
              s.attributes['bullmq.job.name'] === 'jobs.run' &&
              s.attributes['bullmq.job.id'] === `job-${id}`,
          );
          expect(span).toBeDefined();
          return span as FinishedSpan;
        });

      const run = await runOf(traced);
      expect(run.kind).toBe(SpanKind.CONSUMER);
      expect(run.spanContext().traceId).toBe(parent.traceId);
      expect(run.parentSpanContext?.spanId).toBe(parent.spanId);
      expect(run.parentSpanContext?.isRemote).toBe(true);
      // What the run does (its calls of the record service) is in the request's trace too.
      const { spanId } = run.spanContext();
      expect(finished.filter((s) => s.parentSpanContext?.spanId === spanId).length).toBeGreaterThan(0);
      expect(
        finished
          .filter((s) => s.parentSpanContext?.spanId === spanId)
          .every((s) => s.spanContext().traceId === parent.traceId),
      ).toBe(true);

      const other = await runOf(untraced);
      expect(other.spanContext().traceId).not.toBe(parent.traceId);
      // Its parent is the dispatcher's span that queued it, in the dispatcher's trace.
      expect(finished.some((s) => s.spanContext().spanId === other.parentSpanContext?.spanId)).toBe(true);
    } finally {
      await worker.close();
    }
  }, 30_000);
});

describe("the all-in-one process's runner", () => {
  it("runs a job carrying a traceparent in a jobs.run span that is a child of the request's span", async () => {
    const parent = requestContext();
    const traced = await deleteJob();
    const untraced = await deleteJob();
    const clients = serviceClients(api.runtime);
    const runner = embeddedJobs(
      {
        jobs: jobsCarrying(
          new Map([
            [traced, parent.traceparent],
            [untraced, ''],
          ]),
        ),
        snapshots: clients.snapshots,
        records: clients.records,
      },
      { deleteBatch: 100 },
    );
    try {
      await expectSucceeded(traced);
      await expectSucceeded(untraced);
      const runOf = (id: bigint) =>
        expectEventually(() => {
          const span = finished.find((s) => s.name === 'jobs.run' && s.attributes['rosetta.job.id'] === String(id));
          expect(span).toBeDefined();
          return span as FinishedSpan;
        });

      const run = await runOf(traced);
      expect(run.spanContext().traceId).toBe(parent.traceId);
      expect(run.parentSpanContext?.spanId).toBe(parent.spanId);
      expect(run.attributes['rosetta.job.kind']).toBe('delete');
      const { spanId } = run.spanContext();
      expect(finished.some((s) => s.parentSpanContext?.spanId === spanId)).toBe(true);

      const other = await runOf(untraced);
      expect(other.spanContext().traceId).not.toBe(parent.traceId);
      expect(other.parentSpanContext).toBeUndefined();
    } finally {
      await runner.stop();
    }
  }, 30_000);
});
