import { createTestDatabase, redisPrefix, type TestDatabase } from '../support/database';
import { authFetch, REDIS_URL } from '../support/env';
import { expectEventually } from '../support/expect-eventually';
import { freePort, startApiService, startService, waitUntilReady, type ServiceProcess } from '../support/processes';

/**
 * Read leases across processes (docs/cache-consistency.md, "Read leases"): an api, a gateway of
 * two processes and a second gateway, all on one Redis. The gateways answer a hot record from
 * their leases, and a write through any of them is seen at once by every other.
 */

jest.setTimeout(120_000);

let db: TestDatabase;
let api: ServiceProcess;
const gateways: ServiceProcess[] = [];
const bases: string[] = [];
const fetchAuth = authFetch();
const RECORD = '/v1/spaces/default/collections/leased/records/hot';

/** The sum of a counter's series on one gateway's /metrics (every process of it), by `result` if given. */
async function counter(base: string, name: string, result?: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    if (result !== undefined && !line.includes(`result="${result}"`)) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/** A GET on a new connection (node:cluster hands connections to its processes in turn). */
async function read(base: string): Promise<string> {
  const response = await fetchAuth(`${base}${RECORD}`, { headers: { connection: 'close' } });
  expect(response.status).toBe(200);
  return response.text();
}

beforeAll(async () => {
  db = await createTestDatabase();
  const prefix = redisPrefix();
  const apiPort = await freePort();
  api = startApiService(apiPort, db.url, prefix);
  for (const processes of ['2', '1']) {
    const port = await freePort();
    const gateway = startService('gateway', 'apps/gateway/dist/main.js', {
      PORT: String(port),
      API_URL: `http://127.0.0.1:${apiPort}`,
      GATEWAY_PROCESSES: processes,
      REDIS_URL,
      REDIS_PREFIX: prefix,
      LOG_LEVEL: 'warn',
      ACCESS_LOG: 'false',
    });
    gateways.push(gateway);
    bases.push(`http://127.0.0.1:${port}`);
    await waitUntilReady(gateway, `http://127.0.0.1:${port}/readyz`);
  }
  const created = await fetchAuth(`${bases[0]}/v1/spaces/default/collections`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'leased' }),
  });
  expect(created.status).toBe(201);
});

afterAll(async () => {
  await Promise.all(gateways.map((g) => g.stop()));
  await api?.stop();
  await db?.drop();
});

it('answers a hot record from the gateways, and shows every write at once through every gateway', async () => {
  const [first, second] = bases as [string, string];
  const put = async (base: string, value: string) => {
    const response = await fetchAuth(`${base}${RECORD}`, {
      method: 'PUT',
      headers: { 'content-type': 'text/plain', connection: 'close' },
      body: value,
    });
    expect(response.status).toBeLessThan(300);
  };
  await put(first, 'v0');
  // Every gateway process reads it until each answers from a lease of its own.
  await expectEventually(
    async () => {
      for (const base of [first, first, second]) expect(await read(base)).toBe('v0');
      expect(await counter(first, 'rosetta_gateway_lease_requests_total', 'hit')).toBeGreaterThan(0);
      expect(await counter(second, 'rosetta_gateway_lease_requests_total', 'hit')).toBeGreaterThan(0);
    },
    { timeoutMs: 20_000, intervalMs: 50 },
  );
  const revocationsBefore =
    (await counter(first, 'rosetta_gateway_lease_revocations_total')) +
    (await counter(second, 'rosetta_gateway_lease_revocations_total'));

  for (let round = 1; round <= 20; round++) {
    const [writer, other] = round % 2 === 0 ? [first, second] : [second, first];
    // Keep the leases warm between writes.
    for (let i = 0; i < 3; i++) await read(other);
    await put(writer, `v${round}`);
    // Acknowledged: no gateway process may answer the old value any more.
    for (const base of [other, other, writer, writer]) expect(await read(base)).toBe(`v${round}`);
  }
  const revocations =
    (await counter(first, 'rosetta_gateway_lease_revocations_total')) +
    (await counter(second, 'rosetta_gateway_lease_revocations_total'));
  expect(revocations).toBeGreaterThan(revocationsBefore);
});
