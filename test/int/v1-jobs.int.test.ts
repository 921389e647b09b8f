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
 * Bulk-delete jobs through /v1: starting one (202, Location, the job), watching it, the worker's
 * embedded runner deleting what matched when the job was created, cancelling, listing page by
 * page, refusals in /v1's error shape, who may do what, the admins' view, and the OpenAPI
 * document. The runner runs only where a test starts it, so a job stays queued until then.
 */

let api: TestApi;
let app: ReturnType<typeof createApp>;
let runner: EmbeddedRelay | undefined;

const admin = `Bearer ${TEST_ADMIN_TOKEN}`;
const COLLECTION = '/v1/spaces/default/collections/purge';
const JOBS = '/v1/spaces/default/jobs';
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;
/** Records per step: small, so that a job takes several. */
const STEP = 4;

interface JobJson {
  id: number;
  kind: string;
  state: string;
  space: string;
  collection: string;
  version: string | null;
  filter: Record<string, string>;
  progress: { done: number; total: number; fraction: number; ratePerSecond: number | null; etaSeconds: number | null };
  error: { code: string; message: string } | null;
  createdBy: string;
  created: string;
  started: string | null;
  finished: string | null;
  updated: string;
}

interface JobList {
  jobs: JobJson[];
  next: number | null;
}

const errorOf = (res: request.Response) => (res.body as { error: { code: string; message: string } }).error;
const post = (path: string, body: unknown, auth = admin) =>
  request(app)
    .post(path)
    .set('authorization', auth)
    .send(body as object);
const get = (path: string, auth = admin) => request(app).get(path).set('authorization', auth);
const cancel = (id: number | string, auth = admin, jobs = JOBS) => post(`${jobs}/${id}/cancel`, {}, auth);

async function write(collection: string, keys: readonly string[], value = 'v'): Promise<void> {
  await post(`${collection}/batch`, { records: keys.map((key) => ({ key, value })) }).expect(200);
}

async function keys(collection: string, prefix: string): Promise<string[]> {
  const res = await get(`${collection}/records?prefix=${encodeURIComponent(prefix)}&keysOnly=true`).expect(200);
  return (res.body as { records: Array<{ key: string }> }).records.map((r) => r.key);
}

async function startJob(body: Record<string, unknown>, collection = COLLECTION, auth = admin): Promise<JobJson> {
  return (await post(`${collection}/delete-jobs`, body, auth).expect(202)).body as JobJson;
}

const list = async (query: string, path = JOBS) => (await get(`${path}${query}`).expect(200)).body as JobList;

function startRunner(): void {
  runner ??= embeddedJobs(api, { deleteBatch: STEP });
}

async function finished(id: number, jobs = JOBS): Promise<JobJson> {
  return expectEventually(
    async () => {
      const job = (await get(`${jobs}/${id}`).expect(200)).body as JobJson;
      expect(['succeeded', 'failed', 'cancelled']).toContain(job.state);
      return job;
    },
    { timeoutMs: 10_000, intervalMs: 25 },
  );
}

beforeAll(async () => {
  api = await startTestApi();
  app = createApp({ api, logger: silentLogger, maxBodyBytes: 1024 * 1024 });
  for (const name of ['purge', 'other']) await post('/v1/spaces/default/collections', { name }).expect(201);
});

afterAll(async () => {
  await runner?.stop();
  await api.close();
});

