import { connect } from 'node:net';
import { createApp, legacyOptions, startHttpServer, type HttpServer } from '../../apps/gateway/src';
import { MAX_BATCH_ENTRIES, MAX_KEY_BYTES, MAX_PATTERN_BYTES, MAX_PATTERN_WILDCARDS } from '../../packages/core/src';
import { rawRequest, type RawReply } from '../support/raw-http';
import { silentLogger, startTestApi, type TestApi } from '../support/api';
import { TEST_ADMIN_TOKEN } from '../support/env';
import { kopanoJwtEnv, kopanoToken } from '../support/kopano-jwt';

/**
 * Every limit of issue 11 (docs/limits.md), in each dialect where it applies: a request right at
 * the limit is accepted, one past it is refused in the dialect's own shape and status, and the
 * refused request wrote nothing. The gateway runs with small configured limits so that the
 * requests stay small; the fixed limits (keys, batches, patterns, pages) are the real ones.
 */

const MAX_BODY = 1024 * 1024;
const LEGACY_BODY = 8 * 1024;
const GRAPHQL = { maxDepth: 8, maxComplexity: 500, maxPage: 50, maxTokens: 400, introspection: true };
const VALUE_LIMIT = 4096;
const JWT_SECRET = 'limits-test-jwt-secret-0123456789abcdef0123';

let api: TestApi;
let http: HttpServer;
let port: number;
let session: string;
let kopano: string;
let openfnToken: string;
let dvidRoot: string;

const admin = `Bearer ${TEST_ADMIN_TOKEN}`;
const alice = `Basic ${Buffer.from('alice:alice-password').toString('base64')}`;
const prosodyAlice = `Basic ${Buffer.from('alice@localhost:alice-password').toString('base64')}`;

const send = (method: string, path: string, headers: Record<string, string>, body?: string | Uint8Array) =>
  rawRequest(port, method, path, { headers, ...(body === undefined ? {} : { body }) });

const v1 = (method: string, path: string, body?: string, type = 'application/json') =>
  send(method, `/v1/spaces/default/collections/${path}`, { authorization: admin, 'content-type': type }, body);
const record = (key: string) => `limits/records/${encodeURIComponent(key)}`;
const graphql = (query: string, variables: Record<string, unknown> = {}) =>
  send(
    'POST',
    '/graphql',
    { authorization: admin, 'content-type': 'application/json' },
    JSON.stringify({ query, variables }),
  );
const rivet = (method: string, key: string, body?: string) =>
  send(method, `/store/alice/${encodeURIComponent(key)}`, { 'x-session-token': session }, body);
const kvs = (method: string, key: string, body?: string) =>
  send(method, `/api/kvs/v1/kv/user/${key}`, { authorization: `Bearer ${kopano}`, 'content-type': 'text/plain' }, body);
const prosody = (method: string, store: string, body?: string) =>
  send(method, `/data/${store}`, { authorization: prosodyAlice, 'content-type': 'application/json' }, body);
const openfn = (method: string, path: string, body?: string) =>
  send(
    method,
    `/collections/limits${path}`,
    { authorization: `Bearer ${openfnToken}`, 'content-type': 'application/json' },
    body,
  );
const dvid = (method: string, key: string, body?: string) =>
  send(method, `/api/node/${dvidRoot}/kv/key/${encodeURIComponent(key)}`, {}, body);

/** A JSON document of exactly `bytes` bytes: `{"value":"xxx…"}`. */
const jsonOf = (bytes: number) => JSON.stringify({ value: 'x'.repeat(bytes - '{"value":""}'.length) });
/** `count` distinct entries of a /v1 batch. */
const batchOf = (count: number, prefix: string) =>
  JSON.stringify({
    records: Array.from({ length: count }, (_, i) => ({ key: `${prefix}${i}`, value: 'v' })),
  });

const PUT_RECORDS =
  'mutation($records: [RecordInput!]!) { putRecords(input: { space: "default", collection: "limits", records: $records }) { createdCount } }';
const entries = (count: number, prefix: string) =>
  Array.from({ length: count }, (_, i) => ({ key: `${prefix}${i}`, value: 'v' }));
