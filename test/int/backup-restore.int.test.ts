import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startTestApi, type TestApi } from '../support/api';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { wireCodeOf } from '../support/errors';
import { expectEventually } from '../support/expect-eventually';
import { postgresTool } from '../support/private-services';

/**
 * Backup and restore of the whole store as docs/operations.md describes it: pg_dump (custom
 * format, --no-owner) of a store that takes writes meanwhile, pg_restore into a new database, a
 * record service on it with an empty cache. What was acknowledged before the dump began is
 * there with its value, the dump is one consistent moment, revisions go on above every restored
 * one, the change feed resumes from a position taken before the backup, and tokens and
 * passwords still authenticate.
 */

const run = promisify(execFile);
const enc = new TextEncoder();
const dec = new TextDecoder();
const WRITERS = 4;

const valueOf = (key: string) => `value of ${key}`;

type Ref = { space: string; collection: string; version?: string };

async function contents(api: TestApi, collection: Ref): Promise<Map<string, string>> {
  const values = new Map<string, string>();
  for await (const chunk of api.records.scan({ collection })) {
    for (const record of chunk.records) values.set(record.key, dec.decode(record.value));
  }
  return values;
}

let source: TestDatabase;
let restored: TestDatabase;
let dir: string;
let api: TestApi;
let after: TestApi;

beforeAll(async () => {
  source = await createTestDatabase();
  restored = await createTestDatabase({ empty: true });
  dir = await mkdtemp(join(tmpdir(), 'rosetta-backup-'));
  api = await startTestApi({ db: source });
});

