import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'graphql-ws';
import { Redis } from 'ioredis';
import { WebSocket } from 'ws';
import { createTestDatabase, redisPrefix } from '../support/database';
import { authFetch, REDIS_URL, TEST_ADMIN_TOKEN } from '../support/env';
import { expectEventually } from '../support/expect-eventually';
import { freePort, startService, waitUntilReady, type ServiceProcess } from '../support/processes';

/**
 * The embedded default, as `npm start` runs it: one process, no Postgres or Redis server, data
 * under a directory (PGlite), surviving a restart.
 */

jest.setTimeout(120_000);

const dataDir = mkdtempSync(join(tmpdir(), 'rosetta-e2e-'));
let port: number;

async function start(): Promise<ServiceProcess> {
  const service = startService('standalone', 'apps/standalone/dist/main.js', {
    PORT: String(port),
    ROSETTA_DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    // Past it a job's total is the planner's estimate (EXPLAIN on the embedded Postgres too).
    JOB_EXACT_COUNT_LIMIT: '100',
  });
  await waitUntilReady(service, `http://127.0.0.1:${port}/readyz`, 60_000);
  return service;
}

beforeAll(async () => {
  port = await freePort();
});

afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

it('runs the whole store in one process and keeps its data across a restart', async () => {
  const base = `http://127.0.0.1:${port}/v1/spaces/default/collections`;
  const first = await start();
  let call: typeof fetch = fetch;
  let token = '';
  try {
    expect(first.output()).toContain(`Rosetta is running at http://127.0.0.1:${port}`);
    // A first start without ROSETTA_ADMIN_PASSWORD or ROSETTA_ADMIN_TOKEN prints an admin token, once.
    token = /First start: the admin's API token[^\n]*\n\n\s+(rst_\S+)/.exec(first.output())?.[1] ?? '';
    expect(token).not.toBe('');
    expect((await fetch(base)).status).toBe(401);
    call = authFetch(token);
    const created = await call(base, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'notes' }),
    });
    expect(created.status).toBe(201);
    const batch = await call(`${base}/notes/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        records: Array.from({ length: 300 }, (_, i) => ({ key: `n/${String(i).padStart(3, '0')}`, value: { i } })),
      }),
    });
    expect(batch.status).toBe(200);
    const put = await call(`${base}/notes/records/hello`, {
      method: 'PUT',
      headers: { 'content-type': 'text/plain' },
      body: 'world',
    });
    expect(put.status).toBe(201);
    const duplicate = await call(`${base}/notes/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        records: [
          { key: 'd', value: 1 },
          { key: 'd', value: 2 },
        ],
      }),
    });
    expect(duplicate.status).toBe(422);
    expect(await first.stop()).toBe(143);
  } finally {
    await first.stop();
  }

  const second = await start();
  try {
    expect(second.output()).not.toContain('First start');
    const got = await call(`${base}/notes/records/hello`);
    expect(await got.text()).toBe('world');
    const listed = (await (await call(`${base}/notes/records?prefix=n/&limit=250`)).json()) as {
      records: Array<{ key: string; value: string }>;
      cursor: string | null;
    };
    expect(listed.records).toHaveLength(250);
    expect(listed.records[7]).toMatchObject({ key: 'n/007', value: '{"i":7}' });
    expect(listed.cursor).not.toBeNull();
    const count = (await (await call(`${base}/notes/count?pattern=n/2*`)).json()) as { count: number };
    expect(count.count).toBe(100);
    expect((await call(`${base}/notes/records/d`)).status).toBe(404);

    // GraphQL subscriptions, fed by the in-process event bus.
    type Change = { op: string; key: string; value: string | null; revision: number };
    const results: Array<{ data?: { changes: Change } | null; errors?: unknown }> = [];
    const state: { connected: boolean; ended: unknown } = { connected: false, ended: undefined };
    const client = createClient({
      url: `ws://127.0.0.1:${port}/graphql`,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { Authorization: `Bearer ${token}` },
      on: { connected: () => (state.connected = true) },
    });
    try {
      client.subscribe<{ changes: Change }>(
        { query: 'subscription { changes(space: "default", collection: "notes") { op key value revision } }' },
        {
          next: (result) => results.push(result),
          error: (error: unknown) => (state.ended = error),
          complete: () => (state.ended ??= 'complete'),
        },
      );
      await expectEventually(() => expect(state).toEqual({ connected: true, ended: undefined }));
      // The subscription listens a moment after the acknowledgement: write until a write shows.
      let seen: { value: string; revision: number } | undefined;
      for (let attempt = 1; seen === undefined; attempt++) {
        const value = `live (${attempt})`;
        const put = await call(`${base}/notes/records/live`, { method: 'PUT', body: value });
        expect(put.status).toBe(attempt === 1 ? 201 : 200);
        const revision = Number((put.headers.get('etag') ?? '').replaceAll('"', ''));
        try {
          await expectEventually(
            () => expect(results).toContainEqual({ data: { changes: expect.objectContaining({ revision }) } }),
            { timeoutMs: 3000 },
          );
          seen = { value, revision };
        } catch (error) {
          if (attempt === 5 || state.ended !== undefined) throw error;
        }
      }
      expect(results).toContainEqual({
        data: { changes: { op: 'PUT', key: 'live', value: seen.value, revision: seen.revision } },
      });
      expect(state.ended).toBeUndefined();
    } finally {
      await client.dispose();
    }

    // A bulk delete of 300 records, sized by the planner past the 100 counted, runs in process.
    const started = await call(`${base}/notes/delete-jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prefix: 'n/' }),
    });
    expect(started.status).toBe(202);
    const job = (await started.json()) as { id: number; progress: { total: number } };
    expect(job.progress.total).toBeGreaterThanOrEqual(101);
    await expectEventually(
      async () => {
        const now = (await (await call(`http://127.0.0.1:${port}/v1/spaces/default/jobs/${job.id}`)).json()) as {
          state: string;
          progress: { done: number };
        };
        expect(now).toMatchObject({ state: 'succeeded', progress: { done: 300 } });
      },
      { timeoutMs: 30_000 },
    );
    const left = (await (await call(`${base}/notes/count?prefix=n/`)).json()) as { count: number };
    expect(left.count).toBe(0);
  } finally {
    expect(await second.stop()).toBe(143);
  }
});

