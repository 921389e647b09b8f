import { z } from 'zod';
import {
  envBoolean,
  envLogFormat,
  envLogLevel,
  envOptionalString,
  envPort,
  parseEnv,
  SnapshotStoreConfigSchema,
} from '@rosetta/platform';
import type { GraphQLOptions } from './graphql/endpoint';
import type { ServerLimits } from './http/overload';
import { LegacyConfigSchema } from './legacy/config';

export const GatewayConfigSchema = z
  .object({
    /** Interface the HTTP server binds to. */
    HOST: z.string().default('127.0.0.1'),
    /** Port of the HTTP server. */
    PORT: envPort(8080),
    /**
     * Gateway processes sharing the port: a count, or `auto` for one per core. Above 1, the main
     * process forks them and restarts one that dies (see cluster.ts). Ignored by the all-in-one process.
     */
    GATEWAY_PROCESSES: z.union([z.literal('auto'), z.coerce.number().int().min(1).max(256)]).default(1),
    /** Base URL of the record service (HTTP/2 cleartext). Ignored by the all-in-one process. */
    API_URL: z.url().default('http://127.0.0.1:8081'),
    /** Deadline for one call to the record service (ms); streams are exempt once started. */
    API_TIMEOUT_MS: z.coerce.number().int().min(100).default(30_000),
    /**
     * How long a call the record service refused before running it (no connection while it
     * restarts, GOAWAY, REFUSED_STREAM) is sent again (ms), within API_TIMEOUT_MS. 0: never.
     */
    API_REFUSED_RETRY_MS: z.coerce.number().int().min(0).default(5_000),
    /** Largest request body accepted (bytes): a value, or a batch of them. */
    MAX_BODY_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .default(64 * 1024 * 1024),
    /** pino level: trace, debug, info, warn, error, fatal or silent. */
    LOG_LEVEL: envLogLevel(),
    /** Log lines as JSON (`json`) or coloured for a terminal (`pretty`). */
    LOG_FORMAT: envLogFormat(),
    /** One `request` line per request at info level (the access log): true or false. */
    ACCESS_LOG: envBoolean(true),
    /**
     * A Server-Timing header on every response: `total` (the gateway's time until the headers
     * leave) and, for requests that called the record service, `db`, `cache` (as the api's own
     * SERVER_TIMING reports them) and `api` (the time spent waiting on it).
     */
    SERVER_TIMING: envBoolean(false),
    /**
     * Proxies whose X-Forwarded-For is believed for the client's address (per-address limits of
     * password attempts): comma-separated addresses, subnets, or loopback / linklocal / uniquelocal.
     */
    TRUST_PROXY: envOptionalString().transform((value) =>
      value
        ?.split(',')
        .map((item) => item.trim())
        .filter((item) => item !== ''),
    ),
    /**
     * Redis, for the change events that feed GraphQL subscriptions and the read leases' revocations;
     * unset: subscriptions are unavailable and every read goes to the record service.
     */
    REDIS_URL: envOptionalString(),
    /**
     * Bytes of records this process holds under read leases (docs/cache-consistency.md, "Read
     * leases"); 0 takes no leases. Needs REDIS_URL.
     */
    GATEWAY_LEASE_CACHE_BYTES: z.coerce
      .number()
      .int()
      .min(0)
      .default(32 * 1024 * 1024),
    /** Prefix of every Redis key and channel (the worker's REDIS_PREFIX). */
    REDIS_PREFIX: z.string().default('rosetta:'),
    /** Deepest nesting of fields a GraphQL document may have. */
    GRAPHQL_MAX_DEPTH: z.coerce.number().int().min(2).max(100).default(12),
    /** Highest estimated cost of a GraphQL operation (one per field, pages times their size). */
    GRAPHQL_MAX_COMPLEXITY: z.coerce.number().int().min(10).default(25_000),
    /** Most tokens a GraphQL document may have (parsing stops past them; send large batches as variables). */
    GRAPHQL_MAX_TOKENS: z.coerce.number().int().min(100).default(100_000),
    /** Largest page of a GraphQL connection (`first`). */
    GRAPHQL_MAX_PAGE: z.coerce.number().int().min(1).max(10_000).default(1000),
    /** Whether the schema can be introspected and GraphiQL is served on GET /graphql: true or false. */
    GRAPHQL_INTROSPECTION: z
      .enum(['true', 'false'])
      .default('true')
      .transform((v) => v === 'true'),
    /** Time for a request's headers to arrive (ms); a slower client is answered 408 and cut (slowloris). */
    GATEWAY_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
    /** Time for a whole request, headers and body, to arrive (ms); a slower upload is answered 408 and cut. */
    GATEWAY_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).default(60_000),
    /** How long an idle keep-alive connection is kept open (ms). */
    GATEWAY_KEEPALIVE_TIMEOUT_MS: z.coerce.number().int().min(100).default(5_000),
    /** Requests answered at once by one gateway process (streams not counted); past it, 503 with Retry-After. 0: no cap. */
    GATEWAY_MAX_INFLIGHT: z.coerce.number().int().min(0).default(1024),
    /** Event-loop delay (ms) past which new requests are answered 503 until the loop is on time again. 0: not watched. */
    GATEWAY_MAX_EVENT_LOOP_DELAY_MS: z.coerce.number().int().min(0).default(0),
    /** A streamed response whose client takes none of a written chunk for this long is cut (ms). */
    GATEWAY_STREAM_STALL_MS: z.coerce.number().int().min(100).default(30_000),
    /** Streamed responses (listings, exports, change streams) open at once in one process; past it, 503. 0: no cap. */
    GATEWAY_MAX_STREAMS: z.coerce.number().int().min(0).default(256),
    /** Streamed responses open at once for one client address; past it, 429. 0: no cap. */
    GATEWAY_MAX_STREAMS_PER_CLIENT: z.coerce.number().int().min(0).default(16),
    /** On SIGTERM, how long /readyz answers 503 before the port closes (ms), for a load balancer to notice. */
    GATEWAY_DRAIN_DELAY_MS: z.coerce.number().int().min(0).default(0),
    /** Deadline for a graceful shutdown (ms). */
    SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  })
  .extend(LegacyConfigSchema.shape)
  // The store the worker writes snapshots to: the gateway serves their downloads and deletes them.
  .extend(SnapshotStoreConfigSchema.shape);

