import type { HandlerContext, ServiceImpl } from '@connectrpc/connect';
import { RecordService, type RpcObserver } from '@rosetta/proto';
import { withServerTiming } from '../services/server-timing';
import { timedSqlClient, type SqlClient, type SqlExecutor } from './sql';

/**
 * The database decorator of Server-Timing, on a fake clock and a fake Postgres: a statement
 * "takes" the time it advances the clock by.
 */

beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] }));
afterEach(() => jest.useRealTimers());

const statements: string[] = [];

/** A fake Postgres: `SELECT <ms>` takes that long; BEGIN and COMMIT take 1 ms each. */
const executor: SqlExecutor = {
  async query<Row>(query: { text: string } | string) {
    const text = typeof query === 'string' ? query : query.text;
    statements.push(text);
    await Promise.resolve();
    jest.advanceTimersByTime(Number(/^SELECT (\d+)$/.exec(text)?.[1] ?? 0));
    return { rows: [{ text }] as Row[], rowCount: 1 };
  },
  async exec(script: string) {
    statements.push(script);
    await Promise.resolve();
    jest.advanceTimersByTime(2);
  },
};

const fake: SqlClient = {
  ...executor,
  orderedQuery: (query, params) => executor.query(query, params),
  async transaction(work) {
    jest.advanceTimersByTime(1);
    const result = await work(executor);
    jest.advanceTimersByTime(1);
    return result;
  },
  async readSnapshot(work) {
    jest.advanceTimersByTime(1);
    const result = await work(fake);
    jest.advanceTimersByTime(1);
    return result;
  },
  session: (work) => work(executor),
  ping: () => Promise.resolve(true),
  close: () => Promise.resolve(),
};

const bare: RpcObserver = { observe: (_service, impl) => impl };

/** The db time of one call running `work`, as its server-timing header says it. */
async function dbTimeOf(work: () => Promise<unknown>): Promise<string | undefined> {
  const impl = { getRecord: work } as unknown as ServiceImpl<typeof RecordService>;
  const timed = withServerTiming(bare).observe(RecordService, impl) as unknown as {
    getRecord(request: unknown, context: HandlerContext): Promise<unknown>;
  };
  const context = { responseHeader: new Headers() } as unknown as HandlerContext;
  await timed.getRecord({}, context);
  return /^db;dur=(\d+\.\d{2}), cache;dur=0\.00$/.exec(context.responseHeader.get('server-timing') ?? '')?.[1];
}

beforeEach(() => (statements.length = 0));

describe('timedSqlClient', () => {
  const db = timedSqlClient(fake);

  it('counts queries, reads in index order and scripts, and answers what they answer', async () => {
    const time = await dbTimeOf(async () => {
      expect((await db.query<{ text: string }>('SELECT 3')).rows).toEqual([{ text: 'SELECT 3' }]);
      await db.query({ name: 'named', text: 'SELECT 4' }, ['x']);
      jest.advanceTimersByTime(50); // not the database's
      expect((await db.orderedQuery<{ text: string }>('SELECT 6', [])).rows).toEqual([{ text: 'SELECT 6' }]);
      await db.exec('CREATE TABLE t ()');
    });
    expect(time).toBe('15.00');
    expect(statements).toEqual(['SELECT 3', 'SELECT 4', 'SELECT 6', 'CREATE TABLE t ()']);
  });

  it("counts a transaction's wall time once, not its queries again", async () => {
    const time = await dbTimeOf(() =>
      db.transaction(async (tx) => {
        await tx.query('SELECT 5');
        await tx.query('SELECT 5');
      }),
    );
    expect(time).toBe('12.00');
  });

  it('counts a snapshot read as a whole', async () => {
    const time = await dbTimeOf(() =>
      db.readSnapshot(async (snapshot) => {
        await snapshot.query('SELECT 7');
        jest.advanceTimersByTime(3); // work between queries holds the snapshot's connection too
        await snapshot.query('SELECT 7');
      }),
    );
    expect(time).toBe('19.00');
  });

  it('passes ping and close through, and times nothing outside a call', async () => {
    await expect(db.ping()).resolves.toBe(true);
    await expect(db.close()).resolves.toBeUndefined();
    await expect(db.query('SELECT 1')).resolves.toMatchObject({ rowCount: 1 });
  });
});
