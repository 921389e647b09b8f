import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Request, RequestHandler } from 'express';
import { DomainError } from '@rosetta/core';
import { SnapshotMissing, type Logger, type SnapshotStore } from '@rosetta/platform';
import type { Snapshot, SnapshotSchedule } from '@rosetta/proto';
import type { Caller } from '../auth/callers';
import type { RecordApi } from '../clients/record-api';
import { openStream } from '../http/overload';
import { jsonBody } from './body';
import { instant, instantOrNull, jobJson, jobOf } from './jobs';
import { idParam, type RouteTable } from './route';
import {
  CollectionParamsSchema,
  CreateScheduleBodySchema,
  JobLocationSchema,
  RestoreSnapshotBodySchema,
  RestoreStartedSchema,
  ScheduleParamsSchema,
  SnapshotDownloadHeadersSchema,
  SnapshotListSchema,
  SnapshotLocationSchema,
  SnapshotParamsSchema,
  SnapshotQuerySchema,
  SnapshotScheduleListSchema,
  SnapshotScheduleSchema,
  SnapshotSchema,
  SnapshotStartedSchema,
  SpaceParamsSchema,
  StartSnapshotBodySchema,
} from './schemas';

const SNAPSHOTS = '/v1/spaces/:space/snapshots';
const SNAPSHOTS_DOC = '/v1/spaces/{space}/snapshots';
const SCHEDULES = '/v1/spaces/:space/collections/:collection/snapshot-schedules';
const SCHEDULES_DOC = '/v1/spaces/{space}/collections/{collection}/snapshot-schedules';
const TAGS = ['snapshots'];
/** Snapshots listed when the request names no limit. */
const DEFAULT_SNAPSHOTS_LIMIT = 100;
/** Request bodies here are a few small fields. */
const JSON_LIMIT_BYTES = 64 * 1024;

/**
 * The snapshot store as the gateway uses it: downloads are read from it, and the objects of
 * deleted snapshots deleted in it.
 */
export interface SnapshotObjects {
  readonly store: SnapshotStore;
  /** Where a failure to delete an object (an orphan left in the store) is logged. */
  readonly logger: Logger;
}

const call = (caller: Caller) => ({ headers: caller.headers });

/** Where /v1 serves a snapshot; its download is under `/download`. */
export const snapshotPath = (space: string, id: bigint) => `/v1/spaces/${encodeURIComponent(space)}/snapshots/${id}`;

/** A snapshot as /v1 shows it: never its object's name in the store (the gateway serves the object itself). */
function snapshotJson(snapshot: Snapshot) {
  return {
    id: Number(snapshot.id),
    space: snapshot.space,
    collection: snapshot.collection,
    version: snapshot.version === '' ? null : snapshot.version,
    state: snapshot.state,
    records: Number(snapshot.records),
    bytes: Number(snapshot.bytes),
    checksum: snapshot.checksum === '' ? null : snapshot.checksum,
    jobId: Number(snapshot.jobId),
    scheduleId: snapshot.scheduleId === 0n ? null : Number(snapshot.scheduleId),
    created: instant(snapshot.createdUs),
    finished: instantOrNull(snapshot.finishedUs),
  };
}

function scheduleJson(schedule: SnapshotSchedule) {
  return {
    id: Number(schedule.id),
    everySeconds: schedule.everySeconds,
    keep: schedule.keep,
    created: instant(schedule.createdUs),
  };
}

/** The snapshot of a record-service answer. */
export function snapshotOf(answer: { snapshot?: Snapshot | undefined }): Snapshot {
  if (answer.snapshot === undefined) throw new Error('the record service answered without the snapshot');
  return answer.snapshot;
}

/**
 * The store, which downloads and deletes need. A gateway created without one (an embedding that
 * passes none; both processes always have one) cannot serve objects, nor delete them without
 * leaving them behind unnoticed: it says so rather than half-doing either.
 */
function storeOf(objects: SnapshotObjects | undefined): SnapshotObjects {
  if (objects === undefined) {
    throw new DomainError('UNAVAILABLE', 'the gateway has no snapshot store', {
      publicMessage: 'this gateway has no snapshot store: snapshot objects can be neither downloaded nor deleted here',
    });
  }
  return objects;
}

/**
 * Deletes a snapshot: its index entry through the contract (which checks the caller's rights
 * and refuses a snapshot still being made), then its object from the store. The snapshot is
 * deleted once its index entry is: a failure to delete the object is logged, and the object
 * stays in the store as an orphan for an operator to remove. /v1 and GraphQL both delete here.
 */
