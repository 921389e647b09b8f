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
