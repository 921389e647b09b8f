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

it('summarizes the page that reading would answer: per collection its newest event, count and oldest time', async () => {
  const other = { space: 'default', collection: 'feed-other' };
  await api.collections.createCollection({ collection: other });
  const start = (await api.changes.tailPosition({})).position;
  await api.records.batchPut({
    collection,
    entries: [
      { key: 's1', value: Buffer.from('one'), contentType: 'text/plain' },
      { key: 's2', value: Buffer.from('two') },
    ],
  });
  await api.records.putRecord({ collection: other, key: 'o1', value: Buffer.from('x') });
  await api.records.deleteRecord({ collection, key: 's1' });

  for (const limit of [10, 3, 1]) {
    const page = await api.changes.readChanges({ after: start, limit });
    const summary = await api.changes.summarizeChanges({ after: start, limit });
    expect(summary.position).toBe(page.position);
    expect(summary.count).toBe(page.events.length);
    // Each collection where its newest event stands in the page, in that order.
    const newestAt = new Map(page.events.map((e, at) => [e.collection, at]));
    const expected = [...newestAt.entries()]
      .sort(([, x], [, y]) => x - y)
      .map(([name, at]) => {
        const own = page.events.filter((e) => e.collection === name);
        return { newest: { ...page.events[at], value: undefined }, count: own.length, oldestAtUs: own[0]?.atUs };
      });
    expect(
      summary.collections.map(({ newest, count, oldestAtUs }) => ({ newest: { ...newest }, count, oldestAtUs })),
    ).toEqual(expected);
  }
  const whole = await api.changes.summarizeChanges({ after: start, limit: 10 });
  expect(whole.collections.map((c) => [c.newest?.collection, c.newest?.op, c.newest?.key, c.count])).toEqual([
    ['feed-other', 'put', 'o1', 1],
    ['feed', 'delete', 's1', 3],
  ]);

  const drained = await api.changes.summarizeChanges({ after: whole.position, limit: 10 });
  expect(drained).toMatchObject({ collections: [], position: whole.position, count: 0 });
  await expect(api.changes.summarizeChanges({ after: start, limit: 1001 })).rejects.toThrow(
    /limit must be from 1 to 1000/,
  );
  await expect(api.changes.summarizeChanges({ after: 'yesterday' })).rejects.toThrow(/not a change-feed position/);
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

it('orders events by transaction id as a number, not as text (9 before 10)', async () => {
  const digits = { space: 'default', collection: 'digits' };
  await api.collections.createCollection({ collection: digits });
  // Transactions long finished, whose ids have one and two digits: as text, '10' < '11' < '9'.
  for (const txid of [9, 10, 11]) {
    await api.runtime.db.query(
      `INSERT INTO change_events (txid, revision, op, space, collection, collection_id, node_id, version, key)
       VALUES ($1::text::xid8, nextval('revision_seq'), 'put', 'default', 'digits', 0, 0, '', $2)`,
      [String(txid), `t${txid}`],
    );
  }
  const keys: string[] = [];
  let after = '1.0';
  for (;;) {
    const page = await api.changes.readCollectionChanges({ collection: digits, after, limit: 2 });
    if (page.events.length === 0) break;
    keys.push(...page.events.filter((e) => e.op === 'put').map((e) => e.key));
    after = page.position;
  }
  expect(keys).toEqual(['t9', 't10', 't11']);
  const whole = await api.changes.readChanges({ after: '1.0', limit: 2 });
  expect(whole.events.map((e) => e.key)).toEqual(['t9', 't10']);
});

it('refuses a malformed position', async () => {
  await expect(api.changes.readChanges({ after: 'yesterday' })).rejects.toThrow(/not a change-feed position/);
});

describe('a collection’s changes and retention', () => {
  const put = async (key: string) =>
    (await api.records.putRecord({ collection, key, value: Buffer.from(key) })).record?.revision ?? 0n;
  const read = (afterRevision?: bigint, after = '') =>
    api.changes.readCollectionChanges({ collection, after, afterRevision, limit: 100 });

  it('reads from now, from a revision, and from a position, in feed order', async () => {
    const now = await read();
    expect(now.events).toEqual([]);
    const first = await put('r1');
    await put('r2');
    const fromNow = await read(now.revision);
    expect(fromNow.events.map((e) => e.key)).toEqual(['r1', 'r2']);
    expect(fromNow.revision).toBe(fromNow.events[1]?.revision);
    expect((await read(first)).events.map((e) => e.key)).toEqual(['r2']);
    expect((await read(undefined, fromNow.position)).events).toEqual([]);
  });

  it('deletes events older than the cutoff, oldest first, never past the given position', async () => {
    const before = (await read()).revision;
    const old = await put('old1');
    const last = await put('old2');
    const kept = await put('young');
    const written = await read(before);
    expect(written.events.map((e) => e.key)).toEqual(['old1', 'old2', 'young']);
    await api.runtime.db.query(`UPDATE change_events SET at = now() - interval '2 hours' WHERE revision <= $1`, [
      Number(last),
    ]);
    const oneHourAgo = BigInt(Date.now() - 3_600_000) * 1000n;

    // Up to old1's event (the relay's position, say): old2 is old too, but stays.
    const upToOld1 = written.events[0]?.position ?? '';
    expect((await api.changes.compactChanges({ beforeUs: oneHourAgo, upTo: upToOld1, limit: 50_000 })).more).toBe(
      false,
    );
    expect(await read(old)).toMatchObject({ expired: true, oldestRevision: last, events: [] });

    const tail = (await api.changes.tailPosition({})).position;
    expect(await api.changes.compactChanges({ beforeUs: oneHourAgo, upTo: tail, limit: 1 })).toMatchObject({
      deleted: 1n,
      more: true,
    });
    // `young` is recent: it stays, and nothing more goes.
    expect(await api.changes.compactChanges({ beforeUs: oneHourAgo, upTo: tail, limit: 1000 })).toMatchObject({
      deleted: 0n,
      more: false,
    });
    expect(await read(last)).toMatchObject({ expired: true, oldestRevision: kept });
    expect((await read(kept)).events).toEqual([]);
    await expect(api.changes.compactChanges({ beforeUs: oneHourAgo, upTo: '', limit: 10 })).rejects.toThrow(
      /up_to must be a feed position/,
    );
  });

  it('takes the tombstones of the delete events it deletes along, in unversioned collections only', async () => {
    const plain = { space: 'default', collection: 'purge' };
    const versioned = { space: 'default', collection: 'purge-versioned' };
    await api.collections.createCollection({ collection: plain });
    await api.collections.createCollection({ collection: versioned, versioned: true });
    const write = (c: typeof plain, key: string) =>
      api.records.putRecord({ collection: c, key, value: Buffer.from(key) });
    for (const key of ['gone', 'back', 'live']) await write(plain, key);
    await write(versioned, 'hidden');
    const deleted = await api.records.deleteRecord({ collection: plain, key: 'gone' });
    await api.records.deleteRecord({ collection: plain, key: 'back' });
    await write(plain, 'back');
    await api.records.deleteRecord({ collection: versioned, key: 'hidden' });
    await api.runtime.db.query(
      `UPDATE change_events SET at = now() - interval '2 hours' WHERE collection IN ('purge', 'purge-versioned')`,
    );
    const rows = async (name: string) =>
      (
        await api.runtime.db.query<{ key: string; tombstone: boolean }>(
          `SELECT r.key, r.tombstone FROM records r JOIN collections c ON c.id = r.collection_id
           WHERE c.name = $1 ORDER BY r.key`,
          [name],
        )
      ).rows;
    expect(await rows('purge')).toEqual([
      { key: 'back', tombstone: false },
      { key: 'gone', tombstone: true },
      { key: 'live', tombstone: false },
    ]);

    const oneHourAgo = BigInt(Date.now() - 3_600_000) * 1000n;
    const tail = (await api.changes.tailPosition({})).position;
    const compacted = await api.changes.compactChanges({ beforeUs: oneHourAgo, upTo: tail, limit: 50_000 });
    // `back` was written again after its delete: its row is no longer that delete's tombstone.
    expect(compacted).toMatchObject({ more: false, tombstonesPurged: 1n });
    expect(compacted.deleted).toBeGreaterThanOrEqual(8n);
    expect(await rows('purge')).toEqual([
      { key: 'back', tombstone: false },
      { key: 'live', tombstone: false },
    ]);
    // In a versioned collection a tombstone hides what its ancestors hold: it stays.
    expect(await rows('purge-versioned')).toEqual([{ key: 'hidden', tombstone: true }]);

    // The purged key is absent as before, and a write brings it back with a later revision.
    expect((await api.records.getRecord({ collection: plain, key: 'gone' })).record).toBeUndefined();
    const again = await write(plain, 'gone');
    expect(again.created).toBe(true);
    expect(again.record?.revision).toBeGreaterThan(deleted.revision);
    expect(again.record?.createdRevision).toBe(again.record?.revision);
  });
});
