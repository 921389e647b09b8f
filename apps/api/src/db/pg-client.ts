import { metrics, type MeterProvider } from '@opentelemetry/api';
import pg from 'pg';
import { rosettaMeter } from '@rosetta/platform';
import { toStoreError } from './pg-errors';
import {
  INDEX_ORDER_SETTINGS,
  inline,
  type SqlClient,
  type SqlExecutor,
  type SqlParam,
  type SqlQuery,
  type SqlResult,
} from './sql';

export interface PgClientOptions {
  readonly connectionString: string;
  /** Most connections in the pool. */
  readonly max: number;
  /** Most connections in the pool of reads in index order (`orderedQuery`), besides `max`. */
  readonly orderedMax: number;
  /** How long a query may wait for a free connection before failing. */
  readonly connectionTimeoutMs: number;
  /** Server-side limit per statement, so that no request holds a connection for ever. */
  readonly statementTimeoutMs: number;
  readonly applicationName: string;
}

// int8 → number: revisions, sizes and microsecond timestamps all stay below 2^53.
const types = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === 20
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

function toConfig(query: SqlQuery | string, params: readonly SqlParam[] | undefined): pg.QueryConfig {
  const values = params as unknown[] | undefined;
  return typeof query === 'string'
    ? { text: query, values }
    : query.name === undefined
      ? { text: query.text, values }
      : { name: query.name, text: query.text, values };
}

function executor(client: pg.Pool | pg.PoolClient): SqlExecutor {
  return {
    async query<Row>(query: SqlQuery | string, params?: readonly SqlParam[]): Promise<SqlResult<Row>> {
      const result = await client.query(toConfig(query, params));
      return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
    },
    async exec(script: string): Promise<void> {
      // Without parameters node-postgres uses the simple protocol, which runs several statements.
      await client.query(script);
    },
  };
}

/** The open pools of the process (two in the api: queries, and reads in index order; tests may open more). */
const openPools = new Set<pg.Pool>();
/** The meter provider the pool gauges were made with: they are made again if another is set later. */
let gaugesOf: MeterProvider | undefined;

/**
 * `rosetta_db_pool_connections{state=idle|busy}`, `rosetta_db_pool_waiting` and
 * `rosetta_db_pool_max`, summed over the open pools, read when metrics are collected (nothing
 * is counted per query). PGlite has no pool and reports none of them.
 */
function observePools(): void {
  const provider = metrics.getMeterProvider();
  if (gaugesOf === provider) return;
  gaugesOf = provider;
  const meter = rosettaMeter();
  const connections = meter.createObservableGauge('rosetta_db_pool_connections', {
    description: 'Postgres connections of the pools, by state: idle, or busy (checked out for a query or transaction)',
  });
  const waiting = meter.createObservableGauge('rosetta_db_pool_waiting', {
    description: 'Queries and transactions waiting for a pooled Postgres connection',
  });
  const max = meter.createObservableGauge('rosetta_db_pool_max', { description: 'Most connections the pools open' });
  meter.addBatchObservableCallback(
    (result) => {
      if (openPools.size === 0) return;
      let idle = 0;
      let total = 0;
      let queued = 0;
      let most = 0;
      for (const pool of openPools) {
        idle += pool.idleCount;
        total += pool.totalCount;
        queued += pool.waitingCount;
        most += pool.options.max ?? 10;
      }
      result.observe(connections, idle, { state: 'idle' });
      result.observe(connections, total - idle, { state: 'busy' });
      result.observe(waiting, queued);
      result.observe(max, most);
    },
    [connections, waiting, max],
  );
}

/** Runs `work` on one connection between `begin` and COMMIT, or ROLLBACK when it throws. */
async function inTransaction<T>(pool: pg.Pool, begin: string, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query(begin);
    const result = await work(client);
    await client.query('COMMIT');
    client.release();
    return result;
  } catch (error) {
    // A failed ROLLBACK means the connection is broken: destroy it rather than reuse it.
    await client.query('ROLLBACK').then(
      () => client.release(),
      (rollbackError: unknown) => client.release(rollbackError instanceof Error ? rollbackError : true),
    );
    throw error;
  }
}

export interface PgSqlClient extends SqlClient {
  readonly pool: pg.Pool;
}

function openPool(options: PgClientOptions, max: number, sessionOptions?: string): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max,
    connectionTimeoutMillis: options.connectionTimeoutMs,
    statement_timeout: options.statementTimeoutMs,
    application_name: options.applicationName,
    ...(sessionOptions === undefined ? {} : { options: sessionOptions }),
    types,
  });
  // An idle client that loses its connection emits 'error' on the pool; without a listener
  // that would crash the process. The next query simply gets a fresh connection.
  pool.on('error', () => undefined);
  // So would a checked-out client that loses it between two queries (a transaction waiting on
  // Redis, a stream waiting on its reader) when Postgres restarts: its next query fails instead,
  // and the pool drops it on release.
  pool.on('connect', (client) => client.on('error', () => undefined));
  openPools.add(pool);
  return pool;
}

export function createPgClient(options: PgClientOptions): PgSqlClient {
  const pool = openPool(options, options.max);
  // Reads in index order run on connections of their own, opened with the settings they need
  // (INDEX_ORDER_SETTINGS): one round trip each, where a transaction that set them took four.
  const ordered = openPool(
    options,
    options.orderedMax,
    Object.entries(INDEX_ORDER_SETTINGS)
      .map(([name, value]) => `-c ${name}=${value}`)
      .join(' '),
  );
  observePools();
  const base = executor(pool);
  const orderedBase = executor(ordered);
  // Failures that mean Postgres is down or restarting leave as UNAVAILABLE (see pg-errors.ts);
  // inside a transaction the work sees the driver's own errors.
  const classified = <T>(call: Promise<T>): Promise<T> =>
    call.catch((error: unknown) => {
      throw toStoreError(error);
    });
  return {
    pool,
    query: <Row>(query: SqlQuery | string, params?: readonly SqlParam[]) => classified(base.query<Row>(query, params)),
    exec: (script) => classified(base.exec(script)),
    orderedQuery: <Row>(query: SqlQuery | string, params: readonly SqlParam[]) =>
      classified(orderedBase.query<Row>(query, params)),
    transaction: (work) => classified(inTransaction(pool, 'BEGIN', (client) => work(executor(client)))),
    readSnapshot: (work) =>
      classified(
        inTransaction(pool, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', (client) =>
          work(inline(executor(client))),
        ),
      ),
    async ping(): Promise<boolean> {
      try {
        await pool.query('SELECT 1');
        return true;
      } catch {
        return false;
      }
    },
    async session<T>(work: (connection: SqlExecutor) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      try {
        return await work(executor(client));
      } finally {
        // Closed rather than pooled: no setting or session lock of `work` reaches another caller.
        client.release(true);
      }
    },
    async close(): Promise<void> {
      openPools.delete(pool);
      openPools.delete(ordered);
      await Promise.all([pool.end(), ordered.end()]);
    },
  };
}
