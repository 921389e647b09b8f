import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createTestDatabase, redisPrefix, type TestDatabase } from '../support/database';
import { authFetch } from '../support/env';
import { expectEventually } from '../support/expect-eventually';
import { freePort, startApiService, startService, waitUntilReady, type ServiceProcess } from '../support/processes';

/**
 * GATEWAY_PROCESSES=2: the gateway's main process forks two workers sharing the port. Requests
 * are served by both, `/metrics` on either answers with both workers' series, a worker killed
 * with SIGKILL is replaced, and SIGTERM stops the whole group cleanly.
 */

jest.setTimeout(120_000);

let db: TestDatabase;
let api: ServiceProcess;
let gateway: ServiceProcess;
let base: string;
const fetchAuth = authFetch();

/** The pids of the processes whose parent is `pid` (from /proc). */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid …: comm may hold spaces, so split after its closing parenthesis.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // the process ended while /proc was read
    }
  }
  return children.sort((a, b) => a - b);
}

/** Requests to the record route by `process` label (the request-duration histogram's counts). */
function requestCounts(metrics: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of metrics.split('\n')) {
    const match =
      /^rosetta_http_request_duration_seconds_count\{process="(\d+)",.*route="\/v1\/spaces\/:space\/collections\/:collection\/records\/\*key".*\} (\d+)$/.exec(
        line,
      );
    if (match !== null) counts.set(match[1] as string, (counts.get(match[1] as string) ?? 0) + Number(match[2]));
  }
  return counts;
}

beforeAll(async () => {
  db = await createTestDatabase();
  const [apiPort, gatewayPort] = [await freePort(), await freePort()];
  api = startApiService(apiPort, db.url, redisPrefix());
  gateway = startService('gateway', 'apps/gateway/dist/main.js', {
    PORT: String(gatewayPort),
    API_URL: `http://127.0.0.1:${apiPort}`,
    GATEWAY_PROCESSES: '2',
    LOG_LEVEL: 'info',
    ACCESS_LOG: 'false',
  });
  base = `http://127.0.0.1:${gatewayPort}`;
  await waitUntilReady(gateway, `${base}/readyz`);
  await expectEventually(() => expect(childrenOf(gateway.child.pid as number)).toHaveLength(2));
  const created = await fetchAuth(`${base}/v1/spaces/default/collections`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'procs' }),
  });
  expect(created.status).toBe(201);
});

afterAll(async () => {
  await gateway?.stop();
  await api?.stop();
  await db?.drop();
});

it('serves requests from both processes, and /metrics shows both', async () => {
  for (let i = 0; i < 40; i++) {
    const put = await fetchAuth(`${base}/v1/spaces/default/collections/procs/records/k${i}`, {
      method: 'PUT',
      body: `value ${i}`,
      // A new connection each time: node:cluster hands connections out round-robin.
      headers: { connection: 'close', 'content-type': 'text/plain' },
    });
    expect(put.status).toBe(201);
  }
  const metrics = await (await fetch(`${base}/metrics`)).text();
  const counts = requestCounts(metrics);
  expect([...counts.keys()].sort()).toEqual(['0', '1']);
  expect([...counts.values()].every((n) => n > 0)).toBe(true);
  expect([...counts.values()].reduce((a, b) => a + b, 0)).toBe(40);
  expect(metrics.match(/^# TYPE rosetta_http_request_duration_seconds histogram$/gm)).toHaveLength(1);
});

it('replaces a process that dies, and keeps serving meanwhile', async () => {
  const before = childrenOf(gateway.child.pid as number);
  process.kill(before[0] as number, 'SIGKILL');
  // A connection the dead process held (or was being handed) fails or stalls; a new one is
  // served by the live process at once, so each try gets a deadline of its own.
  await expectEventually(
    async () => {
      const read = await fetchAuth(`${base}/v1/spaces/default/collections/procs/records/k1`, {
        headers: { connection: 'close' },
        signal: AbortSignal.timeout(2_000),
      });
      expect(read.status).toBe(200);
      expect(await read.text()).toBe('value 1');
    },
    { timeoutMs: 10_000 },
  );
  await expectEventually(
    () => {
      const now = childrenOf(gateway.child.pid as number);
      expect(now).toHaveLength(2);
      expect(now).not.toContain(before[0]);
    },
    { timeoutMs: 20_000 },
  );
  // The replacement's series appear once it listens.
  await expectEventually(
    async () => {
      const metrics = await (
        await fetch(`${base}/metrics`, { headers: { connection: 'close' }, signal: AbortSignal.timeout(10_000) })
      ).text();
      expect(metrics).toMatch(/\{process="0"/);
      expect(metrics).toMatch(/\{process="1"/);
    },
    { timeoutMs: 30_000 },
  );
  expect(gateway.output()).toMatch(/a gateway process exited; starting another/);
});

it('stops every process on SIGTERM', async () => {
  const children = childrenOf(gateway.child.pid as number);
  expect(children).toHaveLength(2);
  const code = await gateway.stop();
  expect(code).toBe(143);
  for (const pid of children) expect(() => process.kill(pid, 0)).toThrow();
});

it('exits with 1 when its processes cannot listen (the port is taken)', async () => {
  const taken = createServer();
  taken.listen(0, '127.0.0.1');
  await once(taken, 'listening');
  const address = taken.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const blocked = startService('gateway', 'apps/gateway/dist/main.js', {
    PORT: String(port),
    API_URL: 'http://127.0.0.1:9',
    GATEWAY_PROCESSES: '2',
  });
  try {
    const [code] = (await once(blocked.child, 'exit')) as [number | null];
    expect(code).toBe(1);
    expect(blocked.output()).toMatch(/a gateway process exited before it listened/);
  } finally {
    await blocked.stop();
    taken.close();
  }
});
