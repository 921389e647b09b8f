import { startTestApi, type TestApi } from '../support/api';
import { wireCodeOf as codeOf } from '../support/errors';

let api: TestApi;

beforeAll(async () => {
  api = await startTestApi();
});

afterAll(() => api.close());

it('creates, reads, lists, updates and deletes collections', async () => {
  const created = await api.collections.createCollection({
    collection: { space: 'default', collection: 'people' },
    tags: { team: 'a' },
  });
  expect(created.collection).toMatchObject({ name: 'people', versioned: false, maxValueBytes: 16n * 1024n * 1024n });
  expect(created.collection?.rootVersion).toMatch(/^[0-9a-f]{32}$/);
  expect(
    await codeOf(api.collections.createCollection({ collection: { space: 'default', collection: 'people' } })),
  ).toBe('COLLECTION_EXISTS');
  expect(await codeOf(api.collections.createCollection({ collection: { space: 'ghost', collection: 'x' } }))).toBe(
    'SPACE_NOT_FOUND',
  );
  expect(await codeOf(api.collections.createCollection({ collection: { space: 'default', collection: '..' } }))).toBe(
    'INVALID_NAME',
  );
  expect(
    await codeOf(
      api.collections.createCollection({
        collection: { space: 'default', collection: 'huge' },
        maxValueBytes: 1n << 40n,
      }),
    ),
  ).toBe('INVALID_ARGUMENT');

  for (const name of ['p2', 'p3', 'p4'])
    await api.collections.createCollection({ collection: { space: 'default', collection: name } });
  const page1 = await api.collections.listCollections({ space: 'default', limit: 2 });
  expect(page1.collections.map((c) => c.name)).toEqual(['p2', 'p3']);
  const page2 = await api.collections.listCollections({ space: 'default', limit: 2, cursor: page1.nextCursor });
  expect(page2.collections.map((c) => c.name)).toEqual(['p4', 'people']);
  expect(page2.nextCursor).toBe('');
  expect(await codeOf(api.collections.listCollections({ space: 'ghost' }))).toBe('SPACE_NOT_FOUND');

  const updated = await api.collections.updateCollection({
    collection: { space: 'default', collection: 'people' },
    maxValueBytes: 10n,
    tags: { team: '', owner: 'b' },
  });
  expect(updated.collection?.tags).toEqual({ owner: 'b' });
  expect(updated.collection?.revision).toBeGreaterThan(created.collection?.revision ?? 0n);
  // The new limit holds at once, through the cache.
  expect(
    await codeOf(
      api.records.putRecord({
        collection: { space: 'default', collection: 'people' },
        key: 'k',
        value: Buffer.alloc(11),
      }),
    ),
  ).toBe('VALUE_TOO_LARGE');

  await api.records.putRecord({
    collection: { space: 'default', collection: 'people' },
    key: 'k',
    value: Buffer.alloc(5),
  });
  await api.collections.deleteCollection({ collection: { space: 'default', collection: 'people' } });
  expect(await codeOf(api.collections.getCollection({ collection: { space: 'default', collection: 'people' } }))).toBe(
    'COLLECTION_NOT_FOUND',
  );
  expect(
    await codeOf(api.records.getRecord({ collection: { space: 'default', collection: 'people' }, key: 'k' })),
  ).toBe('COLLECTION_NOT_FOUND');
  const leftovers = await api.runtime.db.query<{ n: number }>(
    `SELECT (SELECT count(*) FROM records) + (SELECT count(*) FROM version_dags WHERE kind = 'collection') AS n`,
  );
  // p2, p3 and p4 keep their DAGs; people's records and DAG are gone.
  expect(leftovers.rows[0]?.n).toBe(3);
});
