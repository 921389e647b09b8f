import { z } from 'zod';
import { envBoolean, envLogLevel, envOptionalString, envPort, parseEnv } from '@rosetta/platform';

const MiB = 1024 * 1024;

export const ApiConfigSchema = z
  .object({
    /** Interface the record service's RPC server binds to. */
    API_HOST: z.string().default('127.0.0.1'),
    /** Port of the RPC server (HTTP/2 cleartext: Connect, gRPC and gRPC-Web). */
    API_PORT: envPort(8081),
    /** Postgres connection string. Unset: embedded Postgres (PGlite) under ROSETTA_DATA_DIR. */
    DATABASE_URL: envOptionalString(),
    /** Where the embedded Postgres keeps its files when DATABASE_URL is unset. */
    ROSETTA_DATA_DIR: z.string().default('./data'),
    /** Redis connection string for the read cache. Unset: an in-process cache. */
    REDIS_URL: envOptionalString(),
    /** Prefix of every Redis key and channel, so deployments (and tests) can share a server. */
    REDIS_PREFIX: z.string().default('rosetta:'),
    /** Most Postgres connections in the pool. */
    PG_POOL_MAX: z.coerce.number().int().min(1).max(500).default(20),
    /** How long a query waits for a pooled connection before failing (ms). */
    PG_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).default(5000),
    /** Server-side limit per statement (ms). */
    PG_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(100).default(30_000),
    /** Apply pending migrations when the service starts. */
    MIGRATE_ON_START: envBoolean(true),
    /** Lifetime of cached records and collections (ms). */
    CACHE_TTL_MS: z.coerce.number().int().min(1000).default(600_000),
    /** Lifetime of cached tombstones (ms); must stay far above the 2 s populate window. */
    CACHE_TOMBSTONE_TTL_MS: z.coerce.number().int().min(10_000).default(60_000),
    /** Values larger than this are not cached (bytes). */
    CACHE_MAX_VALUE_BYTES: z.coerce
      .number()
      .int()
      .min(0)
      .default(256 * 1024),
    /** Size of the in-process cache when REDIS_URL is unset (bytes). */
    CACHE_MEMORY_MAX_BYTES: z.coerce
      .number()
      .int()
      .min(0)
      .default(64 * MiB),
    /** Value size limit of collections created without one (bytes). */
    DEFAULT_MAX_VALUE_BYTES: z.coerce
      .number()
      .int()
      .min(1)
      .default(16 * MiB),
    /** Largest value size limit a collection may set (bytes). */
    MAX_VALUE_BYTES_CEILING: z.coerce
      .number()
      .int()
      .min(1)
      .default(64 * MiB),
    /** Space created at start-up, so that a new store is usable at once. */
    ROSETTA_DEFAULT_SPACE: z.string().default('default'),
    /** pino level: trace, debug, info, warn, error, fatal or silent. */
    LOG_LEVEL: envLogLevel(),
    /** Deadline for a graceful shutdown (ms). */
    SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  })
  .superRefine((c, ctx) => {
    if (c.DEFAULT_MAX_VALUE_BYTES > c.MAX_VALUE_BYTES_CEILING) {
      ctx.addIssue({
        code: 'custom',
        path: ['DEFAULT_MAX_VALUE_BYTES'],
        message: 'must not exceed MAX_VALUE_BYTES_CEILING',
      });
    }
  });

export type ApiConfig = z.output<typeof ApiConfigSchema>;

export function loadConfig(env: Record<string, string | undefined> = process.env): ApiConfig {
  return parseEnv(ApiConfigSchema, env);
}
