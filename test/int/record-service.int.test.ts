import { loadConfig } from '../../apps/api/src/config';
import { ScanOrder } from '../../packages/proto/src';
import { startTestApi, type TestApi } from '../support/api';
import { wireCodeOf as codeOf } from '../support/errors';

const bytes = (text: string) => Buffer.from(text);
const text = (value: Uint8Array | undefined) => Buffer.from(value ?? new Uint8Array()).toString();

let api: TestApi;
const collection = { space: 'default', collection: 'things' };

beforeAll(async () => {
  api = await startTestApi();
  await api.collections.createCollection({ collection, maxValueBytes: 1024n });
});

afterAll(() => api.close());

async function scanAll(request: Parameters<TestApi['records']['scan']>[0]) {
  const keys: string[] = [];
  let cursor = '';
  let chunks = 0;
  for await (const chunk of api.records.scan(request)) {
    chunks++;
    keys.push(...chunk.records.map((r) => r.key));
    if (chunk.done) cursor = chunk.nextCursor;
  }
  return { keys, cursor, chunks };
}

describe('single records', () => {
  it('writes, reads, conditionally overwrites and deletes', async () => {
    const put = await api.records.putRecord({ collection, key: 'a/b', value: bytes('one'), contentType: 'text/plain' });
    expect(put.created).toBe(true);
    const revision = put.record?.revision ?? 0n;
    expect(revision).toBeGreaterThan(0n);

    const got = await api.records.getRecord({ collection, key: 'a/b' });
    expect(text(got.record?.value)).toBe('one');
    expect(got.record?.contentType).toBe('text/plain');
    expect(got.record?.revision).toBe(revision);

    expect(
      await codeOf(
        api.records.putRecord({
          collection,
          key: 'a/b',
          value: bytes('stale'),
          condition: { kind: { case: 'expectedRevision', value: revision + 1000n } },
        }),
      ),
    ).toBe('REVISION_MISMATCH');
    const cas = await api.records.putRecord({
      collection,
      key: 'a/b',
      value: bytes('two'),
      condition: { kind: { case: 'expectedRevision', value: revision } },
    });
    expect(cas.created).toBe(false);
    expect(cas.record?.revision).toBeGreaterThan(revision);
    expect(cas.record?.createdRevision).toBe(revision);
    expect(cas.record?.contentType).toBe('application/octet-stream');

    expect(
      await codeOf(
        api.records.putRecord({
          collection,
          key: 'a/b',
          value: bytes('x'),
          condition: { kind: { case: 'createOnly', value: true } },
        }),
      ),
    ).toBe('RECORD_EXISTS');
    expect(
      await codeOf(
        api.records.putRecord({
          collection,
          key: 'nope',
          value: bytes('x'),
          condition: { kind: { case: 'mustExist', value: true } },
        }),
      ),
    ).toBe('REVISION_MISMATCH');

    const head = await api.records.headRecord({ collection, key: 'a/b' });
    expect(head.record?.size).toBe(3n);
    expect(head.record?.value.byteLength).toBe(0);

    expect(await codeOf(api.records.deleteRecord({ collection, key: 'a/b', expectedRevision: revision }))).toBe(
      'REVISION_MISMATCH',
    );
    const deleted = await api.records.deleteRecord({ collection, key: 'a/b' });
    expect(deleted.deleted).toBe(true);
    expect((await api.records.getRecord({ collection, key: 'a/b' })).record).toBeUndefined();
    expect((await api.records.deleteRecord({ collection, key: 'a/b' })).deleted).toBe(false);
  });

  it('refuses bad input with the domain code and writes nothing', async () => {
    expect(await codeOf(api.records.putRecord({ collection, key: '', value: bytes('x') }))).toBe('INVALID_KEY');
    expect(await codeOf(api.records.putRecord({ collection, key: 'k'.repeat(1025), value: bytes('x') }))).toBe(
      'INVALID_KEY',
    );
    expect(await codeOf(api.records.putRecord({ collection, key: 'big', value: Buffer.alloc(1025) }))).toBe(
      'VALUE_TOO_LARGE',
    );
    expect(
      await codeOf(api.records.putRecord({ collection, key: 'ct', value: bytes('x'), contentType: 'nonsense' })),
    ).toBe('INVALID_CONTENT_TYPE');
    expect(
      await codeOf(
        api.records.putRecord({ collection: { space: 'default', collection: 'missing' }, key: 'k', value: bytes('x') }),
      ),
    ).toBe('COLLECTION_NOT_FOUND');
    expect(
      await codeOf(api.records.getRecord({ collection: { space: 'nobody', collection: 'things' }, key: 'k' })),
    ).toBe('SPACE_NOT_FOUND');
    for (const key of ['big', 'ct']) expect((await api.records.getRecord({ collection, key })).record).toBeUndefined();
  });
});