describe('a bulk delete', () => {
  const old = Array.from({ length: 25 }, (_, i) => `old/${String(i).padStart(2, '0')}`);
  let job: JobJson;
  let gone: JobJson;

  it('starts as a queued job: 202, its Location, and the job as created', async () => {
    await write(COLLECTION, [...old, 'keep/1', 'keep/2', 'olden']);
    const res = await post(`${COLLECTION}/delete-jobs`, {
      prefix: 'old/',
      createdAfter: '2000-01-01T00:00:00Z',
    }).expect(202);
    job = res.body as JobJson;
    expect(res.headers.location).toBe(`/v1/spaces/default/jobs/${job.id}`);
    expect(job).toEqual({
      id: expect.any(Number),
      kind: 'delete',
      state: 'queued',
      space: 'default',
      collection: 'purge',
      version: null,
      filter: { prefix: 'old/', createdAfter: '2000-01-01T00:00:00.000000Z' },
      progress: { done: 0, total: 25, fraction: 0, ratePerSecond: null, etaSeconds: null },
      error: null,
      createdBy: 'admin',
      created: expect.stringMatching(RFC3339),
      started: null,
      finished: null,
      snapshotId: null,
      phase: null,
      updated: expect.stringMatching(RFC3339),
    });
    expect((await get(res.headers.location as string).expect(200)).body).toEqual(job);
    // Nothing runs jobs yet.
    expect(await keys(COLLECTION, 'old/')).toEqual(old);
    // Written after the job was created: not the job's, though they match its filter.
    await write(COLLECTION, ['old/03', 'old/late'], 'rewritten');
  });

  it('cancels a queued job, and refuses to cancel it again', async () => {
    const doomed = await startJob({ pattern: 'keep/*' });
    const cancelled = (await cancel(doomed.id).expect(200)).body as JobJson;
    expect(cancelled).toEqual({
      ...doomed,
      state: 'cancelled',
      finished: expect.stringMatching(RFC3339),
      updated: expect.stringMatching(RFC3339),
    });
    expect((await get(`${JOBS}/${doomed.id}`).expect(200)).body).toEqual(cancelled);
    expect(errorOf(await cancel(doomed.id).expect(409))).toEqual({
      code: 'JOB_FINISHED',
      message: expect.stringMatching(/cancelled/) as unknown as string,
    });
    expect(await keys(COLLECTION, 'keep/')).toEqual(['keep/1', 'keep/2']);
  });

  it('fails, saying why, when its collection is deleted before it runs', async () => {
    await post('/v1/spaces/default/collections', { name: 'gone' }).expect(201);
    await write('/v1/spaces/default/collections/gone', ['a', 'b']);
    gone = await startJob({}, '/v1/spaces/default/collections/gone');
    expect(gone).toMatchObject({ state: 'queued', filter: {}, progress: { total: 2 } });
    await request(app).delete('/v1/spaces/default/collections/gone').set('authorization', admin).expect(204);
    expect((await get(`${JOBS}/${gone.id}`).expect(200)).body).toEqual(gone);
  });

  it('deletes what matched when it was created, in steps, and then succeeds', async () => {
    startRunner();
    const done = await finished(job.id);
    expect(done).toMatchObject({ state: 'succeeded', error: null });
    expect(await keys(COLLECTION, 'old')).toEqual(['old/03', 'old/late', 'olden']);
    expect(await keys(COLLECTION, 'keep/')).toEqual(['keep/1', 'keep/2']);

    // 24 deleted: the estimate (25) counted old/03 before it was written again.
    expect(done.progress).toEqual({
      done: 24,
      total: 25,
      fraction: 1,
      ratePerSecond: expect.any(Number),
      etaSeconds: null,
    });
    expect(done.progress.ratePerSecond).toBeGreaterThan(0);
    const [created, started, ended] = [done.created, done.started, done.finished];
    expect(started).toMatch(RFC3339);
    expect(ended).toMatch(RFC3339);
    expect(created <= (started as string) && (started as string) <= (ended as string)).toBe(true);
    expect(done.updated).toBe(ended);

    const failed = await finished(gone.id);
    expect(failed).toMatchObject({
      state: 'failed',
      error: { code: 'COLLECTION_NOT_FOUND', message: expect.stringMatching(/gone/) as unknown as string },
      progress: { done: 0, total: 2, fraction: 0, etaSeconds: null },
      finished: expect.stringMatching(RFC3339),
    });
  });

  it('works at a version of a versioned collection', async () => {
    const created = await post('/v1/spaces/default/collections', { name: 'dag', versioned: true }).expect(201);
    const root = (created.body as { rootVersion: string }).rootVersion;
    const dag = '/v1/spaces/default/collections/dag';
    await write(dag, ['a/1', 'a/2', 'b/1']);
    const started = await startJob({ prefix: 'a/', version: root }, dag);
    expect(started).toMatchObject({ collection: 'dag', version: root, progress: { total: 2 } });
    expect((await finished(started.id)).state).toBe('succeeded');
    expect(await keys(dag, '')).toEqual(['b/1']);
  });
});

