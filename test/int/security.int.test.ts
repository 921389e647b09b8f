import { Writable } from 'node:stream';
import pg from 'pg';
import { createApp, legacyOptions, startHttpServer, type HttpServer, type RecordApi } from '../../apps/gateway/src';
import {
  API_CONTENT_SECURITY_POLICY,
  GRAPHIQL_CONTENT_SECURITY_POLICY,
} from '../../apps/gateway/src/http/security-headers';
import { createLogger } from '../../packages/platform/src';
import { rawRequest, type RawReply } from '../support/raw-http';
import { startTestApi, type TestApi } from '../support/api';
import { TEST_ADMIN_TOKEN } from '../support/env';
import { kopanoJwtEnv, kopanoToken } from '../support/kopano-jwt';

/**
 * What an attacker or a curious log reader can learn: every dialect's answers (success, error,
 * 404) carry the security headers; an internal failure whose error holds SQL and a stack answers
 * none of it, only an error id that the log ties to the detail; and no credential sent in any
 * of the ways the dialects take them appears in any log line of the gateway or the api, at trace
 * level, while the access log keeps its line per request.
 */

const JWT_SECRET = 'security-test-jwt-secret-0123456789abcdef01';
const PASSWORD = 'alice-Pa55word-never-logged';
const WEBHOOK_SECRET = 'whsec-never-logged-0123456789abcdef';
const QUERY_TOKEN = 'query-token-never-logged-0123456789';
const SQL = 'SELECT value FROM records WHERE space_id = $1 AND collection = $2';

let api: TestApi;
let http: HttpServer;
let port: number;
let failing = false;
const lines: string[] = [];
const secrets: string[] = [TEST_ADMIN_TOKEN, PASSWORD, WEBHOOK_SECRET, QUERY_TOKEN];
let session: string;
let kopano: string;
let token: string;
let dvidRoot: string;

/** Each log line, as written (JSON). */
const sink = () =>
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(
        ...chunk
          .toString('utf8')
          .split('\n')
          .filter((line) => line !== ''),
      );
      done();
    },
  });

