import type { Server as HttpServer } from 'node:http';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { extract } from 'tar-stream';
import { KeysSchema, KeyValuesSchema } from '../../packages/proto/src';
import { createApp, legacyOptions } from '../../apps/gateway/src';
import { listen, portOf, rawRequest, type RawReply } from '../support/raw-http';
import { silentLogger, startTestApi, type TestApi } from '../support/api';
import { TEST_ADMIN_TOKEN } from '../support/env';

/**
 * The DVID keyvalue dialect (specs/dvid-keyvalue.md) through a real gateway over a real record
 * service: repos and their DAG, instances, versioned reads and writes, the three output formats
 * checked byte for byte, and DVID's errors. Requests carry no credentials, as DVID clients'
 * don't: the app maps them to the admin token in the `default` space.
 */

let api: TestApi;
let server: HttpServer;
let closed: HttpServer;

const TEXT = 'text/plain; charset=utf-8';

const dvid = (method: string, path: string, body?: string | Uint8Array, headers: Record<string, string> = {}) =>
  rawRequest(portOf(server), method, path, { headers, ...(body === undefined ? {} : { body }) });

const shape = (reply: RawReply) => [reply.status, reply.headers['content-type'], reply.text];
const badRequest = (text: string) => [400, TEXT, `${text}\n`];

