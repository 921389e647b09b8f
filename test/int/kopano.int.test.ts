import type { Server } from 'node:http';
import fc from 'fast-check';
import { SignJWT } from 'jose';
import request from 'supertest';
import { createApp, createHttpRecordApi, legacyOptions } from '../../apps/gateway/src';
import { readWireError } from '../../packages/proto/src';
import { listen, portOf, rawRequest, type RawOptions, type RawReply } from '../support/raw-http';
import { silentLogger, startTestApi, type TestApi } from '../support/api';
import { TEST_ADMIN_TOKEN } from '../support/env';
import { freePort } from '../support/processes';

/**
 * The Kopano kvs dialect (specs/kopano-kvs.md) on a real gateway over a real record service
 * (Postgres, Redis). Requests go out as raw HTTP, so paths reach the server unnormalised and
 * bodies are compared byte for byte.
 */

const JWT_SECRET = 'kopano-test-secret-0123456789abcdef0123456789';
const SECRET_KEY = new TextEncoder().encode(JWT_SECRET);
const BASE = '/api/kvs/v1/kv/user/';
const admin = `Bearer ${TEST_ADMIN_TOKEN}`;

let api: TestApi;
let app: ReturnType<typeof createApp>;
const servers: Server[] = [];
/** Ports of: the default app (CORS off), one with CORS on, one requiring scopes `a b`. */
let plain: number;
let cors: number;
let scoped: number;

async function serve(listener: ReturnType<typeof createApp>): Promise<number> {
  const server = await listen(listener);
  servers.push(server);
  return portOf(server);
}

beforeAll(async () => {
  api = await startTestApi({
    env: {
      JWT_SECRET,
      JWT_REQUIRED_TRUE_CLAIM: 'kc.isAccessToken',
      JWT_SCOPES_CLAIM: 'kc.authorizedScopes',
      JWT_SUBJECT_CLAIM: 'kc.identity/kc.i.id,sub',
      JWT_REQUIRE_EXP: 'false',
      JWT_CLOCK_TOLERANCE_SECONDS: '0',
      JWT_CREATE_ACCOUNTS: 'true',
    },
  });
  const build = (legacy: Parameters<typeof legacyOptions>[0]) =>
    createApp({ api, logger: silentLogger, maxBodyBytes: 1024 * 1024, legacy: legacyOptions(legacy) });
  app = build({});
  plain = await serve(app);
  cors = await serve(build({ KOPANO_KVS_ALLOW_CORS: true }));
  scoped = await serve(build({ KOPANO_KVS_REQUIRED_SCOPES: 'a b' }));
});

afterAll(async () => {
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  await api.close();
});

interface Send extends RawOptions {
  readonly port?: number;
}

/** One raw HTTP exchange: the path goes out exactly as given, a body with its Content-Length. */
const send = (method: string, path: string, options: Send = {}): Promise<RawReply> =>
  rawRequest(options.port ?? plain, method, path, options);

/** A Kopano access token for `subject` (HS256); `claims` override the defaults, `undefined` drops one. */
function mint(subject: string | undefined, claims: Record<string, unknown> = {}, time: Partial<TimeClaims> = {}) {
  const payload = Object.fromEntries(
    Object.entries({ 'kc.isAccessToken': true, 'kc.authorizedScopes': ['kopano/kvs'], ...claims }).filter(
      ([, value]) => value !== undefined,
    ),
  );
  let jwt = new SignJWT(payload).setProtectedHeader({ alg: 'HS256' }).setIssuedAt();
  if (subject !== undefined) jwt = jwt.setSubject(subject);
  if (time.exp !== undefined) jwt = jwt.setExpirationTime(time.exp);
  if (time.nbf !== undefined) jwt = jwt.setNotBefore(time.nbf);
  return jwt.sign(time.key ?? SECRET_KEY);
}

interface TimeClaims {
  exp: string | number;
  nbf: string | number;
  key: Uint8Array;
}

const bearer = async (subject: string, claims: Record<string, unknown> = {}) => ({
  authorization: `Bearer ${await mint(subject, claims)}`,
});

const TEXT = 'text/plain; charset=utf-8';

/** A Go `http.Error` answer: the status, the text type, nosniff, and the body. */
function expectText(reply: RawReply, status: number, body = '\n'): void {
  expect([reply.status, reply.headers['content-type'], reply.headers['x-content-type-options'], reply.text]).toEqual([
    status,
    TEXT,
    'nosniff',
    body,
  ]);
}

/** A status with an empty body and no Content-Type. */
function expectEmpty(reply: RawReply, status: number): void {
  expect([reply.status, reply.headers['content-type'], reply.body.length]).toEqual([status, undefined, 0]);
}

/** Where /v1 finds a Kopano key of `space`. */
const v1Path = (space: string, key: string) =>
  `/v1/spaces/${space}/collections/kvs/records/${key.split('/').map(encodeURIComponent).join('/')}`;

const aliceKvs = { space: 'kvs-alice', collection: 'kvs' };

/** How many records of a user's kvs collection start with `prefix` (none when it does not exist yet). */
async function countUnder(space: string, prefix: string): Promise<bigint> {
  try {
    return (await api.records.count({ collection: { space, collection: 'kvs' }, filter: { prefix } })).count;
  } catch (error) {
    if (readWireError(error).code === 'COLLECTION_NOT_FOUND') return 0n;
    throw error;
  }
}

let alice: Record<string, string>;
let bob: Record<string, string>;

