import type { MessageInitShape } from '@bufbuild/protobuf';
import type { Client } from '@connectrpc/connect';
import {
  AdminService,
  createDirectClient,
  GRANT_HEADER,
  JobService,
  withHeaders,
  type CredentialSchema,
  type Job,
  type ScopeSchema,
} from '../../packages/proto/src';
import { startTestApi, type TestApi } from '../support/api';
import { TEST_ADMIN_TOKEN } from '../support/env';
import { wireCodeOf as codeOf } from '../support/errors';

/**
 * The JobService contract against the real record service (direct binding, real Postgres): bulk
 * deletes created, run step by step as the worker runs them, cancelled, failed, and who may do
 * what. The worker's side (BullMQ, crashes) has its own tests.
 */

let api: TestApi;
const SPACE = 'jobs-team';
const enc = new TextEncoder();

type Jobs = Client<typeof JobService>;
type CredentialInit = MessageInitShape<typeof CredentialSchema>;

function jobsAs(credential: CredentialInit): Jobs {
  return withHeaders(JobService, createDirectClient(JobService, api.runtime.impls.jobs), async () => {
    const { grant } = await api.auth.authenticate({ credential });
    return { [GRANT_HEADER]: grant };
  });
}

const password = (name: string): CredentialInit => ({
  kind: { case: 'password', value: { name, password: `${name}-password` } },
});

async function tokenOf(name: string, scopes: MessageInitShape<typeof ScopeSchema>[]): Promise<CredentialInit> {
  const { secret } = await api.admin.createToken({ account: { name }, name: 'scoped', scopes });
  return { kind: { case: 'token', value: secret } };
}

const ref = (collection: string, space = SPACE) => ({ space, collection });
/** Each collection's root version, by name. */
const root = new Map<string, string>();

/** Commits `version` and branches a child from it; answers the child's UUID. */
async function childOf(version: string): Promise<string> {
  await api.versions.commit({ node: { space: SPACE, version }, note: 'done' });
  const { node } = await api.versions.newVersion({ parent: { space: SPACE, version } });
  return node?.uuid ?? '';
}

/** A collection holding `keys`, written in batches. */
async function collectionWith(name: string, keys: readonly string[], versioned = false) {
  const c = ref(name);
  const { collection } = await api.collections.createCollection({ collection: c, versioned });
  root.set(name, collection?.rootVersion ?? '');
  for (let i = 0; i < keys.length; i += 500) {
    await api.records.batchPut({
      collection: c,
      entries: keys.slice(i, i + 500).map((key) => ({ key, value: enc.encode(`v-${key}`) })),
      omitRecords: true,
    });
  }
  return c;
}

