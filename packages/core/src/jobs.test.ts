import { isFinishedJobState, isJobState, jobProgress } from './jobs';

const S = 1_000_000;

describe('jobProgress', () => {
  it('has no rate before the job started', () => {
    expect(jobProgress({ state: 'queued', done: 0, total: 10, startedUs: 0, finishedUs: 0 }, 5 * S)).toEqual({
      done: 0,
      total: 10,
      fraction: 0,
      ratePerSecond: undefined,
      etaSeconds: undefined,
    });
  });

  it('measures a running job against its estimate: rate since it started, time left at that rate', () => {
    expect(jobProgress({ state: 'running', done: 300, total: 1000, startedUs: 10 * S, finishedUs: 0 }, 13 * S)).toEqual(
      {
        done: 300,
        total: 1000,
        fraction: 0.3,
        ratePerSecond: 100,
        etaSeconds: 7,
      },
    );
  });

  it('ends at 1 when the job succeeded, whatever the estimate said, with its rate over its whole run', () => {
    const progress = jobProgress({ state: 'succeeded', done: 90, total: 100, startedUs: S, finishedUs: 4 * S }, 60 * S);
    expect(progress).toMatchObject({ fraction: 1, ratePerSecond: 30, etaSeconds: undefined });
  });

  it('keeps the fraction within 0 and 1, and has no time left for a job that cannot go on', () => {
    expect(jobProgress({ state: 'running', done: 12, total: 10, startedUs: S, finishedUs: 0 }, 2 * S)).toMatchObject({
      fraction: 1,
      etaSeconds: 0,
    });
    expect(jobProgress({ state: 'running', done: 5, total: 0, startedUs: S, finishedUs: 0 }, 2 * S).fraction).toBe(0);
    expect(
      jobProgress({ state: 'cancelled', done: 5, total: 10, startedUs: S, finishedUs: 2 * S }, 9 * S),
    ).toMatchObject({ fraction: 0.5, ratePerSecond: 5, etaSeconds: undefined });
  });

  it('tells no rate when under a millisecond has passed', () => {
    const progress = jobProgress({ state: 'succeeded', done: 3, total: 3, startedUs: S, finishedUs: S + 500 }, 9 * S);
    expect(progress).toMatchObject({ fraction: 1, ratePerSecond: undefined, etaSeconds: undefined });
  });
});

describe('job states', () => {
  it('knows the states and which of them are final', () => {
    expect(['queued', 'running', 'succeeded', 'failed', 'cancelled'].every(isJobState)).toBe(true);
    expect(isJobState('done')).toBe(false);
    expect(['succeeded', 'failed', 'cancelled'].every((s) => isFinishedJobState(s as never))).toBe(true);
    expect(isFinishedJobState('running')).toBe(false);
  });
});