async function newRepo(body = '{}'): Promise<string> {
  const reply = await dvid('POST', '/api/repos', body);
  expect(reply.status).toBe(200);
  expect(reply.text).toMatch(/^\{"root": "[^"]+"\}$/);
  return (JSON.parse(reply.text) as { root: string }).root;
}

async function newInstance(uuid: string, name: string, versioned = true): Promise<void> {
  const reply = await dvid(
    'POST',
    `/api/repo/${uuid}/instance`,
    JSON.stringify({ typename: 'keyvalue', dataname: name, versioned }),
  );
  expect(shape(reply)).toEqual([200, 'application/json', `{"result": "Added ${name} [keyvalue] to node ${uuid}"}`]);
}

async function commit(uuid: string): Promise<void> {
  expect((await dvid('POST', `/api/node/${uuid}/commit`, '{"note":"done"}')).status).toBe(200);
}

async function newVersion(uuid: string, body = '{}'): Promise<string> {
  const reply = await dvid('POST', `/api/node/${uuid}/newversion`, body);
  expect(reply.status).toBe(200);
  return (JSON.parse(reply.text) as { child: string }).child;
}

beforeAll(async () => {
  api = await startTestApi();
  server = await listen(
    createApp({
      api,
      logger: silentLogger,
      maxBodyBytes: 64 * 1024 * 1024,
      legacy: legacyOptions({ DVID_SPACE: 'default', DVID_ANONYMOUS_TOKEN: TEST_ADMIN_TOKEN }),
    }),
  );
  closed = await listen(
    createApp({
      api,
      logger: silentLogger,
      maxBodyBytes: 1024 * 1024,
      legacy: legacyOptions({ DVID_SPACE: 'default' }),
    }),
  );
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await new Promise((resolve) => closed.close(resolve));
  await api.close();
});

it('serves the server routes without credentials', async () => {
  const info = await dvid('GET', '/api/server/info');
  expect(info.status).toBe(200);
  const fields = JSON.parse(info.text) as Record<string, unknown>;
  expect(fields['Datastore Version']).toBe('0.11.0');
  expect(Object.values(fields).every((v) => typeof v === 'string')).toBe(true);
  expect(shape(await dvid('GET', '/api/server/types'))).toEqual([
    200,
    'application/json',
    '{"keyvalue":"github.com/janelia-flyem/dvid/datatype/keyvalue"}',
  ]);
  expect(shape(await dvid('GET', '/api/heartbeat'))).toEqual([200, 'text/plain', 'OK']);
  expect((await dvid('GET', '/api/help')).headers['content-type']).toBe('text/html');
  expect((await dvid('GET', '/api/help/keyvalue')).headers['content-type']).toBe('text/plain');
  expect(shape(await dvid('GET', '/api/help/labelmap'))).toEqual(
    badRequest('Data type "labelmap" is not supported by current DVID server (/api/help/labelmap).'),
  );
  expect(shape(await dvid('GET', '/api/nothing/here'))).toEqual([404, TEXT, '404 page not found\n']);
  // Kopano's /api/kvs stays Kopano's.
  expect((await dvid('GET', '/api/kvs/v1/kv/user/x')).status).toBe(403);
});

it('refuses requests without credentials when no anonymous token is configured', async () => {
  const reply = await rawRequest(portOf(closed), 'GET', '/api/repos/info');
  expect(reply.status).toBe(401);
  expect(reply.headers['content-type']).toBe(TEXT);
  const withToken = await rawRequest(portOf(closed), 'GET', '/api/repos/info', {
    headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
  });
  expect(withToken.status).toBe(200);
});

it('creates repos and versions, and reports the DAG as DVID does', async () => {
  const root = await newRepo('{"Alias":"my repo","description":"first"}');
  expect(root).toMatch(/^[0-9a-f]{32}$/);
  expect(shape(await dvid('POST', '/api/repos', `{"root":"${root}"}`))).toEqual(
    badRequest('UUID already exists in datastore (/api/repos).'),
  );
  expect((await dvid('HEAD', `/api/repo/${root.slice(0, 8)}`)).status).toBe(200);
  expect(shape(await dvid('GET', `/api/node/${root}/commit`))).toEqual([200, 'application/json', '{"Locked":false}']);
  expect(shape(await dvid('POST', `/api/node/${root}/newversion`, '{}'))).toEqual(
    badRequest(`can't branch an unlocked node (/api/node/${root}/newversion).`),
  );
  expect(shape(await dvid('POST', `/api/node/${root}/commit`, ''))).toEqual(
    badRequest(`Malformed JSON request in body: unexpected end of JSON input (/api/node/${root}/commit).`),
  );
  expect(shape(await dvid('POST', `/api/node/${root}/commit`, '{"note":"v1","log":["line"]}'))).toEqual([
    200,
    'application/json',
    `{"committed": "${root}"}`,
  ]);
  expect(shape(await dvid('POST', `/api/node/${root}/commit`, '{}'))).toEqual(
    badRequest(`Cannot do post on locked node ${root} (/api/node/${root}/commit).`),
  );
  expect(shape(await dvid('GET', `/api/node/${root}/status`))).toEqual([200, 'application/json', '{"Locked":true}']);
  const child = await newVersion(root, '{"note":"child","uuid":"ABCDEF0123456789ABCDEF0123456789"}');
  expect(child).toBe('abcdef0123456789abcdef0123456789');
  expect(shape(await dvid('POST', `/api/node/${root}/newversion`, '{}'))).toEqual(
    badRequest(`branch already exists with given name (/api/node/${root}/newversion).`),
  );
  expect(shape(await dvid('POST', `/api/node/${root}/branch`, '{"branch":"master"}'))).toEqual(
    badRequest(`Cannot create a master branch (/api/node/${root}/branch).`),
  );
  const side = JSON.parse((await dvid('POST', `/api/node/${root}/branch`, '{"branch":"side"}')).text) as {
    child: string;
  };
  expect(JSON.parse((await dvid('GET', `/api/repo/${root}/branch-versions/master`)).text)).toEqual([child, root]);
  expect(JSON.parse((await dvid('GET', `/api/repo/${root}/branch-versions/side`)).text)).toEqual([side.child, root]);
  expect(JSON.parse((await dvid('GET', `/api/repo/${root}/branch-versions/nope`)).text)).toEqual([]);

  const info = JSON.parse((await dvid('GET', `/api/repo/${child}/info`)).text) as {
    Root: string;
    Alias: string;
    Description: string;
    DAG: { Root: string; Nodes: Record<string, { VersionID: number; Parents: number[]; Children: number[] }> };
  };
  expect(info).toMatchObject({ Root: root, Alias: 'my repo', Description: 'first', DAG: { Root: root } });
  const rootNode = info.DAG.Nodes[root];
  const childNode = info.DAG.Nodes[child];
  expect(childNode?.Parents).toEqual([rootNode?.VersionID]);
  expect(rootNode?.Children).toContain(childNode?.VersionID);
  expect(JSON.parse((await dvid('GET', `/api/node/${root}/note`)).text)).toEqual({ note: 'v1' });
  const log = JSON.parse((await dvid('GET', `/api/node/${root}/log`)).text) as { log: string[] };
  expect(log.log[0]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z {2}line$/);
  expect(shape(await dvid('POST', `/api/node/${root}/note`, '{"note":"x"}'))).toEqual(
    badRequest(`Cannot do post on locked node ${root} (/api/node/${root}/note).`),
  );
  expect((await dvid('POST', `/api/node/${child}/note`, '{"note":"work"}')).status).toBe(200);

  expect(shape(await dvid('GET', `/api/node/${child}:master/note`))).toEqual([
    200,
    'application/json',
    '{"note":"work"}',
  ]);
  expect(shape(await dvid('GET', '/api/node/ffffffff/note'))).toEqual(
    badRequest('could not find UUID with partial match to ffffffff (/api/node/ffffffff/note).'),
  );
  expect(shape(await dvid('GET', '/api/node/a:b:c/note'))).toEqual(
    badRequest('bad UUID specification "a:b:c" (/api/node/a:b:c/note).'),
  );
});

it('keeps keyvalue data per version: parents, children, tombstones, committed nodes', async () => {
  const root = await newRepo();
  await newInstance(root, 'kv');
  expect(shape(await dvid('POST', `/api/repo/${root}/instance`, '{"typename":"keyvalue","dataname":"kv"}'))).toEqual(
    badRequest(`Data named "kv" already exists in repo (root ${root}) (/api/repo/${root}/instance).`),
  );
  expect(shape(await dvid('POST', `/api/repo/${root}/instance`, '{"typename":"labelblk","dataname":"x"}'))).toEqual(
    badRequest(`Data type "labelblk" is not supported by current DVID server (/api/repo/${root}/instance).`),
  );
  expect(shape(await dvid('POST', `/api/repo/${root}/instance`, '{"typename":"keyvalue","dataname":"log"}'))).toEqual(
    badRequest(`cannot use reserved name "log" (/api/repo/${root}/instance).`),
  );
  const at = (uuid: string, rest: string) => `/api/node/${uuid}/kv/${rest}`;
  expect(shape(await dvid('POST', at(root, 'key/a'), '[1, 2, 3]', { 'content-type': 'application/json' }))).toEqual([
    200,
    undefined,
    '',
  ]);
  expect((await dvid('POST', at(root, 'key/b'), 'root-b')).status).toBe(200);
  const got = await dvid('GET', at(root, 'key/a'));
  expect([got.status, got.headers['content-type'], got.headers['content-length'], got.text]).toEqual([
    200,
    'application/octet-stream',
    '9',
    '[1, 2, 3]',
  ]);
  expect(shape(await dvid('GET', at(root, 'key/nope'))).slice(0, 3)).toEqual([404, TEXT, 'Key "nope" not found\n']);
  expect((await dvid('HEAD', at(root, 'key/a'))).status).toBe(200);
  expect((await dvid('HEAD', at(root, 'key/nope'))).status).toBe(404);
  expect(shape(await dvid('PUT', at(root, 'key/a'), 'x'))).toEqual(
    badRequest(`key endpoint does not support "put" HTTP verb (${at(root, 'key/a')}).`),
  );

  await commit(root);
  expect(shape(await dvid('POST', at(root, 'key/a'), 'late'))).toEqual(
    badRequest(`Cannot do POST on endpoint "key" of locked node ${root} (${at(root, 'key/a')}).`),
  );
  expect(shape(await dvid('DELETE', at(root, 'key/a')))).toEqual(
    badRequest(`Cannot do DELETE on endpoint "key" of locked node ${root} (${at(root, 'key/a')}).`),
  );
  const child = await newVersion(root);
  expect((await dvid('GET', at(child, 'key/a'))).text).toBe('[1, 2, 3]');
  expect((await dvid('POST', at(child, 'key/a'), '{"x": 1}')).status).toBe(200);
  expect((await dvid('DELETE', at(child, 'key/b'))).status).toBe(200);
  expect((await dvid('DELETE', at(child, 'key/never'))).status).toBe(200);
  expect((await dvid('GET', at(child, 'key/a'))).text).toBe('{"x": 1}');
  expect((await dvid('GET', at(root, 'key/a'))).text).toBe('[1, 2, 3]');
  expect((await dvid('GET', at(child, 'key/b'))).status).toBe(404);
  expect((await dvid('GET', at(root, 'key/b'))).text).toBe('root-b');
  expect(shape(await dvid('GET', at(child, 'keys')))).toEqual([200, 'application/json', '["a"]']);
  expect(shape(await dvid('GET', at(root, 'keys')))).toEqual([200, 'application/json', '["a","b"]']);

  // Prefix and branch specs reach the same node.
  expect((await dvid('GET', `/api/node/${child.slice(0, 10)}/kv/key/a`)).text).toBe('{"x": 1}');
  expect((await dvid('GET', `/api/node/${root}:master/kv/key/a`)).text).toBe('{"x": 1}');
  expect((await dvid('GET', `/api/node/${root}:master~1/kv/key/a`)).text).toBe('[1, 2, 3]');

  expect(shape(await dvid('GET', `/api/node/${child}/nokv/keys`))).toEqual(
    badRequest(`invalid data instance name (/api/node/${child}/nokv/keys).`),
  );
  expect(shape(await dvid('GET', at(child, 'bogus')))).toEqual([
    400,
    TEXT,
    `Bad API call (${at(child, 'bogus')}) for data "kv".  See API help at http://127.0.0.1:${portOf(server)}/api/help/keyvalue\n`,
  ]);
});

it('lets unversioned instances share one storage across nodes, committed ones included', async () => {
  const root = await newRepo();
  await newInstance(root, 'shared', false);
  await commit(root);
  const child = await newVersion(root);
  expect((await dvid('POST', `/api/node/${root}/shared/key/k`, 'through root')).status).toBe(200);
  expect((await dvid('GET', `/api/node/${child}/shared/key/k`)).text).toBe('through root');
  expect((await dvid('POST', `/api/node/${child}/shared/key/k`, 'through child')).status).toBe(200);
  expect((await dvid('GET', `/api/node/${root}/shared/key/k`)).text).toBe('through child');
  const info = JSON.parse((await dvid('GET', `/api/node/${child}/shared/info`)).text) as {
    Base: { Versioned: boolean; RepoUUID: string; Name: string; DataUUID: string; Tags: unknown };
  };
  expect(info.Base).toMatchObject({ Versioned: false, RepoUUID: root, Name: 'shared', Tags: null });
  expect(info.Base.DataUUID).toMatch(/^[0-9a-f]{32}$/);
});

it('serves ranges and batches as JSON, tar and protobuf, byte for byte', async () => {
  const root = await newRepo();
  await newInstance(root, 'kv');
  const at = (rest: string) => `/api/node/${root}/kv/${rest}`;
  const batch = toBinary(
    KeyValuesSchema,
    create(KeyValuesSchema, {
      kvs: [
        { key: 'key1', value: Buffer.from('[1, 2, 3]') },
        { key: 'key2', value: Buffer.from('{"a": "b"}') },
        { key: 'key3', value: new Uint8Array() },
        { key: 'key1', value: Buffer.from('[1, 2, 3]') },
        { key: 'with/slash', value: Buffer.from('"s"') },
      ],
    }),
  );
  expect((await dvid('POST', at('keyvalues'), batch)).status).toBe(200);
  expect(shape(await dvid('GET', at('keyrange/key1/key2')))).toEqual([200, 'application/json', '["key1","key2"]']);
  expect(shape(await dvid('GET', at('keyrange/key2/key1')))).toEqual([200, 'application/json', '[]']);
  expect(shape(await dvid('GET', at('keyrange/key1')))).toEqual(
    badRequest(`expect beginning and end keys to follow 'keyrange' endpoint (${at('keyrange/key1')}).`),
  );
  expect(shape(await dvid('GET', at('keyrangevalues/key1/key3?json=true')))).toEqual([
    200,
    'application/json',
    '{"key1":[1, 2, 3],"key2":{"a": "b"},"key3":{}}',
  ]);
  expect(shape(await dvid('GET', at('keyrangevalues/key1/key3?json=true&tar=true')))).toEqual(
    badRequest(`can only specify tar or json output, not both (${at('keyrangevalues/key1/key3')}).`),
  );
  const proto = await dvid('GET', at('keyrangevalues/key1/key2?protobuf=true'));
  expect(proto.headers['content-type']).toBe('application/octet-stream');
  expect(proto.body.toString('hex')).toBe(
    toBinary(
      KeyValuesSchema,
      create(KeyValuesSchema, {
        kvs: [
          { key: 'key1', value: Buffer.from('[1, 2, 3]') },
          { key: 'key2', value: Buffer.from('{"a": "b"}') },
        ],
      }),
    ).reduce((hex, byte) => hex + byte.toString(16).padStart(2, '0'), ''),
  );
  const tar = await dvid('GET', at('keyrangevalues/key1/zzz?tar=true'));
  expect(tar.headers['content-type']).toBe('application/tar');
  expect(await untar(tar.body)).toEqual([
    { name: 'key1', body: '[1, 2, 3]', mode: 0o755 },
    { name: 'key2', body: '{"a": "b"}', mode: 0o755 },
    { name: 'key3', body: '', mode: 0o755 },
    { name: 'with/slash', body: '"s"', mode: 0o755 },
  ]);

  // GET /keyvalues: request order, duplicates repeated, missing keys included.
  const keys = toBinary(KeysSchema, create(KeysSchema, { keys: ['key2', 'missing', 'key1', 'key2'] }));
  const values = fromBinary(KeyValuesSchema, (await dvid('GET', at('keyvalues'), keys)).body);
  expect(values.kvs.map((kv) => [kv.key, Buffer.from(kv.value).toString()])).toEqual([
    ['key2', '{"a": "b"}'],
    ['missing', ''],
    ['key1', '[1, 2, 3]'],
    ['key2', '{"a": "b"}'],
  ]);
  expect(shape(await dvid('GET', at('keyvalues?json=true'), '["key1","missing"]'))).toEqual([
    200,
    'application/json',
    '{"key1":[1, 2, 3],"missing":{}}',
  ]);
  expect(await untar((await dvid('GET', at('keyvalues?jsontar=true'), '["missing","key2"]')).body)).toEqual([
    { name: 'missing', body: '', mode: 0o755 },
    { name: 'key2', body: '{"a": "b"}', mode: 0o755 },
  ]);
  expect((await dvid('GET', at('keyvalues'), new Uint8Array())).body.byteLength).toBe(0);
  expect((await dvid('GET', at('keyvalues'), Buffer.from([0x0a, 0x05, 0x61]))).status).toBe(400);
  expect((await dvid('GET', at('keyvalues?json=true'), '{"not":"a list"}')).text).toMatch(
    /^GET \/keyvalues on 0 keys, data "kv": /,
  );
  expect((await dvid('POST', at('keyvalues'), Buffer.from([0x0a, 0xff]))).status).toBe(400);
});

it('streams a large keyrangevalues in key order', async () => {
  const root = await newRepo();
  await newInstance(root, 'big');
  const value = Buffer.alloc(1024, 'v');
  const entries = Array.from({ length: 5000 }, (_, i) => ({ key: `k${String(i).padStart(5, '0')}`, value }));
  const body = toBinary(KeyValuesSchema, create(KeyValuesSchema, { kvs: entries }));
  expect((await dvid('POST', `/api/node/${root}/big/keyvalues`, body)).status).toBe(200);
  const reply = await dvid('GET', `/api/node/${root}/big/keyrangevalues/k00000/k99999`);
  const decoded = fromBinary(KeyValuesSchema, reply.body);
  expect(decoded.kvs).toHaveLength(5000);
  expect(decoded.kvs.map((kv) => kv.key)).toEqual(entries.map((e) => e.key));
  expect(decoded.kvs.every((kv) => kv.value.byteLength === 1024)).toBe(true);
}, 30_000);

it('keeps instance tags, merged or replaced, and refuses them on a committed versioned node', async () => {
  const root = await newRepo();
  await newInstance(root, 'tagged');
  const tags = `/api/node/${root}/tagged/tags`;
  expect(shape(await dvid('GET', tags))).toEqual([200, 'application/json', '{"Tags":null}']);
  expect((await dvid('POST', tags, '{"a":"1"}')).status).toBe(200);
  expect((await dvid('POST', tags, '{"b":"2"}')).status).toBe(200);
  expect(JSON.parse((await dvid('GET', tags)).text)).toEqual({ Tags: { a: '1', b: '2' } });
  expect((await dvid('POST', `${tags}?replace=true`, '{"c":"3"}')).status).toBe(200);
  expect(JSON.parse((await dvid('GET', tags)).text)).toEqual({ Tags: { c: '3' } });
  expect((await dvid('POST', tags, '[1]')).text).toMatch(/^Malformed JSON request in tags setter: /);
  await commit(root);
  expect(shape(await dvid('POST', tags, '{"d":"4"}'))).toEqual(
    badRequest(`Cannot do POST on endpoint "tags" of locked node ${root} (${tags}).`),
  );
});

async function untar(archive: Buffer): Promise<Array<{ name: string; body: string; mode: number | undefined }>> {
  const entries: Array<{ name: string; body: string; mode: number | undefined }> = [];
  const reader = extract();
  const done = new Promise<void>((resolve, reject) => {
    reader.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
      stream.on('end', () => {
        entries.push({ name: header.name, body: Buffer.concat(chunks).toString(), mode: header.mode });
        next();
      });
    });
    reader.on('finish', resolve);
    reader.on('error', reject);
  });
  reader.end(archive);
  await done;
  return entries;
}

