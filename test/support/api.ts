import pino from 'pino';
import { createApiRuntime, loadConfig, type ApiRuntime } from '../../apps/api/src';
import { createDirectClient, ChangeFeedService, CollectionService, RecordService } from '../../packages/proto/src';
import { createTestDatabase, redisPrefix, type TestDatabase } from './database';
import { REDIS_URL } from './env';

export const silentLogger = pino({ level: 'silent' });

export interface TestApi {
  readonly db: TestDatabase;
  readonly runtime: ApiRuntime;
  readonly records: ReturnType<typeof createDirectClient<typeof RecordService>>;
  readonly collections: ReturnType<typeof createDirectClient<typeof CollectionService>>;
  readonly changes: ReturnType<typeof createDirectClient<typeof ChangeFeedService>>;
  close(): Promise<void>;
}

export interface TestApiOptions {
  /** Reuse a database (another "process" of the same deployment). */
  readonly db?: TestDatabase;
  /** Redis key prefix; share it to share the cache. `null` runs without Redis (in-process cache). */
  readonly redisPrefix?: string | null;
  readonly env?: Record<string, string>;
}

/** The record service on a fresh clone of the migrated template, reached through the direct binding. */
export async function startTestApi(options: TestApiOptions = {}): Promise<TestApi> {
  const db = options.db ?? (await createTestDatabase());
  const prefix = options.redisPrefix === undefined ? redisPrefix() : options.redisPrefix;
  const runtime = await createApiRuntime(
    loadConfig({
      DATABASE_URL: db.url,
      ...(prefix === null ? {} : { REDIS_URL, REDIS_PREFIX: prefix }),
      MIGRATE_ON_START: 'false',
      LOG_LEVEL: 'silent',
      PG_POOL_MAX: '10',
      ...options.env,
    }),
    silentLogger,
  );
  return {
    db,
    runtime,
    records: createDirectClient(RecordService, runtime.impls.records),
    collections: createDirectClient(CollectionService, runtime.impls.collections),
    changes: createDirectClient(ChangeFeedService, runtime.impls.changes),
    async close() {
      await runtime.close();
      if (options.db === undefined) await db.drop();
    },
  };
}