export async function deleteSnapshot(
  api: RecordApi,
  objects: SnapshotObjects | undefined,
  caller: Caller,
  ref: { space: string; id: bigint },
): Promise<void> {
  const { store, logger } = storeOf(objects);
  const snapshot = snapshotOf(await api.snapshots.deleteSnapshot(ref, call(caller)));
  try {
    await store.delete(snapshot.object);
  } catch (error) {
    logger.error(
      { err: error, space: snapshot.space, snapshot: String(snapshot.id), object: snapshot.object },
      'deleting a snapshot object failed: it remains in the store, orphaned',
    );
  }
}

/** A ready snapshot's object, open for reading. */
async function openObject(store: SnapshotStore, snapshot: Snapshot): Promise<Readable> {
  if (snapshot.state !== 'ready') {
    throw new DomainError('SNAPSHOT_NOT_READY', `snapshot ${snapshot.id} is ${snapshot.state}`, {
      publicMessage: `snapshot ${snapshot.id} is ${snapshot.state === 'creating' ? 'still being made' : 'failed'}; it cannot be downloaded`,
    });
  }
  try {
    return await store.read(snapshot.object);
  } catch (error) {
    if (!(error instanceof SnapshotMissing)) throw error;
    throw new DomainError('SNAPSHOT_CORRUPT', error.message, {
      publicMessage: `the object of snapshot ${snapshot.id} is missing from the snapshot store`,
      cause: error,
    });
  }
}

/**
 * Passes on a stream of exactly `size` bytes, and fails one of any other size: an object changed
 * in the store since the index recorded its size. The download then breaks off (a client waiting
 * for the Content-Length announced would otherwise wait forever, or read past the body), and the
 * failure is logged.
 */
function exactly(size: bigint): Transform {
  let seen = 0n;
  const wrong = () => new Error(`the snapshot object is not the ${size} bytes its index entry says`);
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += BigInt(chunk.byteLength);
      if (seen > size) callback(wrong());
      else callback(null, chunk);
    },
    flush(callback) {
      callback(seen === size ? null : wrong());
    },
  });
}

/** A JSON body, or none at all (read as `{}`): for routes whose body only has optional fields. */
function optionalJsonBody(limitBytes: number): RequestHandler[] {
  return jsonBody(limitBytes).map((handler): RequestHandler => (req, res, next) => {
    const empty = req.headers['transfer-encoding'] === undefined && (req.headers['content-length'] ?? '0') === '0';
    if (!empty) {
      handler(req, res, next);
      return;
    }
    req.body = {};
    next();
  });
}

/** The snapshot a path names. */
const snapshotRef = (req: Request) => ({ space: String(req.params.space), id: idParam(req, 'snapshot') });

/** The collection a path names. */
const collectionRef = (req: Request) => ({
  space: String(req.params.space),
  collection: String(req.params.collection),
});

/**
 * Snapshots of collections (see docs/api.md#snapshots and docs/jobs.md#snapshots): taken and
 * restored as jobs that the worker runs, listed, downloaded (the gateway streams the object from
 * the snapshot store) and deleted here, and schedules that take them regularly. Who may do what is
 * the record service's to decide; the gateway asks it before it touches an object.
 */