export type GatewayConfig = z.output<typeof GatewayConfigSchema>;

export function loadConfig(env: Record<string, string | undefined> = process.env): GatewayConfig {
  return parseEnv(GatewayConfigSchema, env);
}

/** The GraphQL options of a configuration. */
export function graphqlOptions(config: GatewayConfig): GraphQLOptions {
  return {
    maxDepth: config.GRAPHQL_MAX_DEPTH,
    maxComplexity: config.GRAPHQL_MAX_COMPLEXITY,
    maxTokens: config.GRAPHQL_MAX_TOKENS,
    maxPage: config.GRAPHQL_MAX_PAGE,
    introspection: config.GRAPHQL_INTROSPECTION,
  };
}

/** The HTTP server's limits of slow clients and overload of a configuration. */
export function serverLimits(config: GatewayConfig): ServerLimits {
  return {
    headersTimeoutMs: config.GATEWAY_HEADERS_TIMEOUT_MS,
    requestTimeoutMs: config.GATEWAY_REQUEST_TIMEOUT_MS,
    keepAliveTimeoutMs: config.GATEWAY_KEEPALIVE_TIMEOUT_MS,
    maxInflight: config.GATEWAY_MAX_INFLIGHT,
    maxEventLoopDelayMs: config.GATEWAY_MAX_EVENT_LOOP_DELAY_MS,
    streamStallMs: config.GATEWAY_STREAM_STALL_MS,
    maxStreams: config.GATEWAY_MAX_STREAMS,
    maxStreamsPerClient: config.GATEWAY_MAX_STREAMS_PER_CLIENT,
  };
}
