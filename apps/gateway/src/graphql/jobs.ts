import { isErrorCode, type JobState } from '@rosetta/core';
import type { Job } from '@rosetta/proto';
import { jobOf, progressOf } from '../v1/jobs';
import type { GraphQLContext } from './context';
import { badInput, GRAPHQL_CODE } from './errors';
import { refOf, startDeleteJob } from './mutations';
import type { PageLimits } from './queries';
import { call, filterMessage, orNull, pageSize, type FilterArgs } from './shared';

/** Jobs listed when `first` is not given (the SDL's default). */
const DEFAULT_JOBS = 100;

interface JobsArgs {
  readonly space?: string | null;
  readonly collection?: string | null;
  /** A value of the JobState enum: the contract's state in capitals. */
  readonly state?: Uppercase<JobState> | null;
  readonly first?: number | null;
  readonly before?: string | null;
}

interface StartDeleteJobArgs {
  readonly space: string;
  readonly collection: string;
  readonly version?: string | null;
  readonly filter: FilterArgs;
}

/** An id as GraphQL's ID hands it over (a string): a positive integer, as /v1's paths take it. */
export function idOf(id: string, what: string): bigint {
  if (!/^\d{1,15}$/.test(id)) throw badInput(`${what} id "${id.slice(0, 32)}" is not a positive integer`);
  return BigInt(id);
}

/**
 * Background jobs (bulk deletes, snapshots, restores): watched and cancelled over the JobService
 * contract, which decides who may do what, and bulk deletes started. Progress is computed where
 * /v1 computes it.
 */
export function jobResolvers(limits: PageLimits) {
  return {
    Query: {
      job: async (_: unknown, args: { space: string; id: string }, ctx: GraphQLContext) => {
        const id = idOf(args.id, 'job');
        const answer = await orNull(ctx.api.jobs.getJob({ space: args.space, id }, await call(ctx)), [
          'JOB_NOT_FOUND',
          'SPACE_NOT_FOUND',
        ]);
        return answer === null ? null : jobOf(answer);
      },
      jobs: async (_: unknown, args: JobsArgs, ctx: GraphQLContext): Promise<Job[]> => {
        const first = pageSize(args.first, DEFAULT_JOBS, limits.maxPage);
        // The contract reads a limit of 0 as its default: ask for nothing by not asking.
        if (first === 0) return [];
        const { jobs } = await ctx.api.jobs.listJobs(
          {
            space: args.space ?? '',
            collection: args.collection ?? '',
            state: args.state?.toLowerCase() ?? '',
            beforeId: args.before === null || args.before === undefined ? 0n : idOf(args.before, 'job'),
            limit: first,
          },
          await call(ctx),
        );
        return jobs;
      },
    },
    Job: {
      id: (j: Job) => String(j.id),
      state: (j: Job) => j.state.toUpperCase(),
      version: (j: Job) => (j.version === '' ? null : j.version),
      fraction: (j: Job) => progressOf(j).fraction,
      ratePerSecond: (j: Job) => progressOf(j).ratePerSecond ?? null,
      etaSeconds: (j: Job) => progressOf(j).etaSeconds ?? null,
      error: (j: Job) =>
        j.errorCode === ''
          ? null
          : { code: isErrorCode(j.errorCode) ? GRAPHQL_CODE[j.errorCode] : j.errorCode, message: j.errorMessage },
      created: (j: Job) => j.createdUs,
      started: (j: Job) => (j.startedUs === 0n ? null : j.startedUs),
      finished: (j: Job) => (j.finishedUs === 0n ? null : j.finishedUs),
      updated: (j: Job) => j.updatedUs,
      snapshotId: (j: Job) => (j.snapshotId === 0n ? null : String(j.snapshotId)),
      phase: (j: Job) => (j.phase === '' ? null : j.phase),
    },
    Mutation: {
      startDeleteJob: async (_: unknown, { input }: { input: StartDeleteJobArgs }, ctx: GraphQLContext) =>
        startDeleteJob(ctx, await refOf(ctx, input), filterMessage(input.filter)),
      cancelJob: async (_: unknown, { input }: { input: { space: string; id: string } }, ctx: GraphQLContext) =>
        jobOf(await ctx.api.jobs.cancelJob({ space: input.space, id: idOf(input.id, 'job') }, await call(ctx))),
    },
  };
}
