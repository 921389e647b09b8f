import { Redis } from 'ioredis';
import { RedisRecordCache, type LeaseOptions } from '../../apps/api/src/cache/redis-record-cache';
import { SqlCollectionsRepository } from '../../apps/api/src/db/collections-repository';
import { createPgClient } from '../../apps/api/src/db/pg-client';
import { SqlRecordsRepository } from '../../apps/api/src/db/records-repository';
import { SqlVersionedRecordsRepository } from '../../apps/api/src/db/versioned-records-repository';
import { SqlVersionsRepository } from '../../apps/api/src/db/versions-repository';
import type { SqlClient } from '../../apps/api/src/db/sql';
import { CollectionResolver, monotonicClock } from '../../apps/api/src/services/collection-resolver';
import { CollectionService } from '../../apps/api/src/services/collection-service';
import type { RecordCache } from '../../apps/api/src/services/ports';
import { RecordService } from '../../apps/api/src/services/record-service';
import { VersionService } from '../../apps/api/src/services/version-service';
import { silentLogger } from './api';
import type { TestDatabase } from './database';
import { REDIS_URL } from './env';

/** One record service "process": its own pool, Redis connection and cache, on a shared database and Redis. */
export interface RecordNode {
  readonly sql: SqlClient;
  readonly records: RecordService;
  readonly collections: CollectionService;
  close(): Promise<void>;
}

export interface RecordNodeOptions {
  /** The Redis key prefix the nodes of a test share. */
  readonly prefix: string;
  readonly applicationName: string;
  /** The cache's connection; a new one by default. */
  readonly redis?: Redis;
  readonly leases?: LeaseOptions;
  /** Wraps the cache the services use (to delay or observe its calls). */
  readonly wrap?: (cache: RecordCache) => RecordCache;
}

export function startRecordNode(db: TestDatabase, options: RecordNodeOptions): RecordNode {
  const sql: SqlClient = createPgClient({
    connectionString: db.url,
    max: 8,
    orderedMax: 2,
    connectionTimeoutMs: 5000,
    statementTimeoutMs: 10_000,
    applicationName: options.applicationName,
  });
  const redis = options.redis ?? new Redis(REDIS_URL, { enableAutoPipelining: true, maxRetriesPerRequest: 1 });
  const redisCache = new RedisRecordCache(
    redis,
    {
      prefix: options.prefix,
      ttlMs: 60_000,
      tombstoneTtlMs: 60_000,
      maxValueBytes: 1 << 20,
      ...(options.leases === undefined ? {} : { leases: options.leases }),
    },
    silentLogger,
  );
  const cache = options.wrap?.(redisCache) ?? redisCache;
  const collectionsRepo = new SqlCollectionsRepository(sql);
  const resolver = new CollectionResolver(collectionsRepo, cache, monotonicClock);
  const versions = new VersionService(new SqlVersionsRepository(sql), collectionsRepo);
  return {
    sql,
    records: new RecordService(
      new SqlRecordsRepository(sql),
      new SqlVersionedRecordsRepository(sql),
      versions,
      resolver,
      cache,
      monotonicClock,
    ),
    collections: new CollectionService(collectionsRepo, resolver, cache, versions, {
      defaultMaxValueBytes: 1 << 20,
      maxValueBytesCeiling: 1 << 20,
    }),
    async close() {
      await cache.close();
      redis.disconnect();
      await sql.close();
    },
  };
}
