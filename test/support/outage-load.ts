import { authFetch } from './env';

/**
 * A read and write load through the gateway's /v1 for the backend-outage tests, that remembers
 * every request's time, duration and answer, and checks freshness as it goes: each writer owns
 * one hot key and writes 1, 2, 3, … to it, one write at a time; a reader that starts after
 * write n was acknowledged must read n or later, never older (a stale cache would break this).
 * Writers also PUT a fresh key per round, so durability can be checked afterwards.
 */

export interface Outcome {
  readonly op: 'hot-put' | 'fresh-put' | 'get' | 'list';
  /** Milliseconds since the load started. */
  readonly startedAt: number;
  readonly ms: number;
  /** The HTTP status, or 0 when no answer came (connection error, client timeout). */
  readonly status: number;
  readonly retryAfter: string | null;
}

export interface LoadResult {
  readonly outcomes: readonly Outcome[];
  /** Fresh keys whose PUT was acknowledged, with their values. */
  readonly acknowledged: ReadonlyMap<string, string>;
  /** Reads that returned a value older than one acknowledged before they started. */
  readonly stale: readonly string[];
  /** The last acknowledged value of each hot key. */
  readonly hot: ReadonlyMap<string, number>;
}

export interface Load {
  /** Milliseconds since the load started. */
  elapsed(): number;
  /** Stops every loop and answers what happened. */
  stop(): Promise<LoadResult>;
}

/** Starts `writers` writers and `readers` readers on `records` (a /v1 collection path under `base`). */
export function startOutageLoad(base: string, records: string, options: { writers: number; readers: number }): Load {
  const fetchAuth = authFetch();
  const started = Date.now();
  const elapsed = () => Date.now() - started;
  const outcomes: Outcome[] = [];
  const acknowledged = new Map<string, string>();
  const hot = new Map<string, number>();
  const stale: string[] = [];
  let running = true;

  const timed = async (op: Outcome['op'], url: string, init?: RequestInit): Promise<[number, string]> => {
    const at = elapsed();
    let status = 0;
    let retryAfter: string | null = null;
    let body = '';
    try {
      const res = await fetchAuth(url, { ...init, signal: AbortSignal.timeout(30_000) });
      body = await res.text();
      status = res.status;
      retryAfter = res.headers.get('retry-after');
    } catch {
      // no answer: status 0
    }
    outcomes.push({ op, startedAt: at, ms: elapsed() - at, status, retryAfter });
    return [status, body];
  };
  const put = (op: Outcome['op'], key: string, value: string) =>
    timed(op, `${base}${records}/records/${key}`, {
      method: 'PUT',
      headers: { 'content-type': 'text/plain' },
      body: value,
    });
  const pause = () => new Promise((resolve) => setTimeout(resolve, 10));

  const writer = async (id: number) => {
    const key = `hot-${id}`;
    for (let n = (hot.get(key) ?? 0) + 1; running;) {
      const [status] = await put('hot-put', key, String(n));
      if (status >= 200 && status < 300) {
        hot.set(key, n);
        n += 1;
      } else {
        await pause();
      }
      const fresh = `fresh-${id}-${n}-${outcomes.length}`;
      const [freshStatus] = await put('fresh-put', fresh, `value of ${fresh}`);
      if (freshStatus >= 200 && freshStatus < 300) acknowledged.set(fresh, `value of ${fresh}`);
    }
  };
  const reader = async (id: number) => {
    for (let round = 0; running; round += 1) {
      if (round % 10 === 9) {
        await timed('list', `${base}${records}/records?limit=20`);
        continue;
      }
      const key = `hot-${(id + round) % options.writers}`;
      const floor = hot.get(key) ?? 0;
      const [status, body] = await timed('get', `${base}${records}/records/${key}`);
      if (status === 200 && Number(body) < floor) stale.push(`${key}: read ${body} after ${floor} was acknowledged`);
      if (status !== 200) await pause();
    }
  };
  const loops = [
    ...Array.from({ length: options.writers }, (_, id) => writer(id)),
    ...Array.from({ length: options.readers }, (_, id) => reader(id)),
  ];
  return {
    elapsed,
    async stop() {
      running = false;
      await Promise.all(loops);
      return { outcomes, acknowledged, stale, hot };
    },
  };
}

/**
 * Reads back, after the load: the acknowledged fresh keys that are not stored with their
 * value (none, if nothing acknowledged was lost), and each hot key's stored number.
 */
export async function readBack(
  base: string,
  records: string,
  result: LoadResult,
): Promise<{ lost: string[]; hot: Map<string, number> }> {
  const fetchAuth = authFetch();
  const read = async (key: string) => {
    const res = await fetchAuth(`${base}${records}/records/${key}`);
    return res.status === 200 ? await res.text() : `status ${res.status}`;
  };
  const lost: string[] = [];
  for (const [key, value] of result.acknowledged) if ((await read(key)) !== value) lost.push(key);
  const hot = new Map<string, number>();
  for (const key of result.hot.keys()) hot.set(key, Number(await read(key)));
  return { lost, hot };
}
