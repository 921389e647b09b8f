import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { createApiRuntime, loadConfig, type ApiRuntime } from '../../apps/api/src';
import { createRpcServer, type RpcServer, type RpcServerOptions } from '../../apps/api/src/transport/server';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import {
  AdminService,
  AuthService,
  ChangeFeedService,
  CollectionService,
  createDirectClient,
  HealthService,
  VersionService,
  RecordService,
  ServiceGrant,
  WebhookService,
  JobService,
  SnapshotService,
  withHeaders,
} from '../../packages/proto/src';
import { createTestDatabase, redisPrefix, type TestDatabase } from './database';
import { REDIS_URL, TEST_ADMIN_TOKEN, TEST_INTERNAL_SECRET } from './env';

export const silentLogger = pino({ level: 'silent' });

export interface TestApi {
  readonly db: TestDatabase;
  readonly runtime: ApiRuntime;
  readonly records: ReturnType<typeof createDirectClient<typeof RecordService>>;
  readonly collections: ReturnType<typeof createDirectClient<typeof CollectionService>>;
  readonly changes: ReturnType<typeof createDirectClient<typeof ChangeFeedService>>;
  /** Authentication, without any grant (as the gateway calls it). */
  readonly auth: ReturnType<typeof createDirectClient<typeof AuthService>>;
  readonly admin: ReturnType<typeof createDirectClient<typeof AdminService>>;
  readonly health: ReturnType<typeof createDirectClient<typeof HealthService>>;
  readonly versions: ReturnType<typeof createDirectClient<typeof VersionService>>;
  readonly webhooks: ReturnType<typeof createDirectClient<typeof WebhookService>>;
  readonly jobs: ReturnType<typeof createDirectClient<typeof JobService>>;
  readonly snapshots: ReturnType<typeof createDirectClient<typeof SnapshotService>>;
  close(): Promise<void>;
}

export interface TestApiOptions {
  /** Reuse a database (another "process" of the same deployment). */
  readonly db?: TestDatabase;
  /** Redis key prefix; share it to share the cache. `null` runs without Redis (in-process cache). */
  readonly redisPrefix?: string | null;
  readonly env?: Record<string, string>;
  /** The runtime's logger; silent when unset. */
  readonly logger?: pino.Logger;
}

/**
 * Direct clients of a runtime that act as the internal service (an admin): tests of records
 * and collections use them; the access rules have their own tests. `auth` carries no grant.
 */
export function serviceClients(runtime: ApiRuntime) {
  const auth = createDirectClient(AuthService, runtime.impls.auth);
  const grant = new ServiceGrant(auth, runtime.internalSecret);
  const headers = () => grant.headers();
  return {
    records: withHeaders(RecordService, createDirectClient(RecordService, runtime.impls.records), headers),
    collections: withHeaders(
      CollectionService,
      createDirectClient(CollectionService, runtime.impls.collections),
      headers,
    ),
    changes: withHeaders(ChangeFeedService, createDirectClient(ChangeFeedService, runtime.impls.changes), headers),
    auth,
    admin: withHeaders(AdminService, createDirectClient(AdminService, runtime.impls.admin), headers),
    health: createDirectClient(HealthService, runtime.impls.health),
    versions: withHeaders(VersionService, createDirectClient(VersionService, runtime.impls.versions), headers),
    webhooks: withHeaders(WebhookService, createDirectClient(WebhookService, runtime.impls.webhooks), headers),
    jobs: withHeaders(JobService, createDirectClient(JobService, runtime.impls.jobs), headers),
    snapshots: withHeaders(SnapshotService, createDirectClient(SnapshotService, runtime.impls.snapshots), headers),
  };
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
      PG_SCAN_POOL_MAX: '4',
      ROSETTA_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      ROSETTA_INTERNAL_SECRET: TEST_INTERNAL_SECRET,
      ...options.env,
    }),
    options.logger ?? silentLogger,
  );
  return {
    db,
    runtime,
    ...serviceClients(runtime),
    async close() {
      await runtime.close();
      if (options.db === undefined) await db.drop();
    },
  };
}

/** The record service's HTTP/2 server over `runtime`, listening on a free port of 127.0.0.1, and its URL. */
export async function serveRpc(
  runtime: ApiRuntime,
  options: RpcServerOptions,
): Promise<{ server: RpcServer; url: string }> {
  const server = createRpcServer(runtime, options);
  server.server.listen(0, '127.0.0.1');
  await once(server.server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.server.address() as AddressInfo).port}` };
}

/**
 * A request listener that sends requests without credentials as the admin (its token): for the
 * tests of what routes do, not of who may call them.
 */
export function asAdmin(listener: RequestListener): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    if (req.headers.authorization === undefined && req.headers['x-session-token'] === undefined) {
      req.headers.authorization = `Bearer ${TEST_ADMIN_TOKEN}`;
    }
    listener(req, res);
  };
}
