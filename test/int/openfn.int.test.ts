import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import fc from 'fast-check';
import { createApp, legacyOptions } from '../../apps/gateway/src';
import { listen, portOf, rawRequest, type RawOptions, type RawReply } from '../support/raw-http';
import { silentLogger, startTestApi, type TestApi } from '../support/api';
import { TEST_ADMIN_TOKEN } from '../support/env';

/**
 * The OpenFn collections dialect (specs/openfn-collections.md) through a real gateway app over a
 * real record service on Postgres and Redis: every request/response pair of the spec byte for
 * byte, resolution by name and project id, both token kinds, paging with concurrent writers,
 * our extensions (keys only, counts), and a property run over the list's query parser.
 */

const JSON_TYPE = 'application/json; charset=utf-8';
const PROJECT_A = '0b6f1e2a-3c4d-4e5f-8a9b-0c1d2e3f4a5b';
const PROJECT_B = '7d8e9f00-1a2b-4c3d-9e8f-a0b1c2d3e4f5';
const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

let api: TestApi;
let server: HttpServer;
let literalUnderscores: HttpServer;
let smallBodies: HttpServer;

/** Secrets of the tokens the tests use. */
const tokens = { alice: '', bob: '', carol: '', runA: '', runB: '' };

const v1 = (method: string, path: string, body?: unknown, token = TEST_ADMIN_TOKEN) =>
  rawRequest(portOf(server), method, path, {
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

interface CallOptions extends RawOptions {
  readonly to?: HttpServer;
}

const call = (method: string, path: string, options: CallOptions = {}): Promise<RawReply> =>
  rawRequest(portOf(options.to ?? server), method, path, options);

/** An OpenFn request with a bearer token and, when given, a JSON body. */
const as = (token: string, method: string, path: string, body?: unknown, to?: HttpServer) =>
  call(method, path, {
    to,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });

/** The answer as [status, Content-Type, body], so a mismatch shows all three. */
const shape = (reply: RawReply) => [reply.status, reply.headers['content-type'], reply.text];
const ok = (body: string) => [200, JSON_TYPE, body];
const UNAUTHORIZED = [401, JSON_TYPE, '{"error":"Unauthorized"}'];
const NOT_FOUND = [404, JSON_TYPE, '{"error":"Not Found"}'];
const BAD_REQUEST = [400, JSON_TYPE, '{"error":"Bad Request"}'];

interface Item {
  key: string;
  value?: string;
  created: string;
  updated: string;
}
interface Page {
  items: Item[];
  cursor: string | null;
}

async function list(token: string, name: string, query = ''): Promise<Page> {
  const reply = await as(token, 'GET', `/collections/${name}${query}`);
  expect([reply.status, reply.headers['content-type']]).toEqual([200, JSON_TYPE]);
  return JSON.parse(reply.text) as Page;
}

/** Every item of a collection, page by page as the adaptor reads it. */
async function listAll(token: string, name: string, limit: number): Promise<Item[]> {
  const items: Item[] = [];
  let cursor: string | null = null;
  do {
    const page = await list(
      token,
      name,
      `?limit=${limit}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`,
    );
    items.push(...page.items);
    if (page.cursor !== null) expect(page.items.length).toBe(limit);
    cursor = page.cursor;
  } while (cursor !== null);
  return items;
}

const upsert = (token: string, name: string, items: Array<{ key: string; value: string }>) =>
  as(token, 'POST', `/collections/${name}`, { items });

const keysOf = (items: Item[]) => items.map((item) => item.key);

async function createCollection(space: string, name: string, token = TEST_ADMIN_TOKEN): Promise<void> {
  expect((await v1('POST', `/v1/spaces/${space}/collections`, { name }, token)).status).toBe(201);
}

beforeAll(async () => {
  api = await startTestApi();
  const app = createApp({ api, logger: silentLogger, maxBodyBytes: 1024 * 1024, legacy: legacyOptions({}) });
  server = await listen(app);
  literalUnderscores = await listen(
    createApp({
      api,
      logger: silentLogger,
      maxBodyBytes: 1024 * 1024,
      legacy: legacyOptions({ OPENFN_UNDERSCORE_WILDCARD: false }),
    }),
  );
  smallBodies = await listen(
    createApp({
      api,
      logger: silentLogger,
      maxBodyBytes: 1024 * 1024,
      legacy: legacyOptions({ OPENFN_MAX_BODY_BYTES: 4096 }),
    }),
  );
  for (const name of ['alice', 'bob', 'carol']) {
    expect((await v1('POST', '/v1/admin/accounts', { name, password: `${name}-password-1` })).status).toBe(201);
    const token = await v1('POST', `/v1/admin/accounts/${name}/tokens`, { name: 'openfn' });
    expect(token.status).toBe(201);
    tokens[name as 'alice' | 'bob' | 'carol'] = (JSON.parse(token.text) as { secret: string }).secret;
  }
  const projectA = await v1('POST', '/v1/spaces', { name: 'project-a', id: PROJECT_A.toUpperCase() }, tokens.alice);
  expect(JSON.parse(projectA.text)).toMatchObject({ name: 'project-a', id: PROJECT_A, kind: 'shared' });
  expect((await v1('POST', '/v1/spaces', { name: 'project-b', id: PROJECT_B }, tokens.bob)).status).toBe(201);
  expect((await v1('PUT', '/v1/spaces/project-a/members/carol', { role: 'reader' }, tokens.alice)).status).toBeLessThan(
    300,
  );
  for (const [space, token] of [
    ['project-a', tokens.alice],
    ['project-b', tokens.bob],
  ] as const) {
    const run = await v1('POST', `/v1/spaces/${space}/run-tokens`, {}, token);
    expect(run.status).toBe(201);
    tokens[space === 'project-a' ? 'runA' : 'runB'] = (JSON.parse(run.text) as { secret: string }).secret;
    await createCollection(space, 'shared-name', token);
  }
  for (const name of ['patients', 'items', 'paging', 'patterns', 'times', 'deletes', 'bulk', 'fuzz', 'extras']) {
    await createCollection('project-a', name, tokens.alice);
  }
  await createCollection('project-b', 'b-only', tokens.bob);
  await createCollection('project-a', 'Not_OpenFn', tokens.alice);
});

afterAll(async () => {
  for (const s of [server, literalUnderscores, smallBodies]) await new Promise((resolve) => s.close(resolve));
  await api.close();
});

/** Sends raw bytes on a fresh connection and returns the status line. */
function rawStatus(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(request));
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('end', () => resolve(text.split('\r\n')[0] ?? ''));
    socket.on('error', reject);
  });
}

