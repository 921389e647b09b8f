import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import request from 'supertest';
import { createApp } from '../../apps/gateway/src';
import type { EmbeddedRelay } from '../../apps/worker/src';
import { accountWithToken } from '../support/accounts';
import { silentLogger, startTestApi, type TestApi } from '../support/api';
import { TEST_ADMIN_TOKEN } from '../support/env';
import { expectEventually } from '../support/expect-eventually';
import { embeddedJobs, temporaryStore } from '../support/jobs';

// Jobs run asynchronously (the in-process runner looks every 20 ms); a loaded machine runs them slower.
jest.setTimeout(30_000);

/**
 * Snapshots through GraphQL over the real record service, with the worker's jobs run in process
 * on a snapshot store in a temporary directory: takeSnapshot, snapshot and snapshots,
 * downloadPath (served by /v1), restoreSnapshot into a new collection and over an existing one,
 * deleteSnapshot (index entry and object), schedules, the Job's snapshot fields, errors with
 * extensions.code, who may do what, and the cost of a page of snapshots. The runner runs only once
 * a test starts it, so the first snapshot stays CREATING until then.
 */

let api: TestApi;
let app: ReturnType<typeof createApp>;
let runner: EmbeddedRelay | undefined;
let directory: string;
let startRunner: () => void;

const admin = `Bearer ${TEST_ADMIN_TOKEN}`;
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;
const RECORDS = 60;

interface GraphQLReply {
  data?: Record<string, unknown> | null;
  errors?: Array<{ message: string; extensions?: { code?: string } }>;
}

interface SnapshotData {
  id: string;
  state: string;
  records: number;
  bytes: number;
  checksum: string | null;
  jobId: string;
  downloadPath: string | null;
  [field: string]: unknown;
}

interface JobData {
  id: string;
  kind: string;
  state: string;
  snapshotId: string | null;
  phase: string | null;
  [field: string]: unknown;
}

async function gql(query: string, variables: Record<string, unknown> = {}, auth = admin) {
  const res = await request(app)
    .post('/graphql')
    .set('content-type', 'application/json')
    .set('authorization', auth)
    .send({ query, variables });
  return res.body as GraphQLReply;
}

/** The data of a reply that must have no errors (as loosely typed as supertest's body: tests read it by path). */
async function data(query: string, variables: Record<string, unknown> = {}, auth = admin) {
  const res = await request(app)
    .post('/graphql')
    .set('content-type', 'application/json')
    .set('authorization', auth)
    .send({ query, variables });
  expect(res.body.errors).toBeUndefined();
  return res.body.data;
}

const codesOf = (reply: GraphQLReply) => (reply.errors ?? []).map((e) => e.extensions?.code);

const SNAPSHOT_FIELDS = `id space collection version state records bytes checksum jobId scheduleId created finished
  downloadPath`;
const JOB_FIELDS = 'id kind state collection snapshotId phase total done error { code }';
const TAKE = `mutation($input: TakeSnapshotInput!) {
  takeSnapshot(input: $input) { snapshot { ${SNAPSHOT_FIELDS} } job { ${JOB_FIELDS} } }
}`;
const SNAPSHOT = `query($space: String!, $id: ID!) { snapshot(space: $space, id: $id) { ${SNAPSHOT_FIELDS} } }`;
const LIST = `query($space: String!, $collection: String, $first: Int, $before: ID) {
  snapshots(space: $space, collection: $collection, first: $first, before: $before) { id collection }
}`;
const RESTORE = `mutation($input: RestoreSnapshotInput!) { restoreSnapshot(input: $input) { ${JOB_FIELDS} } }`;
const DELETE = `mutation($space: String!, $id: ID!) { deleteSnapshot(input: { space: $space, id: $id }) }`;
const JOB = `query($space: String!, $id: ID!) { job(space: $space, id: $id) { ${JOB_FIELDS} } }`;
const SCHEDULE = `mutation($input: ScheduleSnapshotsInput!) {
  scheduleSnapshots(input: $input) { id everySeconds keep created }
}`;
const SCHEDULES = `query($space: String!, $name: String!) {
  collection(space: $space, name: $name) { snapshotSchedules { id everySeconds keep } }
}`;
const UNSCHEDULE = `mutation($input: SnapshotScheduleInput!) { deleteSnapshotSchedule(input: $input) }`;
const RECORDS_OF = `query($name: String!) {
  collection(space: "default", name: $name) { records(first: 1000) { nodes { key contentType valueBase64 } } }
}`;