beforeAll(async () => {
  alice = await bearer('kvs-alice');
  bob = await bearer('kvs-bob');
});

const put = (key: string, body: string | Buffer, contentType?: string, auth = alice) =>
  send('PUT', BASE + key, {
    headers: { ...auth, ...(contentType === undefined ? {} : { 'content-type': contentType }) },
    body,
  });
const get = (pathAndQuery: string, auth = alice) => send('GET', BASE + pathAndQuery, { headers: auth });
const batch = (key: string, body: string | Buffer, auth = alice) =>
  send('PUT', `${BASE}${key}?batch=1`, { headers: { ...auth, 'content-type': 'application/json' }, body });

describe('routing', () => {
  it('answers 404 page not found outside /kv/user/, before authentication', async () => {
    for (const path of [
      '/api/kvs/v1',
      '/api/kvs/v1?x=1',
      '/api/kvs/v1/',
      '/api/kvs/v1/kv',
      '/api/kvs/v1/kv/user',
      '/api/kvs/v1/kv/group/a',
      '/api/kvs/v1/kv/User/a',
    ]) {
      expectText(await send('GET', path), 404, '404 page not found\n');
      expectText(await send('PUT', path, { headers: alice, body: 'x' }), 404, '404 page not found\n');
    }
  });

  it('redirects unclean paths with 301 to the cleaned path, query kept, before authentication', async () => {
    const cases: Array<[string, string]> = [
      [`${BASE}/a`, `${BASE}a`],
      [`${BASE}a//b/`, `${BASE}a/b/`],
      [`${BASE}a/./b?raw=1`, `${BASE}a/b?raw=1`],
      [`${BASE}a/../b?batch=1&x=%20`, `${BASE}b?batch=1&x=%20`],
      [`${BASE}a%2F%2Fb`, `${BASE}a/b`],
      [`${BASE}x/..`, '/api/kvs/v1/kv/user'],
      [`${BASE}sp%20ace!/./x`, `${BASE}sp%20ace%21/x`],
      ['/api/kvs/v1/../../../x', '/x'],
    ];
    for (const [path, location] of cases) {
      const reply = await send('DELETE', path);
      expectEmpty(reply, 301);
      expect([path, reply.headers.location]).toEqual([path, location]);
    }
  });

  it('leaves other paths alone: the rest of /api is DVID’s', async () => {
    for (const path of ['/api/kvs/v2/kv/user/a', '/api/kvs/v10/kv/user/a', '/api/node/x']) {
      const reply = await send('GET', path, { headers: alice });
      expect([path, reply.status, reply.headers['content-type'], reply.text]).toEqual([
        path,
        404,
        'text/plain; charset=utf-8',
        '404 page not found\n',
      ]);
    }
  });

  it('refuses malformed percent-encoding and non-UTF-8 keys with 400', async () => {
    expectText(await send('GET', `${BASE}a%zz`), 400);
    expectText(await send('GET', `${BASE}a%FF`, { headers: alice }), 400);
  });

  it('takes the decoded rest of the path as the key: %2F is a slash, a trailing slash counts', async () => {
    expectEmpty(await put('route/a%2Fb', 'one', 'text/plain'), 200);
    expectEmpty(await put('route/a/', 'two', 'text/plain'), 200);
    expectEmpty(await put('route/a', 'three', 'text/plain'), 200);
    expect((await get('route/a/b?raw=1')).text).toBe('one');
    expect((await get('route/a%2F?raw=1')).text).toBe('two');
    expect((await get('route/a?raw=1')).text).toBe('three');
    expect((await get('route/%C3%A9t%C3%A9')).status).toBe(404);
    expectEmpty(await put('route/%C3%A9t%C3%A9', 'été', 'text/plain'), 200);
    expect((await get('route/%C3%A9t%C3%A9')).text).toBe(
      '{\n  "key": "route/été",\n  "value": "w6l0w6k=",\n  "content_type": "text/plain"\n}',
    );
  });

  it('lists its routes for the route walk, all refused without a token', async () => {
    const routes = app.legacyRoutes.filter((route) => route.dialect === 'kopano-kvs');
    expect(routes.map((r) => `${r.method} ${r.path} ${r.public}`)).toEqual([
      `GET ${BASE}notes/today false`,
      `PUT ${BASE}notes/today false`,
      `PUT ${BASE}notes?batch=1 false`,
      `DELETE ${BASE}notes/today false`,
      `OPTIONS ${BASE}notes/today false`,
    ]);
    for (const route of routes) {
      expect(route.unauthenticatedStatus).toBe(403);
      const reply = await send(route.method, route.path, { body: '[]' });
      expect([route.method, route.path, reply.status, reply.text]).toEqual([route.method, route.path, 403, '\n']);
    }
  });
});

