import { timeDb } from '../services/server-timing';

/**
 * The one port the repositories talk to: a Postgres that runs parameterized SQL. Two adapters
 * implement it: node-postgres against a server (`pg-client.ts`) and PGlite embedded in the
 * process (`pglite-client.ts`). Both return int8 as JS numbers and bytea as Uint8Array.
 */
export interface SqlQuery {
  /** Name for a server-side prepared statement (hot paths); ignored where unsupported. */
  readonly name?: string;
  readonly text: string;
}

export type SqlParam =
  string | number | boolean | null | Uint8Array | readonly string[] | readonly Uint8Array[] | readonly number[];

export interface SqlResult<Row> {
  readonly rows: Row[];
  readonly rowCount: number;
}

export interface SqlExecutor {
  query<Row>(query: SqlQuery | string, params?: readonly SqlParam[]): Promise<SqlResult<Row>>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(script: string): Promise<void>;
}

/** What a session that reads rows in an index's order sets: no sorting, no JIT (see `orderedQuery`). */
export const INDEX_ORDER_SETTINGS = { enable_sort: 'off', jit: 'off' } as const;

/** The same, for the transaction under way. */
const SET_LOCAL_INDEX_ORDER = Object.entries(INDEX_ORDER_SETTINGS)
  .map(([name, value]) => `SET LOCAL ${name} = ${value}`)
  .join('; ');

export interface SqlClient extends SqlExecutor {
  /**
   * Runs a query whose rows must come off an index in order (pages of a scan, reads of the change
   * feed). Right after a bulk load, before autovacuum has analyzed the table, the planner thinks a
   * new collection holds a handful of rows and prefers to fetch all of them and sort: every page
   * would then cost the whole rest of the table. Such a query runs with sorting switched off —
   * and JIT with it: a plan that must still sort then looks so costly that Postgres would spend
   * far longer compiling it than running it (INDEX_ORDER_SETTINGS).
   */
  orderedQuery<Row>(query: SqlQuery | string, params: readonly SqlParam[]): Promise<SqlResult<Row>>;
  /** Runs `work` in one transaction: COMMIT when it resolves, ROLLBACK when it throws. */
  transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /**
   * Runs `work` against one consistent view of the database: every query it makes (on the
   * client it is given) sees the data as it was when the view was taken, whatever commits
   * meanwhile (a READ ONLY, REPEATABLE READ transaction). Transactions opened inside run inline.
   */
  readSnapshot<T>(work: (db: SqlClient) => Promise<T>): Promise<T>;
  /**
   * Runs `work` on one connection held for its whole length, outside any transaction: for
   * session-level advisory locks and statements that refuse a transaction block (CREATE INDEX
   * CONCURRENTLY). Settings and locks `work` leaves behind are not to be relied upon: the server
   * adapter closes the connection afterwards.
   */
  session<T>(work: (connection: SqlExecutor) => Promise<T>): Promise<T>;
  /** Whether the database answers (readiness). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/** A client over one transaction already open: what it runs, and transactions inside it, run there. */
export function inline(tx: SqlExecutor): SqlClient {
  const client: SqlClient = {
    query: tx.query.bind(tx),
    exec: tx.exec.bind(tx),
    // The settings stay for the rest of the transaction, which reads in index order too.
    async orderedQuery<Row>(query: SqlQuery | string, params: readonly SqlParam[]) {
      await tx.exec(SET_LOCAL_INDEX_ORDER);
      return tx.query<Row>(query, params);
    },
    transaction: (work) => work(tx),
    readSnapshot: (work) => work(client),
    session: (work) => work(tx),
    ping: () => Promise.resolve(true),
    close: () => Promise.resolve(),
  };
  return client;
}

/**
 * The client with its time counted as database time of the call it runs for (SERVER_TIMING):
 * each query and script, and each transaction and snapshot read as a whole, from asking for a
 * connection to COMMIT. Work inside a transaction runs on the inner client it is given, whose
 * queries are not counted again.
 */
export function timedSqlClient(db: SqlClient): SqlClient {
  return {
    query: <Row>(query: SqlQuery | string, params?: readonly SqlParam[]) => timeDb(() => db.query<Row>(query, params)),
    exec: (script: string) => timeDb(() => db.exec(script)),
    orderedQuery: <Row>(query: SqlQuery | string, params: readonly SqlParam[]) =>
      timeDb(() => db.orderedQuery<Row>(query, params)),
    transaction: <T>(work: (tx: SqlExecutor) => Promise<T>) => timeDb(() => db.transaction(work)),
    readSnapshot: <T>(work: (inner: SqlClient) => Promise<T>) => timeDb(() => db.readSnapshot(work)),
    session: <T>(work: (connection: SqlExecutor) => Promise<T>) => timeDb(() => db.session(work)),
    ping: () => db.ping(),
    close: () => db.close(),
  };
}