describe('batches', () => {
  it('answer with the counts alone when asked to omit the records', async () => {
    const written = await api.records.batchPut({
      collection,
      entries: [
        { key: 'omit/1', value: bytes('1') },
        { key: 'omit/2', value: bytes('2') },
      ],
      omitRecords: true,
    });
    expect([written.records, written.createdCount]).toEqual([[], 2]);
    const again = await api.records.batchPut({
      collection,
      entries: [{ key: 'omit/1', value: bytes('3') }],
      omitRecords: true,
    });
    expect([again.records, again.createdCount]).toEqual([[], 0]);
    expect((await api.records.getRecord({ collection, key: 'omit/1' })).record?.value).toEqual(bytes('3'));
  });

  it('write all or nothing', async () => {
    const first = await api.records.batchPut({
      collection,
      entries: [
        { key: 'batch/1', value: bytes('1') },
        { key: 'batch/2', value: bytes('2') },
      ],
    });
    expect(first.createdCount).toBe(2);
    const rev2 = first.records[1]?.revision ?? 0n;
    expect(first.records[0]?.revision).toBeLessThan(rev2);

    // The third entry's condition fails: the first two must not be written.
    expect(
      await codeOf(
        api.records.batchPut({
          collection,
          entries: [
            { key: 'batch/3', value: bytes('3') },
            { key: 'batch/1', value: bytes('changed') },
            { key: 'batch/2', value: bytes('x'), condition: { kind: { case: 'expectedRevision', value: rev2 + 99n } } },
          ],
        }),
      ),
    ).toBe('REVISION_MISMATCH');
    expect((await api.records.getRecord({ collection, key: 'batch/3' })).record).toBeUndefined();
    expect(text((await api.records.getRecord({ collection, key: 'batch/1' })).record?.value)).toBe('1');

    expect(
      await codeOf(
        api.records.batchPut({
          collection,
          entries: [
            { key: 'dup', value: bytes('a') },
            { key: 'dup', value: bytes('b') },
          ],
        }),
      ),
    ).toBe('DUPLICATE_KEY');
    expect(
      await codeOf(
        api.records.batchPut({
          collection,
          entries: [
            { key: 'ok', value: bytes('a') },
            { key: 'too-big', value: Buffer.alloc(2000) },
          ],
        }),
      ),
    ).toBe('VALUE_TOO_LARGE');
    expect((await api.records.getRecord({ collection, key: 'ok' })).record).toBeUndefined();

    const got = await api.records.batchGet({ collection, keys: ['batch/2', 'nope', 'batch/1'] });
    expect(got.results.map((r) => r.record?.key)).toEqual(['batch/2', undefined, 'batch/1']);
  });
});