describe('listing', () => {
  it('lists jobs newest first, by collection and state, page by page', async () => {
    startRunner();
    const more = [];
    for (const prefix of ['x/', 'y/', 'z/'])
      more.push(await startJob({ prefix }, '/v1/spaces/default/collections/other'));
    for (const job of more) expect((await finished(job.id)).progress).toMatchObject({ done: 0, total: 0, fraction: 1 });

    const all = await list('');
    expect(all.next).toBeNull();
    const ids = all.jobs.map((j) => j.id);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(ids.slice(0, 3)).toEqual(more.map((j) => j.id).reverse());
    expect(all.jobs.map((j) => [j.collection, j.state])).toEqual([
      ['other', 'succeeded'],
      ['other', 'succeeded'],
      ['other', 'succeeded'],
      ['dag', 'succeeded'],
      ['gone', 'failed'],
      ['purge', 'cancelled'],
      ['purge', 'succeeded'],
    ]);

    expect((await list('?state=cancelled')).jobs.map((j) => j.filter)).toEqual([{ pattern: 'keep/*' }]);
    expect((await list('?collection=purge&state=succeeded')).jobs.map((j) => j.filter.prefix)).toEqual(['old/']);
    expect(await list('?collection=ghost')).toEqual({ jobs: [], next: null });

    const pages: number[][] = [];
    let before: number | null = null;
    do {
      const page: JobList = await list(`?limit=4${before === null ? '' : `&before=${before}`}`);
      pages.push(page.jobs.map((j) => j.id));
      before = page.next;
    } while (before !== null);
    expect(pages).toEqual([ids.slice(0, 4), ids.slice(4)]);
    // A full last page points at a next one, which is empty.
    const exact = await list(`?limit=3&before=${ids[3]}`);
    expect(exact).toEqual({ jobs: all.jobs.slice(4), next: ids[6] });
    expect(await list(`?limit=3&before=${ids[6]}`)).toEqual({ jobs: [], next: null });
  });

  it('refuses bad queries', async () => {
    for (const query of ['state=lost', 'limit=0', 'limit=ten', 'limit=1001', 'before=x', 'before=-1', 'colour=red']) {
      const res = await get(`${JOBS}?${query}`).expect(400);
      expect([query, errorOf(res).code]).toEqual([query, 'INVALID_ARGUMENT']);
    }
  });
});

