import type { MessageInitShape } from '@bufbuild/protobuf';
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from '@connectrpc/connect';
import { DomainError, type Principal, type Scope } from '@rosetta/core';
import type { Logger } from '@rosetta/platform';
import {
  SnapshotService as SnapshotServiceDesc,
  type CollectionRef,
  type SnapshotSchema,
  type SnapshotScheduleSchema,
} from '@rosetta/proto';
import type { ScheduleRecord, SnapshotRecord } from '../services/ports';
import { jobMessage, principalName } from './job-routes';
import { recordMessage } from './mappers';
import { guarded, principalOf, type Services } from './routes';

export function snapshotMessage(snapshot: SnapshotRecord): MessageInitShape<typeof SnapshotSchema> {
  return {
    id: BigInt(snapshot.id),
    space: snapshot.space,
    collection: snapshot.collection,
    version: snapshot.version,
    state: snapshot.state,
    records: BigInt(snapshot.records),
    bytes: BigInt(snapshot.bytes),
    checksum: snapshot.checksum,
    object: snapshot.object,
    jobId: BigInt(snapshot.jobId),
    scheduleId: BigInt(snapshot.scheduleId),
    createdUs: BigInt(snapshot.created),
    finishedUs: BigInt(snapshot.finished),
  };
}

function scheduleMessage(schedule: ScheduleRecord): MessageInitShape<typeof SnapshotScheduleSchema> {
  return {
    id: BigInt(schedule.id),
    space: schedule.space,
    collection: schedule.collection,
    everySeconds: schedule.everySeconds,
    keep: schedule.keep,
    createdUs: BigInt(schedule.created),
  };
}

/** A snapshot holds every key of its collection: credentials limited to some keys may not touch it. */
function requireWholeCollection(scopes: readonly Scope[], what: string): void {
  if (scopes.length > 0 && !scopes.some((scope) => scope.keyPrefix === '')) {
    throw new DomainError('PERMISSION_DENIED', `key-scoped credential touched ${what}`, {
      publicMessage: `a credential limited to some keys cannot use ${what}`,
    });
  }
}

const addressOf = (ref: CollectionRef | undefined) => ({
  space: ref?.space ?? '',
  name: ref?.collection ?? '',
  version: ref?.version || undefined,
});

export function snapshotServiceImpl(services: Services, logger: Logger): ServiceImpl<typeof SnapshotServiceDesc> {
  const { snapshots, access } = services;
  /** The caller may act on the whole of a collection at `level`. */
  const allowCollection = async (
    principal: Principal,
    space: string,
    collection: string,
    level: 'read' | 'write',
    what: string,
  ) => {
    requireWholeCollection(await access.check(principal, { space, collection }, level), what);
  };
  /** A snapshot of a space the caller may read, whose collection the caller may use at `level`. */
  const visible = async (context: HandlerContext, space: string, id: bigint, level: 'read' | 'write') => {
    const principal = principalOf(access, context);
    await access.check(principal, { space }, 'read');
    const snapshot = await snapshots.get(space, id);
    await allowCollection(principal, space, snapshot.collection, level, 'snapshots');
    return { principal, snapshot };
  };
  return guarded(
    SnapshotServiceDesc,
    {
      async startSnapshot(req, context) {
        const principal = principalOf(access, context);
        const target = addressOf(req.collection);
        await allowCollection(principal, target.space, target.name, 'read', 'snapshots');
        const { job, snapshot } = await snapshots.start(target, principalName(principal));
        return { job: jobMessage(job), snapshot: snapshotMessage(snapshot) };
      },
      async getSnapshot(req, context) {
        return { snapshot: snapshotMessage((await visible(context, req.space, req.id, 'read')).snapshot) };
      },
      async listSnapshots(req, context) {
        const principal = principalOf(access, context);
        const scopes = await access.check(
          principal,
          { space: req.space, collection: req.collection || undefined },
          'read',
        );
        const found = await snapshots.list(req.space, req.collection, req.beforeId, req.limit);
        const whole = (collection: string) =>
          scopes.length === 0 ||
          scopes.some((s) => s.keyPrefix === '' && (s.collection === '' || s.collection === collection));
        return { snapshots: found.filter((s) => whole(s.collection)).map(snapshotMessage) };
      },
      async deleteSnapshot(req, context) {
        await visible(context, req.space, req.id, 'write');
        return { snapshot: snapshotMessage(await snapshots.delete(req.space, req.id)) };
      },
      async startRestore(req, context) {
        const { principal } = await visible(context, req.snapshot?.space ?? '', req.snapshot?.id ?? 0n, 'read');
        const target = addressOf(req.target);
        await allowCollection(principal, target.space, target.name, 'write', 'restores');
        const job = await snapshots.startRestore(
          req.snapshot?.space ?? '',
          req.snapshot?.id ?? 0n,
          target,
          req.replace,
          principalName(principal),
        );
        return { job: jobMessage(job) };
      },
      async *exportSnapshot(req, context) {
        access.requireAdmin(principalOf(access, context));
        for await (const records of snapshots.export(req.jobId, req.chunkRecords)) {
          if (context.signal.aborted) throw new ConnectError('the caller cancelled', Code.Canceled);
          yield { records: records.map((r) => recordMessage(r)) };
        }
        yield { records: [], last: true };
      },
      async finishSnapshot(req, context) {
        access.requireAdmin(principalOf(access, context));
        const { job, snapshot, expired } = await snapshots.finish(req.jobId, {
          records: req.records,
          bytes: req.bytes,
          checksum: req.checksum,
        });
        return {
          job: jobMessage(job),
          snapshot: snapshot === undefined ? undefined : snapshotMessage(snapshot),
          expired: expired.map(snapshotMessage),
        };
      },
      async restoreStep(req, context) {
        access.requireAdmin(principalOf(access, context));
        const entries = req.entries.map((e) => ({ key: e.key, value: e.value, contentType: e.contentType }));
        return { job: jobMessage(await snapshots.restoreStep(req.jobId, entries, req.last)) };
      },
      async verifyRestore(req, context) {
        access.requireAdmin(principalOf(access, context));
        return { job: jobMessage(await snapshots.verifyRestore(req.jobId, req.checksum)) };
      },
      async scheduleSnapshots(req, context) {
        const target = addressOf(req.collection);
        await allowCollection(principalOf(access, context), target.space, target.name, 'write', 'snapshot schedules');
        return { schedule: scheduleMessage(await snapshots.schedule(target, req.everySeconds, req.keep)) };
      },
      async listSchedules(req, context) {
        const principal = principalOf(access, context);
        if (req.collection === undefined) {
          access.requireAdmin(principal);
          return { schedules: (await snapshots.schedules(undefined)).map(scheduleMessage) };
        }
        const target = addressOf(req.collection);
        await allowCollection(principal, target.space, target.name, 'read', 'snapshot schedules');
        return { schedules: (await snapshots.schedules(target)).map(scheduleMessage) };
      },
      async deleteSchedule(req, context) {
        const target = addressOf(req.collection);
        await allowCollection(principalOf(access, context), target.space, target.name, 'write', 'snapshot schedules');
        await snapshots.deleteSchedule(target, req.id);
        return {};
      },
      async runSchedule(req, context) {
        access.requireAdmin(principalOf(access, context));
        const snapshot = await snapshots.runSchedule(req.id);
        return { snapshot: snapshot === undefined ? undefined : snapshotMessage(snapshot) };
      },
    },
    logger,
  );
}
