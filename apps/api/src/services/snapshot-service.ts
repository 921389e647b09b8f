import {
  DomainError,
  invalid,
  MAX_SCHEDULE_KEEP,
  MAX_SCHEDULE_SECONDS,
  MAX_SCHEDULES_PER_COLLECTION,
  MIN_SCHEDULE_SECONDS,
} from '@rosetta/core';
import type { CollectionAddress, CollectionResolver } from './collection-resolver';
import type { CollectionService } from './collection-service';
import { collectionGone, jobIdOf, type JobService } from './job-service';
import type {
  JobRecord,
  JobsRepository,
  ScannedRecord,
  ScheduleRecord,
  SnapshotReader,
  SnapshotRecord,
  SnapshotsRepository,
} from './ports';
import { handOver } from './hand-over';
import type { PutRecordInput, RecordService } from './record-service';

export const DEFAULT_SNAPSHOTS_PAGE = 100;
export const MAX_SNAPSHOTS_PAGE = 1000;
/** Records per export chunk, by default and at most. */
export const DEFAULT_EXPORT_CHUNK = 1000;
export const MAX_EXPORT_CHUNK = 10_000;

const SHA256_HEX = /^[0-9a-f]{64}$/;

export const snapshotNotFound = (id: number | bigint, space: string) =>
  new DomainError('SNAPSHOT_NOT_FOUND', `snapshot ${id} not found in ${space}`, {
    publicMessage: `snapshot ${id} does not exist in space "${space}"`,
  });

const scheduleNotFound = (id: number | bigint, address: CollectionAddress) =>
  new DomainError('SCHEDULE_NOT_FOUND', `schedule ${id} not found in ${address.space}/${address.name}`, {
    publicMessage: `schedule ${id} does not exist for collection "${address.name}"`,
  });

/** A positive id from the wire; undefined for one beyond any that can exist. */
function idOf(id: bigint, what: string): number | undefined {
  if (id <= 0n) throw invalid('INVALID_ARGUMENT', `a ${what} id (a positive integer) is required`);
  return id > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(id);
}

function pageLimit(limit: number): number {
  const size = limit === 0 ? DEFAULT_SNAPSHOTS_PAGE : limit;
  if (!Number.isSafeInteger(size) || size < 1 || size > MAX_SNAPSHOTS_PAGE) {
    throw invalid('INVALID_ARGUMENT', `limit must be from 1 to ${MAX_SNAPSHOTS_PAGE}`);
  }
  return size;
}

/**
 * Snapshots of collections and their restores. A snapshot is a job (JobService) and an index
 * entry; the worker reads the collection through `export` and stores the object. A restore is a
 * job that the worker feeds through `restoreStep`, then (over an existing collection) runs the
 * delete phase through JobService.runStep, then verifies. Callers are authorized by the transport.
 */
export class SnapshotService {
  constructor(
    private readonly snapshots: SnapshotsRepository,
    private readonly jobsRepository: JobsRepository,
    private readonly jobs: JobService,
    private readonly records: RecordService,
    private readonly collections: CollectionService,
    private readonly resolver: CollectionResolver,
    private readonly reader: SnapshotReader,
  ) {}

  /** Queues a snapshot of the collection (at a version): its records as of when the job runs. */
  async start(
    address: CollectionAddress,
    createdBy: string,
    scheduleId?: number,
  ): Promise<{ job: JobRecord; snapshot: SnapshotRecord }> {
    const total = await this.records.estimateCount(address, {});
    const collection = await this.resolver.resolve(address);
    return this.snapshots.start(
      { kind: 'snapshot', collection, version: address.version ?? '', filter: {}, total, createdBy },
      scheduleId,
    );
  }

  async get(space: string, id: bigint): Promise<SnapshotRecord> {
    const snapshotId = idOf(id, 'snapshot');
    const found = snapshotId === undefined ? undefined : await this.snapshots.get(snapshotId, space);
    if (found === undefined) throw snapshotNotFound(id, space);
    return found;
  }

  list(space: string, collection: string, beforeId: bigint, limit: number): Promise<SnapshotRecord[]> {
    if (beforeId < 0n) throw invalid('INVALID_ARGUMENT', 'before must be a snapshot id');
    const before = beforeId === 0n || beforeId > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(beforeId);
    return this.snapshots.list(space, collection === '' ? undefined : collection, before, pageLimit(limit));
  }