describe('§4.1 authentication: every failure is 401 {"error":"Unauthorized"}, before anything else', () => {
  it.each([
    ['no Authorization', {}],
    ['a lower-case scheme', { authorization: `bearer ${TEST_ADMIN_TOKEN}` }],
    ['two spaces', { authorization: `Bearer  ${TEST_ADMIN_TOKEN}` }],
    ['Basic', { authorization: `Basic ${Buffer.from('alice:alice-password-1').toString('base64')}` }],
    ['an unknown token', { authorization: 'Bearer rst_nobody-has-this-token-000000' }],
    ['a malformed JWT', { authorization: 'Bearer a.b.c' }],
    ['an empty token', { authorization: 'Bearer ' }],
  ])('%s', async (_why, headers) => {
    expect(shape(await call('GET', '/collections/patients', { headers }))).toEqual(UNAUTHORIZED);
    expect(shape(await call('GET', '/collections/never-made', { headers }))).toEqual(UNAUTHORIZED);
    expect(shape(await call('PUT', '/collections/patients/k', { headers, body: '{"value":"v"}' }))).toEqual(
      UNAUTHORIZED,
    );
  });

  it('refuses two Authorization headers, even two good ones', async () => {
    const header = `Authorization: Bearer ${tokens.alice}\r\n`;
    const status = await rawStatus(
      portOf(server),
      `GET /collections/patients HTTP/1.1\r\nHost: x\r\n${header}${header}Connection: close\r\n\r\n`,
    );
    expect(status).toBe('HTTP/1.1 401 Unauthorized');
  });
});

