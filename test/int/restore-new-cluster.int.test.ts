import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { startTestApi } from '../support/api';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { postgresTool, startPrivatePostgres, type PrivatePostgres } from '../support/private-services';

/**
 * A store restored into a new Postgres cluster, whose transaction ids start below the dump's
 * (docs/operations.md, Restore, step 3): the record service refuses to start on it, saying
 * what to do, rather than serve a change feed that hides the restored events and sorts new ones
 * before them; once the cluster's ids are moved on with pg_resetwal, it starts, and the feed
 * holds the restored events followed by the new ones.
 */

const run = promisify(execFile);
const enc = new TextEncoder();
const SEGMENT = 1n << 20n;

let source: TestDatabase;
let target: PrivatePostgres;
let dir: string;

beforeAll(async () => {
  [source, target, dir] = await Promise.all([
    createTestDatabase(),
    startPrivatePostgres(),
    mkdtemp(join(tmpdir(), 'rosetta-restore-')),
  ]);
});

afterAll(async () => {
  await source?.drop();
  await target?.destroy();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/** One value of `sql` on the database at `url`. */
async function scalar(url: string, sql: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ value: string }>(sql);
    return rows[0]?.value ?? '';
  } finally {
    await client.end();
  }
}

const nextXid = (url: string) => scalar(url, 'SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS value');

it('refuses a feed ahead of the cluster, and serves it whole once pg_resetwal moved the ids on', async () => {
  // The source's ids must be ahead of the new cluster's, as any long-lived cluster's are.
  const behind = BigInt(await nextXid(target.url)) + 2000n - BigInt(await nextXid(source.url));
  if (behind > 0n) {
    await scalar(
      source.url,
      `DO $$ BEGIN CREATE TEMP TABLE burn (n int);
         FOR i IN 1..${behind} LOOP BEGIN INSERT INTO burn VALUES (i); EXCEPTION WHEN OTHERS THEN NULL; END; END LOOP;
       END $$`,
    );
  }
  const before = await startTestApi({ db: source });
  const notes = { space: 'default', collection: 'notes' };
  await before.collections.createCollection({ collection: notes });
  await before.records.batchPut({
    collection: notes,
    entries: ['a', 'b', 'c'].map((key) => ({ key, value: enc.encode(key), contentType: 'text/plain' })),
  });
  await before.close();

  const file = join(dir, 'rosetta.dump');
  await run(postgresTool('pg_dump'), ['--format=custom', '--no-owner', `--file=${file}`, source.url]);
  await run(postgresTool('pg_restore'), ['--no-owner', '--exit-on-error', `--dbname=${target.url}`, file]);
  const restored: TestDatabase = { name: 'rosetta', url: target.url, drop: () => Promise.resolve() };

  await expect(startTestApi({ db: restored })).rejects.toThrow(/restored into another cluster.*pg_resetwal -x/s);

  // The documented step: the next multiple of 2^20 above the newest id, with its epoch.
  const newest = BigInt(await scalar(target.url, 'SELECT max(txid)::text AS value FROM change_events'));
  const next = (newest / SEGMENT + 1n) * SEGMENT;
  await target.stop();
  await target.resetWal('-x', String(next & 0xffffffffn), '-e', String(next >> 32n));
  await target.start();

  const after = await startTestApi({ db: restored });
  try {
    await after.records.putRecord({ collection: notes, key: 'd', value: enc.encode('d'), contentType: 'text/plain' });
    const page = await after.changes.readChanges({ after: '', limit: 100 });
    // The collection's creation (no key), the restored writes, then the new one.
    expect(page.events.filter((e) => e.collection === 'notes').map((e) => e.key)).toEqual(['', 'a', 'b', 'c', 'd']);
  } finally {
    await after.close();
  }
}, 60_000);