  /** Removes a snapshot (not one being made) from the index; its object is the caller's to delete. */
  async delete(space: string, id: bigint): Promise<SnapshotRecord> {
    const snapshot = await this.get(space, id);
    const deleted = await this.snapshots.delete(snapshot.id, space);
    if (deleted === undefined) throw snapshotNotFound(id, space);
    if (deleted === 'creating') {
      throw new DomainError('SNAPSHOT_NOT_READY', `snapshot ${id} is being made`, {
        publicMessage: `snapshot ${id} is still being made; cancel its job ${snapshot.jobId} first`,
      });
    }
    return deleted;
  }

  /**
   * Queues a restore of a ready snapshot: into a new collection, created now, or (`replace`) over
   * an existing unversioned one, whose records become exactly the snapshot's.
   */
  async startRestore(
    space: string,
    id: bigint,
    target: CollectionAddress,
    replace: boolean,
    createdBy: string,
  ): Promise<JobRecord> {
    const snapshot = await this.get(space, id);
    if (snapshot.state !== 'ready') {
      throw new DomainError('SNAPSHOT_NOT_READY', `snapshot ${id} is ${snapshot.state}`, {
        publicMessage: `snapshot ${id} is ${snapshot.state === 'creating' ? 'still being made' : 'failed'}; it cannot be restored`,
      });
    }
    if (target.version !== undefined)
      throw invalid('INVALID_ARGUMENT', 'snapshots restore into unversioned collections');
    const collection = replace ? await this.resolver.resolve(target) : await this.collections.create(target, {});
    if (collection.versioned) throw invalid('INVALID_ARGUMENT', 'snapshots restore into unversioned collections');
    return this.jobsRepository.create({
      kind: 'restore',
      collection,
      version: '',
      filter: {},
      total: snapshot.records,
      createdBy,
      params: { snapshotId: snapshot.id, replace },
      phase: 'write',
    });
  }

  /** A job of `kind` that has not finished, for the worker's calls. */
  private async unfinished(id: bigint, kind: JobRecord['kind']): Promise<JobRecord> {
    const jobId = jobIdOf(id);
    const job = jobId === undefined ? undefined : await this.jobsRepository.get(jobId);
    if (job === undefined || job.kind !== kind) {
      throw new DomainError('JOB_NOT_FOUND', `${kind} job ${id} not found`, {
        publicMessage: `no ${kind} job has id ${id}`,
      });
    }
    if (job.state !== 'queued' && job.state !== 'running') {
      throw new DomainError('JOB_FINISHED', `job ${id} is ${job.state}`, {
        publicMessage: `job ${id} has already finished (${job.state})`,
      });
    }
    return job;
  }

  /**
   * The records of a snapshot job's collection, in key order, from one consistent view of the
   * database. A job whose collection is gone fails (and so does its snapshot).
   */
  async *export(id: bigint, chunkRecords: number): AsyncGenerator<readonly ScannedRecord[]> {
    const chunk = chunkRecords === 0 ? DEFAULT_EXPORT_CHUNK : chunkRecords;
    if (!Number.isSafeInteger(chunk) || chunk < 1 || chunk > MAX_EXPORT_CHUNK) {
      throw invalid('INVALID_ARGUMENT', `chunk_records must be from 1 to ${MAX_EXPORT_CHUNK}`);
    }
    const job = await this.unfinished(id, 'snapshot');
    const place = await this.jobs.guard(job, async () => {
      if (job.collectionId === null) throw collectionGone(job);
      return this.records.placeOf(
        { space: job.space, name: job.collection, version: job.version || undefined },
        job.collectionId,
      );
    });
    await this.jobsRepository.begin(job.id);
    yield* handOver<readonly ScannedRecord[]>((emit) => this.reader.read(place.collection, place.at, chunk, emit));
  }

  /**
   * Ends a snapshot job: its snapshot is ready, and a schedule's snapshots past its `keep` leave
   * the index (`expired`: their objects are the caller's to delete). A job cancelled meanwhile is
   * answered as it stands.
   */
  async finish(
    id: bigint,
    figures: { records: bigint; bytes: bigint; checksum: string },
  ): Promise<{ job: JobRecord; snapshot: SnapshotRecord | undefined; expired: SnapshotRecord[] }> {
    if (!SHA256_HEX.test(figures.checksum)) throw invalid('INVALID_ARGUMENT', 'checksum must be SHA-256 in hex');
    if (figures.records < 0n || figures.bytes < 0n)
      throw invalid('INVALID_ARGUMENT', 'records and bytes must not be negative');
    const jobId = jobIdOf(id);
    const job = jobId === undefined ? undefined : await this.jobsRepository.get(jobId);
    if (job === undefined || job.kind !== 'snapshot') throw this.noJob(id, 'snapshot');
    const done = await this.snapshots.finish(job.id, {
      records: Number(figures.records),
      bytes: Number(figures.bytes),
      checksum: figures.checksum,
    });
    return (
      done ?? {
        job: (await this.jobsRepository.get(job.id)) as JobRecord,
        snapshot: await this.snapshots.byJob(job.id),
        expired: [],
      }
    );
  }

