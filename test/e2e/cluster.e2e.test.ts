import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { create, toBinary } from '@bufbuild/protobuf';
import { createClient, type Client } from 'graphql-ws';
import { Redis } from 'ioredis';
import { WebSocket } from 'ws';
import { KeyValuesSchema } from '../../packages/proto/src';
import { createTestDatabase, redisPrefix, type TestDatabase } from '../support/database';
import { authFetch, REDIS_URL, TEST_ADMIN_TOKEN, TEST_INTERNAL_SECRET } from '../support/env';
import { expectEventually } from '../support/expect-eventually';
import { freePort, startApiService, startService, waitUntilReady, type ServiceProcess } from '../support/processes';

/**
 * The cluster shape: api, worker and gateway as three processes, on the real Postgres and
 * Redis, driven over HTTP like any client would.
 */

jest.setTimeout(180_000);

let db: TestDatabase;
let prefix: string;
let api: ServiceProcess;
let worker: ServiceProcess;
let gateway: ServiceProcess;
let base: string;
let subscriber: Redis;
const events: Array<{ op: string; key: string; revision: string }> = [];

beforeAll(async () => {
  db = await createTestDatabase();
  prefix = redisPrefix();
  const [apiPort, gatewayPort, workerPort] = [await freePort(), await freePort(), await freePort()];
  api = startApiService(apiPort, db.url, prefix);
  // The api speaks HTTP/2 only, which fetch does not: the gateway's readiness covers it.
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  worker = startService('worker', 'apps/worker/dist/main.js', {
    API_URL: apiUrl,
    REDIS_URL,
    REDIS_PREFIX: prefix,
    WORKER_HEALTH_PORT: String(workerPort),
    RELAY_INTERVAL_MS: '100',
    ROSETTA_INTERNAL_SECRET: TEST_INTERNAL_SECRET,
    LOG_LEVEL: 'warn',
  });
  gateway = startService('gateway', 'apps/gateway/dist/main.js', {
    PORT: String(gatewayPort),
    API_URL: apiUrl,
    // The change events that feed GraphQL subscriptions, as the worker's relay publishes them.
    REDIS_URL,
    REDIS_PREFIX: prefix,
    LOG_LEVEL: 'warn',
  });
  base = `http://127.0.0.1:${gatewayPort}`;
  await waitUntilReady(gateway, `${base}/readyz`);
  await waitUntilReady(worker, `http://127.0.0.1:${workerPort}/readyz`);
  subscriber = new Redis(REDIS_URL);
  subscriber.on('message', (_channel: string, message: string) => {
    events.push(JSON.parse(message) as { op: string; key: string; revision: string });
  });
  await subscriber.subscribe(`${prefix}events:default/e2e`);
});

afterAll(async () => {
  subscriber?.disconnect();
  await Promise.all([gateway, worker, api].filter(Boolean).map((s) => s.stop()));
  await db?.drop();
});

const call = authFetch();
const run = promisify(execFile);
const collectionUrl = () => `${base}/v1/spaces/default/collections/e2e`;

interface GraphQLReply<T> {
  data?: T | null;
  errors?: Array<{ message: string; extensions?: { code?: string } }>;
}

/** POST /graphql as the admin: the status and the reply. */
async function graphql<T>(query: string, variables: Record<string, unknown> = {}) {
  const res = await call(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, body: (await res.json()) as GraphQLReply<T> };
}

interface LiveSubscription<T> {
  readonly client: Client;
  /** The results received so far. */
  readonly results: Array<GraphQLReply<T>>;
  /** Whether the server acknowledged the connection; the error (or close event) that ended it. */
  readonly state: { connected: boolean; ended: unknown };
}

/**
 * A graphql-ws client of the gateway subscribed to `query`. It never retries, so a refusal
 * shows as `state.ended`; dispose its client in a finally.
 */