afterAll(async () => {
  await after?.close();
  await api?.close();
  await source?.drop();
  await restored?.drop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

it('restores every acknowledged write, the revision sequence, the change feed and the credentials', async () => {
  // Accounts and credentials.
  await api.admin.createAccount({ name: 'backup-alice', password: 'backup-alice-password' });
  const { secret } = await api.admin.createToken({ account: { name: 'backup-alice' }, name: 'backup' });

  // An unversioned collection, and a versioned one with a committed root and a child version.
  const notes = { space: 'default', collection: 'notes' };
  await api.collections.createCollection({ collection: notes });
  const noteKeys = Array.from({ length: 300 }, (_, i) => `note/${String(i).padStart(3, '0')}`);
  await api.records.batchPut({
    collection: notes,
    entries: noteKeys.map((key) => ({ key, value: enc.encode(valueOf(key)), contentType: 'text/plain' })),
    omitRecords: true,
  });
  const docs = await api.collections.createCollection({
    collection: { space: 'default', collection: 'docs' },
    versioned: true,
  });
  const rootVersion = docs.collection?.rootVersion ?? '';
  const atRoot: Ref = { space: 'default', collection: 'docs', version: rootVersion };
  await api.records.putRecord({ collection: atRoot, key: 'readme', value: enc.encode('first draft') });
  await api.records.putRecord({ collection: atRoot, key: 'gone', value: enc.encode('deleted in the child') });
  await api.versions.commit({ node: { space: 'default', version: rootVersion }, note: 'v1' });
  const { node } = await api.versions.newVersion({ parent: { space: 'default', version: rootVersion } });
  const atChild: Ref = { space: 'default', collection: 'docs', version: node?.uuid ?? '' };
  await api.records.putRecord({ collection: atChild, key: 'readme', value: enc.encode('second draft') });
  await api.records.deleteRecord({ collection: atChild, key: 'gone' });

  // A reader's position in the feed, taken before the backup.
  const { position: mark } = await api.changes.tailPosition({});

  // Writers that keep going while the dump runs; each writes its keys one after the other.
  const live = { space: 'default', collection: 'live' };
  await api.collections.createCollection({ collection: live });
  const acknowledged = new Map<string, string>();
  let writing = true;
  const writers = Array.from({ length: WRITERS }, async (_, writer) => {
    for (let i = 0; writing; i++) {
      const key = `w${writer}/${String(i).padStart(6, '0')}`;
      await api.records.putRecord({ collection: live, key, value: enc.encode(valueOf(key)) });
      acknowledged.set(key, valueOf(key));
    }
  });
  while (acknowledged.size < 200) await new Promise((resolve) => setTimeout(resolve, 10));

  const file = join(dir, 'rosetta.dump');
  const beforeDump = new Map(acknowledged);
  try {
    await run(postgresTool('pg_dump'), ['--format=custom', '--no-owner', `--file=${file}`, source.url]);
  } finally {
    writing = false;
    await Promise.all(writers);
  }
  // The dump ran under load: writes were acknowledged while it read.
  expect(acknowledged.size).toBeGreaterThan(beforeDump.size);

  await run(postgresTool('pg_restore'), ['--no-owner', '--exit-on-error', `--dbname=${restored.url}`, file]);
  // A new cache prefix: a restored store never trusts the cache of the old one.
  after = await startTestApi({ db: restored });

  // Everything acknowledged before the dump began, with its value.
  expect(await contents(after, notes)).toEqual(new Map(noteKeys.map((key) => [key, valueOf(key)])));
  expect(await contents(after, atRoot)).toEqual(
    new Map([
      ['gone', 'deleted in the child'],
      ['readme', 'first draft'],
    ]),
  );
  expect(await contents(after, atChild)).toEqual(new Map([['readme', 'second draft']]));
  const restoredLive = await contents(after, live);
  for (const [key, value] of beforeDump) expect(restoredLive.get(key)).toBe(value);
  // One moment: of each writer's keys, the restore holds the first n, with no gap, and only
  // values a writer sent.
  for (let writer = 0; writer < WRITERS; writer++) {
    const keys = [...restoredLive.keys()].filter((key) => key.startsWith(`w${writer}/`)).sort();
    expect(keys).toEqual(keys.map((_, i) => `w${writer}/${String(i).padStart(6, '0')}`));
  }
  for (const [key, value] of restoredLive) expect(value).toBe(valueOf(key));

  // Revisions go on above every restored one.
  const { rows } = await after.runtime.db.query<{ newest: number }>(
    `SELECT greatest((SELECT max(revision) FROM records), (SELECT max(revision) FROM change_events),
                     (SELECT max(revision) FROM collections)) AS newest`,
  );
  const newest = rows[0]?.newest ?? Infinity;
  const put = await after.records.putRecord({ collection: notes, key: 'after-restore', value: enc.encode('new') });
  expect(Number(put.record?.revision)).toBeGreaterThan(newest);

  // The feed resumes where a reader left off before the backup, and goes on with new writes.
  const events = await expectEventually(async () => {
    const read: { key: string; revision: bigint }[] = [];
    let position = mark;
    for (;;) {
      const page = await after.changes.readChanges({ after: position, limit: 1000 });
      read.push(...page.events.map(({ key, revision }) => ({ key, revision })));
      if (page.events.length === 0) break;
      position = page.position;
    }
    expect(read.at(-1)?.key).toBe('after-restore');
    return read;
  });
  const fed = new Set(events.map((event) => event.key));
  for (const key of restoredLive.keys()) expect(fed.has(key)).toBe(true);
  expect(fed.has('readme')).toBe(false);

  // Credentials: the token and the password.
  const byToken = await after.auth.authenticate({ credential: { kind: { case: 'token', value: secret } } });
  expect(byToken.principal?.account).toBe('backup-alice');
  const byPassword = await after.auth.authenticate({
    credential: { kind: { case: 'password', value: { name: 'backup-alice', password: 'backup-alice-password' } } },
  });
  expect(byPassword.principal?.account).toBe('backup-alice');
  const wrong = after.auth.authenticate({
    credential: { kind: { case: 'password', value: { name: 'backup-alice', password: 'wrong' } } },
  });
  expect(await wireCodeOf(wrong)).toBe('UNAUTHENTICATED');
}, 30_000);
