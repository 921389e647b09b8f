import type { HandlerContext, ServiceImpl } from '@connectrpc/connect';
import { RecordService, type RpcObserver } from '@rosetta/proto';
import type { RecordCache } from './ports';
import { CallTiming, Stopwatch, timeCache, timeDb, TimedRecordCache, withServerTiming } from './server-timing';

/**
 * The api's Server-Timing on a fake clock: each operation "takes" the time it advances the clock
 * by while it is in flight, so the durations are exact.
 */

beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] }));
afterEach(() => jest.useRealTimers());

/** An operation that takes `ms` and answers `value`. */
const taking =
  <T>(ms: number, value?: T) =>
  async (): Promise<T | undefined> => {
    await Promise.resolve();
    jest.advanceTimersByTime(ms);
    return value;
  };

/** An observer that wraps nothing, so that only the timing is under test. */
const bare: RpcObserver = { observe: (_service, impl) => impl };

const contextOf = () => ({ responseHeader: new Headers() }) as unknown as HandlerContext;

/** A RecordService whose getRecord runs `work`, wrapped as the runtime wraps it with SERVER_TIMING on. */
function timedService(work: () => Promise<unknown>) {
  const impl = { getRecord: work } as unknown as ServiceImpl<typeof RecordService>;
  return withServerTiming(bare).observe(RecordService, impl) as unknown as {
    getRecord(request: unknown, context: HandlerContext): Promise<unknown>;
  };
}

/** Runs `work` as one call; answers its server-timing header. */
async function headerOf(work: () => Promise<unknown>): Promise<string | null> {
  const context = contextOf();
  await timedService(work).getRecord({}, context);
  return context.responseHeader.get('server-timing');
}

describe('Stopwatch', () => {
  it('counts overlapping operations once, and what is still running', () => {
    const watch = new Stopwatch();
    expect(watch.elapsed()).toBe(0);
    watch.start();
    watch.start();
    jest.advanceTimersByTime(20);
    watch.stop();
    jest.advanceTimersByTime(20);
    watch.stop();
    jest.advanceTimersByTime(50);
    expect(watch.elapsed()).toBe(40);
    watch.start();
    jest.advanceTimersByTime(5);
    expect(watch.elapsed()).toBe(45);
  });
});

describe('CallTiming', () => {
  it('formats db and cache in ms with 2 decimals', () => {
    const timing = new CallTiming();
    expect(timing.header()).toBe('db;dur=0.00, cache;dur=0.00');
    timing.db.start();
    jest.advanceTimersByTime(1.234);
    timing.db.stop();
    expect(timing.header()).toBe('db;dur=1.23, cache;dur=0.00');
  });
});

describe('withServerTiming', () => {
  it("answers a unary call's database and cache time in its server-timing header", async () => {
    const header = await headerOf(async () => {
      await timeCache(taking(10));
      jest.advanceTimersByTime(100); // the call's own work counts for neither
      await timeDb(taking(30));
      return { record: undefined };
    });
    expect(header).toBe('db;dur=30.00, cache;dur=10.00');
  });

  it('answers what the implementation answered', async () => {
    const context = contextOf();
    const output = await timedService(() => timeDb(taking(1, { record: { key: 'k' } }))).getRecord({}, context);
    expect(output).toEqual({ record: { key: 'k' } });
  });

  it('counts queries run together, or inside a measured transaction, once', async () => {
    const header = await headerOf(async () => {
      await Promise.all([timeDb(taking(30)), timeDb(taking(0))]);
      await timeDb(() => timeDb(taking(20)));
      return {};
    });
    expect(header).toBe('db;dur=50.00, cache;dur=0.00');
  });

  it('keeps concurrent calls apart', async () => {
    const [dbContext, cacheContext] = [contextOf(), contextOf()];
    await Promise.all([
      timedService(() => timeDb(taking(40))).getRecord({}, dbContext),
      timedService(() => timeCache(taking(5))).getRecord({}, cacheContext),
    ]);
    // Each counts the wall time its operation was in flight; neither sees the other's kind.
    expect(dbContext.responseHeader.get('server-timing')).toMatch(/^db;dur=4\d\.00, cache;dur=0\.00$/);
    expect(cacheContext.responseHeader.get('server-timing')).toMatch(/^db;dur=0\.00, cache;dur=\d+\.00$/);
  });

  it('answers the header with a failure too', async () => {
    const context = contextOf();
    const failing = timedService(async () => {
      await timeDb(taking(5));
      throw new Error('boom');
    });
    await expect(failing.getRecord({}, context)).rejects.toThrow('boom');
    expect(context.responseHeader.get('server-timing')).toBe('db;dur=5.00, cache;dur=0.00');
  });

  it('counts a query whose failure it passes on', async () => {
    const header = await headerOf(async () => {
      await expect(
        timeDb(async () => {
          await taking(3)();
          throw new Error('query failed');
        }),
      ).rejects.toThrow('query failed');
      return {};
    });
    expect(header).toBe('db;dur=3.00, cache;dur=0.00');
  });

  it('leaves streams alone, and measures nothing outside a call', async () => {
    const scan = async function* () {};
    const impl = { getRecord: async () => ({}), scan } as unknown as ServiceImpl<typeof RecordService>;
    expect((withServerTiming(bare).observe(RecordService, impl) as unknown as { scan: unknown }).scan).toBe(scan);
    await expect(timeDb(taking(1, 7))).resolves.toBe(7);
  });
});

describe('TimedRecordCache', () => {
  it('counts each look-up and store as cache time, and forwards them unchanged', async () => {
    const calls: unknown[][] = [];
    const record =
      (name: string, ms: number) =>
      async (...args: unknown[]) => {
        calls.push([name, ...args]);
        return taking(ms, name === 'lookup' ? { records: [] } : undefined)();
      };
    const inner = {
      degraded: true,
      lookup: record('lookup', 1),
      lookupCollection: record('lookupCollection', 2),
      storeCollection: record('storeCollection', 3),
      storeRecords: record('storeRecords', 4),
      close: record('close', 100),
    } as unknown as RecordCache;
    const cache = new TimedRecordCache(inner);
    expect(cache.degraded).toBe(true);
    const entry = { revision: 1, value: undefined };
    const header = await headerOf(async () => {
      expect(await cache.lookup('s', 'c', ['k'])).toEqual({ records: [] });
      await cache.lookupCollection('s', 'c');
      await cache.storeCollection('s', 'c', entry, 'read');
      await cache.storeRecords({} as never, [], 'write');
      return {};
    });
    await cache.close();
    expect(header).toBe('db;dur=0.00, cache;dur=10.00');
    expect(calls).toEqual([
      ['lookup', 's', 'c', ['k']],
      ['lookupCollection', 's', 'c'],
      ['storeCollection', 's', 'c', entry, 'read'],
      ['storeRecords', {}, [], 'write'],
      ['close'],
    ]);
  });
});
