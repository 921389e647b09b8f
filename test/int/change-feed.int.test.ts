import pg from 'pg';
import { startTestApi, type TestApi } from '../support/api';

let api: TestApi;
const collection = { space: 'default', collection: 'feed' };

beforeAll(async () => {
  api = await startTestApi();
  await api.collections.createCollection({ collection });
});

afterAll(() => api.close());

async function readAll(after: string) {
  const events = [];
  let position = after;
  for (;;) {
    const page = await api.changes.readChanges({ after: position, limit: 100 });
    events.push(...page.events);
    position = page.position;
    if (page.events.length < 100) return { events, position };
  }
}

it('records every mutation in the same transaction, values included when small', async () => {
  const start = (await api.changes.tailPosition({})).position;
  const put = await api.records.putRecord({ collection, key: 'a', value: Buffer.from('1'), contentType: 'text/plain' });
  await api.records.batchPut({
    collection,
    entries: [
      { key: 'b', value: Buffer.from('2') },
      { key: 'c', value: Buffer.alloc(70_000) },
    ],
  });
  await api.records.deleteRecord({ collection, key: 'a' });
  await api.records.deleteMatching({ collection, filter: { prefix: 'b' } });
  const { events } = await readAll(start);
  expect(events.map((e) => [e.op, e.key])).toEqual([
    ['put', 'a'],
    ['put', 'b'],
    ['put', 'c'],
    ['delete', 'a'],
    ['delete', 'b'],
  ]);
  const [first] = events;
  expect(first?.revision).toBe(put.record?.revision);
  expect(first?.space).toBe('default');
  expect(first?.collection).toBe('feed');
  expect(Buffer.from(first?.value ?? []).toString()).toBe('1');
  expect(events[2]?.value).toBeUndefined();
  expect(events[2]?.size).toBe(70_000n);
  const revisions = events.map((e) => e.revision);
  expect(new Set(revisions).size).toBe(revisions.length);
});

it('does not skip a transaction that took an earlier revision but committed later', async () => {
  const client = new pg.Client({ connectionString: api.db.url });
  await client.connect();
  try {
    const start = (await api.changes.tailPosition({})).position;
    // A slow writer: it takes its revision and appends its event, then holds its transaction open.
    await client.query('BEGIN');
    await client.query(
      `INSERT INTO change_events (revision, op, space, collection, collection_id, node_id, version, key)
       VALUES (nextval('revision_seq'), 'put', 'default', 'feed', 0, 0, '', 'slow')`,
    );
    // A fast writer commits after it, with a later revision.
    await api.records.putRecord({ collection, key: 'fast', value: Buffer.from('x') });
    const meanwhile = await readAll(start);
    // The reader must not move past the open transaction, or it would never see `slow`.
    expect(meanwhile.events.map((e) => e.key)).not.toContain('fast');
    await client.query('COMMIT');
    const after = await readAll(meanwhile.position);
    expect(after.events.map((e) => e.key)).toEqual(['slow', 'fast']);
  } finally {
    await client.end();
  }
});

it('refuses a malformed position', async () => {
  await expect(api.changes.readChanges({ after: 'yesterday' })).rejects.toThrow(/not a change-feed position/);
});