describe('authentication', () => {
  it('refuses a missing or malformed Authorization with 403 and a newline', async () => {
    const token = await mint('kvs-alice');
    for (const authorization of [
      undefined,
      '',
      'Bearer',
      'Bearer ',
      `bearer ${token}`,
      `BEARER ${token}`,
      `Bearer  ${token}`,
      `Bearer ${token}x`,
      `Basic ${Buffer.from('kvs-alice:x').toString('base64')}`,
      `Token ${token}`,
      'Bearer not-a-token',
    ]) {
      const headers: Record<string, string> = authorization === undefined ? {} : { authorization };
      const reply = await send('GET', `${BASE}k`, { headers });
      expectText(reply, 403);
      expect(reply.headers['www-authenticate']).toBeUndefined();
    }
  });

  it('accepts an access token without exp, and one issued in the future (iat is not checked)', async () => {
    expect((await get('nothing-here', { authorization: `Bearer ${await mint('kvs-alice')}` })).status).toBe(404);
    const future = await new SignJWT({ 'kc.isAccessToken': true, 'kc.authorizedScopes': ['kopano/kvs'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('kvs-alice')
      .setIssuedAt(Math.floor(Date.now() / 1000) + 3600)
      .sign(SECRET_KEY);
    expect((await get('nothing-here', { authorization: `Bearer ${future}` })).status).toBe(404);
  });

  it('refuses expired, not-yet-valid, forged, non-access, unscoped and subject-less tokens with 403', async () => {
    const bad = [
      await mint('kvs-alice', {}, { exp: Math.floor(Date.now() / 1000) - 1 }),
      await mint('kvs-alice', {}, { nbf: Math.floor(Date.now() / 1000) + 60 }),
      await mint('kvs-alice', {}, { key: new TextEncoder().encode('another-secret-0123456789abcdef0123456789') }),
      await mint('kvs-alice', { 'kc.isAccessToken': false }),
      await mint('kvs-alice', { 'kc.isAccessToken': 'true' }),
      await mint('kvs-alice', { 'kc.isAccessToken': undefined }),
      await mint('kvs-alice', { 'kc.authorizedScopes': ['other'] }),
      await mint('kvs-alice', { 'kc.authorizedScopes': [] }),
      await mint('kvs-alice', { 'kc.authorizedScopes': undefined }),
      await mint('kvs-alice', { 'kc.authorizedScopes': undefined, scope: 'kopano/kvs' }),
      await mint(undefined),
      await mint('', { 'kc.identity': { 'kc.i.id': '' } }),
    ];
    for (const [i, token] of bad.entries()) {
      for (const [method, body] of [
        ['GET', undefined],
        ['PUT', 'x'],
        ['DELETE', undefined],
        ['POST', 'x'],
      ] as const) {
        const reply = await send(method, `${BASE}auth/k`, { headers: { authorization: `Bearer ${token}` }, body });
        expect([i, method, reply.status, reply.text]).toEqual([i, method, 403, '\n']);
      }
    }
  });

  it('takes the user from kc.identity → kc.i.id before sub', async () => {
    const both = { authorization: `Bearer ${await mint('kvs-sub', { 'kc.identity': { 'kc.i.id': 'kvs-ident' } })}` };
    expectEmpty(await put('who', 'ident', 'text/plain', both), 200);
    const who = await request(app).get('/v1/auth/whoami').set(both).expect(200);
    expect(who.body).toMatchObject({ account: 'kvs-ident', via: 'jwt', personalSpace: 'kvs-ident' });
    await request(app).get(v1Path('kvs-ident', 'who')).set(both).expect(200, 'ident');
    const subOnly = { authorization: `Bearer ${await mint('kvs-sub', { 'kc.identity': { 'kc.i.id': '' } })}` };
    expect((await get('who', subOnly)).status).toBe(404);
  });

  it('checks the configured scopes against kc.authorizedScopes', async () => {
    const withScopes = async (scopes: string[]) =>
      send('GET', `${BASE}scoped`, {
        port: scoped,
        headers: { authorization: `Bearer ${await mint('kvs-alice', { 'kc.authorizedScopes': scopes })}` },
      });
    expectText(await withScopes(['a']), 403);
    expectText(await withScopes(['kopano/kvs']), 403);
    expect((await withScopes(['b', 'x', 'a'])).status).toBe(404);
  });

  it('accepts Rosetta API tokens, whose own scopes and read-only flag the record service enforces', async () => {
    await request(app)
      .post('/v1/admin/accounts')
      .set('authorization', admin)
      .send({ name: 'kvs-carol', password: 'carol-password' })
      .expect(201);
    const basic = `Basic ${Buffer.from('kvs-carol:carol-password').toString('base64')}`;
    const token = async (body: object) =>
      `Bearer ${((await request(app).post('/v1/tokens').set('authorization', basic).send(body).expect(201)).body as { secret: string }).secret}`;
    const full = { authorization: await token({}) };
    expectEmpty(await put('t/k', 'by token', 'text/plain', full), 200);
    await request(app).get(v1Path('kvs-carol', 't/k')).set(full).expect(200, 'by token');
    const readOnly = { authorization: await token({ readOnly: true }) };
    expect((await get('t/k?raw=1', readOnly)).text).toBe('by token');
    expectText(await put('t/k', 'no', 'text/plain', readOnly), 403);
    expectText(await send('DELETE', `${BASE}t/k`, { headers: readOnly }), 403);
    const elsewhere = { authorization: await token({ scopes: [{ space: 'kvs-carol', collection: 'other' }] }) };
    expectText(await get('t/k', elsewhere), 403);
    expectText(await get('t/?recurse=1', elsewhere), 403);
  });

  it('answers other methods with 403 without a token and 501 with one', async () => {
    for (const method of ['POST', 'PATCH', 'OPTIONS', 'HEAD', 'PROPFIND']) {
      const anonymous = await send(method, `${BASE}k`);
      const known = await send(method, `${BASE}k`, { headers: alice });
      expect([method, anonymous.status, known.status]).toEqual([method, 403, 501]);
      if (method !== 'HEAD') {
        expectText(anonymous, 403);
        expectText(known, 501);
      }
    }
  });
});

describe('PUT and GET of one document', () => {
  it('stores JSON and text and shows them in the envelope, byte for byte', async () => {
    const stored = await put('test1/doc1', '{"a":1}', 'application/json');
    expectEmpty(stored, 200);
    const doc = await get('test1/doc1');
    expect([doc.status, doc.headers['content-type'], doc.text]).toEqual([
      200,
      'application/json',
      '{\n  "key": "test1/doc1",\n  "value": {\n    "a": 1\n  }\n}',
    ]);
    expectEmpty(await put('test1/greeting', 'hello', 'text/plain'), 200);
    expect((await get('test1/greeting')).text).toBe(
      '{\n  "key": "test1/greeting",\n  "value": "aGVsbG8=",\n  "content_type": "text/plain"\n}',
    );
  });

  it('re-indents stored JSON with Go escaping, and omits content_type for any application/json… type', async () => {
    const json = ' {"t":"<b>&amp;\u2028","n":[1.50,{},[]],"e":{}} ';
    await put('fmt/j', json, 'application/json; charset=utf-8');
    expect((await get('fmt/j')).text).toBe(
      '{\n  "key": "fmt/j",\n  "value": {\n    "t": "\\u003cb\\u003e\\u0026amp;\\u2028",\n' +
        '    "n": [\n      1.50,\n      {},\n      []\n    ],\n    "e": {}\n  }\n}',
    );
    const raw = await get('fmt/j?raw=1');
    expect([raw.headers['content-type'], raw.text]).toEqual(['application/json; charset=utf-8', json]);
  });

  it('returns the stored bytes under the stored type with raw=1', async () => {
    const bytes = Buffer.from([0, 1, 2, 255, 254, 10, 13]);
    expectEmpty(await put('bin/b', bytes, 'image/x-test'), 200);
    const raw = await get('bin/b?raw=1');
    expect([raw.status, raw.headers['content-type'], raw.body]).toEqual([200, 'image/x-test', bytes]);
    expect((await get('bin/b?raw=0')).text).toBe(
      '{\n  "key": "bin/b",\n  "value": "AAEC//4KDQ==",\n  "content_type": "image/x-test"\n}',
    );
  });

  it('stores a document without Content-Type as application/octet-stream', async () => {
    expectEmpty(await put('none/k', 'abc'), 200);
    const raw = await get('none/k?raw=1');
    expect([raw.headers['content-type'], raw.text]).toEqual(['application/octet-stream', 'abc']);
    expect((await get('none/k')).text).toBe(
      '{\n  "key": "none/k",\n  "value": "YWJj",\n  "content_type": "application/octet-stream"\n}',
    );
  });

  it('stores form-encoded bodies as sent (the original stored them empty)', async () => {
    expectEmpty(await put('form/k', 'a=1&b=2', 'application/x-www-form-urlencoded'), 200);
    expect((await get('form/k?raw=1')).text).toBe('a=1&b=2');
  });

  it('accepts 16384 bytes and refuses 16385 with 400, storing nothing', async () => {
    expectEmpty(await put('size/max', 'x'.repeat(16_384), 'text/plain'), 200);
    expect((await get('size/max?raw=1')).body.length).toBe(16_384);
    expectText(await put('size/over', 'x'.repeat(16_385), 'text/plain'), 400);
    expectText(await get('size/over'), 404, '404 page not found\n');
    expectText(await put('size/max', 'y'.repeat(16_385), 'text/plain'), 400);
    expect((await get('size/max?raw=1')).text).toBe('x'.repeat(16_384));
  });

  it('replaces a document with 200, like a create', async () => {
    expectEmpty(await put('replace/k', 'one', 'text/plain'), 200);
    expectEmpty(await put('replace/k', '{"two":2}', 'application/json'), 200);
    expect((await get('replace/k')).text).toBe('{\n  "key": "replace/k",\n  "value": {\n    "two": 2\n  }\n}');
  });

  it('answers a missing document with 404 page not found', async () => {
    expectText(await get('missing/k'), 404, '404 page not found\n');
    expectText(await get('missing/k?raw=1'), 404, '404 page not found\n');
  });

  it('answers 500 for a JSON-typed document that is not JSON, while raw=1 still returns it', async () => {
    for (const [key, body] of [
      ['broken/j', '{"a":'],
      ['broken/empty', ''],
    ]) {
      expectEmpty(await put(key as string, body as string, 'application/json'), 200);
      expectText(await get(key as string), 500);
      const raw = await get(`${key}?raw=1`);
      expect([raw.status, raw.text]).toEqual([200, body]);
    }
  });

  it('refuses keys the store cannot hold, and invalid media types, with 400', async () => {
    expectText(await put('', 'x', 'text/plain'), 400);
    expectText(await get(''), 400);
    expectText(await send('DELETE', BASE, { headers: alice }), 400);
    expectText(await put('nul/%00', 'x', 'text/plain'), 400);
    expectText(await put(`long/${'k'.repeat(1020)}`, 'x', 'text/plain'), 400);
    expectEmpty(await put(`long/${'k'.repeat(1019)}`, 'x', 'text/plain'), 200);
    expectText(await put('ctype/k', 'x', 'not a media type'), 400);
    expectText(await get('ctype/k'), 404, '404 page not found\n');
  });
});

describe('PUT ?batch=1', () => {
  it('writes every entry under the URL key, JSON as sent, Base64 decoded exactly', async () => {
    const body = JSON.stringify([
      { key: 'doc1', value: { a: [1, 2] }, content_type: 'application/json' },
      { key: 'hi', value: 'aGk=', content_type: 'text/plain' },
      { key: 'hello', value: 'aGVsbG8=' },
    ]);
    expectEmpty(await batch('cfg', body), 200);
    expect((await get('cfg/doc1?raw=1')).text).toBe('{"a":[1,2]}');
    const hi = await get('cfg/hi?raw=1');
    expect([hi.headers['content-type'], hi.body]).toEqual(['text/plain', Buffer.from('hi')]);
    expect((await get('cfg/hello?raw=1')).body).toEqual(Buffer.from('hello'));
    expect((await get('cfg/doc1')).text).toBe(
      '{\n  "key": "cfg/doc1",\n  "value": {\n    "a": [\n      1,\n      2\n    ]\n  }\n}',
    );
    expectEmpty(await batch('cfg/sub', '[{"key":"x","value":" [ 1 ] ","content_type":"application/json"}]'), 200);
    expect((await get('cfg/sub/x?raw=1')).text).toBe('" [ 1 ] "');
    expectEmpty(
      await batch('cfg/sub', '[{"key":"y","value":  { "spaced" : true }  ,"content_type":"application/json"}]'),
      200,
    );
    expect((await get('cfg/sub/y?raw=1')).text).toBe('{ "spaced" : true }');
  });

  it('answers null and [] with 200 and writes nothing', async () => {
    expectEmpty(await batch('empty', 'null'), 200);
    expectEmpty(await batch('empty', ' [ ] '), 200);
    expect((await get('empty?recurse=1')).text).toBe('[\n]\n');
  });

  it('ignores what follows the first JSON value, and unknown fields', async () => {
    expectEmpty(await batch('trail', '[{"key":"a","value":"YQ==","extra":[{}]}] and more'), 200);
    expect((await get('trail/a?raw=1')).text).toBe('a');
  });

  it('lets the last of duplicate keys win', async () => {
    expectEmpty(
      await batch('dup', '[{"key":"k","value":"MQ=="},{"key":"j","value":"Mg=="},{"key":"k","value":"Mw=="}]'),
      200,
    );
    expect((await get('dup/k?raw=1')).text).toBe('3');
    expect((await get('dup/j?raw=1')).text).toBe('2');
  });

  it('writes under /<key> for an empty URL key (which no single-document path can address)', async () => {
    expectEmpty(await batch('', '[{"key":"rootless","value":"cg=="}]'), 200);
    const { record } = await api.records.getRecord({ collection: aliceKvs, key: '/rootless' });
    expect(Buffer.from(record?.value ?? []).toString()).toBe('r');
    expect((await get('%2Frootless')).headers.location).toBe(`${BASE}rootless`);
  });

  it('refuses bad bodies with 400 and writes nothing, whichever entry is bad', async () => {
    const good = (key: string) => ({ key, value: 'Z29vZA==', content_type: 'text/plain' });
    const bodies = [
      '',
      '{}',
      '"text"',
      '[{"key":"a","value":"YQ=="}',
      '[null]',
      JSON.stringify([good('a'), good('b'), { key: 'c', value: 'not base64!' }]),
      JSON.stringify([good('a'), good('b'), { key: 'c', value: 'aGk' }]),
      JSON.stringify([good('a'), good('b'), { value: 'YQ==' }]),
      JSON.stringify([good('a'), good('b'), { key: 7, value: 'YQ==' }]),
      JSON.stringify([good('a'), good('b'), { key: 'c', value: 12 }]),
      // refused by the store, inside the one transaction:
      JSON.stringify([good('a'), good('b'), { key: 'c', value: 'YQ==', content_type: 'bad type' }]),
      JSON.stringify([good('a'), good('b'), { key: 'c'.repeat(1100), value: 'YQ==' }]),
      JSON.stringify([good('a'), good('b'), { key: 'c\u0000', value: 'YQ==' }]),
    ];
    for (const body of bodies) {
      expect([body.slice(0, 80), (await batch('atomic', body)).status]).toEqual([body.slice(0, 80), 400]);
      expectText(await batch('atomic', body), 400);
    }
    expect(await countUnder('kvs-alice', 'atomic/')).toBe(0n);
  });

  it('refuses more than 10,000 distinct entries', async () => {
    const entries = (n: number) => JSON.stringify(Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: '' })));
    expectText(await batch('many', entries(10_001)), 400);
    expect((await get('many?recurse=1')).text).toBe('[\n]\n');
    expectEmpty(await batch('many', entries(10_000)), 200);
    expect(await countUnder('kvs-alice', 'many/')).toBe(10_000n);
  });

  it('accepts bodies up to 8,192,000 bytes and refuses larger ones', async () => {
    const head = '[{"key":"big","content_type":"application/json","value":';
    const tail = '}]';
    const sized = (bytes: number) => `${head}"${'x'.repeat(bytes - head.length - tail.length - 2)}"${tail}`;
    expectText(await batch('size', sized(8_192_001)), 400);
    expectEmpty(await batch('size', sized(8_192_000)), 200);
    expect((await get('size/big?raw=1')).body.length).toBe(8_192_000 - head.length - tail.length);
  });

  it('takes only batch=1 as a batch', async () => {
    expectEmpty(await put('notbatch?batch=2', '[]', 'application/json'), 200);
    expect((await get('notbatch?raw=1')).text).toBe('[]');
  });
});

