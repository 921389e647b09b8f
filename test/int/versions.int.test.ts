import { startTestApi, type TestApi } from '../support/api';
import { wireCodeOf as codeOf } from '../support/errors';

let api: TestApi;

beforeAll(async () => {
  api = await startTestApi();
});

afterAll(() => api.close());

const text = (value: Uint8Array | undefined) => Buffer.from(value ?? new Uint8Array()).toString();

/** A repo in the default space with one instance, versioned or not. */
async function repoWith(name: string, versioned: boolean) {
  const { dag } = await api.versions.createRepo({ space: 'default', alias: name });
  const root = dag?.root ?? '';
  await api.collections.createCollection({
    collection: { space: 'default', collection: name },
    versioned,
    version: root,
  });
  const at = (version: string) => ({ space: 'default', collection: name, version });
  return { root, at };
}

async function child(parent: string, branch?: string) {
  await api.versions.commit({ node: { space: 'default', version: parent }, note: 'done' });
  const { node } = await api.versions.newVersion({ parent: { space: 'default', version: parent }, branch });
  return node?.uuid ?? '';
}

const keysAt = async (collection: { space: string; collection: string; version: string }) => {
  const keys: string[] = [];
  for await (const chunk of api.records.scan({ collection, keysOnly: true }))
    keys.push(...chunk.records.map((r) => r.key));
  return keys;
};

it('reads at a node see the newest write among the node and its ancestors', async () => {
  const { root, at } = await repoWith('kv1', true);
  await api.records.putRecord({ collection: at(root), key: 'a', value: Buffer.from('root-a') });
  await api.records.putRecord({ collection: at(root), key: 'b', value: Buffer.from('root-b') });
  const c1 = await child(root);
  expect(text((await api.records.getRecord({ collection: at(c1), key: 'a' })).record?.value)).toBe('root-a');

  await api.records.putRecord({ collection: at(c1), key: 'a', value: Buffer.from('c1-a') });
  expect(text((await api.records.getRecord({ collection: at(c1), key: 'a' })).record?.value)).toBe('c1-a');
  expect(text((await api.records.getRecord({ collection: at(root), key: 'a' })).record?.value)).toBe('root-a');

  // A delete in the child hides the key there and below; the parent still sees it.
  const deleted = await api.records.deleteRecord({ collection: at(c1), key: 'b' });
  expect(deleted.deleted).toBe(true);
  expect((await api.records.getRecord({ collection: at(c1), key: 'b' })).record).toBeUndefined();
  expect(text((await api.records.getRecord({ collection: at(root), key: 'b' })).record?.value)).toBe('root-b');
  expect(await keysAt(at(c1))).toEqual(['a']);
  expect(await keysAt(at(root))).toEqual(['a', 'b']);
  expect((await api.records.deleteRecord({ collection: at(c1), key: 'b' })).deleted).toBe(false);

  // Revived below the delete.
  const c2 = await child(c1);
  expect((await api.records.getRecord({ collection: at(c2), key: 'b' })).record).toBeUndefined();
  await api.records.putRecord({ collection: at(c2), key: 'b', value: Buffer.from('c2-b') });
  expect(text((await api.records.getRecord({ collection: at(c2), key: 'b' })).record?.value)).toBe('c2-b');
  expect((await api.records.getRecord({ collection: at(c1), key: 'b' })).record).toBeUndefined();
  expect((await api.records.count({ collection: at(c2) })).count).toBe(2n);
  expect((await api.records.count({ collection: at(c1) })).count).toBe(1n);

  // Siblings on other branches do not see each other's writes.
  const side = await child(c2, 'side');
  await api.records.putRecord({ collection: at(side), key: 'only-side', value: Buffer.from('s') });
  expect(await keysAt(at(side))).toEqual(['a', 'b', 'only-side']);
  expect(await keysAt(at(c2))).toEqual(['a', 'b']);
});

it('refuses writes to a committed node of a versioned collection, and not of an unversioned one', async () => {
  const versioned = await repoWith('kv2', true);
  await api.versions.commit({ node: { space: 'default', version: versioned.root } });
  expect(
    await codeOf(
      api.records.putRecord({ collection: versioned.at(versioned.root), key: 'k', value: Buffer.from('v') }),
    ),
  ).toBe('VERSION_LOCKED');
  expect(await codeOf(api.records.deleteRecord({ collection: versioned.at(versioned.root), key: 'k' }))).toBe(
    'VERSION_LOCKED',
  );
  expect(
    await codeOf(
      api.records.batchPut({
        collection: versioned.at(versioned.root),
        entries: [{ key: 'x', value: Buffer.from('1') }],
      }),
    ),
  ).toBe('VERSION_LOCKED');

  const plain = await repoWith('kv3', false);
  const c1 = await child(plain.root);
  await api.records.putRecord({ collection: plain.at(plain.root), key: 'k', value: Buffer.from('through root') });
  // Unversioned: one storage for every node of the repo, writable through committed nodes.
  expect(text((await api.records.getRecord({ collection: plain.at(c1), key: 'k' })).record?.value)).toBe(
    'through root',
  );
  await api.records.putRecord({ collection: plain.at(c1), key: 'k', value: Buffer.from('through child') });
  expect(text((await api.records.getRecord({ collection: plain.at(plain.root), key: 'k' })).record?.value)).toBe(
    'through child',
  );
});

