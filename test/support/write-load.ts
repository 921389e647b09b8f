import { authFetch } from './env';

/**
 * A write load through the gateway's REST API, the shape of the fault tests: WRITERS writers send
 * single PUTs of new keys (`p/<writer>/<n>`) and, every tenth request (`batchEvery`), batches of BATCH new keys
 * (`b/<writer>/<n>/<i>`), each with the value `value of <key>`, until `writes` records were
 * acknowledged. `fault` runs once, when a third of them were, and the load goes on at least
 * until it has ended; optional readers GET acknowledged keys meanwhile and check their values.
 * Nothing is retried: every request is counted once.
 */
export interface WriteLoadOptions {
  /** The gateway's base URL. */
  readonly base: string;
  /** The collection's path, `/v1/spaces/<space>/collections/<name>`. */
  readonly records: string;
  readonly writes: number;
  readonly writers: number;
  readonly readers?: number;
  /** One write request in this many is a batch (10 when unset; 1: all of them). */
  readonly batchEvery?: number;
  /** Runs once a third of the writes were acknowledged (given those so far); the load goes on meanwhile. */
  readonly fault?: (acknowledged: ReadonlyMap<string, string>) => Promise<void>;
}

export const BATCH = 10;

export interface WriteLoadResult {
  /** Acknowledged writes, key → value. */
  readonly acknowledged: Map<string, string>;
  /** Keys of batches whose answer never came or was an error: all or none of them may be stored. */
  readonly unsure: string[][];
  /** Requests sent, writes and reads. */
  readonly attempts: number;
  /** Write requests sent (a bound on the records stored is this times BATCH). */
  readonly writeAttempts: number;
  /** Requests refused at connect (ECONNREFUSED: no process listened, so none read them). */
  readonly refused: number;
  /** Requests whose answer was lost or an error (not counting those refused at connect), each described. */
  readonly failures: string[];
  /** Answers that were neither a success nor a 5xx, each described. */
  readonly unexpected: string[];
  /** Reads that answered 200 with another value than the acknowledged one. */
  readonly staleReads: string[];
  /** Reads of acknowledged keys that answered 200. */
  readonly reads: number;
}

const fetchAuth = authFetch();

/** Whether fetch failed because the connection was refused (nothing listened on the port). */
function refusedAtConnect(error: unknown): boolean {
  const cause = (error as { cause?: { code?: unknown } } | undefined)?.cause;
  return cause?.code === 'ECONNREFUSED';
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  return `${String(error)}${cause === undefined ? '' : ` (${String(cause.code ?? cause.message)})`}`;
}