describe('GET ?recurse=1', () => {
  it('lists the collection as the spec shows it, in key order', async () => {
    expectEmpty(await put('rec1/doc1', '{}', 'application/json'), 200);
    expectEmpty(await put('rec1/greeting', 'hello', 'text/plain'), 200);
    const listing = await get('rec1?recurse=1');
    expect([listing.status, listing.headers['content-type'], listing.text]).toEqual([
      200,
      'application/json',
      '[\n{\n  "key": "rec1/doc1",\n  "value": {}\n},\n{\n  "key": "rec1/greeting",\n  "value": "aGVsbG8=",\n  "content_type": "text/plain"\n}]\n',
    ]);
    expect((await get('rec1?recurse=1&raw=1')).text).toBe(listing.text);
  });

  it('filters by the full URL key as a string prefix when it has a slash', async () => {
    for (const key of ['doc', 'doc1', 'document', 'other', 'B', 'a']) {
      expectEmpty(await put(`rec2/${key}`, key, 'text/plain'), 200);
    }
    const keys = (text: string) => [...text.matchAll(/"key": "([^"]*)"/g)].map((m) => m[1]);
    expect(keys((await get('rec2/doc?recurse=1')).text)).toEqual(['rec2/doc', 'rec2/doc1', 'rec2/document']);
    expect(keys((await get('rec2?recurse=1')).text)).toEqual([
      'rec2/B',
      'rec2/a',
      'rec2/doc',
      'rec2/doc1',
      'rec2/document',
      'rec2/other',
    ]);
    expect(keys((await get('rec2/?recurse=1')).text)).toHaveLength(6);
    expect(keys((await get('rec2/doc1/?recurse=1')).text)).toEqual([]);
  });

  it('keeps keys without a slash in the empty collection, as the original does', async () => {
    const fresh = await bearer('kvs-dora');
    expectEmpty(await put('foo', 'top', 'text/plain', fresh), 200);
    expectEmpty(await put('foo/x', 'inner', 'text/plain', fresh), 200);
    expectEmpty(await batch('', '[{"key":"slash","value":""}]', fresh), 200);
    const keys = async (path: string) =>
      [...(await get(path, fresh)).text.matchAll(/"key": "([^"]*)"/g)].map((m) => m[1]);
    expect(await keys('foo?recurse=1')).toEqual(['foo/x']);
    expect(await keys('?recurse=1')).toEqual(['/slash', 'foo']);
  });

  it('answers an empty list when nothing matches, and when the collection does not exist yet', async () => {
    expect((await get('nothing?recurse=1')).text).toBe('[\n]\n');
    const reply = await get('anything?recurse=1', await bearer('kvs-nobody'));
    expect([reply.status, reply.headers['content-type'], reply.text]).toEqual([200, 'application/json', '[\n]\n']);
  });

  it('leaves out documents that have no envelope', async () => {
    await put('rec3/a', '[1]', 'application/json');
    await put('rec3/b', '[1', 'application/json');
    await put('rec3/c', 'c', 'text/plain');
    expect((await get('rec3?recurse=1')).text).toBe(
      '[\n{\n  "key": "rec3/a",\n  "value": [\n    1\n  ]\n},\n{\n  "key": "rec3/c",\n  "value": "Yw==",\n  "content_type": "text/plain"\n}]\n',
    );
  });

  it('returns at most 500 documents, the first in key order', async () => {
    const entries = Array.from({ length: 600 }, (_, i) => ({ key: String(i).padStart(3, '0'), value: '' }));
    expectEmpty(await batch('rec4', JSON.stringify(entries)), 200);
    const listed = JSON.parse((await get('rec4?recurse=1')).text) as Array<{ key: string }>;
    expect(listed).toHaveLength(500);
    expect(listed[0]?.key).toBe('rec4/000');
    expect(listed[499]?.key).toBe('rec4/499');
    const fresh = await bearer('kvs-erin');
    const top = Array.from({ length: 520 }, (_, i) => ({ key: String(i).padStart(3, '0'), value: '' }));
    expectEmpty(await batch('', JSON.stringify(top), fresh), 200);
    for (let i = 0; i < 10; i++) await put(`t${i}`, 'x', 'text/plain', fresh);
    const rootless = JSON.parse((await get('?recurse=1', fresh)).text) as Array<{ key: string }>;
    expect(rootless).toHaveLength(500);
    expect(rootless[499]?.key).toBe('/499');
  });
});

