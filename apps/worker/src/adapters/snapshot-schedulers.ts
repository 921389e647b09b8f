import type { Queue } from 'bullmq';
import type { Logger } from '@rosetta/platform';
import { snapshotsScheduleJob, type SnapshotSchedule } from '@rosetta/proto';
import { timeJob } from '../metrics';

/** Keeps the turns of snapshot schedules in step with the schedules the record service holds. */
export interface ScheduleSync {
  sync(schedules: readonly SnapshotSchedule[]): Promise<void>;
}

const SCHEDULER_PREFIX = 'snapshot-schedule-';

/** What a schedule's turns depend on: a changed schedule is scheduled anew. */
const shape = (s: SnapshotSchedule) => `${s.id}:${s.everySeconds}`;

/**
 * The clustered worker's: one BullMQ job scheduler per schedule (`snapshots.schedule` every
 * `every_seconds`), upserted by every worker (idempotent) and removed with its schedule.
 */
export class QueueScheduleSync implements ScheduleSync {
  private synced = '';

  constructor(private readonly queue: Queue) {}

  async sync(schedules: readonly SnapshotSchedule[]): Promise<void> {
    const wanted = schedules.map(shape).join(',');
    if (wanted === this.synced) return;
    const ids = new Set(schedules.map((s) => `${SCHEDULER_PREFIX}${s.id}`));
    for (const scheduler of await this.queue.getJobSchedulers()) {
      if (scheduler.key.startsWith(SCHEDULER_PREFIX) && !ids.has(scheduler.key)) {
        await this.queue.removeJobScheduler(scheduler.key);
      }
    }
    for (const schedule of schedules) {
      await this.queue.upsertJobScheduler(
        `${SCHEDULER_PREFIX}${schedule.id}`,
        { every: schedule.everySeconds * 1000 },
        {
          name: snapshotsScheduleJob.name,
          data: { scheduleId: String(schedule.id) },
          opts: {
            attempts: snapshotsScheduleJob.attempts,
            backoff: { type: 'exponential', delay: snapshotsScheduleJob.backoffMs },
          },
        },
      );
    }
    this.synced = wanted;
  }
}

/** The all-in-one process's: a timer per schedule. */
export class TimerScheduleSync implements ScheduleSync {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly turn: (scheduleId: bigint) => Promise<unknown>,
    private readonly logger: Logger,
  ) {}

  sync(schedules: readonly SnapshotSchedule[]): Promise<void> {
    const wanted = new Map(schedules.map((s) => [shape(s), s]));
    for (const [key, timer] of this.timers) {
      if (!wanted.has(key)) {
        clearInterval(timer);
        this.timers.delete(key);
      }
    }
    for (const [key, schedule] of wanted) {
      if (this.timers.has(key)) continue;
      const timer = setInterval(() => {
        timeJob(snapshotsScheduleJob.name, () => this.turn(schedule.id)).catch((error: unknown) =>
          this.logger.warn({ err: error, schedule: String(schedule.id) }, 'scheduled snapshot failed to start'),
        );
      }, schedule.everySeconds * 1000);
      timer.unref();
      this.timers.set(key, timer);
    }
    return Promise.resolve();
  }

  stop(): void {
    for (const timer of this.timers.values()) clearInterval(timer);
    this.timers.clear();
  }
}