describe('scans', () => {
  const scanned = { space: 'default', collection: 'scanned' };

  beforeAll(async () => {
    await api.collections.createCollection({ collection: scanned });
    const keys = [
      ...Array.from({ length: 1200 }, (_, i) => `n/${String(i).padStart(4, '0')}`),
      'lit/100%',
      'lit/100x',
      'lit/a_c',
      'lit/abc',
      'é',
      '😀',
      '\uff5e',
    ];
    for (let i = 0; i < keys.length; i += 500) {
      await api.records.batchPut({
        collection: scanned,
        entries: keys.slice(i, i + 500).map((key) => ({ key, value: bytes(`v:${key}`) })),
      });
    }
  });

  it('pages through a prefix without skipping or repeating', async () => {
    const seen: string[] = [];
    let cursor = '';
    for (;;) {
      const page = await scanAll({ collection: scanned, filter: { prefix: 'n/' }, limit: 500n, cursor });
      seen.push(...page.keys);
      if (page.cursor === '') break;
      cursor = page.cursor;
    }
    expect(seen).toHaveLength(1200);
    expect(new Set(seen).size).toBe(1200);
    expect(seen).toEqual([...seen].sort());
  });

  it('never returns a cursor with an empty next page', async () => {
    const exact = await scanAll({ collection: scanned, filter: { prefix: 'lit/' }, limit: 4n });
    expect(exact.keys).toHaveLength(4);
    expect(exact.cursor).toBe('');
    const short = await scanAll({ collection: scanned, filter: { prefix: 'lit/' }, limit: 3n });
    expect(short.cursor).not.toBe('');
  });

  it('reads inclusive ranges in byte order, forwards and backwards', async () => {
    expect((await scanAll({ collection: scanned, filter: { start: 'n/0010', end: 'n/0012' } })).keys).toEqual([
      'n/0010',
      'n/0011',
      'n/0012',
    ]);
    const tail = await scanAll({ collection: scanned, filter: { start: 'é' } });
    expect(tail.keys).toEqual(['é', '\uff5e', '😀']);
    const reversed = await scanAll({ collection: scanned, filter: { prefix: 'lit/' }, reverse: true, limit: 2n });
    expect(reversed.keys).toEqual(['lit/abc', 'lit/a_c']);
    const rest = await scanAll({
      collection: scanned,
      filter: { prefix: 'lit/' },
      reverse: true,
      cursor: reversed.cursor,
    });
    expect(rest.keys).toEqual(['lit/100x', 'lit/100%']);
  });

  it('matches % and _ literally in glob patterns', async () => {
    expect((await scanAll({ collection: scanned, filter: { pattern: 'lit/100%' } })).keys).toEqual(['lit/100%']);
    expect((await scanAll({ collection: scanned, filter: { pattern: 'lit/a_c' } })).keys).toEqual(['lit/a_c']);
    expect((await scanAll({ collection: scanned, filter: { pattern: 'lit/a?c' } })).keys).toEqual([
      'lit/a_c',
      'lit/abc',
    ]);
    expect((await scanAll({ collection: scanned, filter: { pattern: 'n/*9' } })).keys).toHaveLength(120);
    expect(Number((await api.records.count({ collection: scanned, filter: { pattern: '*0' } })).count)).toBe(120);
  });

  it('lists in creation order and filters by time', async () => {
    const created = await scanAll({ collection: scanned, order: ScanOrder.CREATED, limit: 3n });
    expect(created.keys).toEqual(['n/0000', 'n/0001', 'n/0002']);
    const { record } = await api.records.getRecord({ collection: scanned, key: 'n/0000' });
    const at = record?.createdUs ?? 0n;
    expect(Number((await api.records.count({ collection: scanned, filter: { createdBeforeUs: at } })).count)).toBe(0);
    expect(Number((await api.records.count({ collection: scanned, filter: { createdAfterUs: at } })).count)).toBe(1207);
  });

  it('streams values in chunks and honours keys-only', async () => {
    const page = await scanAll({ collection: scanned, filter: { prefix: 'n/' } });
    expect(page.chunks).toBeGreaterThan(2);
    for await (const chunk of api.records.scan({ collection: scanned, filter: { prefix: 'lit/' }, keysOnly: true })) {
      for (const r of chunk.records) {
        expect(r.value.byteLength).toBe(0);
        expect(r.size).toBe(BigInt(`v:${r.key}`.length));
      }
    }
  });

  it('reads pages of SCAN_PAGE_ROWS rows and at most SCAN_PAGE_BYTES of values', async () => {
    const paged = { space: 'default', collection: 'paged' };
    await api.collections.createCollection({ collection: paged });
    const keys = Array.from({ length: 40 }, (_, i) => `p/${String(i).padStart(2, '0')}`);
    await api.records.batchPut({
      collection: paged,
      entries: keys.map((key) => ({ key, value: Buffer.alloc(300, key) })),
    });
    // A row comes with its value while the values before it in the page hold under
    // SCAN_PAGE_BYTES: 4 of 300 bytes within 1024. A page that came back full is followed by
    // one more read, which finds the end (the empty last chunk).
    for (const [env, expected] of [
      [{ SCAN_PAGE_ROWS: '8' }, [8, 8, 8, 8, 8, 0]],
      [{ SCAN_PAGE_ROWS: '20', SCAN_PAGE_BYTES: '1024' }, Array.from({ length: 10 }, () => 4)],
    ] as const) {
      const small = await startTestApi({ db: api.db, env });
      try {
        const sizes: number[] = [];
        const read: string[] = [];
        for await (const chunk of small.records.scan({ collection: paged, filter: { prefix: 'p/' } })) {
          sizes.push(chunk.records.length);
          for (const r of chunk.records) {
            expect(Buffer.from(r.value).equals(Buffer.alloc(300, r.key))).toBe(true);
            read.push(r.key);
          }
        }
        expect(read).toEqual(keys);
        expect(sizes).toEqual(expected);
      } finally {
        await small.close();
      }
    }
  });

  it('refuses scan page settings out of range', () => {
    expect(() => loadConfig({ SCAN_PAGE_ROWS: '0' })).toThrow(/SCAN_PAGE_ROWS/);
    expect(() => loadConfig({ SCAN_PAGE_ROWS: '10001' })).toThrow(/SCAN_PAGE_ROWS/);
    expect(() => loadConfig({ SCAN_PAGE_BYTES: '1023' })).toThrow(/SCAN_PAGE_BYTES/);
    expect(loadConfig({ SCAN_PAGE_ROWS: '64', SCAN_PAGE_BYTES: '65536' })).toMatchObject({
      SCAN_PAGE_ROWS: 64,
      SCAN_PAGE_BYTES: 65_536,
    });
  });

  it('refuses bad cursors and patterns', async () => {
    expect(await codeOf(scanAll({ collection: scanned, cursor: 'not-a-cursor' }))).toBe('INVALID_CURSOR');
    const keyCursor = (await scanAll({ collection: scanned, limit: 1n })).cursor;
    expect(await codeOf(scanAll({ collection: scanned, cursor: keyCursor, order: ScanOrder.CREATED }))).toBe(
      'INVALID_CURSOR',
    );
    expect(await codeOf(scanAll({ collection: scanned, filter: { pattern: 'a\\' } }))).toBe('INVALID_PATTERN');
  });

  it('deletes matching records in bounded batches', async () => {
    const first = await api.records.deleteMatching({ collection: scanned, filter: { prefix: 'n/00' }, batchSize: 60 });
    expect(first).toMatchObject({ deleted: 60n, more: true });
    const second = await api.records.deleteMatching({ collection: scanned, filter: { prefix: 'n/00' }, batchSize: 60 });
    expect(second).toMatchObject({ deleted: 40n, more: false });
    expect(Number((await api.records.count({ collection: scanned, filter: { prefix: 'n/' } })).count)).toBe(1100);
    expect((await api.records.getRecord({ collection: scanned, key: 'n/0001' })).record).toBeUndefined();
  });
});

