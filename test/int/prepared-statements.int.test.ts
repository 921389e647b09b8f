import type { Collection, PutInput } from '../../packages/core/src';
import { SqlCollectionsRepository } from '../../apps/api/src/db/collections-repository';
import { createPgClient, type PgSqlClient } from '../../apps/api/src/db/pg-client';
import { SqlRecordsRepository } from '../../apps/api/src/db/records-repository';
import { startTestApi, type TestApi } from '../support/api';

/**
 * The statements of the coalesced writes and of the batch reads are prepared once per
 * connection (their planning was a seventh of a coalesced PUT's statement). After five
 * executions Postgres may switch to a generic plan: batches of every size must still write and
 * read back exactly their own rows.
 */

let api: TestApi;
let sql: PgSqlClient;
let records: SqlRecordsRepository;
let collection: Collection;

beforeAll(async () => {
  api = await startTestApi();
  await api.collections.createCollection({ collection: { space: 'default', collection: 'prepared' } });
  // One connection: the session whose prepared statements the test reads.
  sql = createPgClient({
    connectionString: api.db.url,
    max: 1,
    orderedMax: 1,
    connectionTimeoutMs: 5000,
    statementTimeoutMs: 10_000,
    applicationName: 'prepared-statements-test',
  });
  records = new SqlRecordsRepository(sql);
  const found = await new SqlCollectionsRepository(sql).find('default', 'prepared');
  if (found === undefined) throw new Error('the collection was not created');
  collection = found;
});

afterAll(async () => {
  await sql?.close();
  await api?.close();
});

const entry = (key: string): PutInput => ({
  key,
  value: Buffer.from(`value of ${key}`),
  contentType: 'text/plain',
  condition: { kind: 'always' },
});

it('prepares the batch write and the batch reads, and keeps every batch size exact under a generic plan', async () => {
  const sizes = [3, 1, 7, 2, 12, 5, 9, 4, 1, 6];
  const written: string[] = [];
  for (const [round, size] of sizes.entries()) {
    const keys = Array.from({ length: size }, (_, i) => `r${round}/k${i}`);
    const outcome = await records.putBatch(collection, keys.map(entry));
    expect(outcome).toMatchObject({ kind: 'written', createdCount: size });
    if (outcome.kind !== 'written') continue;
    expect(outcome.records.map((r) => r.key)).toEqual(keys);
    written.push(...keys);
    // Reads of this round's keys, one absent key among them.
    const read = await records.getMany(collection, [...keys, `r${round}/absent`], true);
    expect(read.map((r) => [r.key, Buffer.from(r.value ?? new Uint8Array()).toString()]).sort()).toEqual(
      keys.map((k) => [k, `value of ${k}`]).sort(),
    );
    const heads = await records.getMany(collection, keys, false);
    expect(heads.map((r) => r.key).sort()).toEqual([...keys].sort());
    expect(heads.every((r) => r.value === undefined)).toBe(true);
  }

  const all = await records.getMany(collection, written, false);
  expect(all).toHaveLength(written.length);
  const { rows } = await sql.query<{ name: string }>('SELECT name FROM pg_prepared_statements ORDER BY name');
  expect(rows.map((r) => r.name)).toEqual(
    expect.arrayContaining(['records.get-many', 'records.head-many', 'records.put-many']),
  );
});
