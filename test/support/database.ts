import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { ADMIN_DATABASE_URL, TEMPLATE_VAR, databaseUrl, runId } from './env';

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  drop(): Promise<void>;
}

async function withAdmin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.end();
  }
}

/**
 * A fresh, migrated database for one test file: a clone of the run's template; `empty`, one
 * without any schema (for tests that migrate or restore it themselves).
 */
export async function createTestDatabase({ empty = false }: { empty?: boolean } = {}): Promise<TestDatabase> {
  const template = empty ? 'template0' : process.env[TEMPLATE_VAR];
  if (template === undefined) throw new Error('the Jest global setup did not run (no template database)');
  const name = `rosetta_test_${runId()}_${randomBytes(4).toString('hex')}`;
  await withAdmin((admin) => admin.query(`CREATE DATABASE ${name} TEMPLATE ${template}`));
  return {
    name,
    url: databaseUrl(name),
    drop: () => withAdmin((admin) => admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

/** A Redis key prefix unique to one test (the global teardown deletes the run's keys). */
export function redisPrefix(): string {
  return `rosetta-test-${runId()}-${randomBytes(4).toString('hex')}:`;
}
