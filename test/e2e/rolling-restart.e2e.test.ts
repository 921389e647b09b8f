import { once } from 'node:events';
import { connect } from 'node:net';
import { createTestDatabase, redisPrefix, type TestDatabase } from '../support/database';
import { authFetch } from '../support/env';
import { startServicePair, waitUntilReady, type ServiceProcess, type ServicePair } from '../support/processes';
import { expectStoredAfter, runWriteLoad, storedRecords } from '../support/write-load';

/**
 * Rolling restart under load: SIGTERM to the gateway, and a new gateway on the same port as soon
 * as the old one closed it; then the same for the api. Writers (PUTs and batches of new keys)
 * and readers (GETs of acknowledged keys) run over keep-alive connections throughout. A request
 * a process has read is answered for real by it (drain on SIGTERM: in-flight requests finish,
 * responses say `Connection: close`, the port closes first); the gateway sends again the calls
 * the old api refused before running them. Only connections refused while no gateway listened
 * fail, and the writers count those apart: nothing read them.
 */

jest.setTimeout(180_000);

const WRITES = 3_000;
const WRITERS = 12;
const READERS = 4;
const COLLECTION = 'rolling';

let db: TestDatabase;
let pair: ServicePair;
let base: string;
const fetchAuth = authFetch();

/** Resolves once nothing listens on `port` (a connection is refused). */
async function portClosed(port: number): Promise<void> {
  for (;;) {
    const socket = connect({ port, host: '127.0.0.1' });
    const outcome = await new Promise<'open' | 'closed'>((resolve) => {
      socket.once('connect', () => resolve('open'));
      socket.once('error', () => resolve('closed'));
    });
    socket.destroy();
    if (outcome === 'closed') return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The exit of a process told to stop: its code, or the signal that ended it. */
async function exitOf(service: ServiceProcess): Promise<number | string> {
  const { child } = service;
  if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
  return child.exitCode ?? child.signalCode ?? 'unknown';
}

/** SIGTERM to the running process; its successor starts as soon as the port is free. */
async function roll(old: ServiceProcess, port: number, successor: () => ServiceProcess): Promise<ServiceProcess> {
  old.child.kill('SIGTERM');
  await portClosed(port);
  const started = successor();
  // Drained and exited by itself (143), not cut short.
  expect(await exitOf(old)).toBe(143);
  return started;
}

beforeAll(async () => {
  db = await createTestDatabase();
  pair = await startServicePair(db.url, redisPrefix());
  base = pair.base;
});

afterAll(async () => {
  await pair?.stop();
  await db?.drop();
});

it('loses no accepted request when the gateway, then the api, is restarted under load', async () => {
  const records = `/v1/spaces/default/collections/${COLLECTION}`;
  const created = await fetchAuth(`${base}/v1/spaces/default/collections`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: COLLECTION }),
  });
  expect(created.status).toBe(201);

  const load = await runWriteLoad({
    base,
    records,
    writes: WRITES,
    writers: WRITERS,
    readers: READERS,
    fault: async () => {
      pair.gateway = await roll(pair.gateway, pair.gatewayPort, pair.startGateway);
      await waitUntilReady(pair.gateway, `${base}/readyz`);
      pair.api = await roll(pair.api, pair.apiPort, pair.startApi);
      await waitUntilReady(pair.gateway, `${base}/readyz`);
    },
  });

  expect(load.failures).toEqual([]);
  expect(load.unexpected).toEqual([]);
  expect(load.staleReads).toEqual([]);
  expect(load.reads).toBeGreaterThan(0);
  expect(load.acknowledged.size).toBeGreaterThanOrEqual(WRITES);
  expectStoredAfter(load, await storedRecords(base, records));
  console.info(
    `rolling restart: ${load.attempts} requests (${load.reads} reads), ${load.acknowledged.size} writes acknowledged, ` +
      `${load.refused} refused at connect while no gateway listened, 0 failed`,
  );
});