describe('refusals', () => {
  it("refuses bad jobs in /v1's error shape, and starts none", async () => {
    const before = (await list('')).jobs.length;
    const refusals: Array<[unknown, number, string, RegExp]> = [
      [{ pattern: 'old\\' }, 400, 'INVALID_PATTERN', /lone/],
      [{ prefix: 'old/', limit: 5 }, 400, 'INVALID_ARGUMENT', /limit/],
      [{ prefix: 'old/', colour: 'red' }, 400, 'INVALID_ARGUMENT', /colour/],
      [{ prefix: 7 }, 400, 'INVALID_ARGUMENT', /prefix/],
      [{ createdAfter: 'yesterday' }, 400, 'INVALID_ARGUMENT', /createdAfter/],
      [{ updatedBefore: '2026-01-01T00:00:00' }, 400, 'INVALID_ARGUMENT', /updatedBefore/],
    ];
    for (const [body, status, code, message] of refusals) {
      const res = await post(`${COLLECTION}/delete-jobs`, body).expect(status);
      expect([body, res.body]).toEqual([
        body,
        { error: { code, message: expect.stringMatching(message) as unknown as string } },
      ]);
    }
    const notJson = await request(app)
      .post(`${COLLECTION}/delete-jobs`)
      .set('authorization', admin)
      .type('text/plain')
      .send('{"prefix":"old/"}')
      .expect(415);
    expect(errorOf(notJson).code).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(errorOf(await post(`${COLLECTION}/delete-jobs`, '{"prefix":').type('json').expect(400)).code).toBe(
      'INVALID_ARGUMENT',
    );
    const ghost = '/v1/spaces/default/collections/ghost/delete-jobs';
    expect(errorOf(await post(ghost, {}).expect(404)).code).toBe('COLLECTION_NOT_FOUND');
    expect(errorOf(await post('/v1/spaces/ghost/collections/purge/delete-jobs', {}).expect(404)).code).toBe(
      'SPACE_NOT_FOUND',
    );
    expect((await list('')).jobs).toHaveLength(before);
  });

  it('answers unknown and malformed job ids', async () => {
    const [newest] = (await list('?limit=1')).jobs;
    const id = newest?.id ?? 0;
    expect(errorOf(await get(`${JOBS}/abc`).expect(400)).code).toBe('INVALID_ARGUMENT');
    expect(errorOf(await cancel('1e3').expect(400)).code).toBe('INVALID_ARGUMENT');
    expect(errorOf(await get(`${JOBS}/0`).expect(400)).code).toBe('INVALID_ARGUMENT');
    expect(errorOf(await get(`${JOBS}/999999`).expect(404))).toEqual({
      code: 'JOB_NOT_FOUND',
      message: expect.stringMatching(/999999/) as unknown as string,
    });
    expect(errorOf(await cancel(999999).expect(404)).code).toBe('JOB_NOT_FOUND');
    // A job is addressed through its own space only.
    await post('/v1/spaces', { name: 'elsewhere' }).expect(201);
    expect(errorOf(await get(`/v1/spaces/elsewhere/jobs/${id}`).expect(404)).code).toBe('JOB_NOT_FOUND');
    expect(errorOf(await cancel(id, admin, '/v1/spaces/elsewhere/jobs').expect(404)).code).toBe('JOB_NOT_FOUND');
    expect(await list('', '/v1/spaces/elsewhere/jobs')).toEqual({ jobs: [], next: null });
  });
});

describe('access', () => {
  const team = '/v1/spaces/job-team';
  const teamJobs = `${team}/jobs`;
  const collection = `${team}/collections/c`;
  let owner: string;
  let reader: string;
  let mallory: string;

  beforeAll(async () => {
    owner = await accountWithToken(app, 'olive');
    reader = await accountWithToken(app, 'rita');
    mallory = await accountWithToken(app, 'mallory');
    await post('/v1/spaces', { name: 'job-team' }, owner).expect(201);
    await post(`${team}/collections`, { name: 'c' }, owner).expect(201);
    await request(app).put(`${team}/members/rita`).set('authorization', owner).send({ role: 'reader' }).expect(200);
  });

  it('lets readers watch a space’s jobs, and only writers start and cancel them', async () => {
    const job = await startJob({ prefix: 'tmp/' }, collection, owner);
    expect(job.createdBy).toBe('olive');
    expect((await get(`${teamJobs}/${job.id}`, reader).expect(200)).body).toMatchObject({ id: job.id });
    expect((await get(teamJobs, reader).expect(200)).body).toMatchObject({ jobs: [{ id: job.id }] });
    const refused = [
      await post(`${collection}/delete-jobs`, { prefix: 'tmp/' }, reader),
      await cancel(job.id, reader, teamJobs),
    ];
    expect(refused.map((res) => [res.status, errorOf(res).code])).toEqual([
      [403, 'PERMISSION_DENIED'],
      [403, 'PERMISSION_DENIED'],
    ]);
    expect((await get(teamJobs, owner).expect(200)).body).toMatchObject({ jobs: [{ id: job.id }] });
  });

  it("keeps a space's jobs out of other accounts' reach", async () => {
    const [job] = ((await get(teamJobs, owner).expect(200)).body as JobList).jobs;
    const id = job?.id ?? 0;
    const refusals = [
      await get(teamJobs, mallory),
      await get(`${teamJobs}/${id}`, mallory),
      await cancel(id, mallory, teamJobs),
      await post(`${collection}/delete-jobs`, {}, mallory),
    ];
    expect(refusals.map((res) => [res.status, errorOf(res).code])).toEqual(
      Array.from({ length: 4 }, () => [404, 'SPACE_NOT_FOUND']),
    );
    expect(errorOf(await request(app).get(teamJobs).expect(401)).code).toBe('UNAUTHENTICATED');
  });

  it("shows admins every space's jobs, and nobody else", async () => {
    for (const auth of [owner, reader, mallory]) {
      expect(errorOf(await get('/v1/admin/jobs', auth).expect(403)).code).toBe('PERMISSION_DENIED');
    }
    const everything = await list('', '/v1/admin/jobs');
    const spaces = new Set(everything.jobs.map((j) => j.space));
    expect(spaces).toEqual(new Set(['default', 'job-team']));
    const [newest, second] = everything.jobs;
    expect(newest).toMatchObject({ space: 'job-team', createdBy: 'olive' });
    expect(await list(`?limit=1&before=${newest?.id}`, '/v1/admin/jobs')).toEqual({
      jobs: [second],
      next: second?.id,
    });
    expect((await list('?state=cancelled', '/v1/admin/jobs')).jobs.map((j) => j.filter)).toEqual([
      { pattern: 'keep/*' },
    ]);
    // The operators' view is of every collection: it takes no collection.
    expect(errorOf(await get('/v1/admin/jobs?collection=purge').expect(400)).code).toBe('INVALID_ARGUMENT');
  });
});

