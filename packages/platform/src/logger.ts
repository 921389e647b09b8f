import pino, { type DestinationStream, type Logger } from 'pino';
import { traceFields } from './telemetry';

export type { Logger };

/** Paths that may hold secrets; pino replaces their values before a line is written. */
const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-session-token"]',
  'req.headers["rosetta-grant"]',
  'headers.authorization',
  'headers["x-session-token"]',
  'headers["rosetta-grant"]',
  'secret',
  'session',
  'grant',
  '*.secret',
  '*.session',
  '*.grant',
  'password',
  'token',
  '*.password',
  '*.token',
];

export interface LoggerOptions {
  readonly name: string;
  readonly level: string;
  /** `pretty` writes coloured, human-readable lines (for development); `json` unless set. */
  readonly format?: 'json' | 'pretty';
  /** Where JSON lines go instead of stdout (tests capture them); ignored by `pretty`. */
  readonly destination?: DestinationStream;
}

/**
 * JSON lines on stdout, one logger per process, children per component. Every line written
 * while a span is active carries its `trace_id` and `span_id`.
 */
export function createLogger(options: LoggerOptions): Logger {
  const pretty = options.format === 'pretty';
  const settings: pino.LoggerOptions = {
    name: options.name,
    level: options.level,
    redact: { paths: REDACT, censor: '[redacted]' },
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin: traceFields,
    ...(pretty
      ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid' } } }
      : {}),
  };
  return pretty || options.destination === undefined ? pino(settings) : pino(settings, options.destination);
}
