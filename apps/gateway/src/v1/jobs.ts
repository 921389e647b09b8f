import type { Request, Response } from 'express';
import type { z } from 'zod';
import { formatMicros, isJobState, jobProgress, type JobProgress } from '@rosetta/core';
import type { Job, RecordFilter } from '@rosetta/proto';
import type { Caller } from '../auth/callers';
import type { RecordApi } from '../clients/record-api';
import { jsonBody } from './body';
import { filterOf } from './records';
import { idParam, type RouteTable } from './route';
import {
  AdminJobQuerySchema,
  CollectionParamsSchema,
  JobListSchema,
  JobLocationSchema,
  JobParamsSchema,
  JobQuerySchema,
  JobSchema,
  SpaceParamsSchema,
  StartDeleteJobBodySchema,
} from './schemas';

const SPACE_JOBS = '/v1/spaces/:space/jobs';
const SPACE_JOBS_DOC = '/v1/spaces/{space}/jobs';
const TAGS = ['jobs'];
/** Jobs listed when the request names no limit. */
const DEFAULT_JOBS_LIMIT = 100;
/** A filter is small. */
const JSON_LIMIT_BYTES = 64 * 1024;

export const instant = (us: bigint) => formatMicros(Number(us));
/** An optional instant of the contract (0: not yet, or not set) as /v1 shows it. */
export const instantOrNull = (us: bigint) => (us === 0n ? null : instant(us));

/**
 * How far a job has come, now: core's estimate over the contract's job. /v1 and GraphQL both
 * show it from here.
 */
export function progressOf(job: Job): JobProgress {
  if (!isJobState(job.state)) throw new Error(`the record service answered a job in state "${job.state}"`);
  return jobProgress(
    {
      state: job.state,
      done: Number(job.done),
      total: Number(job.total),
      startedUs: Number(job.startedUs),
      finishedUs: Number(job.finishedUs),
    },
    Date.now() * 1000,
  );
}

/** A job's filter with the fields that are set only (JSON leaves the undefined ones out). */
const filterJson = (filter: RecordFilter | undefined) => ({
  prefix: filter?.prefix === '' ? undefined : filter?.prefix,
  start: filter?.start,
  end: filter?.end,
  pattern: filter?.pattern,
  createdAfter: filter?.createdAfterUs === undefined ? undefined : instant(filter.createdAfterUs),
  createdBefore: filter?.createdBeforeUs === undefined ? undefined : instant(filter.createdBeforeUs),
  updatedAfter: filter?.updatedAfterUs === undefined ? undefined : instant(filter.updatedAfterUs),
  updatedBefore: filter?.updatedBeforeUs === undefined ? undefined : instant(filter.updatedBeforeUs),
});

export function jobJson(job: Job) {
  const progress = progressOf(job);
  return {
    id: Number(job.id),
    kind: job.kind,
    state: job.state,
    space: job.space,
    collection: job.collection,
    version: job.version === '' ? null : job.version,
    filter: filterJson(job.filter),
    progress: {
      done: progress.done,
      total: progress.total,
      fraction: progress.fraction,
      ratePerSecond: progress.ratePerSecond ?? null,
      etaSeconds: progress.etaSeconds ?? null,
    },
    error: job.errorCode === '' ? null : { code: job.errorCode, message: job.errorMessage },
    createdBy: job.createdBy,
    created: instant(job.createdUs),
    started: instantOrNull(job.startedUs),
    finished: instantOrNull(job.finishedUs),
    updated: instant(job.updatedUs),
    snapshotId: job.snapshotId === 0n ? null : Number(job.snapshotId),
    phase: job.phase === '' ? null : job.phase,
  };
}

const call = (caller: Caller) => ({ headers: caller.headers });

/** The job a path names. */
const jobRef = (req: Request) => ({ space: String(req.params.space), id: idParam(req, 'job') });

/** The job of a record-service answer. */
export function jobOf(answer: { job?: Job | undefined }): Job {
  if (answer.job === undefined) throw new Error('the record service answered without the job');
  return answer.job;
}

/**
 * Background jobs: bulk deletes of a collection, started here, run by the worker in steps (see
 * docs/api.md#jobs), watched and cancelled here. Who may start, see and cancel which job is the
 * record service's to decide; admins see every space's jobs.
 */