describe('revisions of one key', () => {
  it('grow in commit order, however writes and deletes race', async () => {
    const raced = { space: 'default', collection: 'raced' };
    await api.collections.createCollection({ collection: raced });
    const wrong: string[] = [];
    for (let round = 0; round < 150; round++) {
      const key = `k${round % 3}`;
      const ops = await Promise.all([
        ...[1, 2, 3].map((n) =>
          api.records
            .putRecord({ collection: raced, key, value: bytes(`${round}:${n}`) })
            .then((r) => ({ op: 'put', revision: r.record?.revision ?? 0n })),
        ),
        api.records.deleteRecord({ collection: raced, key }).then((r) => ({ op: 'delete', revision: r.revision })),
      ]);
      const last = ops.reduce((a, b) => (b.revision > a.revision ? b : a));
      const { record } = await api.records.getRecord({ collection: raced, key });
      // The operation that committed last decides the state, and it must hold the highest revision.
      if (last.op === 'put' && record?.revision !== last.revision) {
        wrong.push(`round ${round}: highest is a put at ${last.revision}, the key is at ${record?.revision}`);
      }
      if (last.op === 'delete' && record !== undefined && record.revision < last.revision) {
        wrong.push(`round ${round}: deleted at ${last.revision}, yet the key is at ${record.revision}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