it('checks conditions against what the version sees, and batches are all or nothing', async () => {
  const { root, at } = await repoWith('kv4', true);
  const put = await api.records.putRecord({ collection: at(root), key: 'k', value: Buffer.from('1') });
  expect(put.created).toBe(true);
  await api.records.putRecord({ collection: at(root), key: 'k2', value: Buffer.from('1') });
  const again = await api.records.batchPut({
    collection: at(root),
    entries: [
      { key: 'k2', value: Buffer.from('2') },
      { key: 'root-only', value: Buffer.from('r') },
    ],
  });
  expect(again.createdCount).toBe(1);
  const c1 = await child(root);
  expect(
    await codeOf(
      api.records.putRecord({
        collection: at(c1),
        key: 'k',
        value: Buffer.from('2'),
        condition: { kind: { case: 'createOnly', value: true } },
      }),
    ),
  ).toBe('RECORD_EXISTS');
  const cas = await api.records.putRecord({
    collection: at(c1),
    key: 'k',
    value: Buffer.from('2'),
    condition: { kind: { case: 'expectedRevision', value: put.record?.revision ?? 0n } },
  });
  expect(cas.created).toBe(false);
  expect(
    await codeOf(
      api.records.batchPut({
        collection: at(c1),
        entries: [
          { key: 'new', value: Buffer.from('n') },
          { key: 'k', value: Buffer.from('3'), condition: { kind: { case: 'expectedRevision', value: 1n } } },
        ],
      }),
    ),
  ).toBe('REVISION_MISMATCH');
  expect((await api.records.getRecord({ collection: at(c1), key: 'new' })).record).toBeUndefined();
  const batch = await api.records.batchPut({
    collection: at(c1),
    entries: [
      { key: 'new', value: Buffer.from('n') },
      { key: 'k', value: Buffer.from('3') },
    ],
  });
  expect(batch.createdCount).toBe(1);
  const got = await api.records.batchGet({ collection: at(c1), keys: ['k', 'missing', 'new'] });
  expect(got.results.map((r) => text(r.record?.value))).toEqual(['3', '', 'n']);
  expect(got.results[1]?.record).toBeUndefined();
});

it('scans a version in pages, forwards and backwards, with filters and bulk deletes', async () => {
  const { root, at } = await repoWith('kv5', true);
  const keys = Array.from({ length: 450 }, (_, i) => `k${String(i).padStart(3, '0')}`);
  await api.records.batchPut({ collection: at(root), entries: keys.map((key) => ({ key, value: Buffer.from(key) })) });
  const c1 = await child(root);
  await api.records.batchPut({
    collection: at(c1),
    entries: keys.filter((_, i) => i % 2 === 0).map((key) => ({ key, value: Buffer.from(`new ${key}`) })),
  });
  const seen: string[] = [];
  for await (const chunk of api.records.scan({ collection: at(c1) })) {
    for (const r of chunk.records) seen.push(`${r.key}=${text(r.value)}`);
  }
  expect(seen).toHaveLength(450);
  expect(seen[0]).toBe('k000=new k000');
  expect(seen[1]).toBe('k001=k001');

  const page = await collect(
    api.records.scan({ collection: at(c1), reverse: true, limit: 3n, filter: { prefix: 'k1' } }),
  );
  expect(page.keys).toEqual(['k199', 'k198', 'k197']);
  const next = await collect(
    api.records.scan({ collection: at(c1), reverse: true, limit: 2n, filter: { prefix: 'k1' }, cursor: page.cursor }),
  );
  expect(next.keys).toEqual(['k196', 'k195']);

  const removed = await api.records.deleteMatching({ collection: at(c1), filter: { prefix: 'k0' }, batchSize: 60 });
  expect(removed).toMatchObject({ deleted: 60n, more: true });
  let more = true;
  while (more) more = (await api.records.deleteMatching({ collection: at(c1), filter: { prefix: 'k0' } })).more;
  expect((await api.records.count({ collection: at(c1), filter: { prefix: 'k0' } })).count).toBe(0n);
  expect((await api.records.count({ collection: at(root), filter: { prefix: 'k0' } })).count).toBe(100n);
  expect(await codeOf(collect(api.records.scan({ collection: at(c1), order: 1 })))).toBe('INVALID_ARGUMENT');
});

