import request from 'supertest';
import { createApp } from '../../apps/gateway/src';
import type { EmbeddedRelay } from '../../apps/worker/src';
import { embeddedJobs } from '../support/jobs';
import { silentLogger, startTestApi, type TestApi } from '../support/api';
import { accountWithToken } from '../support/accounts';
import { TEST_ADMIN_TOKEN } from '../support/env';
import { expectEventually } from '../support/expect-eventually';

// Jobs run asynchronously (the in-process runner looks every 20 ms); a loaded machine runs them slower.
jest.setTimeout(30_000);

/**
 * Bulk-delete jobs through GraphQL: startDeleteJob, job, jobs and cancelJob, deleteRecords
 * handing a large set to a job, progress as the worker's embedded runner makes it, errors with
 * extensions.code, and who may do what. The runner runs only once a test starts it, so a job
 * stays queued until then.
 */

let api: TestApi;
let app: ReturnType<typeof createApp>;
let runner: EmbeddedRelay | undefined;
/** Jobs queued before the runner starts: one to succeed, one whose collection goes away. */
let queued: JobData;
let gone: JobData;

const admin = `Bearer ${TEST_ADMIN_TOKEN}`;
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

interface GraphQLReply {
  data?: Record<string, unknown> | null;
  errors?: Array<{ message: string; path?: string[]; extensions?: { code?: string } }>;
}

interface JobData {
  id: string;
  state: string;
  done: number;
  total: number;
  fraction: number;
  ratePerSecond: number | null;
  etaSeconds: number | null;
  error: { code: string; message: string } | null;
  started: string | null;
  finished: string | null;
  [field: string]: unknown;
}

