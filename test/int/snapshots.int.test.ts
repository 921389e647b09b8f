import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { EmbeddedRelay } from '../../apps/worker/src';
import type { Job, Snapshot } from '../../packages/proto/src';
import { startTestApi, type TestApi } from '../support/api';
import { wireCodeOf as codeOf } from '../support/errors';
import { expectEventually } from '../support/expect-eventually';
import { embeddedJobs, temporaryStore } from '../support/jobs';

// Jobs run asynchronously (the in-process runner looks every 20 ms); a loaded machine runs them slower.
jest.setTimeout(30_000);

/**
 * Snapshots and restores against the real record service (Postgres) with the worker's jobs run
 * in process over a snapshot store in a temporary directory: what a snapshot holds (one instant
 * of the collection), its object and checksum, restores into a new collection and over an
 * existing one (byte for byte), corrupt and missing objects, schedules and their retention.
 */

const SPACE = 'default';
let api: TestApi;
let runner: EmbeddedRelay;
let directory: string;
let removeStore: () => void;
let collections = 0;

beforeAll(async () => {
  api = await startTestApi();
  const temporary = temporaryStore();
  directory = temporary.directory;
  removeStore = temporary.remove;
  runner = embeddedJobs(api, { deleteBatch: 50, store: temporary.store });
});

afterAll(async () => {
  await runner.stop();
  removeStore();
  await api.close();
});

const ref = (collection: string) => ({ space: SPACE, collection });

/** A record's value by its index: text, JSON and binary (every byte value) in turn. */
function valueOf(i: number): { value: Uint8Array; contentType: string } {
  if (i % 3 === 0) return { value: new TextEncoder().encode(`text ${i} ✓`), contentType: 'text/plain; charset=utf-8' };
  if (i % 3 === 1) return { value: new TextEncoder().encode(JSON.stringify({ i })), contentType: 'application/json' };
  return { value: Uint8Array.from({ length: 256 }, (_, b) => (b + i) % 256), contentType: 'application/octet-stream' };
}

async function collectionOf(n: number, prefix = 'k') {
  collections += 1;
  const c = ref(`snap-${collections}`);
  await api.collections.createCollection({ collection: c });
  for (let i = 0; i < n; i += 500) {
    const entries = [];
    for (let j = i; j < Math.min(n, i + 500); j++)
      entries.push({ key: `${prefix}${String(j).padStart(5, '0')}`, ...valueOf(j) });
    await api.records.batchPut({ collection: c, entries, omitRecords: true });
  }
  return c;
}

/** Every record of a collection: key, content type and value, in key order. */
async function contentsOf(c: { space: string; collection: string }) {
  const out: Array<{ key: string; contentType: string; value: string }> = [];
  for await (const chunk of api.records.scan({ collection: c })) {
    for (const r of chunk.records) {
      out.push({ key: r.key, contentType: r.contentType, value: Buffer.from(r.value).toString('base64') });
    }
  }
  return out;
}

async function finished(space: string, id: bigint): Promise<Job> {
  return expectEventually(
    async () => {
      const { job } = await api.jobs.getJob({ space, id });
      expect(['succeeded', 'failed', 'cancelled']).toContain(job?.state);
      return job as Job;
    },
    { timeoutMs: 30_000, intervalMs: 20 },
  );
}

async function snapshotOf(c: { space: string; collection: string }): Promise<Snapshot> {
  const { job, snapshot } = await api.snapshots.startSnapshot({ collection: c });
  expect(snapshot).toMatchObject({ state: 'creating', collection: c.collection });
  expect((await finished(SPACE, job?.id ?? 0n)).state).toBe('succeeded');
  const { snapshot: ready } = await api.snapshots.getSnapshot({ space: SPACE, id: snapshot?.id ?? 0n });
  return ready as Snapshot;
}

async function restore(snapshot: Snapshot, target: string, replace = false): Promise<Job> {
  const { job } = await api.snapshots.startRestore({
    snapshot: { space: SPACE, id: snapshot.id },
    target: ref(target),
    replace,
  });
  return finished(SPACE, job?.id ?? 0n);
}