export async function runWriteLoad(options: WriteLoadOptions): Promise<WriteLoadResult> {
  const { base, records, writes } = options;
  const acknowledged = new Map<string, string>();
  const acknowledgedKeys: string[] = [];
  const unsure: string[][] = [];
  const failures: string[] = [];
  const unexpected: string[] = [];
  const staleReads: string[] = [];
  let attempts = 0;
  let writeAttempts = 0;
  let refused = 0;
  let reads = 0;
  let faulted: Promise<void> | undefined;
  let faultEnded = false;
  let faultFailed: { error: unknown } | undefined;
  // A fault that failed stops the load: what it was to test did not happen.
  const going = () =>
    faultFailed === undefined && (acknowledged.size < writes || (faulted !== undefined && !faultEnded));
  const pause = () => new Promise((resolve) => setTimeout(resolve, 20));

  const writer = async (id: number) => {
    while (going()) {
      const n = attempts++;
      writeAttempts += 1;
      if (faulted === undefined && options.fault !== undefined && acknowledged.size >= writes / 3) {
        faulted = options.fault(acknowledged).then(
          () => void (faultEnded = true),
          (error: unknown) => void (faultFailed = { error }),
        );
      }
      const asBatch = n % (options.batchEvery ?? 10) === 0;
      const keys = asBatch ? Array.from({ length: BATCH }, (_, i) => `b/${id}/${n}/${i}`) : [`p/${id}/${n}`];
      try {
        const res = asBatch
          ? await fetchAuth(`${base}${records}/batch`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ records: keys.map((key) => ({ key, value: `value of ${key}` })) }),
              signal: AbortSignal.timeout(15_000),
            })
          : await fetchAuth(`${base}${records}/records/${keys[0]}`, {
              method: 'PUT',
              headers: { 'content-type': 'text/plain' },
              body: `value of ${keys[0]}`,
              signal: AbortSignal.timeout(15_000),
            });
        const body = await res.text();
        if (res.ok) {
          for (const key of keys) {
            acknowledged.set(key, `value of ${key}`);
            acknowledgedKeys.push(key);
          }
          continue;
        }
        if (res.status < 500) unexpected.push(`${res.status} ${body}`);
        failures.push(`${asBatch ? 'batch' : 'PUT'} answered ${res.status} ${body}`);
      } catch (error) {
        // The answer was lost: the write may or may not have happened, unless nothing listened.
        if (refusedAtConnect(error)) refused += 1;
        else failures.push(`${asBatch ? 'batch' : 'PUT'}: ${describe(error)}`);
      }
      if (asBatch) unsure.push(keys);
      await pause();
    }
  };

  const reader = async () => {
    while (going()) {
      const key = acknowledgedKeys[Math.floor(Math.random() * acknowledgedKeys.length)];
      if (key === undefined) {
        await pause();
        continue;
      }
      attempts += 1;
      try {
        const res = await fetchAuth(`${base}${records}/records/${key}`, { signal: AbortSignal.timeout(15_000) });
        const body = await res.text();
        if (res.status === 200) {
          reads += 1;
          if (body !== acknowledged.get(key)) staleReads.push(`${key}: ${body}`);
          continue;
        }
        if (res.status < 500) unexpected.push(`GET ${key}: ${res.status} ${body}`);
        failures.push(`GET ${key} answered ${res.status} ${body}`);
      } catch (error) {
        if (refusedAtConnect(error)) refused += 1;
        else failures.push(`GET ${key}: ${describe(error)}`);
      }
      await pause();
    }
  };

  await Promise.all([
    ...Array.from({ length: options.writers }, (_, id) => writer(id)),
    ...Array.from({ length: options.readers ?? 0 }, () => reader()),
  ]);
  await faulted;
  if (faultFailed !== undefined) throw faultFailed.error;
  return { acknowledged, unsure, attempts, writeAttempts, refused, failures, unexpected, staleReads, reads };
}

/** Every record of the collection at `base` + `records`, key → value (the listing as NDJSON). */
export async function storedRecords(base: string, records: string): Promise<Map<string, string>> {
  const res = await fetchAuth(`${base}${records}/records?limit=100000&format=ndjson`);
  expect(res.status).toBe(200);
  const found = new Map<string, string>();
  let trailer: unknown;
  for (const line of (await res.text()).split('\n')) {
    if (line === '') continue;
    const entry = JSON.parse(line) as { key: string; value: string } | { done: true; cursor: string | null };
    if ('done' in entry) trailer = entry;
    else found.set(entry.key, entry.value);
  }
  // The listing ended, and on its last page.
  expect(trailer).toEqual({ done: true, cursor: null });
  return found;
}

/**
 * Checks what the store holds after a load: every acknowledged write with its value, no unsure
 * batch half-written, and no key that no writer sent (at most BATCH per write request).
 */
export function expectStoredAfter(load: WriteLoadResult, found: Map<string, string>): void {
  const missing = [...load.acknowledged].filter(([key, value]) => found.get(key) !== value).map(([key]) => key);
  expect(missing).toEqual([]);
  const halfWritten = load.unsure.filter((keys) => {
    const present = keys.filter((key) => found.has(key)).length;
    return present !== 0 && present !== keys.length;
  });
  expect(halfWritten).toEqual([]);
  expect([...found.keys()].filter((key) => !/^(p\/\d+\/\d+|b\/\d+\/\d+\/\d)$/.test(key))).toEqual([]);
  expect(found.size).toBeLessThanOrEqual(load.writeAttempts * BATCH);
}