describe('DELETE', () => {
  it('deletes one document: 200 empty, then 404 empty; never recursive', async () => {
    await put('del', 'top', 'text/plain');
    await put('del/child', 'child', 'text/plain');
    expectEmpty(await send('DELETE', `${BASE}del`, { headers: alice }), 200);
    expectEmpty(await send('DELETE', `${BASE}del`, { headers: alice }), 404);
    expect((await get('del/child?raw=1')).text).toBe('child');
    expectEmpty(await send('DELETE', `${BASE}never/was`, { headers: await bearer('kvs-nobody2') }), 404);
  });
});

describe('the same data through /v1', () => {
  it('is the record <key> of the collection kvs in the personal space, type and bytes kept', async () => {
    await put('shared/doc', '{"x": 1}', 'application/json');
    const res = await request(app).get(v1Path('kvs-alice', 'shared/doc')).set(alice).expect(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.body).toEqual({ x: 1 });
    await request(app)
      .put(v1Path('kvs-alice', 'shared/from-v1'))
      .set(alice)
      .type('text/plain')
      .send('written by v1')
      .expect(201);
    expect((await get('shared/from-v1')).text).toBe(
      '{\n  "key": "shared/from-v1",\n  "value": "d3JpdHRlbiBieSB2MQ==",\n  "content_type": "text/plain"\n}',
    );
  });
});

