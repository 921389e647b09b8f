import { Code, ConnectError } from '@connectrpc/connect';
import { UnrecoverableError } from 'bullmq';
import {
  eventsCompactJob,
  eventsRelayJob,
  jobsDispatchJob,
  jobsRunJob,
  snapshotsScheduleJob,
  wireError,
} from '@rosetta/proto';
import { createJobProcessor, type JobHandlers } from './queues';

const relayJob = { name: eventsRelayJob.name, data: {} };

/** Handlers that fail the test if a job runs that it did not expect. */
const unexpected = (name: string) => () => Promise.reject(new Error(`${name} was not expected to run`));

function processorFailingWith(error: unknown) {
  return createJobProcessor({ relayEvents: () => Promise.reject(error), compactChanges: unexpected('compact') });
}

describe('createJobProcessor', () => {
  it('runs the relay for events.relay and resolves with its count', async () => {
    const signals: Array<AbortSignal | undefined> = [];
    const handlers: JobHandlers = {
      relayEvents: (signal) => {
        signals.push(signal);
        return Promise.resolve(7);
      },
      compactChanges: unexpected('compact'),
    };
    const signal = new AbortController().signal;

    await expect(createJobProcessor(handlers)(relayJob, 'token', signal)).resolves.toBe(7);
    expect(signals).toEqual([signal]);
  });

  it('runs the retention for events.compact and resolves with what it deleted', async () => {
    const handlers: JobHandlers = { relayEvents: unexpected('relay'), compactChanges: () => Promise.resolve(12) };

    await expect(createJobProcessor(handlers)({ name: eventsCompactJob.name, data: {} })).resolves.toBe(12);
    await expect(
      createJobProcessor(handlers)({ name: eventsCompactJob.name, data: { unexpected: 1 } }),
    ).rejects.toBeInstanceOf(UnrecoverableError);
  });

  it('dispatches for jobs.dispatch, runs a job for jobs.run and a schedule for snapshots.schedule', async () => {
    const ran: unknown[] = [];
    const handlers: JobHandlers = {
      relayEvents: unexpected('relay'),
      compactChanges: unexpected('compact'),
      dispatchJobs: () => Promise.resolve(3),
      runJob: (ref, signal) => {
        ran.push([ref, signal]);
        return Promise.resolve('done');
      },
      runSchedule: (id) => {
        ran.push(id);
        return Promise.resolve('started');
      },
    };
    const signal = new AbortController().signal;
    const processor = createJobProcessor(handlers);
    await expect(processor({ name: jobsDispatchJob.name, data: {} })).resolves.toBe(3);
    const run = { name: jobsRunJob.name, data: { jobId: '42', kind: 'restore', space: 'team' } };
    await expect(processor(run, 't', signal)).resolves.toBe('done');
    await expect(processor({ name: snapshotsScheduleJob.name, data: { scheduleId: '7' } })).resolves.toBe('started');
    expect(ran).toEqual([[{ id: 42n, kind: 'restore', space: 'team' }, signal], 7n]);
    for (const data of [
      {},
      { jobId: 'x', kind: 'delete', space: 's' },
      { jobId: '1', kind: 'compact', space: 's' },
      { jobId: '1', kind: 'delete', space: '' },
      { jobId: '1', kind: 'delete', space: 's', extra: true },
    ]) {
      await expect(processor({ name: jobsRunJob.name, data })).rejects.toBeInstanceOf(UnrecoverableError);
    }
    await expect(processor({ name: snapshotsScheduleJob.name, data: { scheduleId: 7 } })).rejects.toBeInstanceOf(
      UnrecoverableError,
    );
  });

  it.each([
    ['INVALID_CURSOR', Code.InvalidArgument],
    ['INVALID_ARGUMENT', Code.InvalidArgument],
    ['SPACE_NOT_FOUND', Code.NotFound],
  ])('turns the domain error %s into an UnrecoverableError that keeps its cause', async (code, connectCode) => {
    const refusal = wireError(connectCode, code, 'refused');

    const failure: unknown = await processorFailingWith(refusal)(relayJob).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(UnrecoverableError);
    expect((failure as Error).message).toContain(code);
    expect((failure as Error).cause).toBe(refusal);
  });

  it.each([
    ['UNAVAILABLE', wireError(Code.Unavailable, 'UNAVAILABLE', undefined)],
    ['INTERNAL', wireError(Code.Internal, 'INTERNAL', 'internal error (id 1)')],
    ['a transport failure', new ConnectError('connection refused', Code.Unavailable)],
    ['a deadline', new ConnectError('deadline exceeded', Code.DeadlineExceeded)],
    ['a Redis failure', new Error("Stream isn't writeable and enableOfflineQueue options is false")],
  ])('rethrows %s as is, so that BullMQ retries it', async (_what, error) => {
    await expect(processorFailingWith(error)(relayJob)).rejects.toBe(error);
  });

  it('fails an unknown job for good', async () => {
    const processor = createJobProcessor({
      relayEvents: () => Promise.resolve(0),
      compactChanges: unexpected('compact'),
    });

    await expect(processor({ name: 'records.bulkDelete', data: {} })).rejects.toBeInstanceOf(UnrecoverableError);
  });

  it('fails a job whose payload breaks the catalog schema for good, without running it', async () => {
    let ran = false;
    const processor = createJobProcessor({
      relayEvents: () => {
        ran = true;
        return Promise.resolve(0);
      },
      compactChanges: unexpected('compact'),
    });

    await expect(processor({ name: eventsRelayJob.name, data: { unexpected: 1 } })).rejects.toBeInstanceOf(
      UnrecoverableError,
    );
    expect(ran).toBe(false);
  });
});