it('uses real Postgres, a Redis cache and BullMQ when DATABASE_URL and REDIS_URL are set', async () => {
  const db = await createTestDatabase();
  const prefix = redisPrefix();
  const redis = new Redis(REDIS_URL);
  const events: string[] = [];
  redis.on('message', (_channel: string, message: string) => events.push(message));
  await redis.subscribe(`${prefix}events:default/shared`);
  const service = startService('standalone', 'apps/standalone/dist/main.js', {
    PORT: String(port),
    DATABASE_URL: db.url,
    REDIS_URL,
    REDIS_PREFIX: prefix,
    WORKER_HEALTH_PORT: String(await freePort()),
    RELAY_INTERVAL_MS: '100',
    ROSETTA_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    LOG_LEVEL: 'warn',
  });
  const call = authFetch();
  try {
    await waitUntilReady(service, `http://127.0.0.1:${port}/readyz`);
    expect(service.output()).toContain('storage: Postgres at DATABASE_URL; Redis cache, BullMQ jobs');
    const base = `http://127.0.0.1:${port}/v1/spaces/default/collections`;
    const created = await call(base, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'shared' }),
    });
    expect(created.status).toBe(201);
    const put = await call(`${base}/shared/records/k`, { method: 'PUT', body: 'v' });
    expect(put.status).toBe(201);
    await expectEventually(() => expect(events.join('\n')).toContain('"key":"k"'), { timeoutMs: 10_000 });
    const inspector = new Redis(REDIS_URL);
    try {
      expect(await inspector.keys(`${prefix}bull:*`)).not.toHaveLength(0);
      expect(await inspector.keys(`${prefix}r:*`)).not.toHaveLength(0);
    } finally {
      inspector.disconnect();
    }
  } finally {
    expect(await service.stop()).toBe(143);
    redis.disconnect();
    await db.drop();
  }
});