it('describes its routes in the OpenAPI document', async () => {
  const doc = (await request(app).get('/v1/openapi.json').expect(200)).body as {
    paths: Record<string, Record<string, { responses: Record<string, { headers?: Record<string, unknown> }> }>>;
    components: { schemas: Record<string, { properties?: Record<string, unknown>; required?: string[] }> };
  };
  const start = '/v1/spaces/{space}/collections/{collection}/delete-jobs';
  const jobs = '/v1/spaces/{space}/jobs';
  expect(Object.keys(doc.paths[start] ?? {})).toEqual(['post']);
  expect(Object.keys(doc.paths[start]?.post?.responses ?? {})).toEqual(
    expect.arrayContaining(['202', '400', '401', '403', '404', '415']),
  );
  expect(Object.keys(doc.paths[start]?.post?.responses['202']?.headers ?? {})).toEqual(['Location']);
  expect(Object.keys(doc.paths[`${jobs}/{id}/cancel`]?.post?.responses ?? {})).toEqual(
    expect.arrayContaining(['200', '404', '409']),
  );
  const { Job, StartDeleteJob, JobFilter } = doc.components.schemas;
  expect(Object.keys(Job?.properties ?? {})).toEqual([
    'id',
    'kind',
    'state',
    'space',
    'collection',
    'version',
    'filter',
    'progress',
    'error',
    'createdBy',
    'created',
    'started',
    'finished',
    'updated',
    'snapshotId',
    'phase',
  ]);
  expect(Object.keys(StartDeleteJob?.properties ?? {})).toContain('version');
  expect(Object.keys(StartDeleteJob?.properties ?? {})).not.toContain('limit');
  expect(Object.keys(JobFilter?.properties ?? {})).not.toContain('version');
  const listed = app.routes.filter((r) => r.openapiPath.includes('jobs')).map((r) => `${r.method} ${r.openapiPath}`);
  expect(listed).toEqual([
    `post ${start}`,
    `get ${jobs}`,
    `get ${jobs}/{id}`,
    `post ${jobs}/{id}/cancel`,
    'get /v1/admin/jobs',
  ]);
  for (const route of listed) expect(doc.paths[route.split(' ')[1] ?? '']).toHaveProperty(route.split(' ')[0] ?? '');
});