describe('§3 resolving the collection', () => {
  it('finds a name in one project, refuses other projects’ members with 401', async () => {
    expect(shape(await as(tokens.alice, 'GET', '/collections/patients'))).toEqual(ok('{"items": [], "cursor":null}'));
    expect(shape(await as(tokens.bob, 'GET', '/collections/patients'))).toEqual(UNAUTHORIZED);
    expect(shape(await as(tokens.alice, 'GET', '/collections/b-only'))).toEqual(UNAUTHORIZED);
    expect(shape(await as(tokens.bob, 'GET', '/collections/b-only'))).toEqual(ok('{"items": [], "cursor":null}'));
  });

  it('answers 404 for a name no project has, whoever asks', async () => {
    expect(shape(await as(tokens.alice, 'GET', '/collections/never-made'))).toEqual(NOT_FOUND);
    expect(shape(await as(tokens.bob, 'PUT', '/collections/never-made/k', { value: 'v' }))).toEqual(NOT_FOUND);
    expect(shape(await as(tokens.alice, 'POST', '/collections/never-made', { items: [] }))).toEqual(NOT_FOUND);
  });

  it('answers 409 for a name two projects have, unless project_id picks one', async () => {
    const ambiguous = [
      409,
      JSON_TYPE,
      '{"error":"Multiple collections found with this name. Add ?project_id=<uuid> to disambiguate."}',
    ];
    expect(shape(await as(tokens.alice, 'GET', '/collections/shared-name'))).toEqual(ambiguous);
    expect(shape(await as(tokens.carol, 'DELETE', '/collections/shared-name/k'))).toEqual(ambiguous);
    expect(
      shape(await as(tokens.alice, 'PUT', `/collections/shared-name/k?project_id=${PROJECT_A}`, { value: 'a' })),
    ).toEqual(ok('{"error":null,"upserted":1}'));
    expect(
      shape(await as(tokens.bob, 'PUT', `/collections/shared-name/k?project_id=${PROJECT_B}`, { value: 'b' })),
    ).toEqual(ok('{"error":null,"upserted":1}'));
    const a = await as(tokens.alice, 'GET', `/collections/shared-name/k?project_id=${PROJECT_A.toUpperCase()}`);
    expect((JSON.parse(a.text) as Item).value).toBe('a');
    expect(shape(await as(tokens.alice, 'GET', `/collections/shared-name/k?project_id=${PROJECT_B}`))).toEqual(
      UNAUTHORIZED,
    );
    expect(shape(await as(tokens.alice, 'GET', `/collections/b-only?project_id=${PROJECT_A}`))).toEqual(NOT_FOUND);
  });

  it('refuses a project_id that is not a UUID with 400 on every route', async () => {
    for (const [method, path] of [
      ['GET', '/collections/patients?project_id=nope'],
      ['GET', '/collections/patients/k?project_id=123'],
      ['DELETE', '/collections/patients/k?project_id=0b6f1e2a3c4d4e5f8a9b0c1d2e3f4a5b'],
    ] as const) {
      expect(shape(await as(tokens.alice, method, path))).toEqual(BAD_REQUEST);
    }
  });

  it('does not find collections whose names are not in OpenFn’s format', async () => {
    expect(shape(await as(tokens.alice, 'GET', '/collections/Not_OpenFn'))).toEqual(NOT_FOUND);
  });

  it('lets a run token do everything in its own project and nothing elsewhere', async () => {
    expect(shape(await as(tokens.runA, 'PUT', '/collections/patients/run', { value: '"by run"' }))).toEqual(
      ok('{"error":null,"upserted":1}'),
    );
    expect((JSON.parse((await as(tokens.runA, 'GET', '/collections/patients/run')).text) as Item).value).toBe(
      '"by run"',
    );
    expect(shape(await as(tokens.runA, 'DELETE', '/collections/patients/run'))).toEqual(
      ok('{"deleted":1,"error":null,"key":"run"}'),
    );
    expect(shape(await as(tokens.runB, 'GET', '/collections/patients'))).toEqual(UNAUTHORIZED);
    expect(shape(await as(tokens.runA, 'GET', `/collections/shared-name?project_id=${PROJECT_B}`))).toEqual(
      UNAUTHORIZED,
    );
  });

  it('gives a project’s reader reads only: writes are 401 like every refusal', async () => {
    expect((await as(tokens.carol, 'GET', '/collections/patients')).status).toBe(200);
    expect(shape(await as(tokens.carol, 'PUT', '/collections/patients/k', { value: 'v' }))).toEqual(UNAUTHORIZED);
    expect(shape(await as(tokens.carol, 'POST', '/collections/patients', { items: [] }))).toEqual(UNAUTHORIZED);
    expect(shape(await as(tokens.carol, 'DELETE', '/collections/patients'))).toEqual(UNAUTHORIZED);
  });
});

