import { createTestDatabase, redisPrefix, type TestDatabase } from '../support/database';
import { authFetch } from '../support/env';
import { expectEventually } from '../support/expect-eventually';
import { startServicePair, type ServicePair } from '../support/processes';
import { expectStoredAfter, runWriteLoad, storedRecords } from '../support/write-load';

/**
 * The record service, then the gateway, killed with SIGKILL in the middle of a write load and
 * started again: every write the gateway acknowledged is there with its value, and no batch is
 * half-written. Writers send single PUTs of new keys and batches of BATCH keys through the
 * gateway (test/support/write-load.ts), WRITERS at a time, until WRITES records were acknowledged;
 * the process dies once a third of them were.
 */

jest.setTimeout(180_000);

const WRITES = 10_000;
const WRITERS = 16;
const COLLECTION = 'crash';

let db: TestDatabase;
let pair: ServicePair;
let base: string;
const fetchAuth = authFetch();

/** Kills one process with SIGKILL and starts it again with the same settings. */
const restart = {
  api: async () => {
    pair.api.child.kill('SIGKILL');
    await pair.api.stop();
    pair.api = pair.startApi();
  },
  gateway: async () => {
    pair.gateway.child.kill('SIGKILL');
    await pair.gateway.stop();
    pair.gateway = pair.startGateway();
  },
};

beforeAll(async () => {
  db = await createTestDatabase();
  pair = await startServicePair(db.url, redisPrefix(), { gateway: { API_TIMEOUT_MS: '5000' } });
  base = pair.base;
});

afterAll(async () => {
  await pair?.stop();
  await db?.drop();
});

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
    const load = await runWriteLoad({
      base,
      records,
      writes: WRITES,
      writers: WRITERS,
      fault: async () => {
        await restart[victim]();
        await expectEventually(
          async () => expect((await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(2_000) })).status).toBe(200),
          { timeoutMs: 60_000, intervalMs: 100 },
        );
      },
    });

    expect(load.unexpected).toEqual([]);
    expect(load.acknowledged.size).toBeGreaterThanOrEqual(WRITES);
    // The kill happened under load: some requests failed while the process was away.
    expect(load.failures.length + load.refused).toBeGreaterThan(0);
    expectStoredAfter(load, await storedRecords(base, records));
  },
);