describe('isolation', () => {
  const tokens = { alice: '', bob: '' };
  let personal: HttpServer;

  const v1 = (method: string, path: string, body: unknown) =>
    rawRequest(portOf(server), method, path, {
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const as = (token: string, method: string, path: string, body?: string, to = personal) =>
    rawRequest(portOf(to), method, path, {
      headers: { authorization: `Bearer ${token}` },
      ...(body === undefined ? {} : { body }),
    });

  beforeAll(async () => {
    personal = await listen(
      createApp({ api, logger: silentLogger, maxBodyBytes: 1024 * 1024, legacy: legacyOptions({}) }),
    );
    for (const name of ['alice', 'bob'] as const) {
      expect((await v1('POST', '/v1/admin/accounts', { name, password: `${name}-password-1` })).status).toBe(201);
      const token = await v1('POST', `/v1/admin/accounts/${name}/tokens`, { name: 'dvid' });
      tokens[name] = (JSON.parse(token.text) as { secret: string }).secret;
    }
  });

  afterAll(() => new Promise((resolve) => personal.close(resolve)));

  it("keeps each caller's repos in their own space, invisible to others", async () => {
    const created = await as(tokens.alice, 'POST', '/api/repos', '{"alias":"alice repo"}');
    const root = (JSON.parse(created.text) as { root: string }).root;
    expect(
      (await as(tokens.alice, 'POST', `/api/repo/${root}/instance`, '{"typename":"keyvalue","dataname":"kv"}')).status,
    ).toBe(200);
    expect((await as(tokens.alice, 'POST', `/api/node/${root}/kv/key/secret`, 'alice only')).status).toBe(200);
    expect((await as(tokens.alice, 'GET', `/api/node/${root}/kv/key/secret`)).text).toBe('alice only');

    // Bob's DVID server is his own space: Alice's UUIDs do not resolve there, by prefix or in full.
    for (const path of [
      `/api/node/${root}/kv/key/secret`,
      `/api/node/${root.slice(0, 6)}/kv/keys`,
      `/api/repo/${root}/info`,
      `/api/node/${root}/commit`,
    ]) {
      const reply = await as(tokens.bob, path.endsWith('commit') ? 'POST' : 'GET', path, '{}');
      expect([path, reply.status, reply.text]).toEqual([
        path,
        400,
        `could not find UUID with partial match to ${path.split('/')[3]} (${path}).\n`,
      ]);
    }
    expect(JSON.parse((await as(tokens.bob, 'GET', '/api/repos/info')).text)).toEqual({});
    expect(Object.keys(JSON.parse((await as(tokens.alice, 'GET', '/api/repos/info')).text) as object)).toEqual([root]);

    // Pointed at a space they are no member of, callers are refused outright.
    const shared = await as(tokens.bob, 'GET', '/api/repos/info', undefined, server);
    expect(shape(shared)).toEqual(badRequest('space "default" does not exist (/api/repos/info).'));
    const wrongToken = await as('rst_not-a-token', 'GET', '/api/repos/info');
    expect(wrongToken.status).toBe(401);
  });
});

it('answers malformed node specs and protobuf bodies with 400, never a failure of its own', async () => {
  const root = await newRepo();
  await newInstance(root, 'fuzz');
  await fc.assert(
    fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 60 }), async (spec) => {
      const reply = await dvid('GET', `/api/node/${encodeURIComponent(spec)}/fuzz/keys`);
      expect([200, 400, 404]).toContain(reply.status);
      if (reply.status === 400) expect(reply.text.endsWith(').\n')).toBe(true);
    }),
    { numRuns: 300 },
  );
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 64 }), fc.boolean(), async (body, post) => {
      const reply = await dvid(post ? 'POST' : 'GET', `/api/node/${root}/fuzz/keyvalues`, body);
      expect([200, 400]).toContain(reply.status);
    }),
    { numRuns: 300 },
  );
}, 60_000);

