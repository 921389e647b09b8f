import { randomBytes } from 'node:crypto';
import type { ServiceImpl } from '@connectrpc/connect';
import { Redis } from 'ioredis';
import {
  AdminService as AdminServiceDesc,
  AuthService as AuthServiceDesc,
  ChangeFeedService as ChangeFeedServiceDesc,
  CollectionService as CollectionServiceDesc,
  createRpcObserver,
  HealthService,
  JobService as JobServiceDesc,
  RecordService as RecordServiceDesc,
  SnapshotService as SnapshotServiceDesc,
  VersionService as VersionServiceDesc,
  WebhookService as WebhookServiceDesc,
} from '@rosetta/proto';
import { LATENCY_BUCKETS, rosettaMeter, type Logger } from '@rosetta/platform';
import type { ApiConfig } from './config';
import { GrantSigner } from './auth/grants';
import { JwtVerifier } from './auth/jwt';
import { PasswordAttempts, RequestRates } from './auth/rate-limits';
import { MemoryRecordCache } from './cache/memory-record-cache';
import { MeteredRecordCache } from './cache/metered-record-cache';
import { RedisRecordCache } from './cache/redis-record-cache';
import { LeaseRevoker } from './cache/lease-revoker';
import { SqlAccountsRepository } from './db/accounts-repository';
import { feedAheadOfCluster, SqlChangesRepository } from './db/changes-repository';
import { SqlCollectionsRepository } from './db/collections-repository';
import { loadMigrations, migrate } from './db/migrate';
import { createPgClient } from './db/pg-client';
import { createPgliteClient } from './db/pglite-client';
import { SqlRecordsRepository } from './db/records-repository';
import { timedSqlClient, type SqlClient } from './db/sql';
import { AccessControl } from './services/access-control';
import { AdminService } from './services/admin-service';
import { AuthService } from './services/auth-service';
import { bootstrapAdmin, type BootstrapResult } from './services/bootstrap';
import { ChangeFeedService } from './services/change-feed-service';
import { CollectionResolver, monotonicClock } from './services/collection-resolver';
import { CollectionService } from './services/collection-service';
import type { RecordCache } from './services/ports';
import { DEFAULT_RECORD_SERVICE_OPTIONS, RecordService } from './services/record-service';
import { TimedRecordCache, withServerTiming } from './services/server-timing';
import { VersionService } from './services/version-service';
import { WebhookService } from './services/webhook-service';
import { SqlWebhooksRepository } from './db/webhooks-repository';
import { SqlJobsRepository } from './db/jobs-repository';
import { JobService } from './services/job-service';
import { jobServiceImpl } from './transport/job-routes';
import { snapshotServiceImpl } from './transport/snapshot-routes';
import { SnapshotService } from './services/snapshot-service';
import { SqlSnapshotReader, SqlSnapshotsRepository } from './db/snapshots-repository';
import { SqlVersionsRepository } from './db/versions-repository';
import { SqlVersionedRecordsRepository } from './db/versioned-records-repository';
import { adminServiceImpl, authServiceImpl } from './transport/auth-routes';
import {
  changeFeedServiceImpl,
  collectionServiceImpl,
  recordServiceImpl,
  versionServiceImpl,
  webhookServiceImpl,
  type Services,
} from './transport/routes';

export interface ApiRuntime {
  readonly services: Services;
  readonly db: SqlClient;
  readonly cache: RecordCache;
  readonly impls: {
    readonly records: ReturnType<typeof recordServiceImpl>;
    readonly collections: ReturnType<typeof collectionServiceImpl>;
    readonly changes: ReturnType<typeof changeFeedServiceImpl>;
    readonly auth: ReturnType<typeof authServiceImpl>;
    readonly admin: ReturnType<typeof adminServiceImpl>;
    readonly versions: ReturnType<typeof versionServiceImpl>;
    readonly webhooks: ReturnType<typeof webhookServiceImpl>;
    readonly jobs: ReturnType<typeof jobServiceImpl>;
    readonly snapshots: ReturnType<typeof snapshotServiceImpl>;
    readonly health: ServiceImpl<typeof HealthService>;
  };
  /** What the first start created; `generatedToken` is to be printed once. */
  readonly bootstrap: BootstrapResult;
  /** The internal secret in use (the configured one, or one made up for this process). */
  readonly internalSecret: string;
  /** Whether Postgres answers (and Redis, when configured). */
  ready(): Promise<boolean>;
  /** What `ready()` is made of, one check at a time (the api's `/readyz` answers them). */
  checks(): Promise<ReadinessChecks>;
  /** Closes the cache, then Redis, then the database. */
  close(): Promise<void>;
}

export type CheckState = 'ok' | 'failing';

export interface ReadinessChecks {
  readonly postgres: CheckState;
  readonly redis: CheckState | 'not configured';
}

