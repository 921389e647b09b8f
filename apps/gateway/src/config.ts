import { z } from 'zod';
import { envLogLevel, envPort, parseEnv } from '@rosetta/platform';

export const GatewayConfigSchema = z.object({
  /** Interface the HTTP server binds to. */
  HOST: z.string().default('127.0.0.1'),
  /** Port of the HTTP server. */
  PORT: envPort(8080),
  /** Base URL of the record service (HTTP/2 cleartext). Ignored by the all-in-one process. */
  API_URL: z.url().default('http://127.0.0.1:8081'),
  /** Deadline for one call to the record service (ms); streams are exempt once started. */
  API_TIMEOUT_MS: z.coerce.number().int().min(100).default(30_000),
  /** Largest request body accepted (bytes): a value, or a batch of them. */
  MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(64 * 1024 * 1024),
  /** pino level: trace, debug, info, warn, error, fatal or silent. */
  LOG_LEVEL: envLogLevel(),
  /** Deadline for a graceful shutdown (ms). */
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
});

export type GatewayConfig = z.output<typeof GatewayConfigSchema>;

export function loadConfig(env: Record<string, string | undefined> = process.env): GatewayConfig {
  return parseEnv(GatewayConfigSchema, env);
}