const range = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(4, '0')}`);

async function keysOf(c: { space: string; collection: string; version?: string }): Promise<string[]> {
  const keys: string[] = [];
  for await (const chunk of api.records.scan({ collection: c, keysOnly: true })) {
    keys.push(...chunk.records.map((r) => r.key));
  }
  return keys;
}

/** Runs steps as the worker does until the job finishes; answers every step's job. */
async function runToEnd(id: bigint, batchSize: number): Promise<Job[]> {
  const seen: Job[] = [];
  for (;;) {
    const { job } = await api.jobs.runJobStep({ id, batchSize });
    if (job === undefined) throw new Error('a step answered no job');
    seen.push(job);
    if (['succeeded', 'failed', 'cancelled'].includes(job.state)) return seen;
  }
}

async function deleteEvents(c: { space: string; collection: string }): Promise<string[]> {
  const keys: string[] = [];
  let after = '';
  for (;;) {
    const page = await api.changes.readCollectionChanges(
      after === '' ? { collection: c, afterRevision: 0n, limit: 1000 } : { collection: c, after, limit: 1000 },
    );
    keys.push(...page.events.filter((e) => e.op === 'delete').map((e) => e.key));
    if (page.events.length === 0) return keys;
    after = page.position;
  }
}

let writer: Jobs;
let reader: Jobs;
let stranger: Jobs;

beforeAll(async () => {
  api = await startTestApi();
  for (const name of ['wanda', 'rory', 'sid']) {
    await api.admin.createAccount({ name, password: `${name}-password` });
  }
  const admin = withHeaders(AdminService, createDirectClient(AdminService, api.runtime.impls.admin), async () => {
    const { grant } = await api.auth.authenticate({ credential: { kind: { case: 'token', value: TEST_ADMIN_TOKEN } } });
    return { [GRANT_HEADER]: grant };
  });
  await admin.createSpace({ name: SPACE });
  await api.admin.setMember({ space: SPACE, account: { name: 'wanda' }, role: 'writer' });
  await api.admin.setMember({ space: SPACE, account: { name: 'rory' }, role: 'reader' });
  writer = jobsAs(password('wanda'));
  reader = jobsAs(password('rory'));
  stranger = jobsAs(password('sid'));
});

afterAll(() => api.close());

describe('a bulk delete', () => {
  it('deletes what matched when it was created, step by step, each record with its change event', async () => {
    const c = await collectionWith('steps', [...range('tmp/', 53), ...range('keep/', 10)]);
    const before = Date.now() * 1000;
    const { job } = await writer.startDeleteJob({ collection: c, filter: { prefix: 'tmp/' } });
    expect(job).toMatchObject({
      kind: 'delete',
      state: 'queued',
      space: SPACE,
      collection: 'steps',
      version: '',
      done: 0n,
      total: 53n,
      createdBy: 'wanda',
      startedUs: 0n,
      finishedUs: 0n,
      errorCode: '',
    });
    expect(job?.filter?.prefix).toBe('tmp/');
    expect(Number(job?.createdUs)).toBeGreaterThanOrEqual(before - 5_000_000);
    // Written after the job was created: not the job's, though it matches.
    await api.records.putRecord({ collection: c, key: 'tmp/late', value: enc.encode('late') });

    const steps = await runToEnd(job?.id ?? 0n, 10);
    expect(steps.map((s) => Number(s.done))).toEqual([10, 20, 30, 40, 50, 53]);
    expect(steps.slice(0, -1).every((s) => s.state === 'running')).toBe(true);
    const last = steps[steps.length - 1];
    expect(last).toMatchObject({ state: 'succeeded', done: 53n, total: 53n });
    expect(Number(last?.startedUs)).toBeGreaterThan(0);
    expect(Number(last?.finishedUs)).toBeGreaterThanOrEqual(Number(last?.startedUs));

    expect(await keysOf(c)).toEqual(['keep/0000', ...range('keep/', 10).slice(1), 'tmp/late']);
    expect((await deleteEvents(c)).sort()).toEqual(range('tmp/', 53));
    // A finished job's step changes nothing.
    const again = await api.jobs.runJobStep({ id: job?.id ?? 0n, batchSize: 10 });
    expect(again.job).toMatchObject({ state: 'succeeded', done: 53n });
  });

  it('takes patterns, ranges and time bounds, as scans and counts do', async () => {
    const c = await collectionWith('shapes', ['a/1.tmp', 'a/2.txt', 'b/3.tmp', 'c/4.tmp', 'c/5%tmp']);
    const { job } = await api.jobs.startDeleteJob({
      collection: c,
      filter: { pattern: '*.tmp', start: 'a', end: 'b~' },
    });
    expect(job?.total).toBe(2n);
    await runToEnd(job?.id ?? 0n, 1);
    expect(await keysOf(c)).toEqual(['a/2.txt', 'c/4.tmp', 'c/5%tmp']);

    const future = BigInt(Date.now() + 3_600_000) * 1000n;
    const { job: none } = await api.jobs.startDeleteJob({ collection: c, filter: { createdAfterUs: future } });
    const [only] = await runToEnd(none?.id ?? 0n, 100);
    expect(only).toMatchObject({ state: 'succeeded', done: 0n, total: 0n });
    expect(await keysOf(c)).toHaveLength(3);
  });

  it('counts each record once when two workers run the same job at once', async () => {
    const c = await collectionWith('racing', range('k', 400));
    const { job } = await api.jobs.startDeleteJob({ collection: c, filter: {} });
    const id = job?.id ?? 0n;
    const [a, b] = await Promise.all([runToEnd(id, 7), runToEnd(id, 11)]);
    const final = [...(a ?? []), ...(b ?? [])].reduce((max, s) => (s.done > max ? s.done : max), 0n);
    expect(final).toBe(400n);
    expect((await api.jobs.getJob({ space: SPACE, id })).job).toMatchObject({ state: 'succeeded', done: 400n });
    expect(await keysOf(c)).toEqual([]);
    expect(await deleteEvents(c)).toHaveLength(400);
  });

  it('sizes a job past JOB_EXACT_COUNT_LIMIT by the planner, and still deletes every record', async () => {
    const c = await collectionWith('estimated', range('e', 400));
    const v = await collectionWith('estimated-versioned', range('w', 300), true);
    await api.runtime.db.query('ANALYZE records');
    const small = await startTestApi({ db: api.db, env: { JOB_EXACT_COUNT_LIMIT: '100' } });
    try {
      // 101 rows counted, then the planner's figure for all of them (never below what was counted).
      const { job } = await small.jobs.startDeleteJob({ collection: c, filter: {} });
      expect(job?.total).toBeGreaterThanOrEqual(101n);
      const { job: atVersion } = await small.jobs.startDeleteJob({
        collection: { ...v, version: root.get('estimated-versioned') ?? '' },
        filter: {},
      });
      expect(atVersion?.total).toBeGreaterThanOrEqual(101n);
      // Up to the limit the count is exact.
      const { job: few } = await small.jobs.startDeleteJob({ collection: c, filter: { prefix: 'e00' } });
      expect(few?.total).toBe(100n);
      const steps = await runToEnd(job?.id ?? 0n, 150);
      expect(steps[steps.length - 1]).toMatchObject({ state: 'succeeded', done: 400n });
      expect(await keysOf(c)).toEqual([]);
    } finally {
      await small.close();
    }
  });

  it('deletes at a version of a versioned collection, leaving its parent as it was', async () => {
    const c = await collectionWith('versioned', range('v', 30), true);
    const base = root.get('versioned') ?? '';
    const child = await childOf(base);
    const at = { ...c, version: child };
    const { job } = await api.jobs.startDeleteJob({ collection: at, filter: { start: 'v0010' } });
    expect(job).toMatchObject({ total: 20n, version: child });
    const steps = await runToEnd(job?.id ?? 0n, 6);
    expect(steps[steps.length - 1]).toMatchObject({ state: 'succeeded', done: 20n });
    expect(await keysOf(at)).toEqual(range('v', 10));
    expect(await keysOf({ ...c, version: base })).toEqual(range('v', 30));
  });
});

describe('cancelling and failing', () => {
  it('cancels between steps: nothing more is deleted, and a finished job cannot be cancelled', async () => {
    const c = await collectionWith('cancel', range('x', 50));
    const { job } = await writer.startDeleteJob({ collection: c, filter: {} });
    const id = job?.id ?? 0n;
    await api.jobs.runJobStep({ id, batchSize: 20 });
    const { job: cancelled } = await writer.cancelJob({ space: SPACE, id });
    expect(cancelled).toMatchObject({ state: 'cancelled', done: 20n });
    expect(Number(cancelled?.finishedUs)).toBeGreaterThan(0);
    const { job: after } = await api.jobs.runJobStep({ id, batchSize: 20 });
    expect(after).toMatchObject({ state: 'cancelled', done: 20n });
    expect(await keysOf(c)).toHaveLength(30);
    expect(await codeOf(writer.cancelJob({ space: SPACE, id }))).toBe('JOB_FINISHED');
  });

  it('fails a job whose collection was deleted, and one whose version was committed, with the reason', async () => {
    const gone = await collectionWith('gone', range('g', 5));
    const { job } = await api.jobs.startDeleteJob({ collection: gone, filter: {} });
    await api.collections.deleteCollection({ collection: gone });
    // A new collection under the same name is not the job's.
    const reborn = await collectionWith('gone', range('g', 5));
    const { job: failed } = await api.jobs.runJobStep({ id: job?.id ?? 0n, batchSize: 10 });
    expect(failed).toMatchObject({ state: 'failed', errorCode: 'COLLECTION_NOT_FOUND', done: 0n });
    expect(failed?.errorMessage).toContain('gone');
    expect(await keysOf(reborn)).toHaveLength(5);

    const v = await collectionWith('locked', range('l', 5), true);
    const at = { ...v, version: root.get('locked') ?? '' };
    const { job: lockedJob } = await api.jobs.startDeleteJob({ collection: at, filter: {} });
    await api.versions.commit({ node: { space: SPACE, version: at.version }, note: 'locked' });
    const { job: refused } = await api.jobs.runJobStep({ id: lockedJob?.id ?? 0n, batchSize: 10 });
    expect(refused).toMatchObject({ state: 'failed', errorCode: 'VERSION_LOCKED' });
    expect(await keysOf(at)).toHaveLength(5);
  });
});

describe('finding jobs', () => {
  it('lists newest first, by collection and state, page by page', async () => {
    const c = await collectionWith('listing', range('z', 3));
    const ids: bigint[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push((await api.jobs.startDeleteJob({ collection: c, filter: { prefix: `z000${i}` } })).job?.id ?? 0n);
    }
    await runToEnd(ids[0] ?? 0n, 10);
    const all = (await api.jobs.listJobs({ space: SPACE, collection: 'listing' })).jobs.map((j) => j.id);
    expect(all).toEqual([...ids].reverse());
    const queued = (await api.jobs.listJobs({ space: SPACE, collection: 'listing', state: 'queued' })).jobs;
    expect(queued.map((j) => j.id)).toEqual([ids[2], ids[1]]);
    const first = (await api.jobs.listJobs({ space: SPACE, collection: 'listing', limit: 2 })).jobs;
    const rest = (await api.jobs.listJobs({ space: SPACE, collection: 'listing', beforeId: first[1]?.id ?? 0n })).jobs;
    expect([...first, ...rest].map((j) => j.id)).toEqual(all);
    // The worker's view: unfinished jobs of every space, oldest first.
    const unfinished = (await api.jobs.unfinishedJobs({})).jobs.map((j) => j.id);
    expect(unfinished).toEqual(expect.arrayContaining([ids[1], ids[2]]));
    expect(unfinished).not.toContain(ids[0]);
    expect(unfinished.indexOf(ids[1] ?? 0n)).toBeLessThan(unfinished.indexOf(ids[2] ?? 0n));
  });

  it('refuses malformed requests with INVALID_ARGUMENT and unknown jobs with JOB_NOT_FOUND', async () => {
    const c = await collectionWith('bad-input', ['k']);
    expect(await codeOf(api.jobs.getJob({ space: SPACE, id: 0n }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(api.jobs.getJob({ space: SPACE, id: -3n }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(api.jobs.getJob({ space: SPACE, id: 2n ** 62n }))).toBe('JOB_NOT_FOUND');
    expect(await codeOf(api.jobs.getJob({ space: SPACE, id: 999_999_999n }))).toBe('JOB_NOT_FOUND');
    expect(await codeOf(api.jobs.runJobStep({ id: 999_999_999n }))).toBe('JOB_NOT_FOUND');
    expect(await codeOf(api.jobs.listJobs({ space: SPACE, state: 'done' }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(api.jobs.listJobs({ space: SPACE, limit: 1001 }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(api.jobs.startDeleteJob({ collection: c, filter: { pattern: 'a\\' } }))).toBe(
      'INVALID_PATTERN',
    );
    expect(await codeOf(api.jobs.startDeleteJob({ collection: ref('no-such') }))).toBe('COLLECTION_NOT_FOUND');
    const { job } = await api.jobs.startDeleteJob({ collection: c });
    expect(await codeOf(api.jobs.runJobStep({ id: job?.id ?? 0n, batchSize: 50_001 }))).toBe('INVALID_ARGUMENT');
    // Another space's job is not found through this one.
    expect(await codeOf(api.jobs.getJob({ space: 'another-space', id: job?.id ?? 0n }))).toBe('JOB_NOT_FOUND');
    expect((await api.jobs.listJobs({ space: SPACE, collection: 'bad-input' })).jobs).toHaveLength(1);
  });
});

describe('who may do what', () => {
  it('lets readers watch, writers start and cancel, and strangers see nothing', async () => {
    const c = await collectionWith('rights', range('r', 3));
    expect(await codeOf(reader.startDeleteJob({ collection: c }))).toBe('PERMISSION_DENIED');
    expect(await codeOf(stranger.startDeleteJob({ collection: c }))).toBe('SPACE_NOT_FOUND');
    const { job } = await writer.startDeleteJob({ collection: c });
    const id = job?.id ?? 0n;
    expect((await reader.getJob({ space: SPACE, id })).job?.id).toBe(id);
    expect((await reader.listJobs({ space: SPACE, collection: 'rights' })).jobs).toHaveLength(1);
    expect(await codeOf(reader.cancelJob({ space: SPACE, id }))).toBe('PERMISSION_DENIED');
    expect(await codeOf(stranger.getJob({ space: SPACE, id }))).toBe('SPACE_NOT_FOUND');
    expect(await codeOf(stranger.listJobs({ space: SPACE }))).toBe('SPACE_NOT_FOUND');
    // The worker's calls and the view of every space are for admins.
    expect(await codeOf(writer.listJobs({}))).toBe('PERMISSION_DENIED');
    expect(await codeOf(writer.unfinishedJobs({}))).toBe('PERMISSION_DENIED');
    expect(await codeOf(writer.runJobStep({ id }))).toBe('PERMISSION_DENIED');
    expect((await api.jobs.listJobs({})).jobs.map((j) => j.id)).toContain(id);
    expect((await api.jobs.getJob({ space: SPACE, id })).job?.state).toBe('queued');
  });

  it('keeps a key-scoped token within its keys: its filter is narrowed, broader jobs are hidden', async () => {
    const c = await collectionWith('scoped', [...range('mine/', 4), ...range('theirs/', 4)]);
    const token = jobsAs(
      await tokenOf('wanda', [{ space: SPACE, collection: 'scoped', keyPrefix: 'mine/', write: true }]),
    );
    const { job } = await token.startDeleteJob({ collection: c });
    expect(job?.filter?.prefix).toBe('mine/');
    expect(job?.total).toBe(4n);
    await runToEnd(job?.id ?? 0n, 100);
    expect(await keysOf(c)).toEqual(range('theirs/', 4));

    const { job: broad } = await writer.startDeleteJob({ collection: c });
    expect(await codeOf(token.getJob({ space: SPACE, id: broad?.id ?? 0n }))).toBe('PERMISSION_DENIED');
    expect(await codeOf(token.cancelJob({ space: SPACE, id: broad?.id ?? 0n }))).toBe('PERMISSION_DENIED');
    const listed = (await token.listJobs({ space: SPACE, collection: 'scoped' })).jobs.map((j) => j.id);
    expect(listed).toEqual([job?.id]);
  });
});
