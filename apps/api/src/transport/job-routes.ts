import type { MessageInitShape } from '@bufbuild/protobuf';
import type { HandlerContext, ServiceImpl } from '@connectrpc/connect';
import { authorizeFilter, DomainError, type Principal, type RecordFilterInput, type Scope } from '@rosetta/core';
import type { Logger } from '@rosetta/platform';
import { JobService as JobServiceDesc, type JobSchema, type RecordFilterSchema } from '@rosetta/proto';
import type { JobRecord } from '../services/ports';
import { fromFilter } from './mappers';
import { guarded, principalOf, type Services } from './routes';

/** Most unfinished jobs one UnfinishedJobs call answers. */
const UNFINISHED_PAGE = 1000;

const big = (value: number | undefined) => (value === undefined ? undefined : BigInt(value));

function filterMessage(filter: RecordFilterInput): MessageInitShape<typeof RecordFilterSchema> {
  return {
    prefix: filter.prefix ?? '',
    start: filter.start,
    end: filter.end,
    pattern: filter.pattern,
    createdAfterUs: big(filter.createdAfter),
    createdBeforeUs: big(filter.createdBefore),
    updatedAfterUs: big(filter.updatedAfter),
    updatedBeforeUs: big(filter.updatedBefore),
  };
}

export function jobMessage(job: JobRecord): MessageInitShape<typeof JobSchema> {
  return {
    id: BigInt(job.id),
    kind: job.kind,
    state: job.state,
    space: job.space,
    collection: job.collection,
    version: job.version,
    filter: filterMessage(job.filter),
    done: BigInt(job.done),
    total: BigInt(job.total),
    errorCode: job.errorCode,
    errorMessage: job.errorMessage,
    createdBy: job.createdBy,
    createdUs: BigInt(job.created),
    startedUs: BigInt(job.started),
    finishedUs: BigInt(job.finished),
    updatedUs: BigInt(job.updated),
    position: job.afterKey ?? '',
    phase: job.phase,
    snapshotId: BigInt(job.params.snapshotId ?? 0),
    traceparent: job.traceparent,
  };
}

/**
 * Whether scopes let a credential see (or, with `write`, cancel) a job: some scope of the job's
 * space covers its collection and every key its filter can reach. Unscoped credentials see
 * every job of the spaces their role opens.
 */
function covers(scopes: readonly Scope[], job: JobRecord, write: boolean): boolean {
  if (scopes.length === 0) return true;
  const prefix = job.filter.prefix ?? '';
  return scopes.some(
    (scope) =>
      scope.space === job.space &&
      (!write || scope.write) &&
      (scope.collection === '' || scope.collection === job.collection) &&
      prefix.startsWith(scope.keyPrefix),
  );
}

/** Who started a job, as jobs show it: `alice`, or `alice@example.org`. */
export const principalName = (principal: Principal) =>
  principal.host === '' ? principal.account : `${principal.account}@${principal.host}`;

export function jobServiceImpl(services: Services, logger: Logger): ServiceImpl<typeof JobServiceDesc> {
  const { jobs, access } = services;
  /** A job of a space the caller may read, and may act on at `level`; hidden jobs are not found. */
  const visibleJob = async (context: HandlerContext, space: string, id: bigint, level: 'read' | 'write') => {
    const principal = principalOf(access, context);
    await access.check(principal, { space }, 'read');
    const job = await jobs.get(space, id);
    const scopes = await access.check(principal, { space, collection: job.collection }, level);
    if (!covers(scopes, job, level === 'write')) {
      throw new DomainError('PERMISSION_DENIED', 'key-scoped credential touched a broader job', {
        publicMessage: `this token's scopes do not cover job ${id}`,
      });
    }
    return job;
  };
  return guarded(
    JobServiceDesc,
    {
      async startDeleteJob(req, context) {
        const target = {
          space: req.collection?.space ?? '',
          name: req.collection?.collection ?? '',
          version: req.collection?.version || undefined,
        };
        const principal = principalOf(access, context);
        const scopes = await access.check(principal, { space: target.space, collection: target.name }, 'write');
        const job = await jobs.startDelete(
          target,
          authorizeFilter(scopes, fromFilter(req.filter)),
          principalName(principal),
        );
        return { job: jobMessage(job) };
      },
      async getJob(req, context) {
        return { job: jobMessage(await visibleJob(context, req.space, req.id, 'read')) };
      },
      async cancelJob(req, context) {
        await visibleJob(context, req.space, req.id, 'write');
        return { job: jobMessage(await jobs.cancel(req.space, req.id)) };
      },
      async listJobs(req, context) {
        const principal = principalOf(access, context);
        const space = req.space === '' ? undefined : req.space;
        // Every space's jobs are for admins, who watch the deployment.
        const scopes =
          space === undefined
            ? (access.requireAdmin(principal), [])
            : await access.check(principal, { space, collection: req.collection || undefined }, 'read');
        const found = await jobs.list({
          space,
          collection: req.collection,
          state: req.state,
          beforeId: req.beforeId,
          limit: req.limit,
        });
        return { jobs: found.filter((job) => covers(scopes, job, false)).map(jobMessage) };
      },
      async unfinishedJobs(_req, context) {
        access.requireAdmin(principalOf(access, context));
        return { jobs: (await jobs.unfinished(UNFINISHED_PAGE)).map(jobMessage) };
      },
      async runJobStep(req, context) {
        access.requireAdmin(principalOf(access, context));
        return { job: jobMessage(await jobs.runStep(req.id, req.batchSize)) };
      },
      async failJob(req, context) {
        access.requireAdmin(principalOf(access, context));
        return { job: jobMessage(await jobs.fail(req.id, req.errorCode, req.errorMessage)) };
      },
    },
    logger,
  );
}
