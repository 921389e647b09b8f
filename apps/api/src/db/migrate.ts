import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SqlClient, SqlExecutor } from './sql';

/** Where the numbered SQL files live; they are copied next to the compiled code by the build. */
export const MIGRATIONS_DIR = join(__dirname, 'migrations');

/**
 * A file with this line runs outside a transaction: it holds exactly one statement, such as
 * CREATE INDEX CONCURRENTLY, which refuses a transaction block (see docs/operations.md).
 */
export const NO_TRANSACTION = '-- migration: no-transaction';

// An arbitrary constant: every process that migrates holds this advisory lock for its whole run,
// so two processes starting together apply each file once.
const MIGRATION_LOCK = 7_104_200_211;

/** lock_not_available: a statement gave up waiting for a lock after lock_timeout. */
const LOCK_NOT_AVAILABLE = '55P03';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
  /** False for a file marked NO_TRANSACTION. */
  readonly transactional: boolean;
}

export interface MigrateOptions {
  /**
   * How long one statement of a migration waits for a table lock before the attempt gives up
   * (lock_timeout). While an ALTER TABLE waits for its ACCESS EXCLUSIVE lock, every query of that
   * table queues behind it; this bounds how long traffic can stall so.
   */
  readonly lockTimeoutMs?: number;
  /** How many times a migration is tried before its lock timeout fails the run. */
  readonly attempts?: number;
  /** The pause between two attempts, in which the queued traffic runs. */
  readonly retryDelayMs?: number;
  /** Told of every attempt that gave up waiting for a lock (and is tried again). */
  readonly onLockTimeout?: (migration: Migration, attempt: number) => void;
}

export async function loadMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort();
  return Promise.all(
    files.map(async (file) => {
      const sql = await readFile(join(dir, file), 'utf8');
      return {
        version: Number(file.slice(0, 4)),
        name: file.slice(5, -4),
        sql,
        transactional: !sql.split('\n').some((line) => line.trim() === NO_TRANSACTION),
      };
    }),
  );
}

function isLockTimeout(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === LOCK_NOT_AVAILABLE;
}

async function record(connection: SqlExecutor, migration: Migration): Promise<void> {
  await connection.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
    migration.version,
    migration.name,
  ]);
}

async function applyInTransaction(connection: SqlExecutor, migration: Migration): Promise<void> {
  await connection.exec('BEGIN');
  try {
    await connection.exec(migration.sql);
    await record(connection, migration);
    await connection.exec('COMMIT');
  } catch (error) {
    await connection.exec('ROLLBACK');
    throw error;
  }
}

/**
 * One statement in autocommit, then its ledger row. A CREATE INDEX CONCURRENTLY that failed
 * leaves an invalid index behind, which `IF NOT EXISTS` would then skip: the run stops on any
 * invalid index rather than record the migration as done.
 */
async function applyWithoutTransaction(connection: SqlExecutor, migration: Migration): Promise<void> {
  await connection.exec(migration.sql);
  const { rows } = await connection.query<{ name: string }>(
    'SELECT indexrelid::regclass::text AS name FROM pg_index WHERE NOT indisvalid',
  );
  if (rows.length > 0) {
    const names = rows.map((row) => row.name).join(', ');
    throw new Error(
      `migration ${migration.version} left invalid indexes (${names}): drop them with DROP INDEX CONCURRENTLY, then migrate again`,
    );
  }
  await record(connection, migration);
}

/**
 * Applies the migrations not yet in the ledger, in order, on one connection that holds the
 * migration advisory lock throughout (another migrator waits, then finds them applied). Each
 * file runs in its own transaction (or, marked NO_TRANSACTION, as its one statement) with
 * `lock_timeout` set, and is tried again after a pause when it times out waiting for a lock.
 * Files are append-only: never edit one that has shipped, add the next number. The rules for
 * writing one that is safe while an older version serves are in docs/operations.md.
 * Returns the versions applied by this call.
 */
export async function migrate(
  db: SqlClient,
  migrations: readonly Migration[],
  options: MigrateOptions = {},
): Promise<number[]> {
  const { lockTimeoutMs = 1000, attempts = 30, retryDelayMs = 1000, onLockTimeout } = options;
  return db.session(async (connection) => {
    // Waiting for another migrator is not a lock to time out on, nor a statement to cancel.
    await connection.exec(`SET lock_timeout = 0; SET statement_timeout = 0`);
    await connection.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await connection.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
      const { rows } = await connection.query<{ version: number }>('SELECT version FROM schema_migrations');
      const done = new Set(rows.map((row) => row.version));
      const applied: number[] = [];
      for (const migration of migrations) {
        if (done.has(migration.version)) continue;
        // CREATE INDEX CONCURRENTLY waits for older transactions but blocks no traffic meanwhile.
        await connection.exec(`SET lock_timeout = ${migration.transactional ? Math.round(lockTimeoutMs) : 0}`);
        for (let attempt = 1; ; attempt++) {
          try {
            await (migration.transactional
              ? applyInTransaction(connection, migration)
              : applyWithoutTransaction(connection, migration));
            break;
          } catch (error) {
            if (!isLockTimeout(error) || attempt >= attempts) throw error;
            onLockTimeout?.(migration, attempt);
            await sleep(retryDelayMs);
          }
        }
        applied.push(migration.version);
      }
      return applied;
    } finally {
      // The server adapter closes this connection anyway; the embedded one lives on.
      await connection.exec(
        `RESET lock_timeout; RESET statement_timeout; SELECT pg_advisory_unlock(${MIGRATION_LOCK})`,
      );
    }
  });
}