/** The records client, failing every call (unary or stream) while `failing` with an error that holds SQL and a stack. */
function failWhenAsked(inner: TestApi): RecordApi {
  const records = new Proxy(inner.records, {
    get(target, name, receiver) {
      const method = Reflect.get(target, name, receiver) as unknown;
      if (typeof method !== 'function') return method;
      return (...args: unknown[]) => {
        if (failing) throw new Error(`relation "records" does not exist: ${SQL} (pg_catalog at /work/main/x.ts)`);
        return (method as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { ...inner, records };
}

const send = (method: string, path: string, headers: Record<string, string> = {}, body?: string) =>
  rawRequest(port, method, path, { headers, ...(body === undefined ? {} : { body }) });
const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' };
const basic = (user: string) => `Basic ${Buffer.from(`${user}:${PASSWORD}`).toString('base64')}`;

beforeAll(async () => {
  api = await startTestApi({
    logger: createLogger({ name: 'api', level: 'trace', destination: sink() }),
    env: kopanoJwtEnv(JWT_SECRET),
  });
  const app = createApp({
    api: failWhenAsked(api),
    logger: createLogger({ name: 'gateway', level: 'trace', destination: sink() }),
    maxBodyBytes: 1024 * 1024,
    legacy: legacyOptions({ DVID_SPACE: 'default' }),
  });
  http = await startHttpServer(app, '127.0.0.1', 0);
  port = Number(new URL(http.url).port);
  expect((await send('POST', '/v1/spaces/default/collections', admin, '{"name":"sec"}')).status).toBe(201);
  for (const host of [undefined, 'localhost']) {
    const account = JSON.stringify({ name: 'alice', ...(host === undefined ? {} : { host }), password: PASSWORD });
    expect((await send('POST', '/v1/admin/accounts', admin, account)).status).toBe(201);
  }
  expect((await send('PUT', '/v1/spaces/default/members/alice', admin, '{"role":"writer"}')).status).toBeLessThan(300);
  const created = await send(
    'POST',
    '/v1/tokens',
    { authorization: basic('alice'), 'content-type': 'application/json' },
    '{}',
  );
  expect(created.status).toBe(201);
  token = (JSON.parse(created.text) as { secret: string }).secret;
  const login = await send('GET', '/login', { authorization: basic('alice') });
  expect(login.status).toBe(200);
  session = login.text;
  kopano = await kopanoToken(JWT_SECRET, 'kopano-user');
  secrets.push(token, session, kopano);
  const bearer = { authorization: `Bearer ${token}` };
  const repo = await send('POST', '/api/repos', bearer, '{}');
  expect(repo.status).toBe(200);
  dvidRoot = (JSON.parse(repo.text) as { root: string }).root;
  const instance = JSON.stringify({ typename: 'keyvalue', dataname: 'kv', versioned: false });
  expect((await send('POST', `/api/repo/${dvidRoot}/instance`, bearer, instance)).status).toBe(200);
  expect((await send('PUT', '/v1/spaces/default/collections/sec/records/k', admin, '"v"')).status).toBe(201);
  const prosody = { authorization: basic('alice@localhost'), 'content-type': 'application/json' };
  expect((await send('PUT', '/data/notes', prosody, '{"a":1}')).status).toBe(201);
}, 30_000);

afterAll(async () => {
  await http.close();
  await api.close();
});

interface Dialect {
  readonly name: string;
  /** A read of an existing record (or a page without one). */
  ok(): Promise<RawReply>;
  /** A read of something absent. */
  missing(): Promise<RawReply>;
}

const DIALECTS: Dialect[] = [
  {
    name: 'v1',
    ok: () => send('GET', '/v1/spaces/default/collections/sec/records/k', admin),
    missing: () => send('GET', '/v1/spaces/default/collections/sec/records/absent', admin),
  },
  {
    name: 'GraphQL',
    ok: () =>
      send(
        'POST',
        '/graphql',
        admin,
        '{"query":"{ record(space: \\"default\\", collection: \\"sec\\", key: \\"k\\") { key } }"}',
      ),
    missing: () => send('GET', '/graphql/nothing', admin),
  },
  {
    name: 'Rivet',
    ok: () => send('GET', '/store/alice', { 'x-session-token': session }),
    missing: () => send('GET', '/store/alice/absent', { 'x-session-token': session }),
  },
  {
    name: 'Kopano',
    ok: () => send('GET', '/api/kvs/v1/kv/user/absent/?recurse=1', { authorization: `Bearer ${kopano}` }),
    missing: () => send('GET', '/api/kvs/v1/kv/user/absent', { authorization: `Bearer ${kopano}` }),
  },
  {
    name: 'Prosody',
    ok: () => send('GET', '/data/notes', { authorization: basic('alice@localhost') }),
    missing: () => send('GET', '/data/', { authorization: basic('alice@localhost') }),
  },
  {
    name: 'OpenFn',
    ok: () => send('GET', '/collections/sec/k', { authorization: `Bearer ${token}` }),
    missing: () => send('GET', '/collections/nothing-here/k', { authorization: `Bearer ${token}` }),
  },
  {
    name: 'DVID',
    ok: () => send('GET', `/api/node/${dvidRoot}/kv/keys`, { authorization: `Bearer ${token}` }),
    missing: () => send('GET', `/api/node/${dvidRoot}/kv/key/absent`, { authorization: `Bearer ${token}` }),
  },
];

/** The headers of every answer; POST /graphql has GraphiQL's policy (its page is GET /graphql). */
function expectSecurityHeaders(reply: RawReply, graphiql = false): void {
  expect(reply.headers).toMatchObject({
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'content-security-policy': graphiql ? GRAPHIQL_CONTENT_SECURITY_POLICY : API_CONTENT_SECURITY_POLICY,
  });
  expect(reply.headers['x-powered-by']).toBeUndefined();
}

/** Whether a body shows anything of an internal error: its SQL, stack frames, file paths. */
function expectNoLeak(reply: RawReply): void {
  for (const leak of ['SELECT', 'records WHERE', 'relation "records"', '    at ', '/work/', '.ts:', 'node_modules']) {
    expect(reply.text).not.toContain(leak);
  }
}

describe.each(DIALECTS)('$name', (dialect) => {
  it('sets the security headers on a success, a 4xx and an internal failure, which shows nothing of the error', async () => {
    const ok = await dialect.ok();
    expect(ok.status).toBeLessThan(300);
    expectSecurityHeaders(ok, dialect.name === 'GraphQL');
    const missing = await dialect.missing();
    expect(missing.status).toBeGreaterThanOrEqual(400);
    expect(missing.status).toBeLessThan(500);
    expectSecurityHeaders(missing);
    failing = true;
    let broken: RawReply;
    try {
      broken = await dialect.ok();
    } finally {
      failing = false;
    }
    expectSecurityHeaders(broken, dialect.name === 'GraphQL');
    expectNoLeak(broken);
    // The log holds the detail under an error id, tied to the answer by the id (shown in the
    // bodies of /v1 and GraphQL) or by its X-Request-Id (the legacy bodies are the originals').
    const logged = lines
      .map((line) => JSON.parse(line) as { request_id?: string; errorId?: string; err?: { message?: string } })
      .find(
        (line) =>
          line.errorId !== undefined &&
          (broken.text.includes(line.errorId) || line.request_id === broken.headers['x-request-id']),
      );
    expect(logged?.err?.message).toContain(SQL);
    if (dialect.name === 'v1' || dialect.name === 'GraphQL') expect(broken.text).toContain(logged?.errorId);
    if (dialect.name === 'GraphQL') {
      const body = JSON.parse(broken.text) as { errors: Array<{ extensions?: Record<string, unknown> }> };
      expect(body.errors[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
      expect(body.errors[0]?.extensions).not.toHaveProperty('stacktrace');
    } else {
      expect(broken.status).toBeGreaterThanOrEqual(500);
    }
  });
});

it('writes no credential to any log line, at trace level, while the access log has a line per request', async () => {
  const before = lines.length;
  const requests: Array<() => Promise<RawReply>> = [
    () => send('GET', '/v1/spaces/default/collections/sec/records/k', admin),
    () => send('GET', `/v1/spaces/default/collections/sec/records/k?token=${QUERY_TOKEN}`, admin),
    () => send('GET', `/collections/sec/k?access_token=${QUERY_TOKEN}`, { authorization: `Bearer ${token}` }),
    () => send('POST', '/v1/tokens', { authorization: basic('alice'), 'content-type': 'application/json' }, '{}'),
    () => send('POST', '/v1/tokens', { authorization: basic('wrong'), 'content-type': 'application/json' }, '{}'),
    () => send('GET', '/login', { authorization: basic('alice') }),
    () => send('GET', '/store/alice/k', { 'x-session-token': session }),
    () => send('GET', '/api/kvs/v1/kv/user/k', { authorization: `Bearer ${kopano}` }),
    () => send('GET', '/data/notes', { authorization: basic('alice@localhost') }),
    () => send('GET', `/api/node/${dvidRoot}/kv/keys`, { authorization: `Bearer ${token}` }),
    () => send('POST', '/v1/admin/accounts', admin, JSON.stringify({ name: 'bob', password: PASSWORD })),
    () =>
      send(
        'POST',
        '/v1/spaces/default/collections/sec/webhooks',
        admin,
        JSON.stringify({ url: 'http://127.0.0.1:9/hook', secret: WEBHOOK_SECRET }),
      ),
    () =>
      send(
        'POST',
        '/graphql',
        admin,
        JSON.stringify({ query: `mutation { createToken(input: { name: "${QUERY_TOKEN}" }) { secret } }` }),
      ),
  ];
  const replies: RawReply[] = [];
  for (const request of requests) replies.push(await request());
  failing = true;
  try {
    replies.push(await send('GET', `/v1/spaces/default/collections/sec/records/k?token=${QUERY_TOKEN}`, admin));
    replies.push(await send('GET', '/store/alice/k', { 'x-session-token': session }));
  } finally {
    failing = false;
  }
  const written = lines.slice(before);
  const leaked = written.filter((line) => secrets.some((secret) => line.includes(secret)));
  expect(leaked).toEqual([]);
  expect(lines.filter((line) => secrets.some((secret) => line.includes(secret)))).toEqual([]);
  const accessLines = written.map((line) => JSON.parse(line) as { msg?: string; request_id?: string });
  for (const reply of replies) {
    expect(
      accessLines.filter((line) => line.msg === 'request' && line.request_id === reply.headers['x-request-id']),
    ).toHaveLength(1);
  }
});

it("answers a real database failure in the api (its records table gone) without the database's words, in every dialect", async () => {
  const db = new pg.Client({ connectionString: api.db.url });
  await db.connect();
  const prosody = { authorization: basic('alice@localhost'), 'content-type': 'application/json' };
  const writes: Array<[string, () => Promise<RawReply>]> = [
    ['v1', () => send('PUT', '/v1/spaces/default/collections/sec/records/broken', admin, '"x"')],
    [
      'GraphQL',
      () =>
        send(
          'POST',
          '/graphql',
          admin,
          JSON.stringify({
            query:
              'mutation { putRecord(input: { space: "default", collection: "sec", key: "broken", value: "x" }) { created } }',
          }),
        ),
    ],
    ['Rivet', () => send('POST', '/store/alice/broken', { 'x-session-token': session }, 'x')],
    [
      'Kopano',
      () =>
        send(
          'PUT',
          '/api/kvs/v1/kv/user/broken',
          { authorization: `Bearer ${kopano}`, 'content-type': 'text/plain' },
          'x',
        ),
    ],
    ['Prosody', () => send('PUT', '/data/broken', prosody, '{"a":1}')],
    [
      'OpenFn',
      () =>
        send(
          'PUT',
          '/collections/sec/broken',
          { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          '{"value":"x"}',
        ),
    ],
    ['DVID', () => send('POST', `/api/node/${dvidRoot}/kv/key/broken`, { authorization: `Bearer ${token}` }, 'x')],
  ];
  const before = lines.length;
  await db.query('ALTER TABLE records RENAME TO records_away');
  const answers: Array<[string, RawReply]> = [];
  try {
    for (const [name, write] of writes) answers.push([name, await write()]);
  } finally {
    await db.query('ALTER TABLE records_away RENAME TO records');
    await db.end();
  }
  for (const [name, reply] of answers) {
    expect([name, reply.status >= 500 || reply.text.includes('"errors"')]).toEqual([name, true]);
    expectNoLeak(reply);
    expect(reply.text).not.toContain('records_away');
  }
  const written = lines.slice(before);
  expect(written.some((line) => line.includes('unexpected error in the record service'))).toBe(true);
  expect(written.filter((line) => secrets.some((secret) => line.includes(secret)))).toEqual([]);
  expect((await send('PUT', '/v1/spaces/default/collections/sec/records/after', admin, '"x"')).status).toBe(201);
});