export async function openDatabase(config: ApiConfig): Promise<SqlClient> {
  return config.DATABASE_URL === undefined
    ? createPgliteClient(config.ROSETTA_DATA_DIR)
    : createPgClient({
        connectionString: config.DATABASE_URL,
        max: config.PG_POOL_MAX,
        orderedMax: config.PG_SCAN_POOL_MAX,
        connectionTimeoutMs: config.PG_CONNECT_TIMEOUT_MS,
        statementTimeoutMs: config.PG_STATEMENT_TIMEOUT_MS,
        applicationName: 'rosetta-api',
      });
}

/** Builds the record service: database, migrations, cache, repositories, services, handlers. */
export async function createApiRuntime(config: ApiConfig, logger: Logger): Promise<ApiRuntime> {
  const opened = await openDatabase(config);
  const db = config.SERVER_TIMING ? timedSqlClient(opened) : opened;
  if (config.MIGRATE_ON_START) {
    const applied = await migrate(db, await loadMigrations(), {
      onLockTimeout: (migration, attempt) =>
        logger.warn({ migration: migration.version, attempt }, 'migration waited too long for a lock; trying again'),
    });
    if (applied.length > 0) logger.info({ applied }, 'migrations applied');
  }
  const ahead = await feedAheadOfCluster(db);
  if (ahead !== undefined) {
    await db.close();
    throw new Error(
      `the change feed holds transaction id ${ahead.newest}, at or above this Postgres cluster's next one ` +
        `(${ahead.next}): the database was restored into another cluster. Stop the cluster, raise its next ` +
        `transaction id above ${ahead.newest} with pg_resetwal -x (and -e for the epoch), and start again ` +
        `(docs/operations.md, Restore, step 3)`,
    );
  }
  let redis: Redis | undefined;
  let store: RecordCache;
  const cacheOptions = {
    ttlMs: config.CACHE_TTL_MS,
    tombstoneTtlMs: config.CACHE_TOMBSTONE_TTL_MS,
    maxValueBytes: config.CACHE_MAX_VALUE_BYTES,
  };
  if (config.REDIS_URL === undefined) {
    store = new MemoryRecordCache({ ...cacheOptions, maxBytes: config.CACHE_MEMORY_MAX_BYTES });
  } else {
    // Fail fast rather than queue: a cache that cannot answer at once is skipped, and the
    // database answers instead.
    redis = new Redis(config.REDIS_URL, {
      lazyConnect: true,
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      maxRetriesPerRequest: 1,
      commandTimeout: 1000,
      connectionName: 'rosetta-api-cache',
    });
    redis.on('error', (error: Error) => logger.warn({ err: error }, 'redis error'));
    const cacheLogger = logger.child({ component: 'cache' });
    store = new RedisRecordCache(
      redis,
      {
        ...cacheOptions,
        prefix: config.REDIS_PREFIX,
        ...(config.READ_LEASE_MS > 0
          ? {
              leases: {
                ms: config.READ_LEASE_MS,
                revoker: leaseRevoker(redis, config.REDIS_URL, config.REDIS_PREFIX, cacheLogger),
              },
            }
          : {}),
      },
      cacheLogger,
    );
    await redis
      .connect()
      .catch((error: unknown) => logger.warn({ err: error }, 'redis unavailable at start; serving from Postgres'));
  }
  const cache: RecordCache = new MeteredRecordCache(config.SERVER_TIMING ? new TimedRecordCache(store) : store);
  const collectionsRepository = new SqlCollectionsRepository(db);
  await collectionsRepository.ensureSpace(config.ROSETTA_DEFAULT_SPACE);
  const resolver = new CollectionResolver(collectionsRepository, cache, monotonicClock);
  const accounts = new SqlAccountsRepository(db);
  const bootstrap = await bootstrapAdmin(accounts, {
    adminPassword: config.ROSETTA_ADMIN_PASSWORD,
    adminToken: config.ROSETTA_ADMIN_TOKEN,
    defaultSpace: config.ROSETTA_DEFAULT_SPACE,
  });
  const internalSecret = config.ROSETTA_INTERNAL_SECRET ?? randomBytes(32).toString('base64url');
  const signer = new GrantSigner(internalSecret);
  const access = new AccessControl(accounts, signer, new RequestRates(redis, config.REDIS_PREFIX), monotonicClock);
  const auth = new AuthService(
    accounts,
    signer,
    new PasswordAttempts(redis, config.REDIS_PREFIX, {
      maxFailuresPerAccount: config.AUTH_MAX_FAILURES_PER_ACCOUNT,
      maxFailuresPerAddress: config.AUTH_MAX_FAILURES_PER_ADDRESS,
      failureWindowSeconds: config.AUTH_FAILURE_WINDOW_SECONDS,
    }),
    new JwtVerifier({
      jwksUrl: config.JWT_JWKS_URL,
      publicKey: config.JWT_PUBLIC_KEY,
      secret: config.JWT_SECRET,
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
      algorithms: (config.JWT_ALGORITHMS ?? '').split(' ').filter((a) => a !== ''),
      subjectClaims: config.JWT_SUBJECT_CLAIM,
      scopesClaim: config.JWT_SCOPES_CLAIM,
      requiredTrueClaim: config.JWT_REQUIRED_TRUE_CLAIM ?? '',
      clockToleranceSeconds: config.JWT_CLOCK_TOLERANCE_SECONDS,
      requireExp: config.JWT_REQUIRE_EXP,
    }),
    {
      internalSecret,
      defaultTokenRateLimit: config.TOKEN_RATE_LIMIT,
      createJwtAccounts: config.JWT_CREATE_ACCOUNTS,
    },
  );
  const versions = new VersionService(new SqlVersionsRepository(db), collectionsRepository);
  const records = new RecordService(
    new SqlRecordsRepository(db),
    new SqlVersionedRecordsRepository(db),
    versions,
    resolver,
    cache,
    monotonicClock,
    {
      ...DEFAULT_RECORD_SERVICE_OPTIONS,
      scanPageSize: config.SCAN_PAGE_ROWS,
      scanPageBytes: config.SCAN_PAGE_BYTES,
      exactCountLimit: config.JOB_EXACT_COUNT_LIMIT,
    },
  );
  const jobsRepository = new SqlJobsRepository(db);
  const jobs = new JobService(jobsRepository, records, resolver);
  const collections = new CollectionService(collectionsRepository, resolver, cache, versions, {
    defaultMaxValueBytes: config.DEFAULT_MAX_VALUE_BYTES,
    maxValueBytesCeiling: config.MAX_VALUE_BYTES_CEILING,
  });
  const services: Services = {
    records,
    versions,
    jobs,
    snapshots: new SnapshotService(
      new SqlSnapshotsRepository(db),
      jobsRepository,
      jobs,
      records,
      collections,
      resolver,
      new SqlSnapshotReader(db),
    ),
    webhooks: new WebhookService(new SqlWebhooksRepository(db), resolver),
    collections,
    changes: new ChangeFeedService(new SqlChangesRepository(db)),
    access,
    auth,
    admin: new AdminService(accounts, access, {
      runTokenTtlSeconds: config.RUN_TOKEN_TTL_SECONDS,
      runTokenMaxTtlSeconds: config.RUN_TOKEN_MAX_TTL_SECONDS,
    }),
  };
  const checks = async (): Promise<ReadinessChecks> => ({
    postgres: (await db.ping().catch(() => false)) ? 'ok' : 'failing',
    redis: redis === undefined ? 'not configured' : redis.status === 'ready' ? 'ok' : 'failing',
  });
  const ready = async () => {
    const { postgres, redis: cacheState } = await checks();
    return postgres === 'ok' && cacheState !== 'failing';
  };
  // Every call is traced and timed once, whichever path serves it (the lean unary path,
  // Connect's handler, or the direct binding of the all-in-one process).
  const observer = createRpcObserver({ meter: rosettaMeter(), latencyBuckets: LATENCY_BUCKETS });
  // SERVER_TIMING: each unary call also answers its database and cache time (services/server-timing.ts).
  const rpc = config.SERVER_TIMING ? withServerTiming(observer) : observer;
  return {
    services,
    db,
    cache,
    impls: {
      records: rpc.observe(RecordServiceDesc, recordServiceImpl(services, logger)),
      collections: rpc.observe(CollectionServiceDesc, collectionServiceImpl(services, logger)),
      changes: rpc.observe(ChangeFeedServiceDesc, changeFeedServiceImpl(services, logger)),
      auth: rpc.observe(AuthServiceDesc, authServiceImpl(services, logger)),
      admin: rpc.observe(AdminServiceDesc, adminServiceImpl(services, logger)),
      versions: rpc.observe(VersionServiceDesc, versionServiceImpl(services, logger)),
      webhooks: rpc.observe(WebhookServiceDesc, webhookServiceImpl(services, logger)),
      jobs: rpc.observe(JobServiceDesc, jobServiceImpl(services, logger)),
      snapshots: rpc.observe(SnapshotServiceDesc, snapshotServiceImpl(services, logger)),
      health: rpc.observe(HealthService, { check: async () => ({ ready: await ready().catch(() => false) }) }),
    },
    bootstrap,
    internalSecret,
    ready,
    checks,
    async close() {
      await cache.close();
      if (redis !== undefined) await redis.quit().catch(() => redis?.disconnect());
      await db.close();
    },
  };
}

/**
 * The revoker of the gateways' read leases, listening for their confirmations on a connection of
 * its own. Until it listens (Redis down at start), revocations wait for the leases to run out.
 */
function leaseRevoker(publisher: Redis, url: string, prefix: string, logger: Logger): LeaseRevoker {
  const subscriber = new Redis(url, { connectionName: 'rosetta-api-lease-confirmations' });
  subscriber.on('error', (error: Error) => logger.warn({ err: error }, 'redis error (lease confirmations)'));
  const revoker = new LeaseRevoker(publisher, subscriber, prefix, logger);
  revoker.start().catch((error: unknown) => logger.warn({ err: error }, 'not listening for lease confirmations'));
  return revoker;
}