it('answers the rest of the spec: repo info and logs, keys in paths, client query parameters, checks', async () => {
  const root = await newRepo('{"alias":"spec"}');
  const q = '?u=alice&app=neuclease';
  expect((await dvid('POST', `/api/repo/${root}/info${q}`, '{"description":"changed"}')).status).toBe(200);
  expect(JSON.parse((await dvid('GET', `/api/repo/${root}/info${q}`)).text)).toMatchObject({
    Alias: 'spec',
    Description: 'changed',
  });
  expect((await dvid('POST', `/api/repo/${root}/log`, '{"log":["one","two"]}')).status).toBe(200);
  const repoLog = JSON.parse((await dvid('GET', `/api/repo/${root}/log`)).text) as { log: string[] };
  expect(repoLog.log.map((line) => line.split('  ')[1])).toEqual(['one', 'two']);
  expect(shape(await dvid('HEAD', '/api/repo/0123456789'))).toEqual([400, TEXT, '']);
  expect(shape(await dvid('GET', '/api/server/compiled-types'))[0]).toBe(200);
  expect(JSON.parse((await dvid('GET', '/api/load')).text)).toEqual({ 'active handlers': expect.any(Number) });
  const repos = JSON.parse((await dvid('GET', '/api/repos/info')).text) as Record<string, { Root: string }>;
  expect(repos[root]?.Root).toBe(root);

  await newInstance(root, 'kv');
  const info = JSON.parse((await dvid('POST', `/api/node/${root}/kv/info/${q}`)).text) as { Base: { Name: string } };
  expect(info.Base.Name).toBe('kv');
  const repoInfo = JSON.parse((await dvid('GET', `/api/repo/${root}/info`)).text) as {
    DataInstances: Record<string, { Base: { TypeName: string } }>;
    Log: string[];
  };
  expect(repoInfo.DataInstances.kv?.Base.TypeName).toBe('keyvalue');
  expect(repoInfo.Log.some((line) => line.includes('New data instance "kv"'))).toBe(true);

  // Keys are one decoded path segment: spaces and `?` come percent-encoded; `/key/a/b` is key `a`.
  expect((await dvid('POST', `/api/node/${root}/kv/key/a%20b%3F${q}`, 'spaced')).status).toBe(200);
  expect((await dvid('GET', `/api/node/${root}/kv/key/a%20b%3F`)).text).toBe('spaced');
  expect((await dvid('POST', `/api/node/${root}/kv/key/first/ignored`, 'first')).status).toBe(200);
  expect((await dvid('GET', `/api/node/${root}/kv/key/first`)).text).toBe('first');
  expect(shape(await dvid('POST', `/api/node/${root}/kv/keys/`))).toEqual([
    200,
    'application/json',
    '["a b?","first"]',
  ]);
  expect(shape(await dvid('GET', `/api/node/${root}/kv/key/`))).toEqual(
    badRequest(`expect key string to follow 'key' endpoint (/api/node/${root}/kv/key/).`),
  );
  expect((await dvid('GET', `/api/node/${root}/kv/key/bad%00key`)).status).toBe(400);

  // check=true refuses a value that is not JSON before anything is written.
  expect((await dvid('POST', `/api/node/${root}/kv/key/notjson`, 'plain text')).status).toBe(200);
  const checked = await dvid('GET', `/api/node/${root}/kv/keyvalues?json=true&check=true`, '["notjson"]');
  expect(checked.status).toBe(400);
  expect(checked.text).toContain('notjson');
  expect(shape(await dvid('GET', `/api/node/${root}/kv/keyvalues?json=true&check=false`, '["notjson"]'))).toEqual([
    200,
    'application/json',
    '{"notjson":plain text}',
  ]);
});