function subscribe<T>(query: string, connectionParams?: Record<string, string>): LiveSubscription<T> {
  const state: LiveSubscription<T>['state'] = { connected: false, ended: undefined };
  const results: Array<GraphQLReply<T>> = [];
  const client = createClient({
    url: `${base.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    ...(connectionParams === undefined ? {} : { connectionParams }),
    on: { connected: () => (state.connected = true) },
  });
  client.subscribe<T>(
    { query },
    {
      next: (result) => results.push(result as GraphQLReply<T>),
      error: (error: unknown) => (state.ended = error),
      complete: () => (state.ended ??= 'complete'),
    },
  );
  return { client, results, state };
}

it('serves /v1 across the three processes and relays change events through the worker', async () => {
  const created = await call(`${base}/v1/spaces/default/collections`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'e2e' }),
  });
  expect(created.status).toBe(201);

  const put = await call(`${collectionUrl()}/records/greeting`, {
    method: 'PUT',
    headers: { 'content-type': 'text/plain' },
    body: 'hello',
  });
  expect(put.status).toBe(201);
  const etag = put.headers.get('etag') ?? '';

  const got = await call(`${collectionUrl()}/records/greeting`);
  expect(await got.text()).toBe('hello');
  expect(got.headers.get('etag')).toBe(etag);

  const conflict = await call(`${collectionUrl()}/records/greeting`, {
    method: 'PUT',
    headers: { 'if-match': '"1"' },
    body: 'nope',
  });
  expect(conflict.status).toBe(412);
  expect(await conflict.json()).toEqual({
    error: { code: 'REVISION_MISMATCH', message: expect.stringContaining('greeting') as string },
  });

  await expectEventually(
    () => {
      expect(events).toContainEqual(
        expect.objectContaining({ op: 'put', key: 'greeting', revision: etag.replaceAll('"', '') }),
      );
    },
    { timeoutMs: 10_000 },
  );
});

it('streams a list of 100,000 records with flat gateway memory', async () => {
  const value = 'x'.repeat(200);
  for (let batch = 0; batch < 100; batch++) {
    const records = Array.from({ length: 1000 }, (_, i) => ({
      key: `bulk/${String(batch * 1000 + i).padStart(6, '0')}`,
      value,
    }));
    const res = await call(`${collectionUrl()}/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ records }),
    });
    expect(res.status).toBe(200);
  }
  // What is measured is the listing: the seeding's batches (their JSON bodies parsed at once) may
  // have raised the peak before it, by as much as the garbage collector let them.
  gateway.resetPeakRss();
  api.resetPeakRss();
  const res = await call(`${collectionUrl()}/records?prefix=bulk/&limit=200000&format=ndjson`);
  expect(res.status).toBe(200);
  const decoder = new TextDecoder();
  let buffered = '';
  let count = 0;
  let previous = '';
  let last: unknown;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(chunk, { stream: true });
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      const item = JSON.parse(line) as { key?: string; done?: boolean };
      if (item.key === undefined) {
        last = item;
        continue;
      }
      expect(item.key > previous).toBe(true);
      previous = item.key;
      count++;
    }
  }
  expect(count).toBe(100_000);
  expect(last).toEqual({ done: true, cursor: null });
  // The bound the streaming issues set for each process; the gateway's metrics (OpenTelemetry)
  // take some 30 MB of it before the first request.
  expect(gateway.peakRss()).toBeLessThan(250 * 1024 * 1024);
  expect(api.peakRss()).toBeLessThan(250 * 1024 * 1024);
});

it('answers bad input with clear errors over the wire', async () => {
  const tooBig = await call(`${base}/v1/spaces/default/collections`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"name": 1}',
  });
  expect(tooBig.status).toBe(400);
  const missing = await call(`${base}/v1/spaces/default/collections/nope/records/x`);
  expect(missing.status).toBe(404);
  expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('COLLECTION_NOT_FOUND');
});

