import {
  DEFAULT_DELETE_STEP,
  DomainError,
  invalid,
  isDomainError,
  isErrorCode,
  isFinishedJobState,
  isJobState,
  MAX_DELETE_STEP,
  parseFilter,
  type RecordFilterInput,
} from '@rosetta/core';
import type { CollectionAddress, CollectionResolver } from './collection-resolver';
import type { JobRecord, JobsRepository } from './ports';
import type { RecordService } from './record-service';

export const DEFAULT_JOBS_PAGE = 100;
export const MAX_JOBS_PAGE = 1000;
/** A failed job's message is cut to this many characters. */
export const MAX_ERROR_CHARS = 2000;

/** Errors that say "try again" rather than "this job cannot be done". */
const TRANSIENT = new Set(['UNAVAILABLE', 'INTERNAL']);

const isPermanent = (error: unknown): error is DomainError => isDomainError(error) && !TRANSIENT.has(error.code);

export const collectionGone = (job: JobRecord) =>
  new DomainError('COLLECTION_NOT_FOUND', `collection of job ${job.id} deleted`, {
    publicMessage: `collection "${job.collection}" was deleted`,
  });

export const jobNotFound = (id: number | bigint, space: string) =>
  new DomainError('JOB_NOT_FOUND', `job ${id} not found in ${space}`, {
    publicMessage: `job ${id} does not exist in space "${space}"`,
  });

/**
 * A job id from the wire: 0 (unset) and negative ids are refused; an id beyond any that can
 * exist is returned as undefined (no such job).
 */
export function jobIdOf(id: bigint): number | undefined {
  if (id <= 0n) throw invalid('INVALID_ARGUMENT', 'a job id (a positive integer) is required');
  return id > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(id);
}

export interface JobListInput {
  readonly space: string | undefined;
  readonly collection: string;
  readonly state: string;
  readonly beforeId: bigint;
  readonly limit: number;
}

/**
 * Background jobs: created here, run by the worker one step at a time (runStep), watched and
 * cancelled by their owners. Callers are authorized by the transport.
 */
export class JobService {
  constructor(
    private readonly jobs: JobsRepository,
    private readonly records: RecordService,
    private readonly resolver: CollectionResolver,
  ) {}

  /**
   * Queues a bulk delete of the records that match `filter` now: records written after this
   * call are not the job's. The estimate of its size is what matches now (see estimateCount).
   */
  async startDelete(address: CollectionAddress, filter: RecordFilterInput, createdBy: string): Promise<JobRecord> {
    parseFilter(filter);
    const total = await this.records.estimateCount(address, filter);
    const collection = await this.resolver.resolve(address);
    return this.jobs.create({
      kind: 'delete',
      collection,
      version: address.version ?? '',
      filter,
      total,
      createdBy,
    });
  }

  async get(space: string, id: bigint): Promise<JobRecord> {
    const jobId = jobIdOf(id);
    const job = jobId === undefined ? undefined : await this.jobs.get(jobId, space);
    if (job === undefined) throw jobNotFound(id, space);
    return job;
  }

  async list(input: JobListInput): Promise<JobRecord[]> {
    const limit = input.limit === 0 ? DEFAULT_JOBS_PAGE : input.limit;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_JOBS_PAGE) {
      throw invalid('INVALID_ARGUMENT', `limit must be from 1 to ${MAX_JOBS_PAGE}`);
    }
    if (input.state !== '' && !isJobState(input.state)) {
      throw invalid(
        'INVALID_ARGUMENT',
        `state must be queued, running, succeeded, failed or cancelled, not "${input.state}"`,
      );
    }
    if (input.beforeId < 0n) throw invalid('INVALID_ARGUMENT', 'before must be a job id');
    return this.jobs.list({
      space: input.space,
      collection: input.collection === '' ? undefined : input.collection,
      state: input.state === '' ? undefined : input.state,
      beforeId:
        input.beforeId === 0n || input.beforeId > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(input.beforeId),
      limit,
    });
  }

  /** Cancels a queued or running job; a step in progress ends first, and none follows. */
  async cancel(space: string, id: bigint): Promise<JobRecord> {
    const job = await this.get(space, id);
    const cancelled = await this.jobs.cancel(job.id, space);
    if (cancelled !== undefined) return cancelled;
    const now = await this.get(space, id);
    throw new DomainError('JOB_FINISHED', `job ${id} is ${now.state}`, {
      publicMessage: `job ${id} has already finished (${now.state})`,
    });
  }

  /** Fails an unfinished job for a reason the worker found; a finished job is answered as it is. */
  async fail(id: bigint, code: string, message: string): Promise<JobRecord> {
    if (!isErrorCode(code) || code === 'INTERNAL' || code === 'UNAVAILABLE') {
      throw invalid('INVALID_ARGUMENT', 'error_code must be a domain code that says the job cannot go on');
    }
    const job = await this.byId(id);
    const failed = await this.jobs.fail(job.id, code, Array.from(message).slice(0, MAX_ERROR_CHARS).join(''));
    return failed ?? (await this.byId(id));
  }

  /** A job of any space, for the worker. */
  private async byId(id: bigint): Promise<JobRecord> {
    const jobId = jobIdOf(id);
    const job = jobId === undefined ? undefined : await this.jobs.get(jobId);
    if (job === undefined)
      throw new DomainError('JOB_NOT_FOUND', `job ${id} not found`, { publicMessage: `job ${id} does not exist` });
    return job;
  }

  /** Jobs the worker has to run, oldest first. */
  unfinished(limit: number): Promise<JobRecord[]> {
    return this.jobs.unfinished(limit);
  }

  /**
   * Runs one step of a job and answers the job as it then stands. A job that cannot go on — its
   * collection or version is gone, or its version was committed — fails here, with the reason;
   * transient failures propagate, for the worker to retry.
   */
  async runStep(id: bigint, batchSize: number): Promise<JobRecord> {
    const size = batchSize === 0 ? DEFAULT_DELETE_STEP : batchSize;
    if (!Number.isSafeInteger(size) || size < 1 || size > MAX_DELETE_STEP) {
      throw invalid('INVALID_ARGUMENT', `batch size must be from 1 to ${MAX_DELETE_STEP}`);
    }
    const job = await this.byId(id);
    // Steps delete: a bulk delete's, and a restore's over an existing collection (its delete
    // phase). Other jobs and phases move on through their own calls.
    const deletes = job.kind === 'delete' || (job.kind === 'restore' && job.phase === 'delete');
    if (isFinishedJobState(job.state) || !deletes) return job;
    try {
      const step = await this.guard(job, () => {
        if (job.collectionId === null) throw collectionGone(job);
        const address = { space: job.space, name: job.collection, version: job.version || undefined };
        return this.records.deleteStep(address, job.filter, job.collectionId, job.id, size);
      });
      return step?.job ?? (await this.byId(id));
    } catch (error) {
      if (!isPermanent(error)) throw error;
      return this.byId(id);
    }
  }

  /**
   * Runs `work` for a job: a domain error that says the job cannot go on (its collection or
   * version is gone, its version committed, a record refused) fails the job with that reason
   * before it propagates; transient failures only propagate, for the worker to retry.
   */
  async guard<T>(job: JobRecord, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (isPermanent(error)) await this.jobs.fail(job.id, error.code, error.publicMessage ?? error.message);
      throw error;
    }
  }
}