export function snapshotRoutes(table: RouteTable, api: RecordApi, objects: SnapshotObjects | undefined): void {
  const { snapshots } = api;
  const json = jsonBody(JSON_LIMIT_BYTES);
  const snapshotResponse = (description: string) => ({
    description,
    content: { 'application/json': { schema: SnapshotSchema } },
  });

  table.add(
    {
      method: 'post',
      expressPath: '/v1/spaces/:space/collections/:collection/snapshots',
      openapiPath: '/v1/spaces/{space}/collections/{collection}/snapshots',
      summary: 'Take a snapshot: a job copying the collection, as it is when the job runs, to the snapshot store',
      description:
        'The body is optional: `{"version"}` copies that version of a versioned collection (default: the master leaf). Follow the job, or the snapshot until it is `ready`.',
      tags: TAGS,
      params: CollectionParamsSchema,
      body: StartSnapshotBodySchema,
      before: optionalJsonBody(JSON_LIMIT_BYTES),
      responses: {
        202: {
          description: 'The snapshot and its job, queued',
          headers: SnapshotLocationSchema,
          content: { 'application/json': { schema: SnapshotStartedSchema } },
        },
      },
      errors: [
        'INVALID_ARGUMENT',
        'UNSUPPORTED_MEDIA_TYPE',
        'COLLECTION_NOT_FOUND',
        'SPACE_NOT_FOUND',
        'VERSION_NOT_FOUND',
      ],
    },
    async (req, res, { body, caller }) => {
      const answer = await snapshots.startSnapshot(
        { collection: { ...collectionRef(req), version: body.version ?? '' } },
        call(caller),
      );
      const snapshot = snapshotOf(answer);
      res
        .status(202)
        .location(snapshotPath(snapshot.space, snapshot.id))
        .json({ snapshot: snapshotJson(snapshot), job: jobJson(jobOf(answer)) });
    },
  );

  table.add(
    {
      method: 'get',
      expressPath: SNAPSHOTS,
      openapiPath: SNAPSHOTS_DOC,
      summary: 'A space’s snapshots, newest first',
      tags: TAGS,
      params: SpaceParamsSchema,
      query: SnapshotQuerySchema,
      responses: {
        200: { description: 'A page of snapshots', content: { 'application/json': { schema: SnapshotListSchema } } },
      },
      errors: ['SPACE_NOT_FOUND', 'INVALID_ARGUMENT'],
    },
    async (req, res, { query, caller }) => {
      const limit = query.limit === undefined ? DEFAULT_SNAPSHOTS_LIMIT : Number(query.limit);
      const page = await snapshots.listSnapshots(
        {
          space: String(req.params.space),
          collection: query.collection ?? '',
          beforeId: BigInt(query.before ?? 0),
          limit,
        },
        call(caller),
      );
      const last = page.snapshots[page.snapshots.length - 1];
      res.json({
        snapshots: page.snapshots.map(snapshotJson),
        next: page.snapshots.length === limit && last !== undefined ? Number(last.id) : null,
      });
    },
  );

  table.add(
    {
      method: 'get',
      expressPath: `${SNAPSHOTS}/:id`,
      openapiPath: `${SNAPSHOTS_DOC}/{id}`,
      summary: 'A snapshot: its state, size and checksum',
      tags: TAGS,
      params: SnapshotParamsSchema,
      responses: { 200: snapshotResponse('The snapshot') },
      errors: ['SNAPSHOT_NOT_FOUND', 'SPACE_NOT_FOUND', 'INVALID_ARGUMENT'],
    },
    async (req, res, { caller }) => {
      res.json(snapshotJson(snapshotOf(await snapshots.getSnapshot(snapshotRef(req), call(caller)))));
    },
  );

  table.add(
    {
      method: 'get',
      expressPath: `${SNAPSHOTS}/:id/download`,
      openapiPath: `${SNAPSHOTS_DOC}/{id}/download`,
      summary: 'A ready snapshot’s object: gzipped NDJSON, a header line and then one line per record in key order',
      description:
        'Streamed from the snapshot store. X-Checksum-SHA256 is the checksum of the record lines once decompressed (every line but the header), not of the bytes sent.',
      tags: TAGS,
      params: SnapshotParamsSchema,
      responses: {
        200: {
          description: 'The object',
          headers: SnapshotDownloadHeadersSchema,
          content: { 'application/gzip': { schema: { type: 'string', format: 'binary' } } },
        },
      },
      errors: [
        'SNAPSHOT_NOT_FOUND',
        'SNAPSHOT_NOT_READY',
        'SNAPSHOT_CORRUPT',
        'SPACE_NOT_FOUND',
        'INVALID_ARGUMENT',
        'RATE_LIMITED',
        'UNAVAILABLE',
      ],
    },
    async (req, res, { caller }) => {
      const { store } = storeOf(objects);
      const snapshot = snapshotOf(await snapshots.getSnapshot(snapshotRef(req), call(caller)));
      if (req.method !== 'HEAD') openStream(res);
      const object = await openObject(store, snapshot);
      res
        .status(200)
        .attachment(`${snapshot.collection}-${snapshot.id}.ndjson.gz`)
        .set({
          'content-type': 'application/gzip',
          'content-length': String(snapshot.bytes),
          'x-checksum-sha256': snapshot.checksum,
        });
      if (req.method === 'HEAD') {
        object.destroy();
        res.end();
        return;
      }
      try {
        // Back-pressure: the store is read as fast as the client takes the bytes. A client that
        // goes away ends the pipeline, which destroys the read.
        await pipeline(object, exactly(snapshot.bytes), res);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE') return;
        throw error;
      }
    },
  );

  table.add(
    {
      method: 'delete',
      expressPath: `${SNAPSHOTS}/:id`,
      openapiPath: `${SNAPSHOTS_DOC}/{id}`,
      summary: 'Delete a snapshot: its index entry, then its object in the snapshot store',
      description:
        'A snapshot still being made is refused (cancel its job first). Once the index entry is gone the answer is 204, even if deleting the object failed: that failure is logged, and the object remains in the store as an orphan.',
      tags: TAGS,
      params: SnapshotParamsSchema,
      responses: { 204: { description: 'Deleted' } },
      errors: ['SNAPSHOT_NOT_FOUND', 'SNAPSHOT_NOT_READY', 'SPACE_NOT_FOUND', 'INVALID_ARGUMENT', 'UNAVAILABLE'],
    },
    async (req, res, { caller }) => {
      await deleteSnapshot(api, objects, caller, snapshotRef(req));
      res.status(204).end();
    },
  );

  table.add(
    {
      method: 'post',
      expressPath: `${SNAPSHOTS}/:id/restore`,
      openapiPath: `${SNAPSHOTS_DOC}/{id}/restore`,
      summary: 'Restore a ready snapshot into a new collection of its space, or over an existing one (`replace`)',
      description:
        'A job writes the snapshot’s records, deletes (with `replace`) those it does not hold, then verifies the result against the checksum; see docs/jobs.md#restores.',
      tags: TAGS,
      params: SnapshotParamsSchema,
      body: RestoreSnapshotBodySchema,
      before: json,
      responses: {
        202: {
          description: 'The restore job, queued',
          headers: JobLocationSchema,
          content: { 'application/json': { schema: RestoreStartedSchema } },
        },
      },
      errors: [
        'SNAPSHOT_NOT_FOUND',
        'SNAPSHOT_NOT_READY',
        'COLLECTION_EXISTS',
        'COLLECTION_NOT_FOUND',
        'SPACE_NOT_FOUND',
        'INVALID_NAME',
        'INVALID_ARGUMENT',
        'UNSUPPORTED_MEDIA_TYPE',
      ],
    },
    async (req, res, { body, caller }) => {
      const ref = snapshotRef(req);
      const job = jobOf(
        await snapshots.startRestore(
          {
            snapshot: ref,
            target: { space: ref.space, collection: body.collection },
            replace: body.replace ?? false,
          },
          call(caller),
        ),
      );
      res
        .status(202)
        .location(`/v1/spaces/${encodeURIComponent(ref.space)}/jobs/${job.id}`)
        .json({ job: jobJson(job) });
    },
  );

  table.add(
    {
      method: 'post',
      expressPath: SCHEDULES,
      openapiPath: SCHEDULES_DOC,
      summary: 'Schedule snapshots of a collection: one every `everySeconds`, keeping the newest `keep`',
      tags: TAGS,
      params: CollectionParamsSchema,
      body: CreateScheduleBodySchema,
      before: json,
      responses: {
        201: { description: 'The schedule', content: { 'application/json': { schema: SnapshotScheduleSchema } } },
      },
      errors: ['COLLECTION_NOT_FOUND', 'SPACE_NOT_FOUND', 'INVALID_ARGUMENT', 'UNSUPPORTED_MEDIA_TYPE'],
    },
    async (req, res, { body, caller }) => {
      const { schedule } = await snapshots.scheduleSnapshots(
        { collection: collectionRef(req), everySeconds: body.everySeconds, keep: body.keep },
        call(caller),
      );
      if (schedule === undefined) throw new Error('the record service created a schedule without returning it');
      res.status(201).json(scheduleJson(schedule));
    },
  );

  table.add(
    {
      method: 'get',
      expressPath: SCHEDULES,
      openapiPath: SCHEDULES_DOC,
      summary: 'The snapshot schedules of a collection',
      tags: TAGS,
      params: CollectionParamsSchema,
      responses: {
        200: {
          description: 'The schedules',
          content: { 'application/json': { schema: SnapshotScheduleListSchema } },
        },
      },
      errors: ['COLLECTION_NOT_FOUND', 'SPACE_NOT_FOUND'],
    },
    async (req, res, { caller }) => {
      const { schedules } = await snapshots.listSchedules({ collection: collectionRef(req) }, call(caller));
      res.json({ schedules: schedules.map(scheduleJson) });
    },
  );

  table.add(
    {
      method: 'delete',
      expressPath: `${SCHEDULES}/:id`,
      openapiPath: `${SCHEDULES_DOC}/{id}`,
      summary: 'Remove a snapshot schedule: it takes no more snapshots (those it took stay)',
      tags: TAGS,
      params: ScheduleParamsSchema,
      responses: { 204: { description: 'Removed' } },
      errors: ['SCHEDULE_NOT_FOUND', 'COLLECTION_NOT_FOUND', 'SPACE_NOT_FOUND', 'INVALID_ARGUMENT'],
    },
    async (req, res, { caller }) => {
      await snapshots.deleteSchedule({ collection: collectionRef(req), id: idParam(req, 'schedule') }, call(caller));
      res.status(204).end();
    },
  );
}