async function contents(name: string) {
  return (await data(RECORDS_OF, { name })).collection.records.nodes as unknown[];
}

async function finished(id: string, space = 'default'): Promise<JobData> {
  return expectEventually(
    async () => {
      const job = (await data(JOB, { space, id })).job as JobData;
      expect(['SUCCEEDED', 'FAILED', 'CANCELLED']).toContain(job.state);
      return job;
    },
    { timeoutMs: 20_000, intervalMs: 25 },
  );
}

async function take(collection: string, space = 'default', auth = admin) {
  return (await data(TAKE, { input: { space, collection } }, auth)).takeSnapshot as {
    snapshot: SnapshotData;
    job: JobData;
  };
}

/** Takes a snapshot and waits until it is ready. */
async function takeReady(collection: string, space = 'default', auth = admin): Promise<SnapshotData> {
  startRunner();
  const { snapshot, job } = await take(collection, space, auth);
  expect((await finished(job.id, space)).state).toBe('SUCCEEDED');
  return (await data(SNAPSHOT, { space, id: snapshot.id }, auth)).snapshot as SnapshotData;
}

async function fileOf(id: string): Promise<string> {
  const { snapshot } = await api.snapshots.getSnapshot({ space: 'default', id: BigInt(id) });
  return join(directory, snapshot?.object ?? '');
}

beforeAll(async () => {
  api = await startTestApi();
  const temporary = temporaryStore();
  directory = temporary.directory;
  startRunner = () => {
    runner ??= embeddedJobs(api, { deleteBatch: 25, store: temporary.store });
  };
  app = createApp({ api, logger: silentLogger, maxBodyBytes: 1024 * 1024, snapshots: temporary.store });
  for (const name of ['notes', 'other']) {
    await data(`mutation($name: String!) { createCollection(input: { space: "default", name: $name }) { name } }`, {
      name,
    });
  }
  await data(`mutation($input: PutRecordsInput!) { putRecords(input: $input) { createdCount } }`, {
    input: {
      space: 'default',
      collection: 'notes',
      records: Array.from({ length: RECORDS }, (_, i) =>
        i % 2 === 0
          ? { key: `n${String(i).padStart(3, '0')}`, value: `note ${i}` }
          : { key: `n${String(i).padStart(3, '0')}`, json: { i } },
      ),
    },
  });
});

afterAll(async () => {
  await runner?.stop();
  await api.close();
});