/** A Kopano batch of `count` keys under `under`, Base64 values. */
const kopanoBatch = (under: string, count: number) =>
  send(
    'PUT',
    `/api/kvs/v1/kv/user/${under}?batch=1`,
    { authorization: `Bearer ${kopano}`, 'content-type': 'application/json' },
    JSON.stringify(Array.from({ length: count }, (_, i) => ({ key: `k${i}`, value: 'dg==' }))),
  );
const errorCode = (reply: RawReply) => (JSON.parse(reply.text) as { error: { code: string } }).error.code;
const graphqlCodes = (reply: RawReply) =>
  ((JSON.parse(reply.text) as { errors?: Array<{ extensions?: { code?: string } }> }).errors ?? []).map(
    (e) => e.extensions?.code,
  );

beforeAll(async () => {
  api = await startTestApi({
    env: kopanoJwtEnv(JWT_SECRET),
  });
  const app = createApp({
    api,
    logger: silentLogger,
    maxBodyBytes: MAX_BODY,
    graphql: GRAPHQL,
    legacy: legacyOptions({
      PROSODY_MAX_BODY_BYTES: LEGACY_BODY,
      OPENFN_MAX_BODY_BYTES: MAX_BODY,
      DVID_MAX_BODY_BYTES: LEGACY_BODY,
      DVID_SPACE: 'default',
      DVID_ANONYMOUS_TOKEN: TEST_ADMIN_TOKEN,
    }),
  });
  http = await startHttpServer(app, '127.0.0.1', 0);
  port = Number(new URL(http.url).port);
  const json = { authorization: admin, 'content-type': 'application/json' };
  expect((await send('POST', '/v1/spaces/default/collections', json, '{"name":"limits"}')).status).toBe(201);
  expect(
    (await send('POST', '/v1/spaces/default/collections', json, `{"name":"small","maxValueBytes":${VALUE_LIMIT}}`))
      .status,
  ).toBe(201);
  for (const host of [undefined, 'localhost']) {
    const account = { name: 'alice', ...(host === undefined ? {} : { host }), password: 'alice-password' };
    expect((await send('POST', '/v1/admin/accounts', json, JSON.stringify(account))).status).toBe(201);
  }
  const token = await send('POST', '/v1/admin/accounts/alice/tokens', json, '{"name":"openfn"}');
  expect(token.status).toBe(201);
  openfnToken = (JSON.parse(token.text) as { secret: string }).secret;
  expect((await send('PUT', '/v1/spaces/default/members/alice', json, '{"role":"writer"}')).status).toBeLessThan(300);
  const login = await send('GET', '/login', { authorization: alice });
  expect(login.status).toBe(200);
  session = login.text;
  kopano = await kopanoToken(JWT_SECRET, 'kopano-user');
  const repo = await send('POST', '/api/repos', {}, '{}');
  expect(repo.status).toBe(200);
  dvidRoot = (JSON.parse(repo.text) as { root: string }).root;
  const instance = JSON.stringify({ typename: 'keyvalue', dataname: 'kv', versioned: false });
  expect((await send('POST', `/api/repo/${dvidRoot}/instance`, {}, instance)).status).toBe(200);
});

afterAll(async () => {
  await http.close();
  await api.close();
});

interface Limit {
  /** The limit and where it applies. */
  readonly name: string;
  /** Sends the request right at the limit; it is accepted. */
  at(): Promise<RawReply>;
  accepted(reply: RawReply): void;
  /** Sends the request one past the limit; it is refused. */
  past(): Promise<RawReply>;
  refused(reply: RawReply): void;
  /** Checks that the refused request wrote nothing. */
  nothingWritten(): Promise<void>;
}

const key = (bytes: number, tag: string) => `${tag}${'k'.repeat(bytes - tag.length)}`;
const absent = async (reply: Promise<RawReply>, status = 404) => expect((await reply).status).toBe(status);

