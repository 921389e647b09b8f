import { request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import { create, toBinary } from '@bufbuild/protobuf';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { createApp } from '../../apps/gateway/src';
import { KeyValuesSchema } from '../../packages/proto/src';
import { silentLogger } from '../support/api';
import { startLiveGateway, type LiveGateway } from '../support/live-gateway';
import { listen, portOf } from '../support/raw-http';
import { TEST_ADMIN_TOKEN } from '../support/env';
import { temporaryStore } from '../support/jobs';

/**
 * The tenant isolation matrix (issue 11): alice has data in every dialect (/v1 with versions,
 * webhooks, jobs, snapshots and schedules; Kopano kvs; Rivet; Prosody; OpenFn; DVID), bob a space,
 * a project and a DVID repo of his own. Every row is one cross-account attempt — bob's credentials on alice's
 * data, or alice's own narrower credentials (a read-only token, a token scoped to one collection
 * and key prefix, a run token of her project, a read-only Rivet session) or a reader member of her
 * project beyond what they allow — and asserts the refusal in the dialect's own shape. After every
 * attempt, everything alice's spaces hold (rows of every table, change events included) is
 * compared with what it held before: nothing was changed, and nothing was created there. Pairs of
 * attempts show that a refusal does not reveal whether what was named exists. Kopano has no way to
 * name another user's store: bob's writes of alice's keys land in his own, which the rows check.
 * The last test counts the attempts and the refusals.
 */

const A = 'alice@localhost';
const B = 'bob@localhost';
const C = 'carol@localhost';
const PROJECT = 'alice-project';
const SPACE = `/v1/spaces/${A}`;
const NOTES = `${SPACE}/collections/notes`;
const KVS = '/api/kvs/v1/kv/user/';
/** Every value alice stores contains this: no answer to anyone else may. */
const SECRET = 'alice-secret';
const HOOK_SECRET = 'hook-secret-0123456789';

/** The live gateway (with the change events relayed) serves the WebSockets: GraphQL subscriptions, Rivet's watch. */
let gateway: LiveGateway;
let livePort: number;
/** Every other request goes to a gateway over the same record service with a snapshot store, as processes have. */
let server: Server;
let port: number;
const snapshotStore = temporaryStore();

/** Credentials (Authorization values or sessions) and ids of what alice made, set up before the rows run. */
const ctx = {
  /** alice's full token (setup and reads back only). */
  a: '',
  aReadOnly: '',
  /** alice's token scoped to her collection `notes`, keys under `pub/`, read-write. */
  aScoped: '',
  /** A run token of alice's project. */
  aRun: '',
  aSession: '',
  aReadOnlySession: '',
  b: '',
  bRun: '',
  bSession: '',
  carolSession: '',
  /** A reader of alice's project. */
  carol: '',
  projectId: '',
  /** The root version of alice's versioned collection `notes`. */
  version: '',
  /** alice's DVID repo (root UUID). */
  root: '',
  webhook: 0,
  job: 0,
  snapshot: 0,
  schedule: 0,
  /** What alice's spaces hold before any attempt. */
  baseline: '',
};

interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const basic = (login: string) => ({
  authorization: `Basic ${Buffer.from(`${login}:${login.split('@')[0] ?? login}-password`).toString('base64')}`,
});

/**
 * One HTTP exchange, path sent as written. An answer that streams (an SSE or long-poll that was
 * not refused) is cut after 1.5 s and returned with what came, so a leak fails the row instead of
 * hanging it.
 */
function http(
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string | Uint8Array,
): Promise<Reply> {
  const length = body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) };
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, method, path, headers: { ...length, ...headers }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        const done = () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') });
        const timer = setTimeout(() => {
          done();
          req.destroy();
        }, 1500);
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          clearTimeout(timer);
          done();
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const json = (method: string, path: string, auth: string, body?: unknown) =>
  http(
    method,
    path,
    { ...bearer(auth), 'content-type': 'application/json' },
    body === undefined ? undefined : JSON.stringify(body),
  );

/** A setup call that must succeed; answers its JSON. */
async function must(reply: Promise<Reply>): Promise<Record<string, unknown>> {
  const { status, headers, text } = await reply;
  expect([status < 300, text]).toEqual([true, text]);
  return headers['content-type']?.startsWith('application/json') === true
    ? (JSON.parse(text) as Record<string, unknown>)
    : {};
}

const gql = (auth: string, query: string, variables: Record<string, unknown> = {}) =>
  http(
    'POST',
    '/graphql',
    { ...bearer(auth), 'content-type': 'application/json' },
    JSON.stringify({ query, variables }),
  );

/** A GraphQL subscription over graphql-ws: what its first message (or the socket's error) said. */
async function subscribe(auth: string, query: string): Promise<Reply> {
  const client = createClient({
    url: `ws://127.0.0.1:${livePort}/graphql`,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: true,
    connectionParams: { Authorization: `Bearer ${auth}` },
  });
  try {
    const received = await new Promise<unknown[]>((resolve) => {
      const messages: unknown[] = [];
      const timer = setTimeout(() => resolve(messages), 3000);
      const finish = () => {
        clearTimeout(timer);
        resolve(messages);
      };
      client.subscribe(
        { query },
        {
          next: (value) => void messages.push(value),
          error: (error) => (messages.push({ error }), finish()),
          complete: finish,
        },
      );
    });
    return { status: 200, headers: {}, text: JSON.stringify(received) };
  } finally {
    await client.dispose();
  }
}