export function jobRoutes(table: RouteTable, api: RecordApi): void {
  const { jobs } = api;
  const json = jsonBody(JSON_LIMIT_BYTES);
  const ok = (description: string) => ({ description, content: { 'application/json': { schema: JobSchema } } });
  const list = { description: 'A page of jobs', content: { 'application/json': { schema: JobListSchema } } };

  /** A page of jobs, newest first, and where the next one starts (when this one is full). */
  const sendPage = async (res: Response, caller: Caller, space: string, query: z.output<typeof JobQuerySchema>) => {
    const limit = query.limit === undefined ? DEFAULT_JOBS_LIMIT : Number(query.limit);
    const page = await jobs.listJobs(
      {
        space,
        collection: query.collection ?? '',
        state: query.state ?? '',
        beforeId: BigInt(query.before ?? 0),
        limit,
      },
      call(caller),
    );
    const last = page.jobs[page.jobs.length - 1];
    res.json({
      jobs: page.jobs.map(jobJson),
      next: page.jobs.length === limit && last !== undefined ? Number(last.id) : null,
    });
  };

  table.add(
    {
      method: 'post',
      expressPath: '/v1/spaces/:space/collections/:collection/delete-jobs',
      openapiPath: '/v1/spaces/{space}/collections/{collection}/delete-jobs',
      summary: 'Start a bulk delete: a job deleting the records that match a filter now, in key order',
      description:
        'The job deletes what matches when it is created; records written after that stay. The worker runs it in transactions of DELETE_JOB_BATCH records, each with its change event.',
      tags: TAGS,
      params: CollectionParamsSchema,
      body: StartDeleteJobBodySchema,
      before: json,
      responses: { 202: { ...ok('The job, queued'), headers: JobLocationSchema } },
      errors: [
        'INVALID_ARGUMENT',
        'INVALID_PATTERN',
        'UNSUPPORTED_MEDIA_TYPE',
        'COLLECTION_NOT_FOUND',
        'SPACE_NOT_FOUND',
        'VERSION_NOT_FOUND',
      ],
    },
    async (req, res, { body, caller }) => {
      const { version, ...filter } = body;
      const space = String(req.params.space);
      const job = jobOf(
        await jobs.startDeleteJob(
          {
            collection: { space, collection: String(req.params.collection), version: version ?? '' },
            filter: filterOf(filter),
          },
          call(caller),
        ),
      );
      res
        .status(202)
        .location(`/v1/spaces/${encodeURIComponent(space)}/jobs/${job.id}`)
        .json(jobJson(job));
    },
  );

  table.add(
    {
      method: 'get',
      expressPath: SPACE_JOBS,
      openapiPath: SPACE_JOBS_DOC,
      summary: 'A space’s jobs, newest first',
      tags: TAGS,
      params: SpaceParamsSchema,
      query: JobQuerySchema,
      responses: { 200: list },
      errors: ['SPACE_NOT_FOUND', 'INVALID_ARGUMENT'],
    },
    (req, res, { query, caller }) => sendPage(res, caller, String(req.params.space), query),
  );

  table.add(
    {
      method: 'get',
      expressPath: `${SPACE_JOBS}/:id`,
      openapiPath: `${SPACE_JOBS_DOC}/{id}`,
      summary: 'A job: its state and progress',
      tags: TAGS,
      params: JobParamsSchema,
      responses: { 200: ok('The job') },
      errors: ['JOB_NOT_FOUND', 'SPACE_NOT_FOUND', 'INVALID_ARGUMENT'],
    },
    async (req, res, { caller }) => {
      res.json(jobJson(jobOf(await jobs.getJob(jobRef(req), call(caller)))));
    },
  );

  table.add(
    {
      method: 'post',
      expressPath: `${SPACE_JOBS}/:id/cancel`,
      openapiPath: `${SPACE_JOBS_DOC}/{id}/cancel`,
      summary: 'Cancel a queued or running job: it stops between steps, and what it deleted stays deleted',
      tags: TAGS,
      params: JobParamsSchema,
      responses: { 200: ok('The job, cancelled') },
      errors: ['JOB_NOT_FOUND', 'JOB_FINISHED', 'SPACE_NOT_FOUND', 'INVALID_ARGUMENT'],
    },
    async (req, res, { caller }) => {
      res.json(jobJson(jobOf(await jobs.cancelJob(jobRef(req), call(caller)))));
    },
  );

  table.add(
    {
      method: 'get',
      expressPath: '/v1/admin/jobs',
      openapiPath: '/v1/admin/jobs',
      summary: 'Every space’s jobs, newest first (admins only)',
      tags: [...TAGS, 'admin'],
      params: SpaceParamsSchema.pick({}),
      query: AdminJobQuerySchema,
      responses: { 200: list },
      errors: ['INVALID_ARGUMENT'],
    },
    // The contract's empty space: every space's jobs.
    (_req, res, { query, caller }) => sendPage(res, caller, '', query),
  );
}
