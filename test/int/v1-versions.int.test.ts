import type { Server as HttpServer } from 'node:http';
import { createApp, legacyOptions } from '../../apps/gateway/src';
import { listen, portOf, rawRequest } from '../support/raw-http';
import { silentLogger, startTestApi, type TestApi } from '../support/api';
import { TEST_ADMIN_TOKEN } from '../support/env';

/** Versions of a collection through /v1: commit, children, reads and writes at a version, changes, diffs. */

let api: TestApi;
let server: HttpServer;

const BASE = '/v1/spaces/default/collections/docs';

async function call(method: string, path: string, body?: unknown) {
  const reply = await rawRequest(portOf(server), method, path, {
    headers: {
      authorization: `Bearer ${TEST_ADMIN_TOKEN}`,
      ...(body === undefined ? {} : { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json' }),
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const parsed: unknown = reply.headers['content-type']?.startsWith('application/json')
    ? JSON.parse(reply.text)
    : reply.text;
  return { status: reply.status, body: parsed };
}

interface Version {
  uuid: string;
  branch: string;
  committed: boolean;
  parents: string[];
  children: string[];
}

beforeAll(async () => {
  api = await startTestApi();
  server = await listen(createApp({ api, logger: silentLogger, maxBodyBytes: 1024 * 1024, legacy: legacyOptions({}) }));
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await api.close();
});

it('versions a collection: commit, branch, read and write at a version, list changes, diff', async () => {
  const created = await call('POST', '/v1/spaces/default/collections', { name: 'docs', versioned: true });
  expect(created.status).toBe(201);
  expect(created.body).toMatchObject({ versioned: true });
  const root = (created.body as { rootVersion: string }).rootVersion;

  expect((await call('PUT', `${BASE}/records/a`, 'a at root')).status).toBe(201);
  expect((await call('PUT', `${BASE}/records/b`, 'b at root')).status).toBe(201);
  const committed = await call('POST', `${BASE}/versions/${root.slice(0, 12)}/commit`, { note: 'first' });
  expect(committed.status).toBe(200);
  expect(committed.body).toMatchObject({ uuid: root, committed: true, note: 'first' });
  expect((await call('PUT', `${BASE}/records/a`, 'late')).body).toMatchObject({ error: { code: 'VERSION_LOCKED' } });

  const child = await call('POST', `${BASE}/versions/${root}/children`, { note: 'work' });
  expect(child.status).toBe(201);
  const next = (child.body as unknown as Version).uuid;
  expect(child.body).toMatchObject({ parents: [root], committed: false, branch: '' });

  // Without ?version= the master leaf is read and written.
  expect((await call('PUT', `${BASE}/records/a`, 'a at child')).status).toBe(200);
  expect((await call('DELETE', `${BASE}/records/b`)).status).toBe(204);
  expect((await call('PUT', `${BASE}/records/c`, 'c at child')).status).toBe(201);
  expect((await call('GET', `${BASE}/records/a`)).body).toBe('a at child');
  expect((await call('GET', `${BASE}/records/a?version=${root}`)).body).toBe('a at root');
  expect((await call('GET', `${BASE}/records/b?version=${root}`)).body).toBe('b at root');
  expect((await call('GET', `${BASE}/records/b`)).status).toBe(404);
  const list = await call('GET', `${BASE}/records?version=${root}&keysOnly=true`);
  expect((list.body as unknown as { records: Array<{ key: string }> }).records.map((r) => r.key)).toEqual(['a', 'b']);
  expect((await call('GET', `${BASE}/count?version=${next}`)).body).toEqual({ count: 2 });

  const side = await call('POST', `${BASE}/versions/${root}/children`, { branch: 'experiment' });
  expect(side.body).toMatchObject({ branch: 'experiment', parents: [root] });
  const sideUuid = (side.body as unknown as Version).uuid;
  expect((await call('PUT', `${BASE}/records/x?version=${sideUuid}`, 'only here')).status).toBe(201);
  expect((await call('GET', `${BASE}/records/x`)).status).toBe(404);
  expect((await call('POST', `${BASE}/versions/${root}/children`, { branch: 'experiment' })).body).toMatchObject({
    error: { code: 'VERSION_EXISTS' },
  });

  const dag = await call('GET', `${BASE}/versions`);
  const versions = (dag.body as unknown as { root: string; versions: Version[] }).versions;
  expect(versions.map((v) => v.uuid)).toEqual([root, next, sideUuid]);
  expect(versions[0]?.children).toEqual([next, sideUuid]);

  const changes = await call('GET', `${BASE}/versions/${next}/changes`);
  expect(
    (changes.body as unknown as { changes: Array<{ key: string; record: { size: number } | null }> }).changes.map(
      (c) => [c.key, c.record?.size ?? null],
    ),
  ).toEqual([
    ['a', 10],
    ['b', null],
    ['c', 10],
  ]);
  const paged = await call('GET', `${BASE}/versions/${next}/changes?limit=2`);
  expect(paged.body).toMatchObject({ cursor: 'b' });
  const rest = await call('GET', `${BASE}/versions/${next}/changes?limit=2&cursor=b`);
  expect(rest.body).toMatchObject({ changes: [{ key: 'c' }], cursor: null });

  const diff = await call('GET', `${BASE}/diff?from=${sideUuid}&to=${next}`);
  const diffs = (
    diff.body as unknown as {
      diffs: Array<{ key: string; from: { size: number } | null; to: { size: number } | null }>;
    }
  ).diffs;
  expect(diffs.map((d) => [d.key, d.from?.size ?? null, d.to?.size ?? null])).toEqual([
    ['a', 9, 10],
    ['b', 9, null],
    ['c', null, 10],
    ['x', 9, null],
  ]);
  expect((await call('GET', `${BASE}/diff?from=${root}&to=${root}`)).body).toEqual({ diffs: [], cursor: null });
  expect((await call('GET', `${BASE}/diff?from=ffff`)).body).toMatchObject({ error: { code: 'VERSION_NOT_FOUND' } });

  // An unversioned collection has no versions to list or diff.
  expect((await call('POST', '/v1/spaces/default/collections', { name: 'plain' })).status).toBe(201);
  const plain = await call('GET', '/v1/spaces/default/collections/plain');
  const plainRoot = (plain.body as { rootVersion: string }).rootVersion;
  expect((await call('GET', `/v1/spaces/default/collections/plain/versions/${plainRoot}/changes`)).body).toMatchObject({
    error: { code: 'INVALID_ARGUMENT' },
  });
  // Another collection's version is not this one's.
  expect((await call('GET', `${BASE}/records/a?version=${plainRoot}`)).body).toMatchObject({
    error: { code: 'VERSION_NOT_FOUND' },
  });
});

it('deletes matching records at the version the body of delete-matching names', async () => {
  const created = await call('POST', '/v1/spaces/default/collections', { name: 'pruned', versioned: true });
  const root = (created.body as { rootVersion: string }).rootVersion;
  const base = '/v1/spaces/default/collections/pruned';
  for (const key of ['t/1', 't/2', 'u/1']) expect((await call('PUT', `${base}/records/${key}`, key)).status).toBe(201);
  await call('POST', `${base}/versions/${root}/commit`, { note: 'base' });
  const child = ((await call('POST', `${base}/versions/${root}/children`, {})).body as unknown as Version).uuid;

  const refused = await call('POST', `${base}/delete-matching?version=${root}`, { prefix: 't/', version: child });
  expect(refused.status).toBe(400);
  expect(refused.body).toMatchObject({ error: { code: 'INVALID_ARGUMENT' } });
  // The root is committed: a delete there is refused, not made at the default version instead.
  const locked = await call('POST', `${base}/delete-matching`, { prefix: 't/', version: root });
  expect(locked.body).toMatchObject({ error: { code: 'VERSION_LOCKED' } });
  const done = await call('POST', `${base}/delete-matching`, { prefix: 't/', version: child });
  expect(done.body).toEqual({ deleted: 2, more: false });
  const keysAt = async (version: string) =>
    (
      (await call('GET', `${base}/records?version=${version}&keysOnly=true`)).body as {
        records: Array<{ key: string }>;
      }
    ).records.map((r) => r.key);
  expect(await keysAt(child)).toEqual(['u/1']);
  expect(await keysAt(root)).toEqual(['t/1', 't/2', 'u/1']);
});