const LIMITS: Limit[] = [
  {
    name: `/v1 request body: MAX_BODY_BYTES (${MAX_BODY} here) → 413 VALUE_TOO_LARGE`,
    at: () => v1('PUT', record('body-at'), 'x'.repeat(MAX_BODY), 'text/plain'),
    accepted: (r) => expect(r.status).toBe(201),
    past: () => v1('PUT', record('body-past'), 'x'.repeat(MAX_BODY + 1), 'text/plain'),
    refused: (r) => expect([r.status, errorCode(r)]).toEqual([413, 'VALUE_TOO_LARGE']),
    nothingWritten: () => absent(v1('GET', record('body-past'))),
  },
  {
    name: `Rivet value: MAX_BODY_BYTES → 413 {"message":"Request Entity Too Large"}`,
    at: () => rivet('POST', 'body-at', 'x'.repeat(MAX_BODY)),
    accepted: (r) => expect(r.status).toBe(201),
    past: () => rivet('POST', 'body-past', 'x'.repeat(MAX_BODY + 1)),
    refused: (r) => expect([r.status, r.text]).toEqual([413, '{"message":"Request Entity Too Large"}\n']),
    nothingWritten: () => absent(rivet('GET', 'body-past')),
  },
  {
    name: 'GraphQL request body: MAX_BODY_BYTES → 413 BAD_REQUEST',
    at: () => graphql('{ me { account } }', { pad: 'x'.repeat(MAX_BODY - 100) }),
    accepted: (r) => expect(r.status).toBe(200),
    past: () => graphql('{ me { account } }', { pad: 'x'.repeat(MAX_BODY) }),
    refused: (r) => expect([r.status, graphqlCodes(r)]).toEqual([413, ['BAD_REQUEST']]),
    nothingWritten: () => Promise.resolve(),
  },
  {
    name: `Prosody body: PROSODY_MAX_BODY_BYTES (${LEGACY_BODY} here) → 413 page`,
    at: () => prosody('PUT', 'bodyat', jsonOf(LEGACY_BODY)),
    accepted: (r) => expect(r.status).toBe(201),
    past: () => prosody('PUT', 'bodypast', jsonOf(LEGACY_BODY + 1)),
    refused: (r) => {
      expect(r.status).toBe(413);
      expect(r.text).toContain('<title>413 Payload Too Large</title>');
    },
    nothingWritten: () => absent(prosody('GET', 'bodypast')),
  },
  {
    name: `OpenFn body: OPENFN_MAX_BODY_BYTES (${MAX_BODY} here) → 413 {"error":"Request Entity Too Large"}`,
    at: () => openfn('PUT', '/body-at', JSON.stringify({ value: 'x'.repeat(MAX_BODY - 100) })),
    accepted: (r) => expect(r.status).toBe(200),
    past: () => openfn('PUT', '/body-past', jsonOf(MAX_BODY + 1)),
    refused: (r) => expect(r.status).toBe(413),
    nothingWritten: () => absent(openfn('GET', '/body-past'), 204),
  },
  {
    name: `DVID body: DVID_MAX_BODY_BYTES (${LEGACY_BODY} here) → 413`,
    at: () => dvid('POST', 'body-at', 'x'.repeat(LEGACY_BODY)),
    accepted: (r) => expect(r.status).toBe(200),
    past: () => dvid('POST', 'body-past', 'x'.repeat(LEGACY_BODY + 1)),
    refused: (r) => expect(r.status).toBe(413),
    nothingWritten: () => absent(dvid('GET', 'body-past')),
  },
  {
    name: 'Kopano document: 16,384 bytes → 400 text',
    at: () => kvs('PUT', 'doc-at', 'x'.repeat(16_384)),
    accepted: (r) => expect(r.status).toBe(200),
    past: () => kvs('PUT', 'doc-past', 'x'.repeat(16_385)),
    refused: (r) => expect(r.status).toBe(400),
    nothingWritten: () => absent(kvs('GET', 'doc-past')),
  },
  {
    name: `a collection's maxValueBytes (${VALUE_LIMIT} here), /v1 → 413 VALUE_TOO_LARGE`,
    at: () =>
      send('PUT', '/v1/spaces/default/collections/small/records/at', { authorization: admin }, 'x'.repeat(VALUE_LIMIT)),
    accepted: (r) => expect(r.status).toBe(201),
    past: () =>
      send(
        'PUT',
        '/v1/spaces/default/collections/small/records/past',
        { authorization: admin },
        'x'.repeat(VALUE_LIMIT + 1),
      ),
    refused: (r) => expect([r.status, errorCode(r)]).toEqual([413, 'VALUE_TOO_LARGE']),
    nothingWritten: () =>
      absent(send('GET', '/v1/spaces/default/collections/small/records/past', { authorization: admin })),
  },
  {
    name: `a collection's maxValueBytes, GraphQL putRecord → VALUE_TOO_LARGE`,
    at: () =>
      graphql(
        'mutation($v: String) { putRecord(input: { space: "default", collection: "small", key: "g-at", value: $v }) { created } }',
        {
          v: 'x'.repeat(VALUE_LIMIT),
        },
      ),
    accepted: (r) => expect(graphqlCodes(r)).toEqual([]),
    past: () =>
      graphql(
        'mutation($v: String) { putRecord(input: { space: "default", collection: "small", key: "g-past", value: $v }) { created } }',
        {
          v: 'x'.repeat(VALUE_LIMIT + 1),
        },
      ),
    refused: (r) => expect(graphqlCodes(r)).toEqual(['VALUE_TOO_LARGE']),
    nothingWritten: () =>
      absent(send('GET', '/v1/spaces/default/collections/small/records/g-past', { authorization: admin })),
  },
  {
    name: `key: ${MAX_KEY_BYTES} bytes, /v1 → 400 INVALID_KEY`,
    at: () => v1('PUT', record(key(MAX_KEY_BYTES, 'at')), 'v', 'text/plain'),
    accepted: (r) => expect(r.status).toBe(201),
    past: () => v1('PUT', record(key(MAX_KEY_BYTES + 1, 'past')), 'v', 'text/plain'),
    refused: (r) => expect([r.status, errorCode(r)]).toEqual([400, 'INVALID_KEY']),
    nothingWritten: () =>
      absent(v1('GET', 'limits/records?prefix=past'), 200).then(async () => {
        expect((await v1('GET', 'limits/records?prefix=past')).text).not.toContain('"key"');
      }),
  },
  {
    name: `key: ${MAX_KEY_BYTES} bytes, GraphQL putRecord → INVALID_KEY`,
    at: () =>
      graphql(
        'mutation($k: String!) { putRecord(input: { space: "default", collection: "limits", key: $k, value: "v" }) { created } }',
        {
          k: key(MAX_KEY_BYTES, 'gat'),
        },
      ),
    accepted: (r) => expect([r.status, graphqlCodes(r)]).toEqual([200, []]),
    past: () =>
      graphql(
        'mutation($k: String!) { putRecord(input: { space: "default", collection: "limits", key: $k, value: "v" }) { created } }',
        {
          k: key(MAX_KEY_BYTES + 1, 'gpast'),
        },
      ),
    refused: (r) => expect(graphqlCodes(r)).toEqual(['INVALID_KEY']),
    nothingWritten: async () => expect((await v1('GET', 'limits/records?prefix=gpast')).text).not.toContain('"key"'),
  },
  {
    name: 'key: 1024 bytes, Kopano (the path after /kv/user/) → 400 text',
    at: () => kvs('PUT', key(MAX_KEY_BYTES, 'kat/'), 'v'),
    accepted: (r) => expect(r.status).toBe(200),
    past: () => kvs('PUT', key(MAX_KEY_BYTES + 1, 'kpast/'), 'v'),
    refused: (r) => expect(r.status).toBe(400),
    nothingWritten: async () => expect((await kvs('GET', 'kpast/?recurse=1')).text).not.toContain('kkkk'),
  },
  {
    name: 'key: 1024 bytes, DVID → 400 text',
    at: () => dvid('POST', key(MAX_KEY_BYTES, 'dat'), 'v'),
    accepted: (r) => expect(r.status).toBe(200),
    past: () => dvid('POST', key(MAX_KEY_BYTES + 1, 'dpast'), 'v'),
    refused: (r) => expect(r.status).toBe(400),
    nothingWritten: async () =>
      expect((await send('GET', `/api/node/${dvidRoot}/kv/keys`, {})).text).not.toContain('dpast'),
  },
  {
    name: 'key: 1024 bytes, Rivet → 400 {"message":"Bad Request"}',
    at: () => rivet('POST', key(MAX_KEY_BYTES, 'at'), 'v'),
    accepted: (r) => expect(r.status).toBe(201),
    past: () => rivet('POST', key(MAX_KEY_BYTES + 1, 'past'), 'v'),
    refused: (r) => expect([r.status, r.text]).toEqual([400, '{"message":"Bad Request"}\n']),
    nothingWritten: async () =>
      expect((await send('GET', '/store/alice?prefix=past', { 'x-session-token': session })).text).toBe(''),
  },
  {
    name: 'key: 255 characters, OpenFn → 422 {"upserted":0,"error":…}',
    at: () => openfn('PUT', `/${key(255, 'at')}`, '{"value":"v"}'),
    accepted: (r) => expect(r.status).toBe(200),
    past: () => openfn('PUT', `/${key(256, 'past')}`, '{"value":"v"}'),
    refused: (r) => expect([r.status, JSON.parse(r.text)]).toMatchObject([422, { upserted: 0 }]),
    nothingWritten: async () => expect((await openfn('GET', '?key=past*')).text).not.toContain('"key"'),
  },
  {
    name: `batch: ${MAX_BATCH_ENTRIES} entries, /v1 → 413 BATCH_TOO_LARGE`,
    at: () => v1('POST', 'limits/batch', batchOf(MAX_BATCH_ENTRIES, 'batch-at-')),
    accepted: (r) => expect(r.status).toBe(200),
    past: () => v1('POST', 'limits/batch', batchOf(MAX_BATCH_ENTRIES + 1, 'batch-past-')),
    refused: (r) => expect([r.status, errorCode(r)]).toEqual([413, 'BATCH_TOO_LARGE']),
    nothingWritten: () => absent(v1('GET', record('batch-past-0'))),
  },
  {
    name: `batch: ${MAX_BATCH_ENTRIES} records, GraphQL putRecords → BATCH_TOO_LARGE`,
    at: () => graphql(PUT_RECORDS, { records: entries(MAX_BATCH_ENTRIES, 'gb-at-') }),
    accepted: (r) => expect([r.status, graphqlCodes(r)]).toEqual([200, []]),
    past: () => graphql(PUT_RECORDS, { records: entries(MAX_BATCH_ENTRIES + 1, 'gb-past-') }),
    refused: (r) => expect(graphqlCodes(r)).toEqual(['BATCH_TOO_LARGE']),
    nothingWritten: () => absent(v1('GET', record('gb-past-0'))),
  },
  {
    name: `batch: ${MAX_BATCH_ENTRIES} keys, Kopano ?batch=1 → 400 text`,
    at: () => kopanoBatch('kb-at', MAX_BATCH_ENTRIES),
    accepted: (r) => expect(r.status).toBe(200),
    past: () => kopanoBatch('kb-past', MAX_BATCH_ENTRIES + 1),
    refused: (r) => expect(r.status).toBe(400),
    nothingWritten: () => absent(kvs('GET', 'kb-past/k0')),
  },
  {
    name: `batch: ${MAX_BATCH_ENTRIES} items, OpenFn → 422 Too many items`,
    at: () =>
      openfn(
        'POST',
        '',
        JSON.stringify({
          items: Array.from({ length: MAX_BATCH_ENTRIES }, (_, i) => ({ key: `ofb-at-${i}`, value: '1' })),
        }),
      ),
    accepted: (r) => expect(r.status).toBe(200),
    past: () =>
      openfn(
        'POST',
        '',
        JSON.stringify({
          items: Array.from({ length: MAX_BATCH_ENTRIES + 1 }, (_, i) => ({ key: `ofb-past-${i}`, value: '1' })),
        }),
      ),
    refused: (r) =>
      expect([r.status, JSON.parse(r.text)]).toMatchObject([
        422,
        { upserted: 0, error: `Too many items: at most ${MAX_BATCH_ENTRIES} per request` },
      ]),
    nothingWritten: () => absent(openfn('GET', '/ofb-past-0'), 204),
  },
  {
    name: 'page: 1000 collections, /v1 → 400 INVALID_ARGUMENT',
    at: () => send('GET', '/v1/spaces/default/collections?limit=1000', { authorization: admin }),
    accepted: (r) => expect(r.status).toBe(200),
    past: () => send('GET', '/v1/spaces/default/collections?limit=1001', { authorization: admin }),
    refused: (r) => expect([r.status, errorCode(r)]).toEqual([400, 'INVALID_ARGUMENT']),
    nothingWritten: () => Promise.resolve(),
  },
  {
    name: `page: GRAPHQL_MAX_PAGE (${GRAPHQL.maxPage} here) → BAD_USER_INPUT`,
    at: () =>
      graphql(`{ collection(space: "default", name: "limits") { keys(first: ${GRAPHQL.maxPage}) { nodes { key } } } }`),
    accepted: (r) => expect([r.status, graphqlCodes(r)]).toEqual([200, []]),
    past: () =>
      graphql(
        `{ collection(space: "default", name: "limits") { keys(first: ${GRAPHQL.maxPage + 1}) { nodes { key } } } }`,
      ),
    refused: (r) => expect(graphqlCodes(r)).toEqual(['BAD_USER_INPUT']),
    nothingWritten: () => Promise.resolve(),
  },
  {
    name: `pattern: ${MAX_PATTERN_WILDCARDS} wildcards, /v1 → 400 INVALID_PATTERN`,
    at: () => v1('GET', `limits/records?pattern=${encodeURIComponent('a*'.repeat(MAX_PATTERN_WILDCARDS))}`),
    accepted: (r) => expect(r.status).toBe(200),
    past: () => v1('GET', `limits/records?pattern=${encodeURIComponent('a*'.repeat(MAX_PATTERN_WILDCARDS + 1))}`),
    refused: (r) => expect([r.status, errorCode(r)]).toEqual([400, 'INVALID_PATTERN']),
    nothingWritten: () => Promise.resolve(),
  },
  {
    name: `pattern: ${MAX_PATTERN_BYTES} bytes, /v1 → 400 INVALID_PATTERN`,
    at: () => v1('GET', `limits/records?pattern=${'p'.repeat(MAX_PATTERN_BYTES - 1)}*`),
    accepted: (r) => expect(r.status).toBe(200),
    past: () => v1('GET', `limits/records?pattern=${'p'.repeat(MAX_PATTERN_BYTES)}*`),
    refused: (r) => expect([r.status, errorCode(r)]).toEqual([400, 'INVALID_PATTERN']),
    nothingWritten: () => Promise.resolve(),
  },
  {
    name: `pattern: ${MAX_PATTERN_WILDCARDS} wildcards, GraphQL → INVALID_PATTERN`,
    at: () =>
      graphql(
        `{ collection(space: "default", name: "limits") { keys(first: 1, filter: { pattern: "${'a*'.repeat(MAX_PATTERN_WILDCARDS)}" }) { nodes { key } } } }`,
      ),
    accepted: (r) => expect(graphqlCodes(r)).toEqual([]),
    past: () =>
      graphql(
        `{ collection(space: "default", name: "limits") { keys(first: 1, filter: { pattern: "${'a*'.repeat(MAX_PATTERN_WILDCARDS + 1)}" }) { nodes { key } } } }`,
      ),
    refused: (r) => expect(graphqlCodes(r)).toEqual(['INVALID_PATTERN']),
    nothingWritten: () => Promise.resolve(),
  },
  {
    name: `pattern: ${MAX_PATTERN_WILDCARDS} wildcards, OpenFn key pattern → 400`,
    at: () => openfn('GET', `?key=${'a*'.repeat(MAX_PATTERN_WILDCARDS)}`),
    accepted: (r) => expect(r.status).toBe(200),
    past: () => openfn('GET', `?key=${'a*'.repeat(MAX_PATTERN_WILDCARDS + 1)}`),
    refused: (r) => expect(r.status).toBe(400),
    nothingWritten: () => Promise.resolve(),
  },
  {
    name: `GraphQL depth: GRAPHQL_MAX_DEPTH (${GRAPHQL.maxDepth} here) → 400 GRAPHQL_VALIDATION_FAILED`,
    at: () =>
      graphql(
        '{ collection(space: "default", name: "limits") { records(first: 1) { nodes { collection { records(first: 1) { nodes { collection { name } } } } } } } }',
      ),
    accepted: (r) => expect([r.status, graphqlCodes(r)]).toEqual([200, []]),
    past: () =>
      graphql(
        '{ collection(space: "default", name: "limits") { records(first: 1) { nodes { collection { records(first: 1) { nodes { collection { stats { records } } } } } } } } }',
      ),
    refused: (r) => expect([r.status, graphqlCodes(r)]).toEqual([400, ['GRAPHQL_VALIDATION_FAILED']]),
    nothingWritten: () => Promise.resolve(),
  },
];