it('administers accounts, spaces and tokens with the CLI, across the processes', async () => {
  const cli = async (...args: string[]) => {
    const { stdout } = await run(process.execPath, ['scripts/rosetta.mjs', '--url', base, ...args], {
      env: { ...process.env, ROSETTA_TOKEN: TEST_ADMIN_TOKEN },
    });
    return JSON.parse(stdout) as Record<string, unknown>;
  };
  expect(await cli('accounts', 'create', 'dora@example.org', '--password', 'dora-password')).toMatchObject({
    login: 'dora@example.org',
    personalSpace: 'dora@example.org',
  });
  const crewId = '5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9';
  expect(await cli('spaces', 'create', 'crew', '--id', crewId)).toMatchObject({
    name: 'crew',
    id: crewId,
    role: 'owner',
  });
  expect(await cli('members', 'set', 'crew', 'dora@example.org', 'reader')).toMatchObject({ role: 'reader' });
  const created = (await cli('tokens', 'create', '--account', 'dora@example.org', '--read-only')) as {
    secret: string;
  };
  const dora = authFetch(created.secret);
  expect((await dora(`${base}/v1/spaces/crew/collections`)).status).toBe(200);
  const refused = await dora(`${base}/v1/spaces/crew/collections`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"name":"x"}',
  });
  expect(refused.status).toBe(403);
  const failure = await run(process.execPath, ['scripts/rosetta.mjs', '--url', base, 'accounts', 'list'], {
    env: { ...process.env, ROSETTA_TOKEN: created.secret },
  }).catch((error: { code: number; stderr: string }) => error);
  expect(failure).toMatchObject({ code: 1, stderr: expect.stringContaining('PERMISSION_DENIED') });
});