async function gql(query: string, variables: Record<string, unknown> = {}, auth: string | null = admin) {
  const req = request(app).post('/graphql').set('content-type', 'application/json');
  if (auth !== null) req.set('authorization', auth);
  return (await req.send({ query, variables })).body as GraphQLReply;
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

const FIELDS = `id kind state space collection version done total fraction ratePerSecond etaSeconds
  error { code message } createdBy created started finished updated`;
const START = `mutation($input: StartDeleteJobInput!) { startDeleteJob(input: $input) { ${FIELDS} } }`;
const JOB = `query($space: String!, $id: ID!) { job(space: $space, id: $id) { ${FIELDS} } }`;
const CANCEL = `mutation($space: String!, $id: ID!) { cancelJob(input: { space: $space, id: $id }) { ${FIELDS} } }`;
const LIST = `query($space: String, $collection: String, $state: JobState, $first: Int, $before: ID) {
  jobs(space: $space, collection: $collection, state: $state, first: $first, before: $before) { id collection state }
}`;

async function putRecords(collection: string, keys: readonly string[], space = 'default', auth = admin) {
  await data(
    `mutation($input: PutRecordsInput!) { putRecords(input: $input) { createdCount } }`,
    { input: { space, collection, records: keys.map((key) => ({ key, value: 'v' })) } },
    auth,
  );
}

async function count(collection: string, prefix: string): Promise<number> {
  const reply = await data(
    `query($name: String!, $prefix: String!) { collection(space: "default", name: $name) { count(filter: { prefix: $prefix }) } }`,
    { name: collection, prefix },
  );
  return reply.collection.count as number;
}

async function start(input: Record<string, unknown>, auth = admin): Promise<JobData> {
  return (await data(START, { input: { space: 'default', collection: 'purge', ...input } }, auth))
    .startDeleteJob as JobData;
}

async function finished(id: string, space = 'default'): Promise<JobData> {
  return expectEventually(
    async () => {
      const job = (await data(JOB, { space, id })).job as JobData;
      expect(['SUCCEEDED', 'FAILED', 'CANCELLED']).toContain(job.state);
      return job;
    },
    { timeoutMs: 10_000, intervalMs: 25 },
  );
}

function startRunner(): void {
  runner ??= embeddedJobs(api, { deleteBatch: 3 });
}

beforeAll(async () => {
  api = await startTestApi();
  app = createApp({ api, logger: silentLogger, maxBodyBytes: 1024 * 1024 });
  for (const name of ['purge', 'gone']) {
    await data(`mutation($name: String!) { createCollection(input: { space: "default", name: $name }) { name } }`, {
      name,
    });
  }
});

afterAll(async () => {
  await runner?.stop();
  await api.close();
});

describe('without a runner', () => {
  it('starts a job as queued, and finds it by id', async () => {
    await putRecords('purge', [...Array.from({ length: 10 }, (_, i) => `old/${i}`), 'keep/1', 'keep/2']);
    queued = await start({ filter: { prefix: 'old/', updatedBefore: '2099-01-01T00:00:00Z' } });
    expect(queued).toEqual({
      id: expect.stringMatching(/^\d+$/),
      kind: 'delete',
      state: 'QUEUED',
      space: 'default',
      collection: 'purge',
      version: null,
      done: 0,
      total: 10,
      fraction: 0,
      ratePerSecond: null,
      etaSeconds: null,
      error: null,
      createdBy: 'admin',
      created: expect.stringMatching(RFC3339),
      started: null,
      finished: null,
      updated: expect.stringMatching(RFC3339),
    });
    expect((await data(JOB, { space: 'default', id: queued.id })).job).toEqual(queued);
    expect(await count('purge', 'old/')).toBe(10);
  });

  it('cancels a queued job; cancelling it again fails with JOB_FINISHED', async () => {
    const doomed = await start({ filter: { pattern: 'keep/*' } });
    const cancelled = (await data(CANCEL, { space: 'default', id: doomed.id })).cancelJob as JobData;
    expect(cancelled).toEqual({
      ...doomed,
      state: 'CANCELLED',
      finished: expect.stringMatching(RFC3339),
      updated: expect.stringMatching(RFC3339),
    });
    const again = await gql(CANCEL, { space: 'default', id: doomed.id });
    expect(codesOf(again)).toEqual(['JOB_FINISHED']);
    expect(again.data).toBeNull();
    expect(await count('purge', 'keep/')).toBe(2);
  });

  it('answers null for an unknown job, and JOB_NOT_FOUND when cancelling one', async () => {
    expect(await gql(JOB, { space: 'default', id: '999999' })).toEqual({ data: { job: null } });
    expect(await gql(JOB, { space: 'ghost', id: queued.id })).toEqual({ data: { job: null } });
    const unknown = await gql(CANCEL, { space: 'default', id: 999999 });
    expect(codesOf(unknown)).toEqual(['JOB_NOT_FOUND']);
    for (const id of ['abc', '-1', '1'.repeat(16)]) {
      expect([id, codesOf(await gql(JOB, { space: 'default', id }))]).toEqual([id, ['BAD_USER_INPUT']]);
      expect([id, codesOf(await gql(CANCEL, { space: 'default', id }))]).toEqual([id, ['BAD_USER_INPUT']]);
    }
  });

  it('queues a job for a collection that is then deleted', async () => {
    await putRecords('gone', ['a', 'b', 'c']);
    gone = await start({ collection: 'gone', filter: {} });
    await data(`mutation { deleteCollection(input: { space: "default", name: "gone" }) { deleted } }`);
    expect((await data(JOB, { space: 'default', id: gone.id })).job).toMatchObject({ state: 'QUEUED', total: 3 });
  });
});

describe('with a runner', () => {
  beforeAll(startRunner);

  it('runs the queued jobs: one succeeds, one fails saying why', async () => {
    const done = await finished(queued.id);
    expect(done).toMatchObject({ state: 'SUCCEEDED', done: 10, total: 10, fraction: 1, etaSeconds: null, error: null });
    expect(done.ratePerSecond).toBeGreaterThan(0);
    expect(done.started).toMatch(RFC3339);
    expect(done.finished).toMatch(RFC3339);
    expect(await count('purge', 'old/')).toBe(0);
    expect(await count('purge', 'keep/')).toBe(2);

    const failed = await finished(gone.id);
    expect(failed).toMatchObject({
      state: 'FAILED',
      done: 0,
      fraction: 0,
      error: { code: 'COLLECTION_NOT_FOUND', message: expect.stringMatching(/gone/) as unknown as string },
    });
  });

  it('hands a deleteRecords over its limit to a job, and deletes small sets itself', async () => {
    await putRecords(
      'purge',
      Array.from({ length: 8 }, (_, i) => `many/${i}`),
    );
    const bulk = `mutation($filter: RecordFilter!, $limit: Int) {
      deleteRecords(input: { space: "default", collection: "purge", filter: $filter, limit: $limit }) {
        deleted job { id state collection total } } }`;
    const large = (await data(bulk, { filter: { prefix: 'many/' }, limit: 5 })).deleteRecords as {
      deleted: number;
      job: JobData;
    };
    expect(large).toEqual({
      deleted: 0,
      job: { id: expect.stringMatching(/^\d+$/), state: 'QUEUED', collection: 'purge', total: 8 },
    });
    expect(await finished(large.job.id)).toMatchObject({ state: 'SUCCEEDED', done: 8, fraction: 1 });
    expect(await count('purge', 'many/')).toBe(0);

    await putRecords('purge', ['few/1', 'few/2', 'few/3']);
    expect((await data(bulk, { filter: { prefix: 'few/' }, limit: 3 })).deleteRecords).toEqual({
      deleted: 3,
      job: null,
    });
  });

  it('works at the version a spec names', async () => {
    const created = await data(
      `mutation { createCollection(input: { space: "default", name: "dag", versioned: true }) { rootVersion } }`,
    );
    await putRecords('dag', ['a/1', 'a/2', 'b/1']);
    const job = await start({ collection: 'dag', version: ':master', filter: { prefix: 'a/' } });
    expect(job).toMatchObject({ collection: 'dag', version: created.createCollection.rootVersion, total: 2 });
    expect((await finished(job.id)).state).toBe('SUCCEEDED');
    expect(await count('dag', '')).toBe(1);
  });

  it('lists jobs newest first, by collection and state, page by page with before', async () => {
    const all = (await data(LIST, { space: 'default' })).jobs as Array<{
      id: string;
      collection: string;
      state: string;
    }>;
    expect(all.map((j) => [j.collection, j.state])).toEqual([
      ['dag', 'SUCCEEDED'],
      ['purge', 'SUCCEEDED'],
      ['gone', 'FAILED'],
      ['purge', 'CANCELLED'],
      ['purge', 'SUCCEEDED'],
    ]);
    const ids = all.map((j) => j.id);
    expect(ids.map(Number)).toEqual(ids.map(Number).sort((a, b) => b - a));
    expect((await data(LIST, { space: 'default', state: 'CANCELLED' })).jobs).toEqual([all[3]]);
    expect((await data(LIST, { space: 'default', collection: 'purge', state: 'SUCCEEDED' })).jobs).toEqual([
      all[1],
      all[4],
    ]);
    expect((await data(LIST, { space: 'default', first: 2 })).jobs).toEqual(all.slice(0, 2));
    expect((await data(LIST, { space: 'default', first: 2, before: ids[1] })).jobs).toEqual(all.slice(2, 4));
    expect((await data(LIST, { space: 'default', first: 2, before: ids[4] })).jobs).toEqual([]);
    expect((await data(LIST, { space: 'default', first: 0 })).jobs).toEqual([]);
    expect(codesOf(await gql(LIST, { space: 'default', first: -1 }))).toEqual(['BAD_USER_INPUT']);
    expect(codesOf(await gql(LIST, { space: 'default', before: 'x' }))).toEqual(['BAD_USER_INPUT']);
    expect(codesOf(await gql(LIST, { space: 'default', state: 'LOST' }))).toEqual(['BAD_USER_INPUT']);
  });

  it('refuses bad filters, and starts nothing', async () => {
    const before = ((await data(LIST, { space: 'default' })).jobs as unknown[]).length;
    const refusals: Array<[Record<string, unknown>, string]> = [
      [{ filter: { pattern: 'a\\' } }, 'INVALID_PATTERN'],
      [{ filter: { prefix: 'a', colour: 'red' } }, 'BAD_USER_INPUT'],
      [{ filter: { createdAfter: 'yesterday' } }, 'BAD_USER_INPUT'],
      [{ filter: { prefix: 'a' }, limit: 5 }, 'BAD_USER_INPUT'],
      [{ collection: 'ghost', filter: {} }, 'COLLECTION_NOT_FOUND'],
      [{ space: 'ghost', filter: {} }, 'SPACE_NOT_FOUND'],
    ];
    for (const [input, code] of refusals) {
      const reply = await gql(START, { input: { space: 'default', collection: 'purge', ...input } });
      expect([input, codesOf(reply)]).toEqual([input, [code]]);
    }
    expect(((await data(LIST, { space: 'default' })).jobs as unknown[]).length).toBe(before);
  });
});

describe('access', () => {
  it('lets readers watch jobs, only writers start and cancel them, and hides them from others', async () => {
    const owner = await accountWithToken(app, 'olive');
    const reader = await accountWithToken(app, 'rita');
    const mallory = await accountWithToken(app, 'mallory');
    await request(app).post('/v1/spaces').set('authorization', owner).send({ name: 'job-team' }).expect(201);
    await data(`mutation { createCollection(input: { space: "job-team", name: "c" }) { name } }`, {}, owner);
    await request(app)
      .put('/v1/spaces/job-team/members/rita')
      .set('authorization', owner)
      .send({ role: 'reader' })
      .expect(200);
    const input = { space: 'job-team', collection: 'c', filter: { prefix: 'tmp/' } };
    const job = (await data(START, { input }, owner)).startDeleteJob as JobData;
    expect(job.createdBy).toBe('olive');
    const ref = { space: 'job-team', id: job.id };

    expect((await data(JOB, ref, reader)).job).toMatchObject({ id: job.id, createdBy: 'olive' });
    expect((await data(LIST, { space: 'job-team' }, reader)).jobs).toEqual([
      { id: job.id, collection: 'c', state: expect.any(String) },
    ]);
    expect(codesOf(await gql(START, { input }, reader))).toEqual(['FORBIDDEN']);
    expect(codesOf(await gql(CANCEL, ref, reader))).toEqual(['FORBIDDEN']);

    expect(await gql(JOB, ref, mallory)).toEqual({ data: { job: null } });
    expect(codesOf(await gql(LIST, { space: 'job-team' }, mallory))).toEqual(['SPACE_NOT_FOUND']);
    expect(codesOf(await gql(START, { input }, mallory))).toEqual(['SPACE_NOT_FOUND']);
    expect(codesOf(await gql(CANCEL, ref, mallory))).toEqual(['SPACE_NOT_FOUND']);
    expect(codesOf(await gql(JOB, ref, null))).toEqual(['UNAUTHENTICATED']);

    // Every space's jobs: for administrators only.
    for (const auth of [owner, reader, mallory]) expect(codesOf(await gql(LIST, {}, auth))).toEqual(['FORBIDDEN']);
    const everything = (await data(LIST, {})).jobs as Array<{ id: string }>;
    expect(everything[0]).toEqual({ id: job.id, collection: 'c', state: expect.any(String) });
    expect(everything.length).toBe(((await data(LIST, { space: 'default' })).jobs as unknown[]).length + 1);
  });
});

it('describes jobs in the schema', async () => {
  const reply = await data(`{
    job: __type(name: "Job") { fields { name } }
    state: __type(name: "JobState") { enumValues { name } }
  }`);
  expect((reply.job.fields as Array<{ name: string }>).map((f) => f.name)).toEqual([
    'id',
    'kind',
    'state',
    'space',
    'collection',
    'version',
    'done',
    'total',
    'fraction',
    'ratePerSecond',
    'etaSeconds',
    'error',
    'createdBy',
    'created',
    'started',
    'finished',
    'updated',
    'snapshotId',
    'phase',
  ]);
  expect((reply.state.enumValues as Array<{ name: string }>).map((v) => v.name)).toEqual([
    'QUEUED',
    'RUNNING',
    'SUCCEEDED',
    'FAILED',
    'CANCELLED',
  ]);
});