describe(`GraphQL document: GRAPHQL_MAX_TOKENS (${GRAPHQL.maxTokens} here) → 400 GRAPHQL_PARSE_FAILED`, () => {
  /** `{ me { account account … } }`: exactly `tokens` tokens. */
  const documentOf = (tokens: number) => `{ me { ${'account '.repeat(tokens - 5)}} }`;

  // graphql-js words it "more that".
  it('runs a document of exactly that many tokens and refuses one more, before validating it', async () => {
    const within = await graphql(documentOf(GRAPHQL.maxTokens));
    expect([within.status, graphqlCodes(within)]).toEqual([200, []]);
    const over = await graphql(documentOf(GRAPHQL.maxTokens + 1));
    expect([over.status, graphqlCodes(over)]).toEqual([400, ['GRAPHQL_PARSE_FAILED']]);
    expect(over.text).toContain(`Document contains more that ${GRAPHQL.maxTokens} tokens. Parsing aborted.`);
  });
});

describe.each(LIMITS)('$name', (limit) => {
  it('accepts a request right at the limit', async () => {
    limit.accepted(await limit.at());
  });

  it('refuses one past it, writing nothing', async () => {
    limit.refused(await limit.past());
    await limit.nothingWritten();
  });
});

describe(`GraphQL complexity: GRAPHQL_MAX_COMPLEXITY (${GRAPHQL.maxComplexity} here) → 400 GRAPHQL_VALIDATION_FAILED`, () => {
  /** Four full pages of keys, and a fifth of `first`: over the limit at the largest page. */
  const costOf = (first: number) =>
    `{ collection(space: "default", name: "limits") { a: keys(first: ${first}) { nodes { key } } ${['b', 'c', 'd', 'e']
      .map((alias) => `${alias}: keys(first: ${GRAPHQL.maxPage}) { nodes { key } }`)
      .join(' ')} } }`;

  const costOfRefused = async (first: number): Promise<number> => {
    const refusal = await graphql(costOf(first));
    expect([refusal.status, graphqlCodes(refusal)]).toEqual([400, ['GRAPHQL_VALIDATION_FAILED']]);
    const message = (JSON.parse(refusal.text) as { errors: Array<{ message: string }> }).errors[0]?.message ?? '';
    expect(message).toMatch(new RegExp(`; the limit is ${GRAPHQL.maxComplexity}$`));
    return Number(/estimated cost is (\d+)/.exec(message)?.[1]);
  };

  it('runs the costliest operation within the limit and refuses the next one, naming its cost', async () => {
    const most = await costOfRefused(GRAPHQL.maxPage);
    const perItem = most - (await costOfRefused(GRAPHQL.maxPage - 1));
    expect(perItem).toBeGreaterThan(0);
    // The largest page of `a` whose operation costs at most the limit, and the one after it.
    const first = GRAPHQL.maxPage - Math.ceil((most - GRAPHQL.maxComplexity) / perItem);
    const within = await graphql(costOf(first));
    expect([within.status, graphqlCodes(within)]).toEqual([200, []]);
    expect(await costOfRefused(first + 1)).toBeGreaterThan(GRAPHQL.maxComplexity);
  });
});

describe("request headers: Node's 16 KiB (maxHeaderSize) → 431", () => {
  /** Sends a raw request with one header of `bytes` bytes; answers the status line. */
  const withHeader = (bytes: number) =>
    new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      let reply = '';
      socket.on('data', (chunk: Buffer) => {
        reply += chunk.toString('latin1');
      });
      socket.on('end', () => resolve(reply.split('\r\n')[0] ?? ''));
      socket.on('error', reject);
      socket.end(
        `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nX-Padding: ${'p'.repeat(bytes)}\r\n\r\n`,
      );
    });

  it('answers a request with 15 KiB of headers, refuses 20 KiB with 431, and serves the next request', async () => {
    expect(await withHeader(15 * 1024)).toBe('HTTP/1.1 200 OK');
    expect(await withHeader(20 * 1024)).toBe('HTTP/1.1 431 Request Header Fields Too Large');
    expect((await send('GET', '/healthz', {})).status).toBe(200);
  });
});