it('serves an OpenFn workflow across the processes: a project by its id, upserts, paged listing', async () => {
  const call = authFetch();
  const projectId = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';
  const json = (body: unknown) => ({
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect((await call(`${base}/v1/spaces`, json({ name: 'openfn-e2e', id: projectId }))).status).toBe(201);
  expect((await call(`${base}/v1/spaces/openfn-e2e/collections`, json({ name: 'breeds' }))).status).toBe(201);
  const items = Array.from({ length: 1500 }, (_, i) => ({ key: `breed-${i}`, value: JSON.stringify({ i }) }));
  for (let i = 0; i < items.length; i += 1000) {
    const upsert = await call(
      `${base}/collections/breeds?project_id=${projectId}`,
      json({ items: items.slice(i, i + 1000) }),
    );
    expect([upsert.status, await upsert.text()]).toEqual([
      200,
      `{"error":null,"upserted":${Math.min(1000, items.length - i)}}`,
    ]);
  }
  const keys: string[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const page = (await (await call(`${base}/collections/breeds?limit=700${query}`)).json()) as {
      items: Array<{ key: string }>;
      cursor: string | null;
    };
    keys.push(...page.items.map((item) => item.key));
    cursor = page.cursor;
  } while (cursor !== null);
  expect(keys).toEqual(items.map((item) => item.key));
  const head = await call(`${base}/collections/breeds?key=breed-1*`, { method: 'HEAD' });
  expect(head.headers.get('x-item-count')).toBe('611');
});

it('serves DVID clients across the processes: versioned keyvalue data, and wakes the event bus with its mutations', async () => {
  const watcher = new Redis(REDIS_URL);
  const mutations: Array<{ op: string; key?: string; version: string; collection: string }> = [];
  watcher.on('pmessage', (_pattern: string, _channel: string, message: string) => {
    mutations.push(JSON.parse(message) as { op: string; key?: string; version: string; collection: string });
  });
  await watcher.psubscribe(`${prefix}events:*`);
  try {
    const post = (path: string, body: string | Uint8Array) => call(`${base}${path}`, { method: 'POST', body });
    const root = ((await (await post('/api/repos', '{"alias":"e2e"}')).json()) as { root: string }).root;
    const created = await post(`/api/repo/${root}/instance`, '{"typename":"keyvalue","dataname":"kv"}');
    expect(created.status).toBe(200);
    const batch = toBinary(
      KeyValuesSchema,
      create(KeyValuesSchema, { kvs: ['a', 'b', 'c'].map((key) => ({ key, value: Buffer.from(`${key}@root`) })) }),
    );
    expect((await post(`/api/node/${root}/kv/keyvalues`, batch)).status).toBe(200);
    expect((await post(`/api/node/${root}/commit`, '{"note":"seeded"}')).status).toBe(200);
    const child = ((await (await post(`/api/node/${root}/newversion`, '{}')).json()) as { child: string }).child;
    expect((await post(`/api/node/${child}/kv/key/a`, 'a@child')).status).toBe(200);
    expect((await call(`${base}/api/node/${child}/kv/key/b`, { method: 'DELETE' })).status).toBe(200);
    const read = async (uuid: string, key: string) => {
      const reply = await call(`${base}/api/node/${uuid}/kv/key/${key}`);
      return reply.status === 200 ? await reply.text() : reply.status;
    };
    expect([await read(child, 'a'), await read(child, 'b'), await read(child, 'c')]).toEqual([
      'a@child',
      404,
      'c@root',
    ]);
    expect([await read(root, 'a'), await read(root, 'b')]).toEqual(['a@root', 'b@root']);
    // The bus wakes live readers: per page of the feed, the collection's newest event. So what
    // it carried is, in order, some of the mutations, ending with the last one.
    const all = [
      ['collection.created', '', 'root'],
      ['put', 'a', 'root'],
      ['put', 'b', 'root'],
      ['put', 'c', 'root'],
      ['put', 'a', 'child'],
      ['delete', 'b', 'child'],
    ];
    await expectEventually(() => {
      const carried = mutations
        .filter((m) => m.collection === `kv@${root}`)
        .map((m) => [m.op, m.key ?? '', m.version === root ? 'root' : m.version === child ? 'child' : m.version]);
      expect(carried.at(-1)).toEqual(['delete', 'b', 'child']);
      const indexes = carried.map((c) => all.findIndex((m) => JSON.stringify(m) === JSON.stringify(c)));
      expect(indexes).not.toContain(-1);
      expect(indexes).toEqual([...indexes].sort((x, y) => x - y));
    });
  } finally {
    watcher.disconnect();
  }
});

it('serves GraphQL across the processes: queries and mutations over HTTP, live changes over WebSocket', async () => {
  const created = await graphql<{ createCollection: { name: string; versioned: boolean } }>(`
    mutation {
      createCollection(input: { space: "default", name: "gql-live" }) {
        name
        versioned
      }
    }
  `);
  expect(created).toEqual({
    status: 200,
    body: { data: { createCollection: { name: 'gql-live', versioned: false } } },
  });
  const put = await graphql<{
    putRecord: { created: boolean; record: { key: string; json: unknown; revision: number } };
  }>(
    `
      mutation Put($json: JSON) {
        putRecord(input: { space: "default", collection: "gql-live", key: "first", json: $json }) {
          created
          record {
            key
            json
            revision
          }
        }
      }
    `,
    { json: { n: 1 } },
  );
  expect(put.body.errors).toBeUndefined();
  expect(put.body.data?.putRecord).toEqual({
    created: true,
    record: { key: 'first', json: { n: 1 }, revision: expect.any(Number) as number },
  });
  const revision = put.body.data?.putRecord.record.revision;
  const read = await graphql(`
    {
      record(space: "default", collection: "gql-live", key: "first") {
        value
        contentType
        revision
      }
      collection(space: "default", name: "gql-live") {
        records(first: 10) {
          edges {
            node {
              key
            }
          }
        }
      }
    }
  `);
  expect(read).toEqual({
    status: 200,
    body: {
      data: {
        record: { value: '{"n":1}', contentType: 'application/json', revision },
        collection: { records: { edges: [{ node: { key: 'first' } }] } },
      },
    },
  });

  type Change = { op: string; key: string; value: string | null; revision: number };
  const live = subscribe<{ changes: Change }>(
    `subscription { changes(space: "default", collection: "gql-live") { op key value revision } }`,
    { Authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
  );
  const anonymous = subscribe<{ changes: Change }>(
    `subscription { changes(space: "default", collection: "gql-live") { op key } }`,
  );
  try {
    await expectEventually(() => expect(live.state).toEqual({ connected: true, ended: undefined }));
    const changes = () => live.results.map((result) => result.data?.changes);
    // The acknowledgement comes before the subscription listens (it checks access, then
    // subscribes on Redis), and no message says when it does: write until a write shows.
    let seen: { value: string; revision: number } | undefined;
    for (let attempt = 1; seen === undefined; attempt++) {
      const value = `written through /v1 (${attempt})`;
      const written = await call(`${base}/v1/spaces/default/collections/gql-live/records/note`, {
        method: 'PUT',
        headers: { 'content-type': 'text/plain' },
        body: value,
      });
      expect(written.status).toBe(attempt === 1 ? 201 : 200);
      const revision = Number((written.headers.get('etag') ?? '').replaceAll('"', ''));
      try {
        await expectEventually(
          () => expect(live.results).toContainEqual({ data: { changes: expect.objectContaining({ revision }) } }),
          { timeoutMs: 3000 },
        );
        seen = { value, revision };
      } catch (error) {
        if (attempt === 5 || live.state.ended !== undefined) throw error;
      }
    }
    expect(changes()).toContainEqual({ op: 'PUT', key: 'note', value: seen.value, revision: seen.revision });
    expect(live.results.every((result) => result.errors === undefined)).toBe(true);

    // A write through a legacy dialect (OpenFn) shows on the same subscription.
    const upsert = await call(`${base}/collections/gql-live`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ items: [{ key: 'from-openfn', value: '{"via":"openfn"}' }] }),
    });
    expect([upsert.status, await upsert.text()]).toEqual([200, '{"error":null,"upserted":1}']);
    const stored = await graphql<{ record: { revision: number } }>(`
      {
        record(space: "default", collection: "gql-live", key: "from-openfn") {
          revision
        }
      }
    `);
    await expectEventually(
      () =>
        expect(changes()).toContainEqual({
          op: 'PUT',
          key: 'from-openfn',
          value: '{"via":"openfn"}',
          revision: stored.body.data?.record.revision,
        }),
      { timeoutMs: 10_000 },
    );

    // Without credentials the socket is refused at connection_init: 4403 Forbidden.
    await expectEventually(() => expect(anonymous.state.ended).toBeDefined());
    expect(anonymous.state.connected).toBe(false);
    expect((anonymous.state.ended as { code?: number }).code).toBe(4403);
    expect(anonymous.results).toEqual([]);
  } finally {
    await Promise.all([live.client.dispose(), anonymous.client.dispose()]);
  }

  // Deeper than GRAPHQL_MAX_DEPTH (12): refused before anything runs.
  const deep = await graphql(
    `{ collection(space: "default", name: "gql-live") { ${'record(key: "first") { collection { '.repeat(6)} name ${'} } '.repeat(6)} } }`,
  );
  expect(deep.status).toBe(400);
  expect(deep.body.data).toBeUndefined();
  expect(deep.body.errors).toEqual([
    expect.objectContaining({
      message: expect.stringContaining('nested 14 levels deep; the limit is 12') as string,
      extensions: expect.objectContaining({ code: 'GRAPHQL_VALIDATION_FAILED' }) as unknown,
    }),
  ]);
});

it('shuts every process down gracefully on SIGTERM', async () => {
  expect(await gateway.stop()).toBe(143);
  expect(await worker.stop()).toBe(143);
  expect(await api.stop()).toBe(143);
});