  private noJob(id: bigint, kind: string) {
    return new DomainError('JOB_NOT_FOUND', `${kind} job ${id} not found`, {
      publicMessage: `no ${kind} job has id ${id}`,
    });
  }

  /**
   * Writes the next records of a restore. With `last`, the write phase ends: over an existing
   * collection the delete phase follows, else the verify phase.
   */
  async restoreStep(id: bigint, entries: readonly PutRecordInput[], last: boolean): Promise<JobRecord> {
    const job = await this.unfinished(id, 'restore');
    if (job.phase !== 'write') return job;
    const step = await this.jobs.guard(job, async () => {
      if (job.collectionId === null) throw collectionGone(job);
      return this.records.restoreStep(
        { space: job.space, name: job.collection },
        job.collectionId,
        job.id,
        job.afterKey,
        entries,
        last ? { nextPhase: job.params.replace === true ? 'delete' : 'verify' } : undefined,
      );
    });
    return step?.job ?? ((await this.jobsRepository.get(job.id)) as JobRecord);
  }

  /** Ends a restore in its verify phase: the target's checksum must be the snapshot's. */
  async verifyRestore(id: bigint, checksum: string): Promise<JobRecord> {
    const job = await this.unfinished(id, 'restore');
    if (job.phase !== 'verify') {
      throw invalid('INVALID_ARGUMENT', `job ${id} is in its ${job.phase} phase, not verify`);
    }
    const snapshot = await this.snapshots.get(job.params.snapshotId ?? 0, job.space);
    const ended = await this.jobsRepository.verify(job.id, snapshot !== undefined && snapshot.checksum === checksum);
    return ended ?? ((await this.jobsRepository.get(job.id)) as JobRecord);
  }

  /** The snapshot a restore job restores (for the worker, which reads its object). */
  async ofRestore(job: JobRecord): Promise<SnapshotRecord | undefined> {
    return this.snapshots.get(job.params.snapshotId ?? 0, job.space);
  }

  async schedule(address: CollectionAddress, everySeconds: number, keep: number): Promise<ScheduleRecord> {
    if (
      !Number.isSafeInteger(everySeconds) ||
      everySeconds < MIN_SCHEDULE_SECONDS ||
      everySeconds > MAX_SCHEDULE_SECONDS
    ) {
      throw invalid(
        'INVALID_ARGUMENT',
        `every_seconds must be from ${MIN_SCHEDULE_SECONDS} to ${MAX_SCHEDULE_SECONDS}`,
      );
    }
    if (!Number.isSafeInteger(keep) || keep < 1 || keep > MAX_SCHEDULE_KEEP) {
      throw invalid('INVALID_ARGUMENT', `keep must be from 1 to ${MAX_SCHEDULE_KEEP}`);
    }
    const collection = await this.resolver.resolve(address);
    const created = await this.snapshots.schedule(collection, everySeconds, keep, MAX_SCHEDULES_PER_COLLECTION);
    if (created === 'limit-reached') {
      throw invalid(
        'INVALID_ARGUMENT',
        `collection "${collection.name}" already has ${MAX_SCHEDULES_PER_COLLECTION} snapshot schedules, the most it may have`,
      );
    }
    return created;
  }

  /** A collection's schedules, or (no address) every collection's. */
  async schedules(address: CollectionAddress | undefined): Promise<ScheduleRecord[]> {
    if (address === undefined) return this.snapshots.schedules(undefined);
    return this.snapshots.schedules((await this.resolver.resolve(address)).id);
  }

  async deleteSchedule(address: CollectionAddress, id: bigint): Promise<void> {
    const collection = await this.resolver.resolve(address);
    const scheduleId = idOf(id, 'schedule');
    if (scheduleId === undefined || !(await this.snapshots.deleteSchedule(scheduleId, collection.id))) {
      throw scheduleNotFound(id, address);
    }
  }

  /** A schedule's turn: starts its snapshot. A schedule deleted meanwhile does nothing. */
  async runSchedule(id: bigint): Promise<SnapshotRecord | undefined> {
    const scheduleId = idOf(id, 'schedule');
    const schedule = scheduleId === undefined ? undefined : await this.snapshots.scheduleById(scheduleId);
    if (schedule === undefined) return undefined;
    const { snapshot } = await this.start(
      { space: schedule.space, name: schedule.collection },
      'schedule',
      schedule.id,
    );
    return snapshot;
  }
}