describe('a snapshot', () => {
  let first: SnapshotData;

  it('is taken by a job: the snapshot CREATING, without a downloadPath, and its job QUEUED', async () => {
    const { snapshot, job } = await take('notes');
    expect(snapshot).toEqual({
      id: expect.stringMatching(/^\d+$/),
      space: 'default',
      collection: 'notes',
      version: null,
      state: 'CREATING',
      records: 0,
      bytes: 0,
      checksum: null,
      jobId: job.id,
      scheduleId: null,
      created: expect.stringMatching(RFC3339),
      finished: null,
      downloadPath: null,
    });
    expect(job).toEqual({
      id: expect.stringMatching(/^\d+$/),
      kind: 'snapshot',
      state: 'QUEUED',
      collection: 'notes',
      snapshotId: snapshot.id,
      phase: null,
      total: RECORDS,
      done: 0,
      error: null,
    });
    expect((await data(SNAPSHOT, { space: 'default', id: snapshot.id })).snapshot).toEqual(snapshot);
    first = snapshot;
  });

  it('cannot be restored or deleted while it is being made', async () => {
    const restore = await gql(RESTORE, { input: { space: 'default', id: first.id, collection: 'early' } });
    const remove = await gql(DELETE, { space: 'default', id: first.id });
    expect([codesOf(restore), codesOf(remove)]).toEqual([['SNAPSHOT_NOT_READY'], ['SNAPSHOT_NOT_READY']]);
  });

  it('is READY once its job succeeded, with a downloadPath that /v1 serves', async () => {
    startRunner();
    await finished(first.jobId);
    const ready = (await data(SNAPSHOT, { space: 'default', id: first.id })).snapshot as SnapshotData;
    expect(ready).toEqual({
      ...first,
      state: 'READY',
      records: RECORDS,
      bytes: expect.any(Number),
      checksum: expect.stringMatching(/^[0-9a-f]{64}$/),
      finished: expect.stringMatching(RFC3339),
      downloadPath: `/v1/spaces/default/snapshots/${first.id}/download`,
    });
    const res = await request(app)
      .get(ready.downloadPath ?? '')
      .set('authorization', admin)
      .buffer(true)
      .parse((stream, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => callback(null, Buffer.concat(chunks)));
      })
      .expect(200);
    expect((res.body as Buffer).byteLength).toBe(ready.bytes);
    const lines = gunzipSync(res.body as Buffer)
      .toString('utf8')
      .trimEnd()
      .split('\n');
    expect(lines).toHaveLength(RECORDS + 1);
    const checksum = createHash('sha256')
      .update(lines.slice(1).join('\n') + '\n')
      .digest('hex');
    expect([res.headers['x-checksum-sha256'], ready.checksum]).toEqual([checksum, checksum]);
    first = ready;
  });

  it('restores into a new collection, and over an existing one with replace', async () => {
    const job = (await data(RESTORE, { input: { space: 'default', id: first.id, collection: 'notes-copy' } }))
      .restoreSnapshot as JobData;
    expect(job).toMatchObject({
      kind: 'restore',
      state: 'QUEUED',
      collection: 'notes-copy',
      snapshotId: first.id,
      phase: 'write',
      total: RECORDS,
    });
    expect(await finished(job.id)).toMatchObject({ state: 'SUCCEEDED', phase: 'verify', done: RECORDS });
    expect(await contents('notes-copy')).toEqual(await contents('notes'));

    const taken = await gql(RESTORE, { input: { space: 'default', id: first.id, collection: 'notes-copy' } });
    expect(codesOf(taken)).toEqual(['COLLECTION_EXISTS']);

    await data(`mutation {
      deleteRecord(input: { space: "default", collection: "notes-copy", key: "n000" }) { deleted }
      putRecord(input: { space: "default", collection: "notes-copy", key: "zz", value: "extra" }) { created }
    }`);
    expect(await contents('notes-copy')).not.toEqual(await contents('notes'));
    const replace = (
      await data(RESTORE, { input: { space: 'default', id: first.id, collection: 'notes-copy', replace: true } })
    ).restoreSnapshot as JobData;
    expect((await finished(replace.id)).state).toBe('SUCCEEDED');
    expect(await contents('notes-copy')).toEqual(await contents('notes'));
  });
});

