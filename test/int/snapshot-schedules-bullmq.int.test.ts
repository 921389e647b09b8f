import { create } from '@bufbuild/protobuf';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { QueueScheduleSync } from '../../apps/worker/src/adapters/snapshot-schedulers';
import { jobsRunJob, snapshotsScheduleJob, SnapshotScheduleSchema } from '../../packages/proto/src';
import { redisPrefix } from '../support/database';
import { REDIS_URL } from '../support/env';

/**
 * Snapshot schedules as BullMQ job schedulers on real Redis: one per schedule, at its interval,
 * carrying its id; a changed interval is rescheduled, a deleted schedule's scheduler removed, and
 * the queue's other schedulers (the dispatcher's) left alone.
 */

let redis: Redis;
let queue: Queue;

beforeAll(() => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  queue = new Queue(jobsRunJob.queue, { connection: redis, prefix: `${redisPrefix()}bull` });
});

afterAll(async () => {
  await queue.close();
  redis.disconnect();
});

const schedule = (id: bigint, everySeconds: number) => create(SnapshotScheduleSchema, { id, everySeconds, keep: 3 });

async function schedulers() {
  const all = await queue.getJobSchedulers();
  return all
    .map((s) => ({ key: s.key, every: Number(s.every), name: s.name, data: s.template?.data }))
    .sort((a, b) => a.key.localeCompare(b.key));
}

it('keeps one job scheduler per schedule, in step with the schedules', async () => {
  await queue.upsertJobScheduler('jobs.dispatch', { every: 1000 }, { name: 'jobs.dispatch', data: {} });
  const sync = new QueueScheduleSync(queue);
  await sync.sync([schedule(1n, 60), schedule(2n, 3600)]);
  expect(await schedulers()).toEqual([
    { key: 'jobs.dispatch', every: 1000, name: 'jobs.dispatch', data: undefined },
    { key: 'snapshot-schedule-1', every: 60_000, name: snapshotsScheduleJob.name, data: { scheduleId: '1' } },
    { key: 'snapshot-schedule-2', every: 3_600_000, name: snapshotsScheduleJob.name, data: { scheduleId: '2' } },
  ]);

  // Schedule 1 deleted, schedule 2 every two hours now, schedule 3 new.
  await sync.sync([schedule(2n, 7200), schedule(3n, 120)]);
  expect(await schedulers()).toEqual([
    { key: 'jobs.dispatch', every: 1000, name: 'jobs.dispatch', data: undefined },
    { key: 'snapshot-schedule-2', every: 7_200_000, name: snapshotsScheduleJob.name, data: { scheduleId: '2' } },
    { key: 'snapshot-schedule-3', every: 120_000, name: snapshotsScheduleJob.name, data: { scheduleId: '3' } },
  ]);

  // Another worker with the same schedules changes nothing.
  await new QueueScheduleSync(queue).sync([schedule(2n, 7200), schedule(3n, 120)]);
  expect((await schedulers()).map((s) => s.key)).toEqual([
    'jobs.dispatch',
    'snapshot-schedule-2',
    'snapshot-schedule-3',
  ]);

  await sync.sync([]);
  expect((await schedulers()).map((s) => s.key)).toEqual(['jobs.dispatch']);
});
