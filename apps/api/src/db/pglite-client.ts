import { PGlite, types } from '@electric-sql/pglite';
import { inline, type SqlClient, type SqlExecutor, type SqlParam, type SqlQuery, type SqlResult } from './sql';

/**
 * Postgres embedded in the process (WASM), storing its files under `dataDir`. It runs the same
 * SQL as a server; it has one connection, so statements run one at a time.
 */
export async function createPgliteClient(dataDir: string | undefined): Promise<SqlClient> {
  const db = await PGlite.create({
    ...(dataDir === undefined ? {} : { dataDir }),
    parsers: { [types.INT8]: (value: string) => Number(value) },
  });
  const run = (target: Pick<PGlite, 'query' | 'exec'>): SqlExecutor => ({
    async query<Row>(query: SqlQuery | string, params?: readonly SqlParam[]): Promise<SqlResult<Row>> {
      const text = typeof query === 'string' ? query : query.text;
      const result = await target.query<Row>(text, params as unknown[] | undefined);
      return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
    },
    async exec(script: string): Promise<void> {
      await target.exec(script);
    },
  });
  const base = run(db);
  return {
    query: base.query,
    exec: base.exec,
    orderedQuery: (query, params) => db.transaction((tx) => inline(run(tx)).orderedQuery(query, params)),
    transaction: (work) => db.transaction((tx) => work(run(tx))),
    // One connection: nothing else runs while the transaction is open, so it is consistent by
    // construction (and holds the database for as long as it lasts).
    readSnapshot: (work) => db.transaction((tx) => work(inline(run(tx)))),
    // The one connection there is: what `work` sets on it stays, so it undoes that itself.
    session: (work) => work(base),
    async ping(): Promise<boolean> {
      return !db.closed;
    },
    async close(): Promise<void> {
      if (!db.closed) await db.close();
    },
  };
}