/** Rivet's watch: the answer to the upgrade (101 when it opened, which would be a leak). */
function rivetWatch(path: string, headers: Record<string, string>): Promise<Reply> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${livePort}${path}`, { headers });
    ws.on('open', () => {
      ws.terminate();
      resolve({ status: 101, headers: {}, text: '' });
    });
    ws.on('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    ws.on('error', () => undefined);
  });
}

/**
 * Everything alice's spaces hold, and alice's account and credentials, as one JSON text: rows of
 * every table that belongs to a space (change events counted), read straight from Postgres.
 */
async function stateOfAlice(): Promise<string> {
  const { rows } = await gateway.api.runtime.db.query<{ state: unknown }>(
    `WITH s AS (SELECT id FROM spaces WHERE name = ANY($1::text[])),
          c AS (SELECT id FROM collections WHERE space_id IN (SELECT id FROM s)),
          d AS (SELECT id FROM version_dags WHERE space_id IN (SELECT id FROM s)),
          a AS (SELECT id FROM accounts WHERE personal_space_id IN (SELECT id FROM s))
     SELECT json_build_object(
       'spaces', (SELECT json_agg(x ORDER BY x.id) FROM spaces x WHERE id IN (SELECT id FROM s)),
       'members', (SELECT json_agg(x ORDER BY x.space_id, x.account_id) FROM space_members x
                   WHERE space_id IN (SELECT id FROM s)),
       'collections', (SELECT json_agg(x ORDER BY x.id) FROM collections x WHERE id IN (SELECT id FROM c)),
       'records', (SELECT json_agg(x ORDER BY x.collection_id, x.key, x.node_id) FROM records x
                   WHERE collection_id IN (SELECT id FROM c)),
       'dags', (SELECT json_agg(x ORDER BY x.id) FROM version_dags x WHERE id IN (SELECT id FROM d)),
       'nodes', (SELECT json_agg(x ORDER BY x.id) FROM version_nodes x WHERE dag_id IN (SELECT id FROM d)),
       'webhooks', (SELECT json_agg(x ORDER BY x.id) FROM webhooks x WHERE collection_id IN (SELECT id FROM c)),
       'jobs', (SELECT json_agg(x ORDER BY x.id) FROM jobs x WHERE space_id IN (SELECT id FROM s)),
       'snapshots', (SELECT json_agg(x ORDER BY x.id) FROM snapshots x WHERE space_id IN (SELECT id FROM s)),
       'schedules', (SELECT json_agg(x ORDER BY x.id) FROM snapshot_schedules x
                     WHERE collection_id IN (SELECT id FROM c)),
       'accounts', (SELECT json_agg(x ORDER BY x.id) FROM accounts x WHERE id IN (SELECT id FROM a)),
       'tokens', (SELECT json_agg(json_build_object('id', id, 'kind', kind, 'scopes', scopes, 'readOnly', read_only,
                   'expires', expires, 'revoked', revoked) ORDER BY id) FROM api_tokens WHERE account_id IN (SELECT id FROM a)),
       'sessions', (SELECT json_agg(json_build_object('id', id, 'readOnly', read_only) ORDER BY id) FROM sessions
                    WHERE account_id IN (SELECT id FROM a)),
       'events', (SELECT count(*) FROM change_events WHERE space = ANY($1::text[]))
     ) AS state`,
    [[A, PROJECT]],
  );
  return JSON.stringify(rows[0]?.state);
}

beforeAll(async () => {
  gateway = await startLiveGateway();
  livePort = Number(new URL(gateway.http.url).port);
  server = await listen(
    createApp({ api: gateway.api, logger: silentLogger, maxBodyBytes: 1024 * 1024, snapshots: snapshotStore.store }),
  );
  port = portOf(server);
  for (const login of [A, B, C]) {
    const [name, host] = login.split('@');
    await must(json('POST', '/v1/admin/accounts', TEST_ADMIN_TOKEN, { name, host, password: `${name}-password` }));
  }
  const token = async (login: string, body: Record<string, unknown> = {}) =>
    String(
      (
        await must(
          http('POST', '/v1/tokens', { ...basic(login), 'content-type': 'application/json' }, JSON.stringify(body)),
        )
      ).secret,
    );
  ctx.a = await token(A);
  ctx.aReadOnly = await token(A, { readOnly: true });
  ctx.aScoped = await token(A, { scopes: [{ space: A, collection: 'notes', write: true, keyPrefix: 'pub/' }] });
  ctx.b = await token(B);
  ctx.carol = await token(C);
  const session = async (login: string, query = '') => {
    const reply = await http('GET', `/login${query}`, basic(login));
    expect(reply.status).toBe(200);
    return reply.text;
  };
  ctx.aSession = await session(A);
  ctx.aReadOnlySession = await session(A, '?read_only=1');
  ctx.bSession = await session(B);
  ctx.carolSession = await session(C);

  // alice's /v1 data: a versioned collection with records, a webhook, a job, a snapshot, a schedule.
  ctx.version = String(
    (await must(json('POST', `${SPACE}/collections`, ctx.a, { name: 'notes', versioned: true }))).rootVersion,
  );
  await must(json('POST', `${SPACE}/collections`, ctx.a, { name: 'other' }));
  for (const key of ['pub/a', 'priv/b']) {
    await must(
      http('PUT', `${NOTES}/records/${key}`, { ...bearer(ctx.a), 'content-type': 'text/plain' }, `${SECRET} ${key}`),
    );
  }
  await must(
    http('PUT', `${SPACE}/collections/other/records/k`, { ...bearer(ctx.a), 'content-type': 'text/plain' }, SECRET),
  );
  ctx.webhook = Number(
    (await must(json('POST', `${NOTES}/webhooks`, ctx.a, { url: 'https://a.example/', secret: HOOK_SECRET }))).id,
  );
  ctx.job = Number((await must(json('POST', `${NOTES}/delete-jobs`, ctx.a, { prefix: 'gone/' }))).id);
  ctx.snapshot = Number(((await must(json('POST', `${NOTES}/snapshots`, ctx.a, {}))).snapshot as { id: number }).id);
  ctx.schedule = Number(
    (await must(json('POST', `${NOTES}/snapshot-schedules`, ctx.a, { everySeconds: 3600, keep: 1 }))).id,
  );

  // alice's project (an OpenFn project), with carol as a reader, and a run token of it.
  ctx.projectId = String((await must(json('POST', '/v1/spaces', ctx.a, { name: PROJECT }))).id);
  await must(json('POST', `/v1/spaces/${PROJECT}/collections`, ctx.a, { name: 'items' }));
  await must(json('PUT', '/collections/items/k', ctx.a, { value: `${SECRET} item` }));
  await must(json('PUT', `/v1/spaces/${PROJECT}/members/${C}`, ctx.a, { role: 'reader' }));
  ctx.aRun = String((await must(json('POST', `/v1/spaces/${PROJECT}/run-tokens`, ctx.a, {}))).secret);
  await must(json('POST', '/v1/spaces', ctx.b, { name: 'bob-project' }));
  ctx.bRun = String((await must(json('POST', '/v1/spaces/bob-project/run-tokens', ctx.b, {}))).secret);

  // alice's Kopano documents, Rivet store, Prosody stores and DVID repo.
  await must(http('PUT', `${KVS}docs/one`, { ...bearer(ctx.a), 'content-type': 'text/plain' }, `${SECRET} kvs`));
  await must(http('POST', `/store/${A}/rk`, { 'x-session-token': ctx.aSession }, `${SECRET} rivet`));
  await must(http('PUT', '/data/secret', { ...basic(A), 'content-type': 'application/json' }, `"${SECRET} prosody"`));
  await must(http('POST', '/data/diary', { ...basic(A), 'content-type': 'application/json' }, `"${SECRET} diary"`));
  ctx.root = String((await must(json('POST', '/api/repos', ctx.a, { alias: 'alice repo' }))).root);
  await must(json('POST', `/api/repo/${ctx.root}/instance`, ctx.a, { typename: 'keyvalue', dataname: 'kv' }));
  await must(http('POST', `/api/node/${ctx.root}/kv/key/secret`, bearer(ctx.a), `${SECRET} dvid`));
  // bob's DVID server has a repo of its own.
  await must(json('POST', '/api/repos', ctx.b, { alias: 'bob repo' }));

  ctx.baseline = await stateOfAlice();
}, 20_000);

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await gateway.close();
  snapshotStore.remove();
});

// ---- The refusals, in each dialect's shape -------------------------------------------------

type Check = (reply: Reply) => void;

const v1Error =
  (status: number, code: string): Check =>
  (reply) => {
    expect(reply.status).toBe(status);
    if (reply.text !== '') expect((JSON.parse(reply.text) as { error: { code: string } }).error.code).toBe(code);
  };
const v1NotFound = v1Error(404, 'SPACE_NOT_FOUND');
const v1Denied = v1Error(403, 'PERMISSION_DENIED');

interface GraphQLReply {
  data?: Record<string, unknown> | null;
  errors?: Array<{ extensions?: { code?: string } }>;
}

/** Every field answered null (a lookup of what the caller may not see) or refused with one of `codes`. */
const gqlRefused =
  (...codes: string[]): Check =>
  (reply) => {
    expect(reply.status).toBe(200);
    const body = JSON.parse(reply.text) as GraphQLReply;
    expect(Object.values(body.data ?? {}).every((value) => value === null)).toBe(true);
    for (const error of body.errors ?? []) expect(codes).toContain(error.extensions?.code);
  };
/** A subscription's first message: the error, then nothing more. */
const subscriptionRefused =
  (code: string): Check =>
  (reply) => {
    const messages = JSON.parse(reply.text) as GraphQLReply[];
    expect(messages.map((m) => (m.errors ?? []).map((e) => e.extensions?.code))).toEqual([[code]]);
  };
const kopano =
  (status: number, text: string): Check =>
  (reply) =>
    expect([reply.status, reply.text]).toEqual([status, text]);
const rivet =
  (status: number, message: string): Check =>
  (reply) =>
    expect([reply.status, reply.text]).toEqual([status, reply.status === 101 ? '' : `{"message":"${message}"}\n`]);
const prosodyForbidden: Check = (reply) => {
  expect([reply.status, reply.headers['content-type']]).toEqual([403, 'text/html; charset=utf-8']);
  expect(reply.text).toContain('<title>403 Forbidden</title>');
};
const openfnUnauthorized: Check = (reply) =>
  expect([reply.status, reply.text]).toEqual([401, '{"error":"Unauthorized"}']);
/** DVID: alice's UUIDs are unknown on the caller's DVID server (its own space). */
const dvidUnknown: Check = (reply) => {
  expect(reply.status).toBe(400);
  expect(reply.text).toMatch(/^could not find UUID with partial match to [0-9a-f]+ \(\/api\/.*\)\.\n$/);
};

// ---- The rows --------------------------------------------------------------------------------

interface Row {
  readonly dialect: string;
  readonly who: string;
  readonly operation: string;
  readonly attempt: () => Promise<Reply>;
  readonly refused: Check;
  /** A /v1 route the row covers (for the test that every space route has a row). */
  readonly route?: string;
  /** The attempt is answered by writing in the caller's own space, not alice's: where to read it back. */
  readonly confinedTo?: () => Promise<Reply>;
}

const rows: Row[] = [];
const row = (
  dialect: string,
  who: string,
  operation: string,
  attempt: () => Promise<Reply>,
  refused: Check,
  extra: Partial<Row> = {},
) => rows.push({ dialect, who, operation, attempt, refused, ...extra });

// /v1, bob on every route that names alice's space.
{
  const as = (method: string, path: string, body?: unknown) => () =>
    body === undefined ? http(method, path, bearer(ctx.b)) : json(method, path, ctx.b, body);
  const v1 = (route: string, method: string, path: () => string, body?: unknown) =>
    row('v1', 'bob', `${method} ${route}`, () => as(method, path(), body)(), v1NotFound, {
      route: `${method.toLowerCase()} ${route}`,
    });
  const S = '/v1/spaces/{space}';
  const CO = `${S}/collections/{collection}`;
  v1(S, 'GET', () => SPACE);
  v1(S, 'DELETE', () => SPACE);
  v1(`${S}/members`, 'GET', () => `${SPACE}/members`);
  v1(`${S}/members/{account}`, 'PUT', () => `${SPACE}/members/${B}`, { role: 'owner' });
  v1(`${S}/members/{account}`, 'DELETE', () => `${SPACE}/members/${A}`);
  v1(`${S}/run-tokens`, 'POST', () => `${SPACE}/run-tokens`, {});
  v1(`${S}/collections`, 'GET', () => `${SPACE}/collections`);
  v1(`${S}/collections`, 'POST', () => `${SPACE}/collections`, { name: 'planted' });
  v1(CO, 'GET', () => NOTES);
  v1(CO, 'PATCH', () => NOTES, { tags: { owner: 'bob' } });
  v1(CO, 'DELETE', () => NOTES);
  v1(`${CO}/records`, 'GET', () => `${NOTES}/records`);
  v1(`${CO}/count`, 'GET', () => `${NOTES}/count`);
  v1(`${CO}/records/{key}`, 'GET', () => `${NOTES}/records/pub/a`);
  v1(`${CO}/records/{key}`, 'HEAD', () => `${NOTES}/records/pub/a`);
  v1(`${CO}/records/{key}`, 'PUT', () => `${NOTES}/records/pub/a`, 'bob');
  v1(`${CO}/records/{key}`, 'DELETE', () => `${NOTES}/records/pub/a`);
  v1(`${CO}/batch`, 'POST', () => `${NOTES}/batch`, { records: [{ key: 'pub/a', value: 'bob' }] });
  v1(`${CO}/batch-get`, 'POST', () => `${NOTES}/batch-get`, { keys: ['pub/a'] });
  v1(`${CO}/delete-matching`, 'POST', () => `${NOTES}/delete-matching`, { prefix: '' });
  v1(`${CO}/changes`, 'GET', () => `${NOTES}/changes?since=0&wait=1`);
  v1(`${CO}/versions`, 'GET', () => `${NOTES}/versions`);
  v1(`${CO}/versions/{version}/commit`, 'POST', () => `${NOTES}/versions/${ctx.version}/commit`, {});
  v1(`${CO}/versions/{version}/children`, 'POST', () => `${NOTES}/versions/${ctx.version}/children`, {});
  v1(`${CO}/versions/{version}/changes`, 'GET', () => `${NOTES}/versions/${ctx.version}/changes`);
  v1(`${CO}/diff`, 'GET', () => `${NOTES}/diff?from=${ctx.version}&to=${ctx.version}`);
  v1(`${CO}/webhooks`, 'GET', () => `${NOTES}/webhooks`);
  v1(`${CO}/webhooks`, 'POST', () => `${NOTES}/webhooks`, { url: 'https://bob.example/', secret: HOOK_SECRET });
  v1(`${CO}/webhooks/{id}`, 'DELETE', () => `${NOTES}/webhooks/${ctx.webhook}`);
  v1(`${CO}/webhooks/{id}/deliveries`, 'GET', () => `${NOTES}/webhooks/${ctx.webhook}/deliveries`);
  v1(`${CO}/delete-jobs`, 'POST', () => `${NOTES}/delete-jobs`, { prefix: '' });
  v1(`${S}/jobs`, 'GET', () => `${SPACE}/jobs`);
  v1(`${S}/jobs/{id}`, 'GET', () => `${SPACE}/jobs/${ctx.job}`);
  v1(`${S}/jobs/{id}/cancel`, 'POST', () => `${SPACE}/jobs/${ctx.job}/cancel`, {});
  v1(`${CO}/snapshots`, 'POST', () => `${NOTES}/snapshots`, {});
  v1(`${S}/snapshots`, 'GET', () => `${SPACE}/snapshots`);
  v1(`${S}/snapshots/{id}`, 'GET', () => `${SPACE}/snapshots/${ctx.snapshot}`);
  v1(`${S}/snapshots/{id}`, 'DELETE', () => `${SPACE}/snapshots/${ctx.snapshot}`);
  v1(`${S}/snapshots/{id}/download`, 'GET', () => `${SPACE}/snapshots/${ctx.snapshot}/download`);
  v1(`${S}/snapshots/{id}/restore`, 'POST', () => `${SPACE}/snapshots/${ctx.snapshot}/restore`, {
    collection: 'notes',
    replace: true,
  });
  v1(`${CO}/snapshot-schedules`, 'GET', () => `${NOTES}/snapshot-schedules`);
  v1(`${CO}/snapshot-schedules`, 'POST', () => `${NOTES}/snapshot-schedules`, { everySeconds: 60, keep: 1 });
  v1(`${CO}/snapshot-schedules/{id}`, 'DELETE', () => `${NOTES}/snapshot-schedules/${ctx.schedule}`);
  row(
    'v1',
    'bob',
    'GET changes as Server-Sent Events',
    () => http('GET', `${NOTES}/changes`, { ...bearer(ctx.b), accept: 'text/event-stream' }),
    v1NotFound,
  );
  row(
    'v1',
    'bob',
    'GET a record at a version',
    () => http('GET', `${NOTES}/records/pub/a?version=${ctx.version}`, bearer(ctx.b)),
    v1NotFound,
  );
  row(
    'v1',
    'bob',
    "PUT a record into alice's project",
    () =>
      http(
        'PUT',
        `/v1/spaces/${PROJECT}/collections/items/records/k`,
        { ...bearer(ctx.b), 'content-type': 'text/plain' },
        'bob',
      ),
    v1NotFound,
  );
  row(
    'v1',
    "bob's run token",
    'GET a record',
    () => http('GET', `${NOTES}/records/pub/a`, bearer(ctx.bRun)),
    v1NotFound,
  );
}

// /v1, alice's narrower credentials and carol beyond what they allow.
{
  const put = (auth: () => string, path: string) => () =>
    http('PUT', path, { ...bearer(auth()), 'content-type': 'text/plain' }, 'changed');
  const at = (auth: () => string, method: string, path: string, body?: unknown) => () =>
    body === undefined ? http(method, path, bearer(auth())) : json(method, path, auth(), body);
  const ro = () => ctx.aReadOnly;
  const sc = () => ctx.aScoped;
  const run = () => ctx.aRun;
  const carol = () => ctx.carol;
  row('v1', 'read-only token', 'PUT a record', put(ro, `${NOTES}/records/pub/a`), v1Denied);
  row('v1', 'read-only token', 'DELETE a record', at(ro, 'DELETE', `${NOTES}/records/pub/a`), v1Denied);
  row(
    'v1',
    'read-only token',
    'POST batch',
    at(ro, 'POST', `${NOTES}/batch`, { records: [{ key: 'pub/a', value: 'x' }] }),
    v1Denied,
  );
  row(
    'v1',
    'read-only token',
    'POST delete-matching',
    at(ro, 'POST', `${NOTES}/delete-matching`, { prefix: '' }),
    v1Denied,
  );
  row(
    'v1',
    'read-only token',
    'POST a collection',
    at(ro, 'POST', `${SPACE}/collections`, { name: 'planted' }),
    v1Denied,
  );
  row('v1', 'read-only token', 'DELETE a collection', at(ro, 'DELETE', NOTES), v1Denied);
  row(
    'v1',
    'read-only token',
    'commit a version',
    () => at(ro, 'POST', `${NOTES}/versions/${ctx.version}/commit`, {})(),
    v1Denied,
  );
  row(
    'v1',
    'read-only token',
    'POST a webhook',
    at(ro, 'POST', `${NOTES}/webhooks`, { url: 'https://x.example/', secret: HOOK_SECRET }),
    v1Denied,
  );
  row(
    'v1',
    'read-only token',
    'DELETE a webhook',
    () => at(ro, 'DELETE', `${NOTES}/webhooks/${ctx.webhook}`)(),
    v1Denied,
  );
  row('v1', 'read-only token', 'POST a delete job', at(ro, 'POST', `${NOTES}/delete-jobs`, { prefix: '' }), v1Denied);
  row('v1', 'read-only token', 'cancel a job', () => at(ro, 'POST', `${SPACE}/jobs/${ctx.job}/cancel`, {})(), v1Denied);
  row(
    'v1',
    'read-only token',
    'DELETE a snapshot',
    () => at(ro, 'DELETE', `${SPACE}/snapshots/${ctx.snapshot}`)(),
    v1Denied,
  );
  row(
    'v1',
    'read-only token',
    'POST a snapshot schedule',
    at(ro, 'POST', `${NOTES}/snapshot-schedules`, { everySeconds: 60, keep: 1 }),
    v1Denied,
  );
  row('v1', 'read-only token', 'mint a token', at(ro, 'POST', '/v1/tokens', {}), v1Denied);
  row('v1', 'scoped token', 'GET a key outside its prefix', at(sc, 'GET', `${NOTES}/records/priv/b`), v1Denied);
  row('v1', 'scoped token', 'PUT a key outside its prefix', put(sc, `${NOTES}/records/priv/b`), v1Denied);
  row('v1', 'scoped token', 'list outside its prefix', at(sc, 'GET', `${NOTES}/records?prefix=priv/`), v1Denied);
  row('v1', 'scoped token', 'GET another collection', at(sc, 'GET', `${SPACE}/collections/other/records/k`), v1Denied);
  row('v1', 'scoped token', 'PUT into another collection', put(sc, `${SPACE}/collections/other/records/k`), v1Denied);
  row(
    'v1',
    'scoped token',
    'changes of another collection',
    at(sc, 'GET', `${SPACE}/collections/other/changes?since=0&wait=1`),
    v1Denied,
  );
  row('v1', 'scoped token', 'DELETE its collection', at(sc, 'DELETE', NOTES), v1Denied);
  row('v1', 'scoped token', 'POST a collection', at(sc, 'POST', `${SPACE}/collections`, { name: 'planted' }), v1Denied);
  row(
    'v1',
    'scoped token',
    'PUT a member',
    at(sc, 'PUT', `/v1/spaces/${PROJECT}/members/${B}`, { role: 'owner' }),
    v1Denied,
  );
  row('v1', 'scoped token', 'mint a token', at(sc, 'POST', '/v1/tokens', {}), v1Denied);
  row(
    'v1',
    'run token of the project',
    'GET in the personal space',
    at(run, 'GET', `${NOTES}/records/pub/a`),
    v1Denied,
  );
  row('v1', 'run token of the project', 'PUT in the personal space', put(run, `${NOTES}/records/pub/a`), v1Denied);
  row(
    'v1',
    'run token of the project',
    'mint a run token',
    at(run, 'POST', `/v1/spaces/${PROJECT}/run-tokens`, {}),
    v1Denied,
  );
  row('v1', 'reader carol', 'PUT an item', put(carol, `/v1/spaces/${PROJECT}/collections/items/records/k`), v1Denied);
  row(
    'v1',
    'reader carol',
    'DELETE an item',
    at(carol, 'DELETE', `/v1/spaces/${PROJECT}/collections/items/records/k`),
    v1Denied,
  );
  row(
    'v1',
    'reader carol',
    'DELETE the collection',
    at(carol, 'DELETE', `/v1/spaces/${PROJECT}/collections/items`),
    v1Denied,
  );
  row(
    'v1',
    'reader carol',
    'PUT herself as owner',
    at(carol, 'PUT', `/v1/spaces/${PROJECT}/members/${C}`, { role: 'owner' }),
    v1Denied,
  );
  row('v1', 'reader carol', 'mint a run token', at(carol, 'POST', `/v1/spaces/${PROJECT}/run-tokens`, {}), v1Denied);
  row('v1', 'reader carol', 'DELETE the space', at(carol, 'DELETE', `/v1/spaces/${PROJECT}`), v1Denied);
  row('v1', 'reader carol', "GET alice's personal space", at(carol, 'GET', `${NOTES}/records/pub/a`), v1NotFound);
}

// GraphQL, bob on every query, mutation and the subscription; then alice's narrower credentials.
{
  const s = `space: "${A}"`;
  const at = `${s}, collection: "notes"`;
  const notFound = gqlRefused('SPACE_NOT_FOUND');
  const forbidden = gqlRefused('FORBIDDEN');
  /** Versions are addressed through their collection, which a stranger is told does not exist. */
  const hidden = gqlRefused('COLLECTION_NOT_FOUND');
  const q = (who: string, auth: () => string, operation: string, query: () => string, check: Check) =>
    row('graphql', who, operation, () => gql(auth(), query()), check);
  const bob = () => ctx.b;
  q('bob', bob, 'record', () => `{ record(${at}, key: "pub/a") { value } }`, notFound);
  q(
    'bob',
    bob,
    'record at a version',
    () => `{ record(${at}, key: "pub/a", version: "${ctx.version}") { value } }`,
    notFound,
  );
  q(
    'bob',
    bob,
    'collection, count and stats',
    () => `{ collection(${s}, name: "notes") { name count stats { records bytes } } }`,
    notFound,
  );
  q('bob', bob, 'records', () => `{ collection(${s}, name: "notes") { records { nodes { key value } } } }`, notFound);
  q('bob', bob, 'keys', () => `{ collection(${s}, name: "notes") { keys { nodes { key } } } }`, notFound);
  q('bob', bob, 'versions', () => `{ collection(${s}, name: "notes") { versions { uuid } } }`, notFound);
  q('bob', bob, 'webhooks', () => `{ collection(${s}, name: "notes") { webhooks { id url } } }`, notFound);
  q('bob', bob, 'space', () => `{ space(name: "${A}") { name id } }`, notFound);
  q('bob', bob, 'job', () => `{ job(${s}, id: "${ctx.job}") { id } }`, notFound);
  q('bob', bob, 'jobs', () => `{ jobs(${s}) { id } }`, notFound);
  q('bob', bob, 'snapshot', () => `{ snapshot(${s}, id: "${ctx.snapshot}") { id } }`, notFound);
  q('bob', bob, 'snapshots', () => `{ snapshots(${s}) { id } }`, notFound);
  q(
    'bob',
    bob,
    'putRecord',
    () => `mutation { putRecord(input: { ${at}, key: "pub/a", value: "bob" }) { created } }`,
    notFound,
  );
  q(
    'bob',
    bob,
    'putRecords',
    () => `mutation { putRecords(input: { ${at}, records: [{ key: "pub/a", value: "bob" }] }) { createdCount } }`,
    notFound,
  );
  q(
    'bob',
    bob,
    'deleteRecord',
    () => `mutation { deleteRecord(input: { ${at}, key: "pub/a" }) { deleted } }`,
    notFound,
  );
  q(
    'bob',
    bob,
    'deleteRecords',
    () => `mutation { deleteRecords(input: { ${at}, filter: { prefix: "" } }) { deleted } }`,
    notFound,
  );
  q(
    'bob',
    bob,
    'startDeleteJob',
    () => `mutation { startDeleteJob(input: { ${at}, filter: { prefix: "" } }) { id } }`,
    notFound,
  );
  q('bob', bob, 'cancelJob', () => `mutation { cancelJob(input: { ${s}, id: "${ctx.job}" }) { id } }`, notFound);
  q(
    'bob',
    bob,
    'createCollection',
    () => `mutation { createCollection(input: { ${s}, name: "planted" }) { name } }`,
    notFound,
  );
  q(
    'bob',
    bob,
    'updateCollection',
    () => `mutation { updateCollection(input: { ${s}, name: "notes", tags: { a: "b" } }) { name } }`,
    notFound,
  );
  q(
    'bob',
    bob,
    'deleteCollection',
    () => `mutation { deleteCollection(input: { ${s}, name: "notes" }) { deleted } }`,
    notFound,
  );
  q(
    'bob',
    bob,
    'commitVersion',
    () => `mutation { commitVersion(input: { ${at}, version: "${ctx.version}" }) { uuid } }`,
    hidden,
  );
  q(
    'bob',
    bob,
    'branchVersion',
    () => `mutation { branchVersion(input: { ${at}, version: "${ctx.version}" }) { uuid } }`,
    hidden,
  );
  q(
    'bob',
    bob,
    'createWebhook',
    () => `mutation { createWebhook(input: { ${at}, url: "https://bob.example/", secret: "${HOOK_SECRET}" }) { id } }`,
    notFound,
  );
  q(
    'bob',
    bob,
    'deleteWebhook',
    () => `mutation { deleteWebhook(input: { ${at}, id: ${ctx.webhook} }) { deleted } }`,
    notFound,
  );
  q('bob', bob, 'takeSnapshot', () => `mutation { takeSnapshot(input: { ${at} }) { snapshot { id } } }`, notFound);
  q(
    'bob',
    bob,
    'restoreSnapshot',
    () =>
      `mutation { restoreSnapshot(input: { ${s}, id: "${ctx.snapshot}", collection: "notes", replace: true }) { id } }`,
    notFound,
  );
  q(
    'bob',
    bob,
    'deleteSnapshot',
    () => `mutation { deleteSnapshot(input: { ${s}, id: "${ctx.snapshot}" }) }`,
    notFound,
  );
  q(
    'bob',
    bob,
    'scheduleSnapshots',
    () => `mutation { scheduleSnapshots(input: { ${at}, everySeconds: 60, keep: 1 }) { id } }`,
    notFound,
  );
  q(
    'bob',
    bob,
    'deleteSnapshotSchedule',
    () => `mutation { deleteSnapshotSchedule(input: { ${at}, id: "${ctx.schedule}" }) }`,
    notFound,
  );
  row(
    'graphql',
    'bob',
    'spaces',
    () => gql(ctx.b, '{ spaces { name } }'),
    (reply) => {
      const names = (JSON.parse(reply.text) as { data: { spaces: Array<{ name: string }> } }).data.spaces.map(
        (x) => x.name,
      );
      expect(names).toEqual(expect.arrayContaining([B]));
      expect(names).not.toEqual(expect.arrayContaining([A]));
      expect(names).not.toEqual(expect.arrayContaining([PROJECT]));
    },
  );
  q('bob', bob, 'spaces (all)', () => '{ spaces(all: true) { name } }', forbidden);
  row(
    'graphql',
    'bob',
    'subscription changes',
    () => subscribe(ctx.b, `subscription { changes(${at}) { key value } }`),
    subscriptionRefused('SPACE_NOT_FOUND'),
  );
  const ro = () => ctx.aReadOnly;
  const sc = () => ctx.aScoped;
  const carol = () => ctx.carol;
  q(
    'read-only token',
    ro,
    'putRecord',
    () => `mutation { putRecord(input: { ${at}, key: "pub/a", value: "x" }) { created } }`,
    forbidden,
  );
  q(
    'read-only token',
    ro,
    'deleteRecords',
    () => `mutation { deleteRecords(input: { ${at}, filter: { prefix: "" } }) { deleted } }`,
    forbidden,
  );
  q(
    'read-only token',
    ro,
    'deleteCollection',
    () => `mutation { deleteCollection(input: { ${s}, name: "notes" }) { deleted } }`,
    forbidden,
  );
  q(
    'read-only token',
    ro,
    'commitVersion',
    () => `mutation { commitVersion(input: { ${at}, version: "${ctx.version}" }) { uuid } }`,
    forbidden,
  );
  q(
    'read-only token',
    ro,
    'createWebhook',
    () => `mutation { createWebhook(input: { ${at}, url: "https://x.example/", secret: "${HOOK_SECRET}" }) { id } }`,
    forbidden,
  );
  q(
    'read-only token',
    ro,
    'startDeleteJob',
    () => `mutation { startDeleteJob(input: { ${at}, filter: { prefix: "" } }) { id } }`,
    forbidden,
  );
  q(
    'read-only token',
    ro,
    'deleteSnapshot',
    () => `mutation { deleteSnapshot(input: { ${s}, id: "${ctx.snapshot}" }) }`,
    forbidden,
  );
  q('scoped token', sc, 'record outside its prefix', () => `{ record(${at}, key: "priv/b") { value } }`, forbidden);
  q(
    'scoped token',
    sc,
    'putRecord outside its prefix',
    () => `mutation { putRecord(input: { ${at}, key: "priv/b", value: "x" }) { created } }`,
    forbidden,
  );
  q(
    'scoped token',
    sc,
    'record of another collection',
    () => `{ record(${s}, collection: "other", key: "k") { value } }`,
    forbidden,
  );
  q(
    'scoped token',
    sc,
    'putRecord into another collection',
    () => `mutation { putRecord(input: { ${s}, collection: "other", key: "k", value: "x" }) { created } }`,
    forbidden,
  );
  q(
    'scoped token',
    sc,
    'deleteCollection',
    () => `mutation { deleteCollection(input: { ${s}, name: "notes" }) { deleted } }`,
    forbidden,
  );
  row(
    'graphql',
    'scoped token',
    'subscription to another collection',
    () => subscribe(ctx.aScoped, `subscription { changes(${s}, collection: "other") { key value } }`),
    subscriptionRefused('FORBIDDEN'),
  );
  q(
    'reader carol',
    carol,
    'putRecord',
    () =>
      `mutation { putRecord(input: { space: "${PROJECT}", collection: "items", key: "k", value: "x" }) { created } }`,
    forbidden,
  );
  q(
    'reader carol',
    carol,
    'deleteRecords',
    () =>
      `mutation { deleteRecords(input: { space: "${PROJECT}", collection: "items", filter: { prefix: "" } }) { deleted } }`,
    forbidden,
  );
  q(
    'reader carol',
    carol,
    'deleteCollection',
    () => `mutation { deleteCollection(input: { space: "${PROJECT}", name: "items" }) { deleted } }`,
    forbidden,
  );
}

// Kopano kvs: bob's own token addresses only his own store (alice's keys are not there); alice's
// narrower tokens are refused with 403 and Kopano's empty line.
{
  const bob = () => bearer(ctx.b);
  const confined = () => http('GET', `${KVS}docs/one?raw=1`, bob());
  const notFound = kopano(404, '404 page not found\n');
  row('kopano', 'bob', 'GET a document', () => http('GET', `${KVS}docs/one`, bob()), notFound);
  row('kopano', 'bob', 'GET a document raw', () => http('GET', `${KVS}docs/one?raw=1`, bob()), notFound);
  row('kopano', 'bob', 'GET recurse', () => http('GET', `${KVS}docs?recurse=1`, bob()), kopano(200, '[\n]\n'));
  row(
    'kopano',
    'bob',
    'GET recurse from the root',
    () => http('GET', `${KVS}?recurse=1`, bob()),
    (reply) => {
      expect(reply.status).toBe(200);
      expect(reply.text).not.toContain('docs/one');
    },
  );
  row('kopano', 'bob', 'DELETE a document', () => http('DELETE', `${KVS}docs/one`, bob()), kopano(404, ''));
  row(
    'kopano',
    'bob',
    'PUT a document (lands in his own store)',
    () => http('PUT', `${KVS}docs/one`, { ...bob(), 'content-type': 'text/plain' }, 'bob'),
    kopano(200, ''),
    { confinedTo: confined },
  );
  row(
    'kopano',
    'bob',
    'PUT a batch (lands in his own store)',
    () =>
      http(
        'PUT',
        `${KVS}docs?batch=1`,
        { ...bob(), 'content-type': 'application/json' },
        '[{"key":"one","value":"Ym9i"}]',
      ),
    kopano(200, ''),
    { confinedTo: confined },
  );
  const forbidden = kopano(403, '\n');
  const ro = () => bearer(ctx.aReadOnly);
  const sc = () => bearer(ctx.aScoped);
  row(
    'kopano',
    'read-only token',
    'PUT a document',
    () => http('PUT', `${KVS}docs/one`, { ...ro(), 'content-type': 'text/plain' }, 'x'),
    forbidden,
  );
  row(
    'kopano',
    'read-only token',
    'PUT a batch',
    () =>
      http(
        'PUT',
        `${KVS}docs?batch=1`,
        { ...ro(), 'content-type': 'application/json' },
        '[{"key":"one","value":"eA=="}]',
      ),
    forbidden,
  );
  row('kopano', 'read-only token', 'DELETE a document', () => http('DELETE', `${KVS}docs/one`, ro()), forbidden);
  row('kopano', 'scoped token', 'GET a document', () => http('GET', `${KVS}docs/one`, sc()), forbidden);
  row('kopano', 'scoped token', 'GET recurse', () => http('GET', `${KVS}docs?recurse=1`, sc()), forbidden);
  row(
    'kopano',
    'scoped token',
    'PUT a document',
    () => http('PUT', `${KVS}docs/one`, { ...sc(), 'content-type': 'text/plain' }, 'x'),
    forbidden,
  );
  row('kopano', 'scoped token', 'DELETE a document', () => http('DELETE', `${KVS}docs/one`, sc()), forbidden);
  row(
    'kopano',
    'run token of the project',
    'GET a document',
    () => http('GET', `${KVS}docs/one`, bearer(ctx.aRun)),
    forbidden,
  );
  row(
    'kopano',
    'run token of the project',
    'PUT a document',
    () => http('PUT', `${KVS}docs/one`, { ...bearer(ctx.aRun), 'content-type': 'text/plain' }, 'x'),
    forbidden,
  );
}

// Rivet: bob's session on alice's store is 401; alice's read-only session writes nothing (403);
// carol, a reader of the project, writes nothing there.
{
  const store = `/store/${A}`;
  const bob = () => ({ 'x-session-token': ctx.bSession });
  const unauthorized = rivet(401, 'Unauthorized');
  const forbidden = rivet(403, 'Forbidden');
  row('rivet', 'bob', 'GET the store (keys)', () => http('GET', store, bob()), unauthorized);
  row('rivet', 'bob', 'GET keys by prefix', () => http('GET', `${store}?prefix=r&limit=10`, bob()), unauthorized);
  row('rivet', 'bob', 'GET a key', () => http('GET', `${store}/rk`, bob()), unauthorized);
  row('rivet', 'bob', 'GET a key, @ escaped', () => http('GET', `/store/alice%40localhost/rk`, bob()), unauthorized);
  row('rivet', 'bob', 'POST a key', () => http('POST', `${store}/rk`, bob(), 'bob'), unauthorized);
  row('rivet', 'bob', 'POST a new key', () => http('POST', `${store}/planted`, bob(), 'bob'), unauthorized);
  row('rivet', 'bob', 'PUT a key', () => http('PUT', `${store}/rk`, bob(), 'bob'), unauthorized);
  row('rivet', 'bob', 'DELETE a key', () => http('DELETE', `${store}/rk`, bob()), unauthorized);
  row('rivet', 'bob', 'watch the store (WebSocket)', () => rivetWatch(store, bob()), unauthorized);
  row(
    'rivet',
    'bob',
    'watch the store, session in the query',
    () => rivetWatch(`${store}?session=${ctx.bSession}`, {}),
    unauthorized,
  );
  row(
    'rivet',
    'bob',
    "POST into alice's project",
    () => http('POST', `/store/${PROJECT}/k`, bob(), 'bob'),
    unauthorized,
  );
  const ro = () => ({ 'x-session-token': ctx.aReadOnlySession });
  row('rivet', 'read-only session', 'POST a key', () => http('POST', `${store}/rk`, ro(), 'x'), forbidden);
  row('rivet', 'read-only session', 'PUT a key', () => http('PUT', `${store}/rk`, ro(), 'x'), forbidden);
  row('rivet', 'read-only session', 'DELETE a key', () => http('DELETE', `${store}/rk`, ro()), forbidden);
  row(
    'rivet',
    'reader carol',
    'POST into the project',
    () => http('POST', `/store/${PROJECT}/k`, { 'x-session-token': ctx.carolSession }, 'x'),
    forbidden,
  );
}

// Prosody: bob, by every method, on alice's stores however the path spells them: 403.
{
  const paths = [
    '/data/localhost/alice/secret',
    '/data/localhost/alice/diary',
    '/data/localhost/alice/secret/lua',
    '/data/localhost/alice@localhost/secret',
    '//data//localhost//%61lice//secret',
    '/data/LOCALHOST/alice/secret',
  ];
  for (const path of paths) {
    for (const method of ['GET', 'PUT', 'POST', 'DELETE']) {
      const body = method === 'PUT' || method === 'POST' ? '"bob"' : undefined;
      row(
        'prosody',
        'bob',
        `${method} ${path}`,
        () => http(method, path, { ...basic(B), 'content-type': 'application/json' }, body),
        prosodyForbidden,
      );
    }
  }
  row(
    'prosody',
    'bob',
    "PUT an empty table (a delete) on alice's store",
    () => http('PUT', '/data/localhost/alice/secret', { ...basic(B), 'content-type': 'application/json' }, '{}'),
    prosodyForbidden,
  );
}

// OpenFn: every refusal is 401 {"error":"Unauthorized"} (a HEAD without its body).
{
  const operations: Array<[string, string, string, string | undefined, boolean]> = [
    ['list', 'GET', '/collections/items', undefined, false],
    ['list keys only', 'GET', '/collections/items?keys_only=true', undefined, false],
    ['count (HEAD)', 'HEAD', '/collections/items', undefined, false],
    ['get an item', 'GET', '/collections/items/k', undefined, false],
    ['put an item', 'PUT', '/collections/items/k', '{"value":"x"}', true],
    ['post items', 'POST', '/collections/items', '{"items":[{"key":"k","value":"x"}]}', true],
    ['delete an item', 'DELETE', '/collections/items/k', undefined, true],
    ['delete by pattern', 'DELETE', '/collections/items?key=*', undefined, true],
  ];
  const credentials: Array<[string, () => string, boolean]> = [
    ['bob', () => ctx.b, false],
    ["bob's run token", () => ctx.bRun, false],
    ['scoped token', () => ctx.aScoped, false],
    ['read-only token', () => ctx.aReadOnly, true],
    ['reader carol', () => ctx.carol, true],
  ];
  for (const [who, auth, writesOnly] of credentials) {
    for (const [operation, method, path, body, write] of operations) {
      if (writesOnly && !write) continue;
      for (const withProject of who === 'bob' || who === "bob's run token" ? [false, true] : [false]) {
        const query = () => (withProject ? `${path.includes('?') ? '&' : '?'}project_id=${ctx.projectId}` : '');
        row(
          'openfn',
          who,
          `${operation}${withProject ? ' with project_id' : ''}`,
          () => http(method, `${path}${query()}`, { ...bearer(auth()), 'content-type': 'application/json' }, body),
          method === 'HEAD' ? (reply) => expect([reply.status, reply.text]).toEqual([401, '']) : openfnUnauthorized,
        );
      }
    }
  }
}

// DVID: bob's DVID server is his own space, where alice's UUIDs are unknown (by prefix or whole).
{
  /** A keyvalues batch (protobuf KeyValues) that overwrites alice's key. */
  const batch = toBinary(
    KeyValuesSchema,
    create(KeyValuesSchema, { kvs: [{ key: 'secret', value: Buffer.from('x') }] }),
  );
  const at = (template: string) => template.replace('{root}', ctx.root).replace('{prefix}', ctx.root.slice(0, 6));
  const dvid = (method: string, template: string, body?: string | Uint8Array) =>
    row(
      'dvid',
      'bob',
      `${method} ${template}`,
      () => http(method, at(template), bearer(ctx.b), body),
      method === 'HEAD' ? (reply) => expect(reply.status).toBe(400) : dvidUnknown,
    );
  dvid('GET', '/api/repo/{root}/info');
  dvid('POST', '/api/repo/{root}/info', '{"alias":"bob"}');
  dvid('GET', '/api/repo/{root}/log');
  dvid('POST', '/api/repo/{root}/log', '{"log":["bob"]}');
  dvid('POST', '/api/repo/{root}/instance', '{"typename":"keyvalue","dataname":"planted"}');
  dvid('GET', '/api/repo/{root}/branch-versions/master');
  dvid('POST', '/api/node/{root}/commit', '{"note":"bob"}');
  dvid('POST', '/api/node/{root}/newversion', '{}');
  dvid('POST', '/api/node/{root}/branch', '{"branch":"bob"}');
  dvid('GET', '/api/node/{root}/note');
  dvid('POST', '/api/node/{root}/note', '{"note":"bob"}');
  dvid('GET', '/api/node/{root}/log');
  dvid('POST', '/api/node/{root}/log', '{"log":["bob"]}');
  dvid('GET', '/api/node/{root}/kv/key/secret');
  dvid('HEAD', '/api/node/{root}/kv/key/secret');
  dvid('POST', '/api/node/{root}/kv/key/secret', 'bob');
  dvid('DELETE', '/api/node/{root}/kv/key/secret');
  dvid('GET', '/api/node/{prefix}/kv/keys');
  dvid('GET', '/api/node/{root}/kv/keyrange/a/z');
  dvid('GET', '/api/node/{root}/kv/keyrangevalues/a/z?json=true');
  dvid('GET', '/api/node/{root}/kv/keyvalues?json=true', '["secret"]');
  dvid('POST', '/api/node/{root}/kv/keyvalues', batch);
  dvid('GET', '/api/node/{root}/kv/info');
  dvid('POST', '/api/node/{root}/kv/tags', '{"owner":"bob"}');
  /** The record service's refusal, as DVID writes errors (Go's http.Error). */
  const denied: Check = (reply) => {
    expect(reply.status).toBe(403);
    expect(reply.text).toMatch(/^this (credential is read-only|token's scopes do not allow (read|write) on .*)\n$/);
  };
  const narrower: Array<[string, () => string]> = [
    ['read-only token', () => ctx.aReadOnly],
    ['scoped token', () => ctx.aScoped],
    ['run token of the project', () => ctx.aRun],
  ];
  for (const [who, auth] of narrower) {
    for (const [method, template, body] of [
      ['POST', '/api/node/{root}/kv/key/secret', 'x'],
      ['DELETE', '/api/node/{root}/kv/key/secret', undefined],
      ['POST', '/api/node/{root}/kv/keyvalues', batch],
      ['POST', '/api/node/{root}/commit', '{"note":"x"}'],
      ['POST', '/api/repo/{root}/instance', '{"typename":"keyvalue","dataname":"planted"}'],
      ['POST', '/api/repos', '{"alias":"planted"}'],
      ['GET', '/api/node/{root}/kv/key/secret', undefined],
    ] as const) {
      if (who === 'read-only token' && method === 'GET') continue;
      row('dvid', who, `${method} ${template}`, () => http(method, at(template), bearer(auth()), body), denied);
    }
  }
  row(
    'dvid',
    'bob',
    'GET /api/repos/info',
    () => http('GET', '/api/repos/info', bearer(ctx.b)),
    (reply) => {
      expect(reply.status).toBe(200);
      expect(Object.keys(JSON.parse(reply.text) as object)).not.toContain(ctx.root);
    },
  );
}

// Rivet's logout, last: bob's password with alice's session ends bob's sessions, never alice's.
row(
  'rivet',
  'bob',
  "GET /logout with alice's session",
  () => http('GET', '/logout', { ...basic(B), 'x-session-token': ctx.aSession }),
  (reply) => expect([reply.status, reply.text]).toEqual([200, '']),
);

// ---- Existence: the same refusal for what alice has and what nobody has ----------------------

interface Pair {
  readonly dialect: string;
  readonly what: string;
  readonly existing: () => Promise<Reply>;
  readonly missing: () => Promise<Reply>;
}

const pairs: Pair[] = [
  {
    dialect: 'v1',
    what: "alice's record / a missing space",
    existing: () => http('GET', `${NOTES}/records/pub/a`, bearer(ctx.b)),
    missing: () => http('GET', '/v1/spaces/nobody@localhost/collections/notes/records/pub/a', bearer(ctx.b)),
  },
  {
    dialect: 'v1',
    what: "alice's collection / a missing one of hers",
    existing: () => http('GET', `${NOTES}/records`, bearer(ctx.b)),
    missing: () => http('GET', `${SPACE}/collections/absent/records`, bearer(ctx.b)),
  },
  {
    dialect: 'graphql',
    what: "alice's record / a missing space",
    existing: () =>
      gql(
        ctx.b,
        `mutation { putRecord(input: { space: "${A}", collection: "notes", key: "pub/a", value: "x" }) { created } }`,
      ),
    missing: () =>
      gql(
        ctx.b,
        `mutation { putRecord(input: { space: "nobody@localhost", collection: "notes", key: "pub/a", value: "x" }) { created } }`,
      ),
  },
  {
    dialect: 'graphql',
    what: "committing alice's version / one of a missing space",
    existing: () =>
      gql(
        ctx.b,
        `mutation { commitVersion(input: { space: "${A}", collection: "notes", version: "${ctx.version}" }) { uuid } }`,
      ),
    missing: () =>
      gql(
        ctx.b,
        `mutation { commitVersion(input: { space: "nobody@localhost", collection: "notes", version: "${ctx.version}" }) { uuid } }`,
      ),
  },
  {
    dialect: 'kopano',
    what: "alice's document / a missing one",
    existing: () => http('GET', `${KVS}docs/one`, bearer(ctx.b)),
    missing: () => http('GET', `${KVS}docs/absent`, bearer(ctx.b)),
  },
  {
    dialect: 'rivet',
    what: "alice's key / a missing user",
    existing: () => http('GET', `/store/${A}/rk`, { 'x-session-token': ctx.bSession }),
    missing: () => http('GET', '/store/nobody@localhost/rk', { 'x-session-token': ctx.bSession }),
  },
  {
    dialect: 'prosody',
    what: "alice's store / a missing user",
    existing: () => http('GET', '/data/localhost/alice/secret', basic(B)),
    missing: () => http('GET', '/data/localhost/nobody/secret', basic(B)),
  },
  {
    dialect: 'prosody',
    what: "alice's store / a missing one of hers",
    existing: () => http('GET', '/data/localhost/alice/secret', basic(B)),
    missing: () => http('GET', '/data/localhost/alice/absent', basic(B)),
  },
  {
    dialect: 'openfn',
    what: "alice's item / a missing one",
    existing: () => http('GET', `/collections/items/k?project_id=${ctx.projectId}`, bearer(ctx.b)),
    missing: () => http('GET', `/collections/items/absent?project_id=${ctx.projectId}`, bearer(ctx.b)),
  },
  {
    dialect: 'dvid',
    what: "alice's repo / a UUID nobody has",
    existing: () => http('GET', `/api/node/${ctx.root}/kv/key/secret`, bearer(ctx.b)),
    missing: () => http('GET', `/api/node/${randomUUID().replaceAll('-', '')}/kv/key/secret`, bearer(ctx.b)),
  },
];

/** An answer with the names that differ between the two attempts of a pair blanked out. */
const normalized = (reply: Reply) => [
  reply.status,
  reply.text
    .replaceAll(A, '<space>')
    .replaceAll('nobody@localhost', '<space>')
    .replace(/[0-9a-f]{32}/g, '<uuid>'),
];

let attempts = 0;
let refusals = 0;

describe('existence is not revealed', () => {
  it.each(pairs)('$dialect: $what', async (pair) => {
    attempts += 2;
    const existing = await pair.existing();
    const missing = await pair.missing();
    const graphqlErrors = pair.dialect === 'graphql' ? (JSON.parse(existing.text) as GraphQLReply).errors : undefined;
    expect(existing.status >= 400 || (graphqlErrors ?? []).length > 0).toBe(true);
    expect(normalized(existing)).toEqual(normalized(missing));
    expect(existing.text).not.toContain(SECRET);
    expect(await stateOfAlice()).toBe(ctx.baseline);
    refusals += 2;
  });
});

describe('every cross-account attempt is refused', () => {
  it.each(rows)('$dialect, $who: $operation', async (attempt) => {
    attempts += 1;
    const reply = await attempt.attempt();
    attempt.refused(reply);
    expect(reply.text).not.toContain(SECRET);
    if (attempt.confinedTo !== undefined) {
      const own = await attempt.confinedTo();
      expect([own.status, own.text]).toEqual([200, 'bob']);
    }
    expect(await stateOfAlice()).toBe(ctx.baseline);
    refusals += 1;
  });
});

it('has a row for every /v1 route of a space', () => {
  const covered = new Set(rows.flatMap((r) => (r.route === undefined ? [] : [r.route])));
  const routes = gateway.app.routes
    .filter((r) => r.openapiPath.startsWith('/v1/spaces/{space}'))
    .map((r) => `${r.method} ${r.openapiPath}`);
  expect(routes.length).toBeGreaterThan(40);
  expect(routes.filter((route) => !covered.has(route))).toEqual([]);
});

it("leaves alice's data where it was, readable by her in every dialect", async () => {
  const read = async (reply: Promise<Reply>) => {
    const { status, text } = await reply;
    return [status, text];
  };
  expect(await read(http('GET', `${NOTES}/records/pub/a`, bearer(ctx.a)))).toEqual([200, `${SECRET} pub/a`]);
  expect(await read(http('GET', `${KVS}docs/one?raw=1`, bearer(ctx.a)))).toEqual([200, `${SECRET} kvs`]);
  expect(await read(http('GET', `/store/${A}/rk`, { 'x-session-token': ctx.aSession }))).toEqual([
    200,
    `${SECRET} rivet`,
  ]);
  expect(await read(http('GET', '/data/secret', basic(A)))).toEqual([200, `"${SECRET} prosody"`]);
  expect(await read(http('GET', '/data/diary', basic(A)))).toEqual([200, `["${SECRET} diary"]`]);
  expect(await read(http('GET', `/api/node/${ctx.root}/kv/key/secret`, bearer(ctx.a)))).toEqual([
    200,
    `${SECRET} dvid`,
  ]);
  const item = await http('GET', '/collections/items/k', bearer(ctx.a));
  expect([item.status, (JSON.parse(item.text) as { value: string }).value]).toEqual([200, `${SECRET} item`]);
  const hooks = JSON.parse((await http('GET', `${NOTES}/webhooks`, bearer(ctx.a))).text) as {
    webhooks: Array<{ id: number }>;
  };
  expect(hooks.webhooks.map((w) => w.id)).toEqual([ctx.webhook]);
  expect((await http('GET', `${SPACE}/jobs/${ctx.job}`, bearer(ctx.a))).status).toBe(200);
  expect((await http('GET', `${SPACE}/snapshots/${ctx.snapshot}`, bearer(ctx.a))).status).toBe(200);
});

it('counts every attempt, and every one was refused', () => {
  expect(attempts).toBe(rows.length + 2 * pairs.length);
  expect(refusals).toBe(attempts);
  const confined = rows.filter((r) => r.confinedTo !== undefined).length;
  console.log(
    `${attempts} cross-account attempts, ${refusals} refused ` +
      `(${confined} Kopano writes among them went to the caller's own store: Kopano cannot name another user's)`,
  );
});