describe('isolation', () => {
  it("keeps one user's documents out of another's reach by every route", async () => {
    expectEmpty(await put('private/doc', 'alice only', 'text/plain'), 200);
    expectText(await get('private/doc', bob), 404, '404 page not found\n');
    expectText(await get('private/doc?raw=1', bob), 404, '404 page not found\n');
    expect((await get('private?recurse=1', bob)).text).toBe('[\n]\n');
    expect((await get('?recurse=1', bob)).text).not.toContain('private');
    expectEmpty(await send('DELETE', `${BASE}private/doc`, { headers: bob }), 404);
    expectEmpty(await put('private/doc', 'bob was here', 'text/plain', bob), 200);
    expectEmpty(await batch('private', '[{"key":"doc","value":"Ym9i"}]', bob), 200);
    expect((await get('private/doc?raw=1')).text).toBe('alice only');
    expect((await get('private/doc?raw=1', bob)).text).toBe('bob');
    await request(app).get(v1Path('kvs-alice', 'private/doc')).set(bob).expect(404);
  });
});

describe('CORS', () => {
  const preflight = (headers: Record<string, string>, path = `${BASE}k`) =>
    send('OPTIONS', path, { port: cors, headers });

  it('answers preflights without authentication, as rs/cors AllowAll does', async () => {
    const reply = await preflight({
      origin: 'https://app.example',
      'access-control-request-method': 'put',
      'access-control-request-headers': 'content-type, x-custom-thing',
    });
    expect([reply.status, reply.body.length, reply.headers['content-type']]).toEqual([200, 0, undefined]);
    expect(reply.headers).toMatchObject({
      vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers',
      'access-control-allow-origin': '*',
      'access-control-allow-methods': 'PUT',
      'access-control-allow-headers': 'Content-Type, X-Custom-Thing',
    });
    expect(reply.headers['access-control-max-age']).toBeUndefined();
    expect(reply.headers['access-control-allow-credentials']).toBeUndefined();
  });

  it('omits the allow headers without Origin, for unknown methods, and without requested headers', async () => {
    const noOrigin = await preflight({ 'access-control-request-method': 'GET' });
    expect([noOrigin.status, noOrigin.headers.vary, noOrigin.headers['access-control-allow-origin']]).toEqual([
      200,
      'Origin, Access-Control-Request-Method, Access-Control-Request-Headers',
      undefined,
    ]);
    const unknown = await preflight({ origin: 'https://a', 'access-control-request-method': 'PROPFIND' });
    expect([unknown.status, unknown.headers['access-control-allow-origin']]).toEqual([200, undefined]);
    const plainGet = await preflight({ origin: 'https://a', 'access-control-request-method': 'GET' });
    expect(plainGet.headers['access-control-allow-methods']).toBe('GET');
    expect(plainGet.headers['access-control-allow-headers']).toBeUndefined();
    const anyPath = await preflight({ origin: 'https://a', 'access-control-request-method': 'GET' }, '/api/kvs/v1/x');
    expect([anyPath.status, anyPath.headers['access-control-allow-origin']]).toEqual([200, '*']);
  });

  it('adds Allow-Origin * to actual requests with an Origin, and Vary: Origin to every answer', async () => {
    const origin = { origin: 'https://app.example' };
    await send('PUT', `${BASE}cors/k`, { port: cors, headers: { ...alice, 'content-type': 'text/plain' }, body: 'c' });
    const ok = await send('GET', `${BASE}cors/k?raw=1`, { port: cors, headers: { ...alice, ...origin } });
    expect([ok.status, ok.text, ok.headers.vary, ok.headers['access-control-allow-origin']]).toEqual([
      200,
      'c',
      'Origin',
      '*',
    ]);
    expect(ok.headers['access-control-expose-headers']).toBeUndefined();
    const refused = await send('GET', `${BASE}cors/k`, { port: cors, headers: origin });
    expectText(refused, 403);
    expect([refused.headers.vary, refused.headers['access-control-allow-origin']]).toEqual(['Origin', '*']);
    const lost = await send('GET', '/api/kvs/v1/kv/group/x', { port: cors, headers: origin });
    expectText(lost, 404, '404 page not found\n');
    expect(lost.headers.vary).toBe('Origin');
    const noOrigin = await send('GET', `${BASE}cors/k?raw=1`, { port: cors, headers: alice });
    expect([noOrigin.headers.vary, noOrigin.headers['access-control-allow-origin']]).toEqual(['Origin', undefined]);
  });

  it('sends OPTIONS without Access-Control-Request-Method on to authentication and dispatch', async () => {
    expectText(await send('OPTIONS', `${BASE}k`, { port: cors, headers: { origin: 'https://a' } }), 403);
    expectText(await send('OPTIONS', `${BASE}k`, { port: cors, headers: alice }), 501);
  });

  it('is off by default: preflights get 403 without a token and 501 with one, and no CORS headers', async () => {
    const ask = { origin: 'https://a', 'access-control-request-method': 'PUT' };
    const anonymous = await send('OPTIONS', `${BASE}k`, { headers: ask });
    expectText(anonymous, 403);
    expect([anonymous.headers.vary, anonymous.headers['access-control-allow-origin']]).toEqual([undefined, undefined]);
    expectText(await send('OPTIONS', `${BASE}k`, { headers: { ...ask, ...alice } }), 501);
    expect(app.legacyRoutes.filter((r) => r.dialect === 'kopano-kvs' && r.public).map((r) => r.method)).toEqual([]);
  });
});

