import { z } from 'zod';

const TRUE = new Set(['1', 'true', 'yes', 'on']);
const FALSE = new Set(['0', 'false', 'no', 'off', '']);

/**
 * An explicit boolean for environment variables: `z.coerce.boolean()` would read "false" as
 * true. Accepts 1/0, true/false, yes/no, on/off (any case); anything else is an error.
 */
export function envBoolean(defaultValue: boolean) {
  return z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined) return defaultValue;
      const value = raw.trim().toLowerCase();
      if (TRUE.has(value)) return true;
      if (FALSE.has(value)) return false;
      ctx.addIssue({ code: 'custom', message: `expected a boolean (true/false, 1/0, yes/no, on/off), got "${raw}"` });
      return z.NEVER;
    });
}

/** A TCP port number from the environment. */
export function envPort(defaultValue: number) {
  return z.coerce.number().int().min(0).max(65535).default(defaultValue);
}

/** An optional string where an empty value means "not set". */
export function envOptionalString() {
  return z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));
}

/** Parses `env` with `schema`, or throws one error that lists every bad variable. */
export function parseEnv<S extends z.ZodType>(schema: S, env: Record<string, string | undefined>): z.output<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => `  ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  throw new Error(`invalid configuration:\n${lines.join('\n')}`);
}

/** A pino log level, `info` unless set. */
export function envLogLevel() {
  return z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info');
}

/** How log lines are written: `json` (the default) or `pretty` (coloured lines for a terminal; `npm start` picks it on a TTY). */
export function envLogFormat() {
  return z.enum(['json', 'pretty']).default('json');
}