async function collect(chunks: AsyncIterable<{ records: Array<{ key: string }>; nextCursor: string }>) {
  const keys: string[] = [];
  let cursor = '';
  for await (const chunk of chunks) {
    keys.push(...chunk.records.map((r) => r.key));
    cursor = chunk.nextCursor;
  }
  return { keys, cursor };
}

it('resolves DVID node specs: prefixes, branches, ancestors, and their errors', async () => {
  const space = 'dvid-specs';
  await api.runtime.db.query('INSERT INTO spaces (name) VALUES ($1)', [space]);
  const { dag } = await api.versions.createRepo({ space, root: 'aaaa0000000000000000000000000000' });
  const root = dag?.root ?? '';
  const resolve = (spec: string) => api.versions.resolveVersion({ space, spec });
  expect((await resolve(':master')).node?.uuid).toBe(root);
  expect((await resolve('aaaa')).node?.uuid).toBe(root);
  await api.versions.commit({ node: { space, version: root }, note: 'first' });
  const c1 = await api.versions.newVersion({
    parent: { space, version: root },
    uuid: 'aaab0000000000000000000000000000',
  });
  expect(c1.node?.parents).toEqual([(await resolve('aaaa')).node?.versionId]);
  expect((await resolve('aaab:')).node?.uuid).toBe('aaab0000000000000000000000000000');
  expect((await resolve(':master')).node?.uuid).toBe('aaab0000000000000000000000000000');
  expect((await resolve(':master~1')).node?.uuid).toBe(root);
  expect((await resolve('aaaa:master~1')).node?.uuid).toBe(root);

  const failure = async (spec: string) => {
    try {
      await resolve(spec);
      return 'resolved';
    } catch (error) {
      return (error as Error).message;
    }
  };
  expect(await failure('aaa')).toContain('more than one UUID matches aaa');
  expect(await failure('ffff')).toContain('could not find UUID with partial match to ffff');
  expect(await failure('a:b:c')).toContain('bad UUID specification "a:b:c"');
  expect(await failure('aaaa:nope')).toContain('branch "nope" not found in repo');
  expect(await failure(':master~5')).toContain('parent 5 is out of range');

  await api.versions.createRepo({ space });
  expect(await failure(':master')).toContain('UUID must be specified if more than one repo exists');

  // Branch rules: a master branch cannot be created; one child per branch per parent.
  expect(await codeOf(api.versions.newVersion({ parent: { space, version: root }, branch: 'master' }))).toBe(
    'INVALID_ARGUMENT',
  );
  expect(await codeOf(api.versions.newVersion({ parent: { space, version: root } }))).toBe('VERSION_EXISTS');
  expect(
    await codeOf(api.versions.newVersion({ parent: { space, version: 'aaab0000000000000000000000000000' } })),
  ).toBe('INVALID_ARGUMENT');
  const side = await api.versions.newVersion({ parent: { space, version: root }, branch: 'side' });
  expect(side.node?.branch).toBe('side');
  expect(await codeOf(api.versions.newVersion({ parent: { space, version: root }, branch: 'side' }))).toBe(
    'VERSION_EXISTS',
  );
  expect(await codeOf(api.versions.createRepo({ space, root: 'aaaa0000000000000000000000000000' }))).toBe(
    'VERSION_EXISTS',
  );
  expect((await api.versions.branchVersions({ dag: { space, version: root }, branch: 'side' })).versions).toEqual([
    side.node?.uuid,
    root,
  ]);

  // Nodes of another space are unknown here.
  expect(await codeOf(api.versions.getDag({ space: 'default', version: root }))).toBe('VERSION_NOT_FOUND');
  const info = await api.versions.getDag({ space, version: root });
  expect(info.dag?.nodes.map((n) => n.uuid)).toEqual([root, 'aaab0000000000000000000000000000', side.node?.uuid]);
  expect(info.dag?.nodes[0]?.children).toHaveLength(2);
  expect(info.dag?.nodes[0]?.locked).toBe(true);
});

it('writes and deletes batches of the largest size at a version', async () => {
  const { root, at } = await repoWith('kv6', true);
  const entries = Array.from({ length: 10_000 }, (_, i) => ({ key: `k${i}`, value: Buffer.from('v') }));
  expect((await api.records.batchPut({ collection: at(root), entries, omitRecords: true })).createdCount).toBe(10_000);
  const c1 = await child(root);
  const removed = await api.records.deleteMatching({ collection: at(c1), batchSize: 10_000 });
  expect(removed).toMatchObject({ deleted: 10_000n, more: false });
  expect((await api.records.count({ collection: at(c1) })).count).toBe(0n);
  expect((await api.records.count({ collection: at(root) })).count).toBe(10_000n);
}, 30_000);