describe('§5.2, §5.3, §5.5 one item', () => {
  it('puts, gets, upserts and deletes with Lightning’s bodies', async () => {
    expect(shape(await as(tokens.alice, 'PUT', '/collections/items/p-1', { value: '{"name":"Ada"}' }))).toEqual(
      ok('{"error":null,"upserted":1}'),
    );
    const first = await as(tokens.alice, 'GET', '/collections/items/p-1');
    expect([first.status, first.headers['content-type'], first.headers['cache-control']]).toEqual([
      200,
      JSON_TYPE,
      'max-age=0, private, must-revalidate',
    ]);
    const item = JSON.parse(first.text) as Item;
    expect(first.text).toBe(
      `{"created":"${item.created}","key":"p-1","updated":"${item.updated}","value":"{\\"name\\":\\"Ada\\"}"}`,
    );
    expect(item.created).toMatch(TIMESTAMP);
    expect(item.updated).toBe(item.created);
    expect(shape(await as(tokens.alice, 'PUT', '/collections/items/p-1', { value: 'second', key: 'ignored' }))).toEqual(
      ok('{"error":null,"upserted":1}'),
    );
    const again = JSON.parse((await as(tokens.alice, 'GET', '/collections/items/p-1')).text) as Item;
    expect([again.value, again.created]).toEqual(['second', item.created]);
    expect(again.updated > item.updated).toBe(true);
    expect(shape(await as(tokens.alice, 'GET', '/collections/items/ignored'))).toEqual([204, undefined, '']);
    expect(shape(await as(tokens.alice, 'DELETE', '/collections/items/p-1'))).toEqual(
      ok('{"deleted":1,"error":null,"key":"p-1"}'),
    );
    expect(shape(await as(tokens.alice, 'DELETE', '/collections/items/p-1'))).toEqual(
      ok('{"deleted":0,"error":"Item Not Found","key":"p-1"}'),
    );
    expect(shape(await as(tokens.alice, 'GET', '/collections/items/p-1'))).toEqual([204, undefined, '']);
  });

  it('decodes the key segment: %2F puts a slash in the key; `*` is a literal character here', async () => {
    expect((await as(tokens.alice, 'PUT', '/collections/items/a%2Fb%20c', { value: 'slashed' })).status).toBe(200);
    expect((JSON.parse((await as(tokens.alice, 'GET', '/collections/items/a%2Fb%20c')).text) as Item).key).toBe(
      'a/b c',
    );
    expect(shape(await as(tokens.alice, 'GET', '/collections/items/a*'))).toEqual([204, undefined, '']);
    expect(shape(await as(tokens.alice, 'DELETE', '/collections/items/a*'))).toEqual(
      ok('{"deleted":0,"error":"Item Not Found","key":"a*"}'),
    );
  });

  it('answers every bad PUT in its own shape, and writes nothing', async () => {
    const put = (body: string, type = 'application/json', to?: HttpServer) =>
      call('PUT', '/collections/items/bad', {
        to,
        headers: { authorization: `Bearer ${tokens.alice}`, 'content-type': type },
        body,
      });
    expect(shape(await put('{}'))).toEqual([422, JSON_TYPE, '{"error":"Missing required field: value"}']);
    expect(shape(await put('["value"]'))).toEqual([422, JSON_TYPE, '{"error":"Missing required field: value"}']);
    expect(shape(await put('value=x', 'text/plain'))).toEqual([
      422,
      JSON_TYPE,
      '{"error":"Missing required field: value"}',
    ]);
    for (const value of ['1', '{"a":1}', 'null', 'true']) {
      expect(shape(await put(`{"value":${value}}`))).toEqual([422, JSON_TYPE, '{"error":"Format error","upserted":0}']);
    }
    for (const value of ['', '   ', '\\n\\t']) {
      expect(shape(await put(`{"value":"${value}"}`))).toEqual(ok('{"error":"Format error","upserted":0}'));
    }
    expect(shape(await put(JSON.stringify({ value: 'x'.repeat(1_000_001) }), 'application/json'))).toEqual(
      ok('{"error":"Format error","upserted":0}'),
    );
    expect(shape(await put('{"value":'))).toEqual(BAD_REQUEST);
    expect(shape(await put(JSON.stringify({ value: 'x'.repeat(5000) }), 'application/json', smallBodies))).toEqual([
      413,
      JSON_TYPE,
      '{"error":"Request Entity Too Large"}',
    ]);
    expect(shape(await as(tokens.alice, 'GET', '/collections/items/bad'))).toEqual([204, undefined, '']);
    const longKey = `/collections/items/${'k'.repeat(256)}`;
    expect(shape(await as(tokens.alice, 'PUT', longKey, { value: 'v' }))).toEqual([
      422,
      JSON_TYPE,
      '{"error":"Format error","upserted":0}',
    ]);
    expect(
      shape(await as(tokens.alice, 'PUT', `/collections/items/${encodeURIComponent('é'.repeat(255))}`, { value: 'v' })),
    ).toEqual(ok('{"error":null,"upserted":1}'));
  });

  it('takes a value of exactly 1,000,000 characters, and a form-encoded body', async () => {
    const big = 'é'.repeat(1_000_000);
    expect(shape(await as(tokens.alice, 'PUT', '/collections/items/big', { value: big }))).toEqual(
      ok('{"error":null,"upserted":1}'),
    );
    expect((JSON.parse((await as(tokens.alice, 'GET', '/collections/items/big')).text) as Item).value).toBe(big);
    const form = await call('PUT', '/collections/items/form', {
      headers: { authorization: `Bearer ${tokens.alice}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'value=a+b%26c',
    });
    expect(shape(form)).toEqual(ok('{"error":null,"upserted":1}'));
    expect((JSON.parse((await as(tokens.alice, 'GET', '/collections/items/form')).text) as Item).value).toBe('a b&c');
  });

  it('keeps a byte-order mark that opens a key or a value', async () => {
    expect(shape(await as(tokens.alice, 'PUT', '/collections/items/%EF%BB%BFbom', { value: '\ufeffv' }))).toEqual(
      ok('{"error":null,"upserted":1}'),
    );
    const item = JSON.parse((await as(tokens.alice, 'GET', '/collections/items/%EF%BB%BFbom')).text) as Item;
    expect([item.key, item.value]).toEqual(['\ufeffbom', '\ufeffv']);
  });

  it('stores values as text that /v1 reads back', async () => {
    await as(tokens.alice, 'PUT', '/collections/items/shared', { value: '{"a":1}' });
    const record = await v1('GET', '/v1/spaces/project-a/collections/items/records/shared', undefined, tokens.alice);
    expect([record.status, record.headers['content-type'], record.text]).toEqual([
      200,
      'text/plain; charset=utf-8',
      '{"a":1}',
    ]);
  });
});

describe('§5.4 batch upsert', () => {
  it('upserts all items in one transaction with one timestamp, keeping created and the order', async () => {
    expect(
      shape(
        await upsert(tokens.alice, 'bulk', [
          { key: 'b', value: '1' },
          { key: 'a', value: '2' },
          { key: 'c', value: '' },
        ]),
      ),
    ).toEqual(ok('{"error":null,"upserted":3}'));
    const first = (await list(tokens.alice, 'bulk')).items;
    expect(keysOf(first)).toEqual(['b', 'a', 'c']);
    expect(new Set(first.flatMap((item) => [item.created, item.updated])).size).toBe(1);
    expect(
      shape(
        await upsert(tokens.alice, 'bulk', [
          { key: 'a', value: '3' },
          { key: 'd', value: '4' },
        ]),
      ),
    ).toEqual(ok('{"error":null,"upserted":2}'));
    const second = (await list(tokens.alice, 'bulk')).items;
    expect(keysOf(second)).toEqual(['b', 'a', 'c', 'd']);
    const [, a, , d] = second as [Item, Item, Item, Item];
    expect([a.value, a.created, a.updated === d.created, a.updated > a.created]).toEqual([
      '3',
      first[1]?.created,
      true,
      true,
    ]);
    await as(tokens.alice, 'DELETE', '/collections/bulk/b');
    await upsert(tokens.alice, 'bulk', [{ key: 'b', value: 'reborn' }]);
    expect(keysOf((await list(tokens.alice, 'bulk')).items)).toEqual(['a', 'c', 'd', 'b']);
    expect(shape(await upsert(tokens.alice, 'bulk', []))).toEqual(ok('{"error":null,"upserted":0}'));
  });

  it('refuses a bad batch as a whole, writing nothing', async () => {
    const before = (await list(tokens.alice, 'bulk')).items;
    const post = (body: string) => as(tokens.alice, 'POST', '/collections/bulk', body);
    const formatError = [422, JSON_TYPE, '{"error":"Format error","upserted":0}'];
    expect(shape(await post('{"items":[{"key":"x","value":"1"},{"key":"x","value":"2"}]}'))).toEqual([
      422,
      JSON_TYPE,
      '{"error":"Duplicate key found","upserted":0}',
    ]);
    expect(shape(await post('{}'))).toEqual([422, JSON_TYPE, '{"error":"Missing required field: items"}']);
    expect(shape(await post('[{"key":"x","value":"1"}]'))).toEqual([
      422,
      JSON_TYPE,
      '{"error":"Missing required field: items"}',
    ]);
    for (const body of [
      '{"items":{"key":"x","value":"1"}}',
      '{"items":[{"key":"x","value":"1"},{"key":"y"}]}',
      '{"items":[{"key":"x","value":"1"},{"value":"1"}]}',
      '{"items":[{"key":"x","value":"1"},{"key":"y","value":2}]}',
      '{"items":[{"key":"x","value":"1"},{"key":"","value":"2"}]}',
      '{"items":[{"key":"x","value":"1"},null]}',
      JSON.stringify({
        items: [
          { key: 'x', value: '1' },
          { key: 'k'.repeat(256), value: '1' },
        ],
      }),
    ]) {
      expect(shape(await post(body))).toEqual(formatError);
    }
    expect(shape(await post('{"items":[{"key":"x",'))).toEqual(BAD_REQUEST);
    expect((await list(tokens.alice, 'bulk')).items).toEqual(before);
  });
});

describe('§5.1, §7, §8, §10 listing', () => {
  beforeAll(async () => {
    const items = Array.from({ length: 2500 }, (_, i) => ({
      key: `k${String(2500 - i).padStart(5, '0')}`,
      value: `${i}`,
    }));
    for (let i = 0; i < items.length; i += 1000) {
      expect((await upsert(tokens.alice, 'paging', items.slice(i, i + 1000))).status).toBe(200);
    }
  });

  it('streams the exact frame, in creation order, 1000 items by default, with a Base64 decimal cursor', async () => {
    const reply = await as(tokens.alice, 'GET', '/collections/paging');
    expect(reply.headers['transfer-encoding']).toBe('chunked');
    expect(reply.text.startsWith('{"items": [{"created":"')).toBe(true);
    const page = JSON.parse(reply.text) as Page;
    expect(reply.text.endsWith(`], "cursor":"${page.cursor}"}`)).toBe(true);
    expect(page.items).toHaveLength(1000);
    expect(page.items[0]?.key).toBe('k02500');
    expect(page.items[999]?.key).toBe('k01501');
    expect(Buffer.from(page.cursor ?? '', 'base64').toString()).toMatch(/^[1-9][0-9]*$/);
    const next = await list(tokens.alice, 'paging', `?cursor=${page.cursor}&limit=5`);
    expect(keysOf(next.items)).toEqual(['k01500', 'k01499', 'k01498', 'k01497', 'k01496']);
  });

  it('gives no cursor when exactly `limit` items remain, and none for limit=0', async () => {
    const all = await listAll(tokens.alice, 'paging', 500);
    expect(all).toHaveLength(2500);
    expect(new Set(keysOf(all)).size).toBe(2500);
    expect(await list(tokens.alice, 'paging', '?limit=2500')).toMatchObject({ cursor: null });
    expect(shape(await as(tokens.alice, 'GET', '/collections/paging?limit=0'))).toEqual(
      ok('{"items": [], "cursor":null}'),
    );
    expect((await list(tokens.alice, 'paging', '?limit=3000')).items).toHaveLength(2500);
  });

  it('refuses malformed parameters with 400 {"error":"Bad Request"}', async () => {
    const valid = Buffer.from('12').toString('base64');
    for (const query of [
      '?offset=10',
      '?meta=true',
      '?createdAfter=2024-01-01T00:00:00Z',
      '?Limit=1',
      '?key[]=a',
      '?limit=10abc',
      '?limit=1.5',
      '?limit=abc',
      '?limit=',
      '?limit=-1',
      '?cursor=not-base64!',
      `?cursor=${valid.replaceAll('=', '')}`,
      `?cursor=${Buffer.from('12x').toString('base64')}`,
      '?cursor=',
      '?created_after=2024-01-01',
      '?created_before=2024-01-01T00:00:00',
      '?updated_after=202401',
      '?updated_before=2024-02-30T00:00:00Z',
      '?project_id=x',
      '?limit=%ZZ',
    ]) {
      expect([query, ...shape(await as(tokens.alice, 'GET', `/collections/paging${query}`))]).toEqual([
        query,
        ...BAD_REQUEST,
      ]);
    }
  });

  it('keeps every item that existed throughout a paging run exactly once, while others are written', async () => {
    const writer = (async () => {
      for (let round = 0; round < 10; round++) {
        await upsert(
          tokens.alice,
          'paging',
          Array.from({ length: 50 }, (_, i) => ({ key: `new-${round}-${i}`, value: 'late' })),
        );
        await upsert(tokens.alice, 'paging', [{ key: `k0${String(1000 + round * 100)}`, value: 'updated' }]);
      }
    })();
    const seen = await listAll(tokens.alice, 'paging', 250);
    await writer;
    const keys = keysOf(seen);
    expect(new Set(keys).size).toBe(keys.length);
    const original = keys.filter((k) => k.startsWith('k'));
    expect(original).toHaveLength(2500);
    expect(original).toEqual([...original].sort().reverse());
  });
});

describe('§6 key patterns and §9 time filters', () => {
  beforeAll(async () => {
    const keys = [
      'foo:bar:baz',
      'foo:bar:baz:quux',
      'foo:123:bar1',
      'foo:345:bar2',
      'foo:234:boo',
      'a_c',
      'abc',
      '100%',
      '1000',
      'x\\y',
      'q?',
    ];
    expect(
      (
        await upsert(
          tokens.alice,
          'patterns',
          keys.map((key) => ({ key, value: key })),
        )
      ).status,
    ).toBe(200);
  });

  const matching = async (pattern: string, to?: HttpServer) => {
    const reply = await as(
      tokens.alice,
      'GET',
      `/collections/patterns?key=${encodeURIComponent(pattern)}`,
      undefined,
      to,
    );
    expect(reply.status).toBe(200);
    return keysOf((JSON.parse(reply.text) as Page).items).sort();
  };

  it.each([
    ['foo:bar:*', ['foo:bar:baz', 'foo:bar:baz:quux']],
    ['foo:*:baz', ['foo:bar:baz']],
    ['foo:*:bar*', ['foo:123:bar1', 'foo:345:bar2']],
    ['foo:bar:baz', ['foo:bar:baz']],
    [
      '*',
      [
        '100%',
        '1000',
        'a_c',
        'abc',
        'foo:123:bar1',
        'foo:234:boo',
        'foo:345:bar2',
        'foo:bar:baz',
        'foo:bar:baz:quux',
        'q?',
        'x\\y',
      ],
    ],
    ['a_c', ['a_c', 'abc']],
    ['100%', ['100%']],
    ['10%', []],
    ['x\\y', ['x\\y']],
    ['q?', ['q?']],
    ['q*', ['q?']],
    ['', []],
  ])('%j matches %j', async (pattern, keys) => {
    expect(await matching(pattern)).toEqual(keys);
  });

  it('makes `_` literal when OPENFN_UNDERSCORE_WILDCARD=0', async () => {
    expect(await matching('a_c', literalUnderscores)).toEqual(['a_c']);
  });

  it('applies *_after inclusively and *_before exclusively, at microseconds', async () => {
    await upsert(tokens.alice, 'times', [{ key: 'one', value: '1' }]);
    await upsert(tokens.alice, 'times', [{ key: 'two', value: '2' }]);
    const [one, two] = (await list(tokens.alice, 'times')).items as [Item, Item];
    const q = (name: string, at: string) => `?${name}=${encodeURIComponent(at)}`;
    expect(keysOf((await list(tokens.alice, 'times', q('created_after', two.created))).items)).toEqual(['two']);
    expect(keysOf((await list(tokens.alice, 'times', q('created_before', two.created))).items)).toEqual(['one']);
    expect(keysOf((await list(tokens.alice, 'times', q('updated_after', one.updated))).items)).toEqual(['one', 'two']);
    expect(keysOf((await list(tokens.alice, 'times', q('updated_before', one.updated))).items)).toEqual([]);
    const offset = two.created.replace('Z', '+00:00');
    expect(keysOf((await list(tokens.alice, 'times', q('created_after', offset))).items)).toEqual(['two']);
    await upsert(tokens.alice, 'times', [{ key: 'one', value: 'again' }]);
    expect(keysOf((await list(tokens.alice, 'times', q('updated_after', two.updated))).items)).toEqual(['one', 'two']);
  });
});

describe('§5.6 deleting many', () => {
  beforeEach(async () => {
    await as(tokens.alice, 'DELETE', '/collections/deletes');
    await upsert(
      tokens.alice,
      'deletes',
      ['a:1', 'a:2', 'b:1', 'a_1'].map((key) => ({ key, value: 'v' })),
    );
  });

  it('deletes what the query pattern matches, ignoring every other parameter', async () => {
    expect(shape(await as(tokens.alice, 'DELETE', '/collections/deletes?key=a:*&limit=1&created_after=x'))).toEqual(
      ok('{"deleted":2,"error":null,"key":"a:*"}'),
    );
    expect(keysOf((await list(tokens.alice, 'deletes')).items)).toEqual(['b:1', 'a_1']);
  });

  it('takes the pattern from a JSON body', async () => {
    expect(shape(await as(tokens.alice, 'DELETE', '/collections/deletes', { key: 'b:*' }))).toEqual(
      ok('{"deleted":1,"error":null,"key":"b:*"}'),
    );
  });

  it('deletes everything without a pattern, and nothing for a pattern that matches nothing', async () => {
    expect(shape(await as(tokens.alice, 'DELETE', '/collections/deletes?key=zzz*'))).toEqual(
      ok('{"deleted":0,"error":null,"key":"zzz*"}'),
    );
    expect(shape(await as(tokens.alice, 'DELETE', '/collections/deletes'))).toEqual(
      ok('{"deleted":4,"error":null,"key":null}'),
    );
    expect((await list(tokens.alice, 'deletes')).items).toEqual([]);
  });
});

describe('§2 routes, Accept and request shapes', () => {
  it('answers 404 for routes that do not exist, 400 for a malformed path', async () => {
    for (const [method, path] of [
      ['GET', '/collections'],
      ['GET', '/collections/'],
      ['GET', '/collections/patients/a/b'],
      ['PATCH', '/collections/patients'],
      ['PUT', '/collections/patients'],
      ['POST', '/collections/patients/k'],
    ] as const) {
      expect([method, path, ...shape(await as(tokens.alice, method, path))]).toEqual([method, path, ...NOT_FOUND]);
    }
    expect(shape(await as(tokens.alice, 'GET', '/collections/patients/%E2%82'))).toEqual(BAD_REQUEST);
  });

  it('refuses an Accept header without JSON with 406, and takes */*', async () => {
    const get = (accept: string) =>
      call('GET', '/collections/patients', { headers: { authorization: `Bearer ${tokens.alice}`, accept } });
    expect((await get('text/html')).status).toBe(406);
    expect((await get('text/html, */*;q=0.8')).status).toBe(200);
    expect((await get('application/json')).status).toBe(200);
  });

  it('serves HEAD of an item like its GET, without a body', async () => {
    await as(tokens.alice, 'PUT', '/collections/items/head', { value: 'v' });
    const head = await as(tokens.alice, 'HEAD', '/collections/items/head');
    expect([head.status, head.headers['content-type'], head.text]).toEqual([200, JSON_TYPE, '']);
  });
});

describe('beyond the original: keys only and counts', () => {
  beforeAll(async () => {
    await upsert(
      tokens.alice,
      'extras',
      ['x:1', 'x:2', 'y:1'].map((key) => ({ key, value: `value of ${key}` })),
    );
  });

  it('lists keys without values with keys_only=true, paging the same way', async () => {
    const page = await list(tokens.alice, 'extras', '?keys_only=true&limit=2');
    expect(page.items.map((item) => Object.keys(item))).toEqual([
      ['created', 'key', 'updated'],
      ['created', 'key', 'updated'],
    ]);
    const rest = await list(tokens.alice, 'extras', `?keys_only=true&cursor=${page.cursor ?? ''}`);
    expect(keysOf(rest.items)).toEqual(['y:1']);
  });

  it('counts with HEAD: matches under filters, and the whole collection with its size and last change', async () => {
    const filtered = await as(tokens.alice, 'HEAD', '/collections/extras?key=x:*');
    expect([filtered.status, filtered.headers['x-item-count'], filtered.text]).toEqual([200, '2', '']);
    const whole = await as(tokens.alice, 'HEAD', '/collections/extras');
    const last = (await list(tokens.alice, 'extras')).items
      .map((item) => item.updated)
      .sort()
      .at(-1);
    expect(whole.headers['x-item-count']).toBe('3');
    expect(Number(whole.headers['x-item-bytes'])).toBe(['x:1', 'x:2', 'y:1'].reduce((n, k) => n + 2 * k.length + 9, 0));
    expect(whole.headers['x-last-modified']).toBe(last);
    expect(whole.headers['last-modified']).toBe(new Date(last ?? '').toUTCString());
    expect(shape(await as(tokens.alice, 'HEAD', '/collections/extras?nope=1'))).toEqual([400, JSON_TYPE, '']);
  });
});

describe('streaming', () => {
  const ITEMS = 20_000;
  const value = 'v'.repeat(1000);

  beforeAll(async () => {
    await createCollection('project-a', 'stream', tokens.alice);
    for (let i = 0; i < ITEMS; i += 1000) {
      const items = Array.from({ length: 1000 }, (_, j) => ({ key: `s${i + j}`, value }));
      expect((await upsert(tokens.alice, 'stream', items)).status).toBe(200);
    }
  });

  /** How many scan pages the record service has read from Postgres so far. */
  const pagesRead = (spy: jest.SpyInstance) => spy.mock.calls.length;
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('reads only as fast as a slow client takes, and stops reading when it goes away', async () => {
    // Each scan page is one read in index order (nothing else reads so while this runs).
    const spy = jest.spyOn(api.runtime.db, 'orderedQuery');
    const req = httpRequest({
      host: '127.0.0.1',
      port: portOf(server),
      path: `/collections/stream?limit=${ITEMS}`,
      headers: { authorization: `Bearer ${tokens.alice}` },
      agent: false,
    });
    const firstChunk = new Promise<void>((resolve, reject) => {
      req.on('response', (res) => {
        res.once('data', () => {
          res.pause();
          resolve();
        });
      });
      req.on('error', reject);
    });
    req.end();
    try {
      await firstChunk;
      await sleep(500);
      const whilePaused = pagesRead(spy);
      // 20,000 items of 1 KB are 200 pages (SCAN_PAGE_ROWS, 100); a paused reader holds the stream at the socket buffers.
      expect(whilePaused).toBeGreaterThan(0);
      expect(whilePaused).toBeLessThan(50);
      req.destroy();
      await sleep(300);
      const afterClose = pagesRead(spy);
      await sleep(500);
      expect(pagesRead(spy)).toBe(afterClose);
      expect(afterClose - whilePaused).toBeLessThanOrEqual(1);
    } finally {
      req.destroy();
      spy.mockRestore();
    }
  });
});

describe('properties', () => {
  it('answers any list query with 200 or 400, never a failure', async () => {
    const part = fc.oneof(
      fc.constantFrom('key', 'limit', 'cursor', 'created_after', 'updated_before', 'project_id', 'keys_only', 'x'),
      fc.string({ maxLength: 12 }),
    );
    const value = fc.oneof(
      fc.string({ maxLength: 30 }),
      fc.constantFrom('*', '_', '%', '%%', '%zz', '10', '-5', 'MTIz', 'MTIz==', '2024-01-01T00:00:00Z', PROJECT_A),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(part, value), { maxLength: 4 }), async (pairs) => {
        const query = pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
        const reply = await as(tokens.alice, 'GET', `/collections/fuzz?${query}`);
        expect([200, 400]).toContain(reply.status);
        if (reply.status === 200) expect(() => JSON.parse(reply.text) as unknown).not.toThrow();
      }),
      { numRuns: 150 },
    );
  });
});