describe('a store that cannot be reached', () => {
  it('answers 500 with a newline', async () => {
    const unreachable = createHttpRecordApi({
      baseUrl: `http://127.0.0.1:${await freePort()}`,
      timeoutMs: 2000,
      maxMessageBytes: 1024 * 1024,
    });
    const port = await serve(createApp({ api: unreachable, logger: silentLogger, maxBodyBytes: 1024 }));
    try {
      expectText(await send('GET', `${BASE}k`, { port, headers: alice }), 500);
      expectText(await send('PUT', `${BASE}k`, { port, headers: alice, body: 'x' }), 500);
    } finally {
      unreachable.close();
    }
  });
});

describe('properties', () => {
  /** Whether the only 500 a request may get is the designed one: a JSON-typed document that is not JSON. */
  async function designed500(method: string, path: string): Promise<boolean> {
    const [rawPath = '', query = ''] = path.split('?');
    if (method !== 'GET' || /(^|&|;)(raw|recurse)=1/.test(query) || !rawPath.startsWith(BASE)) return false;
    const key = decodeURIComponent(rawPath.slice(BASE.length));
    const { record } = await api.records.getRecord({ collection: { space: 'kvs-fuzz', collection: 'kvs' }, key });
    if (record === undefined || !record.contentType.startsWith('application/json')) return false;
    try {
      JSON.parse(Buffer.from(record.value).toString('utf8'));
      return false;
    } catch {
      return true;
    }
  }

  it('never answers 500 to random paths, headers and bodies (bar stored non-JSON under a JSON type)', async () => {
    const fuzzer = await bearer('kvs-fuzz');
    const piece = fc.constantFrom(
      'kv/',
      'user/',
      'kv/user/',
      'group/',
      '/',
      '//',
      '.',
      '..',
      '%2F',
      '%2E',
      '%zz',
      '%FF',
      '%00',
      '%C3%A9',
      'a',
      'doc',
      '?raw=1',
      '?recurse=1',
      '?batch=1',
      '&raw=1',
      ';x',
      '%20',
    );
    const path = fc.array(piece, { maxLength: 10 }).map((parts) => `/api/kvs/v1/${parts.join('')}`);
    const method = fc.constantFrom('GET', 'PUT', 'DELETE', 'POST', 'OPTIONS', 'HEAD', 'PATCH');
    const auth = fc.constantFrom<Record<string, string>>(
      fuzzer,
      {},
      { authorization: 'Bearer' },
      { authorization: 'Bearer x.y.z' },
      { authorization: 'Basic a3ZzOng=' },
      { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    );
    const contentType = fc.constantFrom<Record<string, string>>(
      {},
      { 'content-type': 'text/plain' },
      { 'content-type': 'application/json' },
      { 'content-type': 'application/x-www-form-urlencoded' },
      { 'content-type': 'no type' },
      { 'content-type': 'application/json; charset="x' },
      { 'content-encoding': 'gzip' },
      { 'content-encoding': 'zstd' },
      { origin: 'https://x', 'access-control-request-method': 'PUT' },
    );
    const batchPiece = fc.constantFrom('[', ']', '{', '}', ',', ':', '"key"', '"value"', '"content_type"', '"aGk="');
    const body = fc.oneof(
      fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
      fc.array(batchPiece, { maxLength: 30 }).map((parts) => parts.join('')),
      fc.jsonValue().map((value) => JSON.stringify(value)),
    );
    await fc.assert(
      fc.asyncProperty(method, path, auth, contentType, body, async (m, p, a, c, b) => {
        const reply = await send(m, p, { headers: { ...a, ...c }, body: m === 'GET' || m === 'HEAD' ? undefined : b });
        expect([200, 301, 400, 403, 404, 500, 501]).toContain(reply.status);
        if (reply.status === 500) expect([m, p, await designed500(m, p)]).toEqual([m, p, true]);
      }),
      { numRuns: 150 },
    );
  });

  it('writes a random batch completely or not at all', async () => {
    const fuzzer = await bearer('kvs-fuzz');
    const collection = { space: 'kvs-fuzz', collection: 'kvs' };
    const entry = fc.record(
      {
        key: fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('a', 'b', 'nul\u0000', 'x'.repeat(1030))),
        value: fc.oneof(
          fc.uint8Array({ maxLength: 20 }).map((bytes) => Buffer.from(bytes).toString('base64')),
          fc.constantFrom('aGk', '***', ''),
          fc.jsonValue(),
        ),
        content_type: fc.constantFrom('', 'text/plain', 'application/json', 'bad type', 'image/png; x=1'),
      },
      { requiredKeys: [] },
    );
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(entry, { maxLength: 8 }), async (entries) => {
        const prefix = `atom${run++}`;
        const reply = await batch(prefix, JSON.stringify(entries), fuzzer);
        const count = await countUnder('kvs-fuzz', `${prefix}/`);
        if (reply.status === 400) {
          expect(count).toBe(0n);
          return;
        }
        expectEmpty(reply, 200);
        const last = new Map(entries.map((e) => [`${prefix}/${String(e.key)}`, e]));
        expect(count).toBe(BigInt(last.size));
        for (const [key, e] of last) {
          const { record } = await api.records.getRecord({ collection, key });
          const json = String(e.content_type ?? '').startsWith('application/json');
          const expected = json ? Buffer.from(JSON.stringify(e.value) ?? '') : Buffer.from(String(e.value), 'base64');
          expect([key, Buffer.from(record?.value ?? [])]).toEqual([key, expected]);
        }
      }),
      { numRuns: 100 },
    );
  });
});