describe('listing', () => {
  it('lists a space’s snapshots newest first, by collection, page by page', async () => {
    const other = await takeReady('other');
    const all = (await data(LIST, { space: 'default' })).snapshots as Array<{ id: string; collection: string }>;
    expect(all.map((s) => s.collection)).toEqual(['other', 'notes']);
    expect(all[0]?.id).toBe(other.id);
    expect((await data(LIST, { space: 'default', collection: 'notes' })).snapshots).toEqual([all[1]]);
    expect((await data(LIST, { space: 'default', first: 1 })).snapshots).toEqual([all[0]]);
    expect((await data(LIST, { space: 'default', first: 1, before: all[0]?.id })).snapshots).toEqual([all[1]]);
    expect((await data(LIST, { space: 'default', first: 0 })).snapshots).toEqual([]);
    expect(codesOf(await gql(LIST, { space: 'default', first: -1 }))).toEqual(['BAD_USER_INPUT']);
    expect(codesOf(await gql(LIST, { space: 'default', before: 'x' }))).toEqual(['BAD_USER_INPUT']);
  });

  it('costs a page of snapshots as its size times what is asked of each', async () => {
    const fields = Array.from({ length: 26 }, (_, i) => `f${i}: id`).join(' ');
    const reply = await gql(`{ snapshots(space: "default", first: 1000) { ${fields} } }`);
    expect(codesOf(reply)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(reply.errors?.[0]?.message).toMatch(/estimated cost is 26001/);
  });
});

describe('errors', () => {
  it('answers null for snapshots that are not there, and codes for what cannot be done', async () => {
    expect(await gql(SNAPSHOT, { space: 'default', id: '999999' })).toEqual({ data: { snapshot: null } });
    expect(await gql(SNAPSHOT, { space: 'ghost', id: '1' })).toEqual({ data: { snapshot: null } });
    const unknown = [
      await gql(DELETE, { space: 'default', id: '999999' }),
      await gql(RESTORE, { input: { space: 'default', id: '999999', collection: 'x' } }),
    ];
    expect(unknown.map(codesOf)).toEqual([['SNAPSHOT_NOT_FOUND'], ['SNAPSHOT_NOT_FOUND']]);
    for (const id of ['x', '-1', '1.5']) {
      expect([id, codesOf(await gql(SNAPSHOT, { space: 'default', id }))]).toEqual([id, ['BAD_USER_INPUT']]);
      expect([id, codesOf(await gql(DELETE, { space: 'default', id }))]).toEqual([id, ['BAD_USER_INPUT']]);
    }
    const ghost = await gql(TAKE, { input: { space: 'default', collection: 'ghost' } });
    expect(codesOf(ghost)).toEqual(['COLLECTION_NOT_FOUND']);
  });
});

describe('deleting', () => {
  it('deletes the index entry and the object', async () => {
    const snapshot = await takeReady('notes');
    const file = await fileOf(snapshot.id);
    expect(existsSync(file)).toBe(true);
    expect(await data(DELETE, { space: 'default', id: snapshot.id })).toEqual({ deleteSnapshot: true });
    expect(existsSync(file)).toBe(false);
    expect(await gql(SNAPSHOT, { space: 'default', id: snapshot.id })).toEqual({ data: { snapshot: null } });
    expect(codesOf(await gql(DELETE, { space: 'default', id: snapshot.id }))).toEqual(['SNAPSHOT_NOT_FOUND']);
  });

  it('answers UNAVAILABLE on a gateway without a store, and deletes nothing', async () => {
    const snapshot = await takeReady('notes');
    const storeless = createApp({ api, logger: silentLogger, maxBodyBytes: 1024 * 1024 });
    const res = await request(storeless)
      .post('/graphql')
      .set('authorization', admin)
      .send({ query: DELETE, variables: { space: 'default', id: snapshot.id } });
    expect(codesOf(res.body as GraphQLReply)).toEqual(['UNAVAILABLE']);
    expect((await data(SNAPSHOT, { space: 'default', id: snapshot.id })).snapshot).toEqual(snapshot);
    expect(existsSync(await fileOf(snapshot.id))).toBe(true);
    await storeless.close();
  });
});

describe('schedules', () => {
  const input = { space: 'default', collection: 'notes' };

  it('schedules snapshots of a collection, lists and removes the schedules', async () => {
    const schedule = (await data(SCHEDULE, { input: { ...input, everySeconds: 3600, keep: 5 } })).scheduleSnapshots as {
      id: string;
    };
    expect(schedule).toEqual({
      id: expect.stringMatching(/^\d+$/),
      everySeconds: 3600,
      keep: 5,
      created: expect.stringMatching(RFC3339),
    });
    expect((await data(SCHEDULES, { space: 'default', name: 'notes' })).collection).toEqual({
      snapshotSchedules: [{ id: schedule.id, everySeconds: 3600, keep: 5 }],
    });
    expect(await data(UNSCHEDULE, { input: { ...input, id: schedule.id } })).toEqual({ deleteSnapshotSchedule: true });
    expect((await data(SCHEDULES, { space: 'default', name: 'notes' })).collection).toEqual({ snapshotSchedules: [] });
    expect(codesOf(await gql(UNSCHEDULE, { input: { ...input, id: schedule.id } }))).toEqual(['SCHEDULE_NOT_FOUND']);
  });

  it('refuses schedules that break the rules', async () => {
    for (const [everySeconds, keep] of [
      [59, 5],
      [3600, 0],
      [3600, 1001],
    ]) {
      const reply = await gql(SCHEDULE, { input: { ...input, everySeconds, keep } });
      expect([everySeconds, keep, codesOf(reply)]).toEqual([everySeconds, keep, ['BAD_USER_INPUT']]);
    }
    expect((await data(SCHEDULES, { space: 'default', name: 'notes' })).collection).toEqual({ snapshotSchedules: [] });
  });
});

describe('access', () => {
  it('lets readers see snapshots and schedules, only writers restore, delete and schedule, and nobody else', async () => {
    const owner = await accountWithToken(app, 'olive');
    const reader = await accountWithToken(app, 'rita');
    const mallory = await accountWithToken(app, 'mallory');
    await request(app).post('/v1/spaces').set('authorization', owner).send({ name: 'snap-team' }).expect(201);
    await data(`mutation { createCollection(input: { space: "snap-team", name: "c" }) { name } }`, {}, owner);
    await request(app)
      .put('/v1/spaces/snap-team/members/rita')
      .set('authorization', owner)
      .send({ role: 'reader' })
      .expect(200);
    const snapshot = await takeReady('c', 'snap-team', owner);
    const ref = { space: 'snap-team', id: snapshot.id };

    expect((await data(SNAPSHOT, ref, reader)).snapshot).toEqual(snapshot);
    expect((await data(LIST, { space: 'snap-team' }, reader)).snapshots).toEqual([
      { id: snapshot.id, collection: 'c' },
    ]);
    expect((await data(SCHEDULES, { space: 'snap-team', name: 'c' }, reader)).collection).toEqual({
      snapshotSchedules: [],
    });
    const refused = [
      await gql(DELETE, ref, reader),
      await gql(RESTORE, { input: { ...ref, collection: 'c2' } }, reader),
      await gql(SCHEDULE, { input: { space: 'snap-team', collection: 'c', everySeconds: 60, keep: 1 } }, reader),
    ];
    expect(refused.map(codesOf)).toEqual([['FORBIDDEN'], ['FORBIDDEN'], ['FORBIDDEN']]);
    expect((await data(SNAPSHOT, ref, owner)).snapshot).toEqual(snapshot);

    expect(await gql(SNAPSHOT, ref, mallory)).toEqual({ data: { snapshot: null } });
    const hidden = [
      await gql(LIST, { space: 'snap-team' }, mallory),
      await gql(DELETE, ref, mallory),
      await gql(RESTORE, { input: { ...ref, collection: 'mine' } }, mallory),
    ];
    expect(hidden.map(codesOf)).toEqual([['SPACE_NOT_FOUND'], ['SPACE_NOT_FOUND'], ['SPACE_NOT_FOUND']]);
  });
});
