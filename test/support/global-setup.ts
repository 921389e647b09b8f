import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createPgClient } from '../../apps/api/src/db/pg-client';
import { loadMigrations, migrate } from '../../apps/api/src/db/migrate';
import { ADMIN_DATABASE_URL, REDIS_URL, RUN_ID_VAR, TEMPLATE_VAR, databaseUrl } from './env';

/**
 * Runs once before the integration and end-to-end tests: checks that the real Postgres and
 * Redis answer, and migrates a template database that each test file clones
 * (CREATE DATABASE … TEMPLATE), which is much faster than migrating per file.
 */
export default async function globalSetup(): Promise<void> {
  const id = process.env[RUN_ID_VAR] ?? randomBytes(4).toString('hex');
  process.env[RUN_ID_VAR] = id;
  const template = `rosetta_test_${id}_template`;
  process.env[TEMPLATE_VAR] = template;

  const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  try {
    await admin.connect();
  } catch (error) {
    throw new Error(
      `integration tests need Postgres at ${ADMIN_DATABASE_URL} (set TEST_DATABASE_URL): ${String(error)}`,
    );
  }
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    throw new Error(`integration tests need Redis at ${REDIS_URL} (set TEST_REDIS_URL): ${String(error)}`);
  } finally {
    redis.disconnect();
  }
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${template}`);
    await admin.query(`CREATE DATABASE ${template}`);
  } finally {
    await admin.end();
  }
  const db = createPgClient({
    connectionString: databaseUrl(template),
    max: 1,
    orderedMax: 1,
    connectionTimeoutMs: 5000,
    statementTimeoutMs: 60_000,
    applicationName: 'rosetta-test-setup',
  });
  try {
    await migrate(db, await loadMigrations());
  } finally {
    await db.close();
  }
}
