import { createTestDatabase, redisPrefix, type TestDatabase } from '../support/database';
import { authFetch } from '../support/env';
import { expectEventually } from '../support/expect-eventually';
import { freePort, startApiService, startService, waitUntilReady, type ServiceProcess } from '../support/processes';

/**
 * The record service, then the gateway, killed with SIGKILL in the middle of a write load and
 * started again: every write the gateway acknowledged is there with its value, and no batch is
 * half-written. Writers send single PUTs of new keys and batches of BATCH keys through the
 * gateway, WRITERS at a time, until WRITES records were acknowledged; the process dies once a
 * third of them were.
 */

jest.setTimeout(180_000);

const WRITES = 10_000;
const WRITERS = 16;
const BATCH = 10;
const COLLECTION = 'crash';

let db: TestDatabase;
let prefix: string;
let apiPort: number;
let gatewayPort: number;
let api: ServiceProcess;
let gateway: ServiceProcess;
let base: string;
const fetchAuth = authFetch();

const startGateway = () =>
  startService('gateway', 'apps/gateway/dist/main.js', {
    PORT: String(gatewayPort),
    API_URL: `http://127.0.0.1:${apiPort}`,
    API_TIMEOUT_MS: '5000',
    LOG_LEVEL: 'error',
  });

/** Kills one process with SIGKILL and starts it again with the same settings. */
const restart = {
  api: async () => {
    api.child.kill('SIGKILL');
    await api.stop();
    api = startApiService(apiPort, db.url, prefix);
  },
  gateway: async () => {
    gateway.child.kill('SIGKILL');
    await gateway.stop();
    gateway = startGateway();
  },
};

beforeAll(async () => {
  db = await createTestDatabase();
  prefix = redisPrefix();
  [apiPort, gatewayPort] = [await freePort(), await freePort()];
  api = startApiService(apiPort, db.url, prefix);
  gateway = startGateway();
  base = `http://127.0.0.1:${gatewayPort}`;
  await waitUntilReady(gateway, `${base}/readyz`);
});

afterAll(async () => {
  await gateway?.stop();
  await api?.stop();
  await db?.drop();
});

/** Every record of the collection, key → value (the listing as NDJSON). */
async function stored(records: string): Promise<Map<string, string>> {
  const res = await fetchAuth(`${base}${records}/records?limit=100000&format=ndjson`);
  expect(res.status).toBe(200);
  const found = new Map<string, string>();
  for (const line of (await res.text()).split('\n')) {
    if (line === '') continue;
    const { key, value } = JSON.parse(line) as { key: string; value: string };
    found.set(key, value);
  }
  return found;
}

it.each([['api' as const], ['gateway' as const]])(
  'keeps every acknowledged write and no half batch when the %s is killed mid-load',
  async (victim) => {
    const records = `/v1/spaces/default/collections/${COLLECTION}-${victim}`;
    const created = await fetchAuth(`${base}/v1/spaces/default/collections`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: `${COLLECTION}-${victim}` }),
    });
    expect(created.status).toBe(201);
    const acknowledged = new Map<string, string>();
    /** Batches whose answer never came or was an error: all or none of their keys may be there. */
    const unsure: string[][] = [];
    let attempts = 0;
    let failures = 0;
    /** Answers that were neither a success nor the service being unavailable. */
    const unexpected: number[] = [];
    let killed: Promise<void> | undefined;

    const kill = async () => {
      await restart[victim]();
      await expectEventually(
        async () => expect((await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(2_000) })).status).toBe(200),
        { timeoutMs: 60_000, intervalMs: 100 },
      );
    };

    const writer = async (id: number) => {
      while (acknowledged.size < WRITES) {
        const n = attempts++;
        if (killed === undefined && acknowledged.size >= WRITES / 3) killed = kill();
        const asBatch = n % 10 === 0;
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
          await res.arrayBuffer();
          if (res.ok) {
            for (const key of keys) acknowledged.set(key, `value of ${key}`);
            continue;
          }
          if (res.status < 500) unexpected.push(res.status);
        } catch {
          // The answer was lost: the write may or may not have happened.
        }
        failures += 1;
        if (asBatch) unsure.push(keys);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    await Promise.all(Array.from({ length: WRITERS }, (_, id) => writer(id)));
    await killed;

    expect(unexpected).toEqual([]);
    expect(acknowledged.size).toBeGreaterThanOrEqual(WRITES);
    // The kill happened under load: some requests failed while the api was away.
    expect(failures).toBeGreaterThan(0);

    const found = await stored(records);
    const missing = [...acknowledged].filter(([key, value]) => found.get(key) !== value).map(([key]) => key);
    expect(missing).toEqual([]);
    const halfWritten = unsure.filter((keys) => {
      const present = keys.filter((key) => found.has(key)).length;
      return present !== 0 && present !== keys.length;
    });
    expect(halfWritten).toEqual([]);
    // Nothing was stored that no writer sent.
    expect([...found.keys()].filter((key) => !/^(p\/\d+\/\d+|b\/\d+\/\d+\/\d)$/.test(key))).toEqual([]);
    expect(found.size).toBeLessThanOrEqual(attempts * BATCH);
  },
);
