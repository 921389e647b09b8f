import { availableParallelism, cpus } from 'node:os';

/** The type URL DVID gives its keyvalue type; clients compare it, so it is DVID's, not ours. */
export const KEYVALUE_TYPE_URL = 'github.com/janelia-flyem/dvid/datatype/keyvalue';

/** `GET /api/server/types` and `/api/server/compiled-types`: the one type we serve. */
export const SERVER_TYPES: Readonly<Record<string, string>> = { keyvalue: KEYVALUE_TYPE_URL };

export interface ServerInfoInput {
  /** When this process started serving. */
  readonly startedAt: Date;
  /** The host name DVID reports (its configured `host`). */
  readonly host: string;
  /** The server's note (free text from the configuration). */
  readonly note: string;
  /** Rosetta's version, reported as `rosetta-<version>`. */
  readonly version: string;
  readonly now?: Date;
}

const pad = (value: number, width = 2) => String(value).padStart(width, '0');

/** Go's `time.Time.String()` for a UTC time: `2006-01-02 15:04:05.999 +0000 UTC`, zeros of the fraction trimmed. */
export function goTime(time: Date): string {
  const date = `${time.getUTCFullYear()}-${pad(time.getUTCMonth() + 1)}-${pad(time.getUTCDate())}`;
  const clock = `${pad(time.getUTCHours())}:${pad(time.getUTCMinutes())}:${pad(time.getUTCSeconds())}`;
  const fraction = pad(time.getUTCMilliseconds(), 3).replace(/0+$/, '');
  return `${date} ${clock}${fraction === '' ? '' : `.${fraction}`} +0000 UTC`;
}

/** Go's `time.Duration.String()` for whole milliseconds: `0s`, `250ms`, `1.5s`, `1h0m2s`. */
export function goDuration(milliseconds: number): string {
  const total = Math.max(0, Math.round(milliseconds));
  if (total === 0) return '0s';
  if (total < 1000) return `${total}ms`;
  const hours = Math.floor(total / 3_600_000);
  const minutes = Math.floor(total / 60_000) % 60;
  const fraction = pad(total % 1000, 3).replace(/0+$/, '');
  const seconds = `${Math.floor(total / 1000) % 60}${fraction === '' ? '' : `.${fraction}`}s`;
  if (hours > 0) return `${hours}h${minutes}m${seconds}`;
  return minutes > 0 ? `${minutes}m${seconds}` : seconds;
}

/**
 * `GET /api/server/info`: DVID's flat object of strings, keys in the byte order Go's JSON encoder
 * writes a map in. There is no RPC server and no TOML file, so those are empty. `Max Open Files`
 * is left out, as DVID leaves it out when it cannot read the limit (Node cannot).
 */
export function serverInfo(input: ServerInfoInput): Record<string, string> {
  const now = input.now ?? new Date();
  const cores = availableParallelism();
  return {
    Cores: String(cores),
    'DVID Version': `rosetta-${input.version}`,
    'Datastore Version': '0.11.0',
    Host: input.host,
    // os.cpus() is empty where /proc is hidden; the usable count is then the best known.
    'Maximum Cores': String(cpus().length || cores),
    Note: input.note,
    'RPC Address': '',
    'Server time': goTime(now),
    'Server uptime': goDuration(now.getTime() - input.startedAt.getTime()),
    'Storage backend': 'postgres',
    'TOML location': '',
  };
}