describe('a snapshot', () => {
  it('stores the collection as gzipped NDJSON with its checksum, and restores byte for byte', async () => {
    const c = await collectionOf(1234);
    const snapshot = await snapshotOf(c);
    expect(snapshot).toMatchObject({ state: 'ready', records: 1234n, space: SPACE, collection: c.collection });
    expect(snapshot.checksum).toMatch(/^[0-9a-f]{64}$/);
    const file = join(directory, snapshot.object);
    expect(Number(snapshot.bytes)).toBe(readFileSync(file).byteLength);
    const lines = gunzipSync(readFileSync(file)).toString('utf8').trimEnd().split('\n');
    expect(JSON.parse(lines[0] as string)).toMatchObject({
      format: 'rosetta-snapshot',
      version: 1,
      collection: c.collection,
    });
    expect(lines).toHaveLength(1235);
    expect(JSON.parse(lines[3] as string)).toEqual({
      key: 'k00002',
      contentType: 'application/octet-stream',
      value: Buffer.from(valueOf(2).value).toString('base64'),
    });

    const job = await restore(snapshot, `${c.collection}-copy`);
    expect(job).toMatchObject({ state: 'succeeded', kind: 'restore', done: 1234n, total: 1234n, phase: 'verify' });
    expect(await contentsOf(ref(`${c.collection}-copy`))).toEqual(await contentsOf(c));
  });

  it('holds the collection as it was when the export began, whatever is written meanwhile', async () => {
    const c = await collectionOf(3000);
    const before = await contentsOf(c);
    const { job } = await api.snapshots.startSnapshot({ collection: c });
    const chunks = api.snapshots.exportSnapshot({ jobId: job?.id ?? 0n, chunkRecords: 100 })[Symbol.asyncIterator]();
    const seen: string[] = [];
    const first = await chunks.next();
    seen.push(...(first.value?.records.map((r: { key: string }) => r.key) ?? []));
    // Meanwhile: a new key, a changed value, a deleted key, at both ends of the key range.
    await api.records.putRecord({ collection: c, key: 'a-new', value: new Uint8Array([1]) });
    await api.records.putRecord({ collection: c, key: 'k02999', value: new Uint8Array([2]) });
    await api.records.deleteRecord({ collection: c, key: 'k02000' });
    const values = new Map<string, string>();
    for (let next = await chunks.next(); next.done !== true; next = await chunks.next()) {
      for (const r of next.value.records) {
        seen.push(r.key);
        values.set(r.key, Buffer.from(r.value).toString('base64'));
      }
    }
    expect(seen).toEqual(before.map((r) => r.key));
    expect(values.get('k02999')).toBe(before[2999]?.value);
  });

  it('copies a versioned collection as one version sees it', async () => {
    collections += 1;
    const c = ref(`snap-${collections}`);
    const { collection } = await api.collections.createCollection({ collection: c, versioned: true });
    const root = collection?.rootVersion ?? '';
    await api.records.batchPut({
      collection: { ...c, version: root },
      entries: ['a', 'b', 'c'].map((key) => ({ key, value: new TextEncoder().encode(`${key} at root`) })),
    });
    await api.versions.commit({ node: { space: SPACE, version: root }, note: 'base' });
    const { node } = await api.versions.newVersion({ parent: { space: SPACE, version: root } });
    const child = { ...c, version: node?.uuid ?? '' };
    await api.records.putRecord({ collection: child, key: 'b', value: new TextEncoder().encode('b at child') });
    await api.records.deleteRecord({ collection: child, key: 'c' });

    const { job, snapshot } = await api.snapshots.startSnapshot({ collection: { ...c, version: root } });
    expect(snapshot?.version).toBe(root);
    await finished(SPACE, job?.id ?? 0n);
    const atRoot = await api.snapshots.getSnapshot({ space: SPACE, id: snapshot?.id ?? 0n });
    expect(atRoot.snapshot?.records).toBe(3n);
    const atChild = await snapshotOf(child);
    expect(atChild).toMatchObject({ records: 2n, version: child.version });
    await restore(atChild, `${c.collection}-child`);
    expect(await contentsOf(ref(`${c.collection}-child`))).toEqual(await contentsOf(child));
  });

  it('restores over an existing collection: its records become exactly the snapshot', async () => {
    const c = await collectionOf(300);
    const snapshot = await snapshotOf(c);
    const target = await collectionOf(400);
    await api.records.putRecord({ collection: target, key: 'extra', value: new Uint8Array([9]) });
    const job = await restore(snapshot, target.collection, true);
    // 300 written, then the 101 records the snapshot does not hold deleted.
    expect(job).toMatchObject({ state: 'succeeded', done: 401n, total: 300n });
    expect(await contentsOf(target)).toEqual(await contentsOf(c));
  });

  it('refuses a corrupt or missing object before writing anything', async () => {
    const c = await collectionOf(120);
    const snapshot = await snapshotOf(c);
    const file = join(directory, snapshot.object);
    const bytes = readFileSync(file);
    const target = await collectionOf(5, 'keep-');
    const untouched = await contentsOf(target);

    writeFileSync(file, bytes.subarray(0, bytes.byteLength - 40));
    const cut = await restore(snapshot, target.collection, true);
    expect(cut).toMatchObject({ state: 'failed', errorCode: 'SNAPSHOT_CORRUPT', done: 0n });
    expect(await contentsOf(target)).toEqual(untouched);

    const lines = gunzipSync(bytes).toString('utf8').replace('"k00007"', '"k00007x"');
    writeFileSync(file, gzipSync(lines));
    const changed = await restore(snapshot, target.collection, true);
    expect(changed).toMatchObject({ state: 'failed', errorCode: 'SNAPSHOT_CORRUPT' });
    expect(changed.errorMessage).toContain('checksum');

    rmSync(file);
    const missing = await restore(snapshot, target.collection, true);
    expect(missing).toMatchObject({ state: 'failed', errorCode: 'SNAPSHOT_CORRUPT' });
    expect(missing.errorMessage).toContain('missing');
    expect(await contentsOf(target)).toEqual(untouched);
  });

  it('answers the errors of each call: unknown, not ready, taken names, bad ids', async () => {
    const c = await collectionOf(10);
    expect(await codeOf(api.snapshots.getSnapshot({ space: SPACE, id: 999_999n }))).toBe('SNAPSHOT_NOT_FOUND');
    expect(await codeOf(api.snapshots.getSnapshot({ space: SPACE, id: 0n }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(api.snapshots.startSnapshot({ collection: ref('no-such') }))).toBe('COLLECTION_NOT_FOUND');
    const { snapshot: creating, job } = await api.snapshots.startSnapshot({ collection: c });
    // Cancelled before it ran: the snapshot failed with it, and cannot be restored.
    await api.jobs.cancelJob({ space: SPACE, id: job?.id ?? 0n });
    const { snapshot: failed } = await api.snapshots.getSnapshot({ space: SPACE, id: creating?.id ?? 0n });
    expect(failed?.state).toBe('failed');
    expect(
      await codeOf(api.snapshots.startRestore({ snapshot: { space: SPACE, id: failed?.id ?? 0n }, target: ref('x1') })),
    ).toBe('SNAPSHOT_NOT_READY');
    const ready = await snapshotOf(c);
    expect(await codeOf(api.snapshots.startRestore({ snapshot: { space: SPACE, id: ready.id }, target: c }))).toBe(
      'COLLECTION_EXISTS',
    );
    expect(
      await codeOf(
        api.snapshots.startRestore({ snapshot: { space: SPACE, id: ready.id }, target: ref('nowhere'), replace: true }),
      ),
    ).toBe('COLLECTION_NOT_FOUND');
    const listed = (await api.snapshots.listSnapshots({ space: SPACE, collection: c.collection })).snapshots;
    expect(listed.map((s) => s.id)).toEqual([ready.id, failed?.id]);
    const { snapshot: removed } = await api.snapshots.deleteSnapshot({ space: SPACE, id: ready.id });
    expect(removed?.object).toBe(ready.object);
    expect(await codeOf(api.snapshots.getSnapshot({ space: SPACE, id: ready.id }))).toBe('SNAPSHOT_NOT_FOUND');
  });
});

describe('schedules', () => {
  it('validates schedules, and keeps the newest `keep` snapshots of each, deleting the older objects', async () => {
    const c = await collectionOf(20);
    expect(await codeOf(api.snapshots.scheduleSnapshots({ collection: c, everySeconds: 59, keep: 3 }))).toBe(
      'INVALID_ARGUMENT',
    );
    expect(await codeOf(api.snapshots.scheduleSnapshots({ collection: c, everySeconds: 3600, keep: 0 }))).toBe(
      'INVALID_ARGUMENT',
    );
    const { schedule } = await api.snapshots.scheduleSnapshots({ collection: c, everySeconds: 3600, keep: 2 });
    expect(schedule).toMatchObject({ everySeconds: 3600, keep: 2, collection: c.collection });
    expect((await api.snapshots.listSchedules({ collection: c })).schedules.map((s) => s.id)).toEqual([schedule?.id]);

    const made: Snapshot[] = [];
    for (let turn = 0; turn < 3; turn++) {
      const { snapshot } = await api.snapshots.runSchedule({ id: schedule?.id ?? 0n });
      expect(snapshot?.scheduleId).toBe(schedule?.id);
      await finished(SPACE, snapshot?.jobId ?? 0n);
      made.push(snapshot as Snapshot);
    }
    const kept = (await api.snapshots.listSnapshots({ space: SPACE, collection: c.collection })).snapshots;
    expect(kept.map((s) => s.id)).toEqual([made[2]?.id, made[1]?.id]);
    // The worker deletes the objects of expired snapshots once the job has ended, so the job may
    // be seen as succeeded a moment before the older object is gone.
    await expectEventually(() => expect(existsSync(join(directory, made[0]?.object ?? ''))).toBe(false));
    expect(existsSync(join(directory, made[2]?.object ?? ''))).toBe(true);

    await api.snapshots.deleteSchedule({ collection: c, id: schedule?.id ?? 0n });
    expect((await api.snapshots.runSchedule({ id: schedule?.id ?? 0n })).snapshot).toBeUndefined();
    expect(await codeOf(api.snapshots.deleteSchedule({ collection: c, id: schedule?.id ?? 0n }))).toBe(
      'SCHEDULE_NOT_FOUND',
    );
  });
});
