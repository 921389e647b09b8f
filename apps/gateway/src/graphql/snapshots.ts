import type { Collection, Snapshot, SnapshotSchedule } from '@rosetta/proto';
import { jobOf } from '../v1/jobs';
import { deleteSnapshot, snapshotOf, snapshotPath, type SnapshotObjects } from '../v1/snapshots';
import type { GraphQLContext } from './context';
import { idOf } from './jobs';
import { refOf } from './mutations';
import type { PageLimits } from './queries';
import { call, orNull, pageSize } from './shared';

/** Snapshots listed when `first` is not given (the SDL's default, and the service's). */
const DEFAULT_SNAPSHOTS = 100;

interface SnapshotArgs {
  readonly space: string;
  readonly id: string;
}

interface TakeSnapshotArgs {
  readonly space: string;
  readonly collection: string;
  readonly version?: string | null;
}

interface RestoreSnapshotArgs extends SnapshotArgs {
  readonly collection: string;
  readonly replace?: boolean | null;
}

interface ScheduleSnapshotsArgs {
  readonly space: string;
  readonly collection: string;
  readonly everySeconds: number;
  readonly keep: number;
}

interface ScheduleArgs {
  readonly space: string;
  readonly collection: string;
  readonly id: string;
}

const snapshotRef = (args: SnapshotArgs) => ({ space: args.space, id: idOf(args.id, 'snapshot') });

/**
 * Snapshots of collections, their restores and schedules, over the SnapshotService contract,
 * which decides who may do what. Objects are not served here: a ready snapshot's `downloadPath`
 * is the /v1 route that streams it. Deleting a snapshot deletes its object as /v1 does, with the
 * same code (`objects`: the gateway's snapshot store; none: deleting answers UNAVAILABLE).
 */
export function snapshotResolvers(limits: PageLimits, objects: SnapshotObjects | undefined) {
  return {
    Query: {
      snapshot: async (_: unknown, args: SnapshotArgs, ctx: GraphQLContext) => {
        const answer = await orNull(ctx.api.snapshots.getSnapshot(snapshotRef(args), await call(ctx)), [
          'SNAPSHOT_NOT_FOUND',
          'SPACE_NOT_FOUND',
        ]);
        return answer === null ? null : snapshotOf(answer);
      },
      snapshots: async (
        _: unknown,
        args: { space: string; collection?: string | null; first?: number | null; before?: string | null },
        ctx: GraphQLContext,
      ): Promise<Snapshot[]> => {
        const first = pageSize(args.first, DEFAULT_SNAPSHOTS, limits.maxPage);
        // The contract reads a limit of 0 as its default: ask for nothing by not asking.
        if (first === 0) return [];
        const { snapshots } = await ctx.api.snapshots.listSnapshots(
          {
            space: args.space,
            collection: args.collection ?? '',
            beforeId: args.before === null || args.before === undefined ? 0n : idOf(args.before, 'snapshot'),
            limit: first,
          },
          await call(ctx),
        );
        return snapshots;
      },
    },
    Collection: {
      snapshotSchedules: async (c: Collection, _: unknown, ctx: GraphQLContext) =>
        (await ctx.api.snapshots.listSchedules({ collection: { space: c.space, collection: c.name } }, await call(ctx)))
          .schedules,
    },
    Snapshot: {
      id: (s: Snapshot) => String(s.id),
      version: (s: Snapshot) => (s.version === '' ? null : s.version),
      state: (s: Snapshot) => s.state.toUpperCase(),
      checksum: (s: Snapshot) => (s.checksum === '' ? null : s.checksum),
      jobId: (s: Snapshot) => String(s.jobId),
      scheduleId: (s: Snapshot) => (s.scheduleId === 0n ? null : String(s.scheduleId)),
      created: (s: Snapshot) => s.createdUs,
      finished: (s: Snapshot) => (s.finishedUs === 0n ? null : s.finishedUs),
      downloadPath: (s: Snapshot) => (s.state === 'ready' ? `${snapshotPath(s.space, s.id)}/download` : null),
    },
    SnapshotSchedule: {
      id: (s: SnapshotSchedule) => String(s.id),
      created: (s: SnapshotSchedule) => s.createdUs,
    },
    Mutation: {
      takeSnapshot: async (_: unknown, { input }: { input: TakeSnapshotArgs }, ctx: GraphQLContext) => {
        const answer = await ctx.api.snapshots.startSnapshot({ collection: await refOf(ctx, input) }, await call(ctx));
        return { snapshot: snapshotOf(answer), job: jobOf(answer) };
      },
      restoreSnapshot: async (_: unknown, { input }: { input: RestoreSnapshotArgs }, ctx: GraphQLContext) =>
        jobOf(
          await ctx.api.snapshots.startRestore(
            {
              snapshot: snapshotRef(input),
              target: { space: input.space, collection: input.collection },
              replace: input.replace ?? false,
            },
            await call(ctx),
          ),
        ),
      deleteSnapshot: async (_: unknown, { input }: { input: SnapshotArgs }, ctx: GraphQLContext) => {
        await deleteSnapshot(ctx.api, objects, await ctx.caller(), snapshotRef(input));
        return true;
      },
      scheduleSnapshots: async (_: unknown, { input }: { input: ScheduleSnapshotsArgs }, ctx: GraphQLContext) => {
        const { schedule } = await ctx.api.snapshots.scheduleSnapshots(
          {
            collection: { space: input.space, collection: input.collection },
            everySeconds: input.everySeconds,
            keep: input.keep,
          },
          await call(ctx),
        );
        if (schedule === undefined) throw new Error('the record service created a schedule without returning it');
        return schedule;
      },
      deleteSnapshotSchedule: async (_: unknown, { input }: { input: ScheduleArgs }, ctx: GraphQLContext) => {
        await ctx.api.snapshots.deleteSchedule(
          { collection: { space: input.space, collection: input.collection }, id: idOf(input.id, 'schedule') },
          await call(ctx),
        );
        return true;
      },
    },
  };
}
