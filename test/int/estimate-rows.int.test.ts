import { createPgClient } from '../../apps/api/src/db/pg-client';
import { Params, estimateRows } from '../../apps/api/src/db/sql-fragments';
import type { SqlClient } from '../../apps/api/src/db/sql';
import { createTestDatabase, type TestDatabase } from '../support/database';

/**
 * A job's size (estimateRows): exact up to the limit, the planner's row estimate past it. The
 * embedded Postgres (PGlite) takes the same path in test/e2e/embedded.e2e.test.ts: it cannot be
 * loaded inside Jest's module sandbox.
 */

let db: TestDatabase;
let sql: SqlClient;

beforeAll(async () => {
  db = await createTestDatabase({ empty: true });
  sql = createPgClient({
    connectionString: db.url,
    max: 2,
    orderedMax: 1,
    connectionTimeoutMs: 5000,
    statementTimeoutMs: 10_000,
    applicationName: 'estimate-rows',
  });
  await sql.exec('CREATE TABLE sized AS SELECT n, n % 10 AS tenth FROM generate_series(1, 20000) AS n; ANALYZE sized');
});

afterAll(async () => {
  await sql.close();
  await db.drop();
});

describe('estimateRows', () => {
  const where = (min: number) => {
    const params = new Params(min);
    return { params, where: ['n > $1', 'tenth <> 7'] };
  };

  it('counts exactly up to the limit', async () => {
    const { params, where: conditions } = where(19_900);
    expect(await estimateRows(sql, 'sized', conditions, params, 1000)).toBe(90);
    const all = where(0);
    expect(await estimateRows(sql, 'sized', all.where, all.params, 18_000)).toBe(18_000);
  });

  it("takes the planner's estimate past the limit, never below what it counted", async () => {
    const { params, where: conditions } = where(0);
    const estimate = await estimateRows(sql, 'sized', conditions, params, 1000);
    // 18,000 rows match; the planner's estimate from the statistics is near that.
    expect(estimate).toBeGreaterThan(1000);
    expect(estimate).toBeGreaterThan(18_000 * 0.8);
    expect(estimate).toBeLessThan(18_000 * 1.2);
    const few = where(19_990);
    expect(await estimateRows(sql, 'sized', few.where, few.params, 5)).toBeGreaterThanOrEqual(6);
  });
});
