import pg from 'pg';
import { freePort } from '../support/processes';
import { createPgClient, type PgSqlClient } from '../../apps/api/src/db/pg-client';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { expectEventually } from '../support/expect-eventually';

/**
 * A connection that Postgres drops while the record service holds it between two queries (a
 * transaction waiting on Redis, a stream waiting on its reader) — what a Postgres restart does
 * to every open transaction — fails that transaction's next query and nothing else: the process
 * lives on, and the pool serves the next query on a fresh connection.
 */

let db: TestDatabase;
let sql: PgSqlClient;
let admin: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase();
  sql = createPgClient({
    connectionString: db.url,
    max: 2,
    orderedMax: 1,
    connectionTimeoutMs: 5000,
    statementTimeoutMs: 10_000,
    applicationName: 'pg-client-test',
  });
  admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
});

afterAll(async () => {
  await admin?.end();
  await sql?.close();
  await db?.drop();
});

it('survives a connection dropped between two queries of a transaction', async () => {
  const terminated = sql.transaction(async (tx) => {
    const { rows } = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const pid = rows[0]?.pid as number;
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    // The connection's error arrives while no query runs on it.
    await expectEventually(async () => {
      const { rows: alive } = await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid]);
      expect(alive).toHaveLength(0);
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await tx.query('SELECT 1');
  });
  // A lost connection is the database being unavailable, not a bug: 503 with Retry-After.
  await expect(terminated).rejects.toMatchObject({ code: 'UNAVAILABLE', retryAfterSeconds: 1 });
  const { rows } = await sql.query<{ one: number }>('SELECT 1 AS one');
  expect(rows).toEqual([{ one: 1 }]);
});

it('answers UNAVAILABLE when a backend is terminated during a query, as a shutting-down server does', async () => {
  const killed = sql.query('SELECT pg_terminate_backend(pg_backend_pid())');
  await expect(killed).rejects.toMatchObject({
    code: 'UNAVAILABLE',
    cause: expect.objectContaining({ code: '57P01' }),
  });
});

it('answers UNAVAILABLE at once when nothing listens, and keeps real query errors as they are', async () => {
  const nowhere = createPgClient({
    connectionString: `postgres://postgres@127.0.0.1:${await freePort()}/none`,
    max: 1,
    orderedMax: 1,
    connectionTimeoutMs: 5000,
    statementTimeoutMs: 10_000,
    applicationName: 'pg-client-test',
  });
  try {
    const started = Date.now();
    await expect(nowhere.query('SELECT 1')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await expect(nowhere.transaction((tx) => tx.query('SELECT 1'))).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(Date.now() - started).toBeLessThan(2000);
  } finally {
    await nowhere.close();
  }
  await expect(sql.query('SELECT * FROM no_such_table')).rejects.toMatchObject({ code: '42P01' });
});

it('answers UNAVAILABLE for a statement past statement_timeout', async () => {
  const slow = sql.transaction(async (tx) => {
    await tx.query("SET LOCAL statement_timeout = '50ms'");
    await tx.query('SELECT pg_sleep(2)');
  });
  await expect(slow).rejects.toMatchObject({ code: 'UNAVAILABLE', cause: expect.objectContaining({ code: '57014' }) });
});

describe('reads in index order (orderedQuery)', () => {
  const SETTINGS =
    "SELECT current_setting('enable_sort') AS sort, current_setting('jit') AS jit, now() = statement_timestamp() AS alone";

  it('run alone, on connections that neither sort nor compile, while other queries keep the defaults', async () => {
    const ordered = await sql.orderedQuery<{ sort: string; jit: string; alone: boolean }>(SETTINGS, []);
    // `alone`: the statement started its transaction, so no BEGIN or SET went before it.
    expect(ordered.rows).toEqual([{ sort: 'off', jit: 'off', alone: true }]);
    const { rows } = await sql.query<{ sort: string }>(SETTINGS);
    expect(rows[0]?.sort).toBe('on');
    const { rows: inTransaction } = await sql.transaction((tx) => tx.query<{ sort: string }>(SETTINGS));
    expect(inTransaction[0]?.sort).toBe('on');
  });

  it('inside a snapshot read, set them for the rest of that transaction only', async () => {
    const seen = await sql.readSnapshot(async (snapshot) => {
      const before = await snapshot.query<{ sort: string }>(SETTINGS);
      const ordered = await snapshot.orderedQuery<{ sort: string; jit: string }>(SETTINGS, []);
      return { before: before.rows[0]?.sort, ordered: ordered.rows[0] };
    });
    expect(seen).toEqual({ before: 'on', ordered: expect.objectContaining({ sort: 'off', jit: 'off' }) });
    const { rows } = await sql.query<{ sort: string }>(SETTINGS);
    expect(rows[0]?.sort).toBe('on');
  });

  it('fail as other queries do: UNAVAILABLE when Postgres drops the connection, the driver error otherwise', async () => {
    await expect(sql.orderedQuery('SELECT * FROM no_such_table', [])).rejects.toMatchObject({ code: '42P01' });
    await expect(sql.orderedQuery('SELECT pg_terminate_backend(pg_backend_pid())', [])).rejects.toMatchObject({
      code: 'UNAVAILABLE',
    });
    const { rows } = await sql.orderedQuery<{ one: number }>('SELECT $1::int AS one', [1]);
    expect(rows).toEqual([{ one: 1 }]);
  });
});
