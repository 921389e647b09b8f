import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, renameSync, truncateSync } from 'node:fs';
import { request as httpRequest, type Server } from 'node:http';
import { join } from 'node:path';
import type { ReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import pino from 'pino';
import request from 'supertest';
import { createApp } from '../../apps/gateway/src';
import type { EmbeddedRelay } from '../../apps/worker/src';
import type { SnapshotStore } from '../../packages/platform/src';
import { accountWithToken } from '../support/accounts';
import { silentLogger, startTestApi, type TestApi } from '../support/api';
import { TEST_ADMIN_TOKEN } from '../support/env';
import { expectEventually } from '../support/expect-eventually';
import { embeddedJobs, temporaryStore } from '../support/jobs';
import { listen, portOf } from '../support/raw-http';

/**
 * Snapshots through /v1 over the real record service, with the worker's jobs run in process on a
 * snapshot store in a temporary directory: taking one (202, Location), what cannot be done while
 * it is being made, downloading its object (gzipped NDJSON, its size and checksum) with
 * back-pressure, restoring into a new collection and over an existing one, listing, deleting
 * (index entry and object), refusals, who may do what, schedules, and the OpenAPI document. The
 * runner runs only once a test starts it, so the first snapshot stays `creating` until then.
 */

let api: TestApi;
// Snapshots are made and restored by jobs, which a loaded machine runs slower.
jest.setTimeout(30_000);

let app: ReturnType<typeof createApp>;
let runner: EmbeddedRelay | undefined;
let store: SnapshotStore;
let directory: string;
/** The objects the gateway opened for downloads, newest last. */
const opened: Readable[] = [];

const admin = `Bearer ${TEST_ADMIN_TOKEN}`;
const SPACE = '/v1/spaces/default';
const SNAPSHOTS = `${SPACE}/snapshots`;
const SOURCE = `${SPACE}/collections/source`;
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;
/** Records of the source collection: text, JSON and binary in turn. */
const RECORDS = 150;

interface SnapshotJson {
  id: number;
  space: string;
  collection: string;
  version: string | null;
  state: string;
  records: number;
  bytes: number;
  checksum: string | null;
  jobId: number;
  scheduleId: number | null;
  created: string;
  finished: string | null;
}

interface JobJson {
  id: number;
  kind: string;
  state: string;
  collection: string;
  snapshotId: number | null;
  phase: string | null;
  progress: { done: number; total: number };
  error: { code: string; message: string } | null;
}

interface SnapshotList {
  snapshots: SnapshotJson[];
  next: number | null;
}

/** The error of a refusal (downloads read their body as bytes, refusals included). */
const errorOf = (res: request.Response) =>
  (
    (Buffer.isBuffer(res.body) ? JSON.parse(res.body.toString('utf8')) : res.body) as {
      error: { code: string; message: string };
    }
  ).error;
const get = (path: string, auth = admin) => request(app).get(path).set('authorization', auth);
const post = (path: string, body: unknown, auth = admin) =>
  request(app)
    .post(path)
    .set('authorization', auth)
    .send(body as object);
const del = (path: string, auth = admin, on = app) => request(on).delete(path).set('authorization', auth);
const restore = (id: number, body: unknown, auth = admin) => post(`${SNAPSHOTS}/${id}/restore`, body, auth);

/** A response body as bytes, whatever its type. */
function bytes(res: request.Response, callback: (error: Error | null, body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  res.on('data', (chunk: Buffer) => chunks.push(chunk));
  res.on('end', () => callback(null, Buffer.concat(chunks)));
}

const download = (id: number, auth = admin, on = app) =>
  request(on).get(`${SNAPSHOTS}/${id}/download`).set('authorization', auth).buffer(true).parse(bytes);

function entry(i: number) {
  const key = `k${String(i).padStart(4, '0')}`;
  if (i % 3 === 0) return { key, value: `text ${i} ✓`, contentType: 'text/plain; charset=utf-8' };
  if (i % 3 === 1) return { key, value: { i, nested: [i, 'x'] } };
  const binary = Buffer.from(Array.from({ length: 64 }, (_, b) => (b * 7 + i) % 256));
  return { key, value: binary.toString('base64'), encoding: 'base64', contentType: 'application/octet-stream' };
}

async function write(collection: string, records: readonly object[]): Promise<void> {
  await post(`${collection}/batch`, { records }).expect(200);
}

/** Every record of a collection: key, content type and value bytes (Base64), in key order. */
async function contents(collection: string) {
  const res = await get(`${collection}/records?limit=10000`).expect(200);
  const records = (
    res.body as { records: Array<{ key: string; contentType: string; value: string; encoding: string }> }
  ).records;
  return records.map((r) => ({
    key: r.key,
    contentType: r.contentType,
    value: r.encoding === 'base64' ? r.value : Buffer.from(r.value, 'utf8').toString('base64'),
  }));
}

function startRunner(): void {
  runner ??= embeddedJobs(api, { deleteBatch: 40, store });
}

async function finished(id: number, space = SPACE): Promise<JobJson> {
  return expectEventually(
    async () => {
      const job = (await get(`${space}/jobs/${id}`).expect(200)).body as JobJson;
      expect(['succeeded', 'failed', 'cancelled']).toContain(job.state);
      return job;
    },
    { timeoutMs: 20_000, intervalMs: 25 },
  );
}

/** Takes a snapshot of a collection path and waits until it is ready. */
async function takeReady(collection: string, auth = admin): Promise<SnapshotJson> {
  startRunner();
  const started = (await post(`${collection}/snapshots`, {}, auth).expect(202)).body as {
    snapshot: SnapshotJson;
    job: JobJson;
  };
  const space = collection.slice(0, collection.indexOf('/collections/'));
  expect((await finished(started.job.id, space)).state).toBe('succeeded');
  return (await get(`${space}/snapshots/${started.snapshot.id}`, auth).expect(200)).body as SnapshotJson;
}

/** The file of a snapshot's object in the temporary store (the contract names it; /v1 does not). */
async function fileOf(id: number, space = 'default'): Promise<string> {
  const { snapshot } = await api.snapshots.getSnapshot({ space, id: BigInt(id) });
  return join(directory, snapshot?.object ?? '');
}

/** A gateway over `snapshots` whose error log the test reads. */
function loggedApp(snapshots: SnapshotStore) {
  const logged: Array<{ msg: string; object?: string; err?: { message: string } }> = [];
  const logger = pino({ level: 'error' }, { write: (line: string) => logged.push(JSON.parse(line) as never) });
  return { gateway: createApp({ api, logger, maxBodyBytes: 1024 * 1024, snapshots }), logged };
}

/** Whether a download over a fresh connection arrives whole, or is cut off. */
function downloadOutcome(port: number, id: number): Promise<'whole' | 'cut'> {
  return new Promise((resolve) => {
    const path = `${SNAPSHOTS}/${id}/download`;
    const req = httpRequest(
      { host: '127.0.0.1', port, path, headers: { authorization: admin }, agent: false },
      (res) => {
        res.on('data', () => undefined);
        res.on('end', () => resolve(res.complete && res.statusCode === 200 ? 'whole' : 'cut'));
        res.on('error', () => resolve('cut'));
      },
    );
    req.on('error', () => resolve('cut'));
    req.end();
  });
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

beforeAll(async () => {
  api = await startTestApi();
  const temporary = temporaryStore();
  directory = temporary.directory;
  store = temporary.store;
  // The gateway's view of the store, noting what it opens (to see a download's read stop).
  const watched: SnapshotStore = {
    write: (name, body) => store.write(name, body),
    read: async (name) => {
      const object = await store.read(name);
      opened.push(object);
      return object;
    },
    delete: (name) => store.delete(name),
  };
  app = createApp({ api, logger: silentLogger, maxBodyBytes: 1024 * 1024, snapshots: watched });
  for (const name of ['source', 'other']) await post(`${SPACE}/collections`, { name }).expect(201);
  await write(
    SOURCE,
    Array.from({ length: RECORDS }, (_, i) => entry(i)),
  );
  await write(`${SPACE}/collections/other`, [{ key: 'only', value: 'one' }]);
});

afterAll(async () => {
  await runner?.stop();
  await api.close();
});

describe('a snapshot', () => {
  let first: SnapshotJson;

  it('is taken by a job: 202, its Location, the snapshot `creating` and its job queued', async () => {
    const res = await request(app).post(`${SOURCE}/snapshots`).set('authorization', admin).expect(202);
    const { snapshot, job } = res.body as { snapshot: SnapshotJson; job: JobJson };
    expect(res.headers.location).toBe(`${SNAPSHOTS}/${snapshot.id}`);
    expect(snapshot).toEqual({
      id: expect.any(Number),
      space: 'default',
      collection: 'source',
      version: null,
      state: 'creating',
      records: 0,
      bytes: 0,
      checksum: null,
      jobId: job.id,
      scheduleId: null,
      created: expect.stringMatching(RFC3339),
      finished: null,
    });
    expect(job).toMatchObject({
      kind: 'snapshot',
      state: 'queued',
      collection: 'source',
      snapshotId: snapshot.id,
      phase: null,
      progress: { done: 0, total: RECORDS },
    });
    expect((await get(res.headers.location as string).expect(200)).body).toEqual(snapshot);
    first = snapshot;
  });

  it('cannot be downloaded, restored or deleted while it is being made', async () => {
    const refusals = [
      await download(first.id),
      await restore(first.id, { collection: 'too-early' }),
      await del(`${SNAPSHOTS}/${first.id}`),
    ];
    expect(refusals.map((res) => [res.status, errorOf(res).code])).toEqual([
      [409, 'SNAPSHOT_NOT_READY'],
      [409, 'SNAPSHOT_NOT_READY'],
      [409, 'SNAPSHOT_NOT_READY'],
    ]);
    expect(errorOf(refusals[0] as request.Response).message).toMatch(/still being made/);
    expect(errorOf(await get(`${SPACE}/collections/too-early`).expect(404)).code).toBe('COLLECTION_NOT_FOUND');
  });

  it('is ready once its job succeeded, with its size and checksum', async () => {
    startRunner();
    expect(await finished(first.jobId)).toMatchObject({ state: 'succeeded', progress: { done: RECORDS } });
    const ready = (await get(`${SNAPSHOTS}/${first.id}`).expect(200)).body as SnapshotJson;
    expect(ready).toEqual({
      ...first,
      state: 'ready',
      records: RECORDS,
      bytes: expect.any(Number),
      checksum: expect.stringMatching(/^[0-9a-f]{64}$/),
      finished: expect.stringMatching(RFC3339),
    });
    expect(ready.bytes).toBeGreaterThan(0);
    first = ready;
  });

  it('downloads as gzipped NDJSON: a header, then each record in key order, with its size and checksum', async () => {
    const res = await download(first.id).expect(200);
    expect(res.headers['content-type']).toBe('application/gzip');
    expect(res.headers['content-disposition']).toBe(`attachment; filename=source-${first.id}.ndjson.gz`);
    expect(res.headers['content-length']).toBe(String(first.bytes));
    const body = res.body as Buffer;
    expect(body.byteLength).toBe(first.bytes);

    const lines = gunzipSync(body).toString('utf8').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(RECORDS + 1);
    expect(JSON.parse(lines[0] as string)).toMatchObject({
      format: 'rosetta-snapshot',
      version: 1,
      space: 'default',
      collection: 'source',
      snapshot: String(first.id),
    });
    const records = lines.slice(1);
    expect(records.map((line) => JSON.parse(line) as unknown)).toEqual(await contents(SOURCE));
    const checksum = sha256(records.map((line) => `${line}\n`).join(''));
    expect(res.headers['x-checksum-sha256']).toBe(checksum);
    expect(first.checksum).toBe(checksum);
  });

  it('answers HEAD with the download’s headers, without reading the object', async () => {
    const before = opened.length;
    const res = await request(app).head(`${SNAPSHOTS}/${first.id}/download`).set('authorization', admin).expect(200);
    expect(res.headers['content-length']).toBe(String(first.bytes));
    expect(res.headers['x-checksum-sha256']).toBe(first.checksum);
    expect(opened).toHaveLength(before + 1);
    const object = opened[before] as ReadStream;
    expect({ destroyed: object.destroyed, bytesRead: object.bytesRead }).toEqual({ destroyed: true, bytesRead: 0 });
  });

  it('restores into a new collection, record for record', async () => {
    const res = await restore(first.id, { collection: 'copy' }).expect(202);
    const { job } = res.body as { job: JobJson };
    expect(res.headers.location).toBe(`${SPACE}/jobs/${job.id}`);
    expect(job).toMatchObject({
      kind: 'restore',
      state: 'queued',
      collection: 'copy',
      snapshotId: first.id,
      phase: 'write',
      progress: { done: 0, total: RECORDS },
    });
    expect(await finished(job.id)).toMatchObject({ state: 'succeeded', phase: 'verify', error: null });
    expect(await contents(`${SPACE}/collections/copy`)).toEqual(await contents(SOURCE));

    const taken = await restore(first.id, { collection: 'copy' }).expect(409);
    expect(errorOf(taken).code).toBe('COLLECTION_EXISTS');
  });

  it('restores over an existing collection with `replace`: its records become exactly the snapshot', async () => {
    const copy = `${SPACE}/collections/copy`;
    await write(copy, [
      { key: 'k0000', value: 'changed' },
      { key: 'stray', value: 'not in the snapshot' },
    ]);
    await del(`${copy}/records/k0001`).expect(204);
    expect(await contents(copy)).not.toEqual(await contents(SOURCE));
    const { job } = (await restore(first.id, { collection: 'copy', replace: true }).expect(202)).body as {
      job: JobJson;
    };
    expect(await finished(job.id)).toMatchObject({ state: 'succeeded', phase: 'verify' });
    expect(await contents(copy)).toEqual(await contents(SOURCE));
  });

  it('takes a version of a versioned collection, from a JSON body', async () => {
    const created = await post(`${SPACE}/collections`, { name: 'dag', versioned: true }).expect(201);
    const root = (created.body as { rootVersion: string }).rootVersion;
    await write(`${SPACE}/collections/dag`, [{ key: 'a', value: '1' }]);
    const { snapshot } = (await post(`${SPACE}/collections/dag/snapshots`, { version: root }).expect(202)).body as {
      snapshot: SnapshotJson;
    };
    expect(snapshot).toMatchObject({ collection: 'dag', version: root });
    expect((await finished(snapshot.jobId)).state).toBe('succeeded');
  });

  it('refuses bodies that are not JSON or carry unknown fields', async () => {
    const text = await request(app)
      .post(`${SOURCE}/snapshots`)
      .set('authorization', admin)
      .type('text/plain')
      .send('now')
      .expect(415);
    expect(errorOf(text).code).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(errorOf(await post(`${SOURCE}/snapshots`, { colour: 'red' }).expect(400)).message).toMatch(/colour/);
    for (const body of [{}, { collection: 7 }, { collection: 'x', replace: 'yes' }, { collection: 'x', extra: 1 }]) {
      const res = await restore(first.id, body);
      expect([body, res.status, errorOf(res).code]).toEqual([body, 400, 'INVALID_ARGUMENT']);
    }
  });
});

describe('listing', () => {
  it('lists a space’s snapshots newest first, by collection, page by page', async () => {
    const other = await takeReady(`${SPACE}/collections/other`);
    const all = (await get(SNAPSHOTS).expect(200)).body as SnapshotList;
    expect(all.next).toBeNull();
    const ids = all.snapshots.map((s) => s.id);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(all.snapshots.map((s) => s.collection)).toEqual(['other', 'dag', 'source']);
    expect(all.snapshots[0]).toEqual(other);
    expect(((await get(`${SNAPSHOTS}?collection=source`).expect(200)).body as SnapshotList).snapshots).toEqual([
      all.snapshots[2],
    ]);
    expect((await get(`${SNAPSHOTS}?collection=ghost`).expect(200)).body).toEqual({ snapshots: [], next: null });

    const page = (await get(`${SNAPSHOTS}?limit=2`).expect(200)).body as SnapshotList;
    expect(page).toEqual({ snapshots: all.snapshots.slice(0, 2), next: ids[1] });
    expect((await get(`${SNAPSHOTS}?limit=2&before=${page.next}`).expect(200)).body).toEqual({
      snapshots: all.snapshots.slice(2),
      next: null,
    });
  });

  it('refuses bad queries', async () => {
    for (const query of ['limit=0', 'limit=ten', 'limit=1001', 'before=x', 'before=-1', 'state=ready']) {
      const res = await get(`${SNAPSHOTS}?${query}`);
      expect([query, res.status, errorOf(res).code]).toEqual([query, 400, 'INVALID_ARGUMENT']);
    }
  });
});

describe('refusals', () => {
  it('answers 404 for snapshots the space does not have, and 400 for ids that are not ids', async () => {
    const [snapshot] = ((await get(SNAPSHOTS).expect(200)).body as SnapshotList).snapshots;
    await post('/v1/spaces', { name: 'elsewhere' }).expect(201);
    const unknown = [
      await get(`${SNAPSHOTS}/999999`),
      await download(999999),
      await del(`${SNAPSHOTS}/999999`),
      await restore(999999, { collection: 'nowhere' }),
      // A snapshot is addressed through its own space only.
      await get(`/v1/spaces/elsewhere/snapshots/${snapshot?.id}`),
    ];
    expect(unknown.map((res) => [res.status, errorOf(res).code])).toEqual(
      Array.from({ length: 5 }, () => [404, 'SNAPSHOT_NOT_FOUND']),
    );
    for (const res of [await get(`${SNAPSHOTS}/x`), await download(-1), await del(`${SNAPSHOTS}/1.5`)]) {
      expect([res.status, errorOf(res).code]).toEqual([400, 'INVALID_ARGUMENT']);
    }
  });

  it('answers 422 SNAPSHOT_CORRUPT when the object is missing from the store', async () => {
    const [snapshot] = ((await get(`${SNAPSHOTS}?collection=other`).expect(200)).body as SnapshotList).snapshots;
    const id = snapshot?.id ?? 0;
    const file = await fileOf(id);
    renameSync(file, `${file}.away`);
    try {
      const res = await download(id).expect(422);
      expect(errorOf(res)).toEqual({
        code: 'SNAPSHOT_CORRUPT',
        message: `the object of snapshot ${id} is missing from the snapshot store`,
      });
    } finally {
      renameSync(`${file}.away`, file);
    }
    await download(id).expect(200);
  });
});

describe('downloading', () => {
  let server: Server;

  it('names the file after the collection, quoted and encoded when the name needs it', async () => {
    const name = '日記 "draft"';
    await post(`${SPACE}/collections`, { name }).expect(201);
    await write(`${SPACE}/collections/${encodeURIComponent(name)}`, [{ key: 'a', value: '1' }]);
    const snapshot = await takeReady(`${SPACE}/collections/${encodeURIComponent(name)}`);
    const disposition = (await download(snapshot.id).expect(200)).headers['content-disposition'] as string;
    expect(disposition).toMatch(/^attachment; filename="\?\? \\"draft\\"-\d+\.ndjson\.gz"; filename\*=UTF-8''/);
    expect(decodeURIComponent(disposition.split("UTF-8''")[1] ?? '')).toBe(`${name}-${snapshot.id}.ndjson.gz`);
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('reads the object only as fast as the client takes it, and stops when the client goes away', async () => {
    const big = { space: 'default', collection: 'big' };
    await api.collections.createCollection({ collection: big });
    // 24 MiB of incompressible values: more than the socket buffers hold.
    for (let batch = 0; batch < 12; batch++) {
      const entries = Array.from({ length: 32 }, (_, i) => ({
        key: `r${String(batch * 32 + i).padStart(4, '0')}`,
        value: randomBytes(64 * 1024),
        contentType: 'application/octet-stream',
      }));
      await api.records.batchPut({ collection: big, entries, omitRecords: true });
    }
    const snapshot = await takeReady(`${SPACE}/collections/big`);
    expect(snapshot.bytes).toBeGreaterThan(24 * 1024 * 1024);

    server = await listen(app);
    const before = opened.length;
    // The client reads the headers, then hangs up without reading the body.
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port: portOf(server),
          path: `${SNAPSHOTS}/${snapshot.id}/download`,
          headers: { authorization: admin },
          agent: false,
        },
        (res) => {
          res.pause();
          resolve(res.statusCode ?? 0);
          req.destroy();
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(200);
    expect(opened).toHaveLength(before + 1);
    const object = opened[before] as ReadStream;
    await expectEventually(() => expect(object.destroyed).toBe(true), { timeoutMs: 5000 });
    expect(object.bytesRead).toBeLessThan(snapshot.bytes);
  });

  it('breaks off the download of an object that is not the size its index entry says, and logs it', async () => {
    const snapshot = await takeReady(`${SPACE}/collections/other`);
    const file = await fileOf(snapshot.id);
    const reads: Readable[] = [];
    const { gateway, logged } = loggedApp({
      write: (name, body) => store.write(name, body),
      read: async (name) => {
        const object = await store.read(name);
        reads.push(object);
        return object;
      },
      delete: (name) => store.delete(name),
    });
    const logging = await listen(gateway);
    try {
      expect(await downloadOutcome(portOf(logging), snapshot.id)).toBe('whole');
      // The client has the whole body once the gateway sent its last byte, which can be before the
      // gateway's read of the object reached its end: bytes appended before then would break
      // that first download off too.
      await expectEventually(() => expect(reads[0]?.closed).toBe(true));
      appendFileSync(file, Buffer.alloc(10));
      expect(await downloadOutcome(portOf(logging), snapshot.id)).toBe('cut');
      truncateSync(file, snapshot.bytes - 20);
      expect(await downloadOutcome(portOf(logging), snapshot.id)).toBe('cut');
      await expectEventually(() =>
        expect(logged.map((entry) => [entry.msg, entry.err?.message])).toEqual(
          Array.from({ length: 2 }, () => [
            'request failed',
            `the snapshot object is not the ${snapshot.bytes} bytes its index entry says`,
          ]),
        ),
      );
    } finally {
      await new Promise((resolve) => logging.close(resolve));
      await gateway.close();
    }
  });
});

describe('deleting', () => {
  it('deletes the index entry, then the object in the store', async () => {
    const snapshot = await takeReady(SOURCE);
    const file = await fileOf(snapshot.id);
    expect(existsSync(file)).toBe(true);
    await del(`${SNAPSHOTS}/${snapshot.id}`).expect(204);
    expect(existsSync(file)).toBe(false);
    expect(errorOf(await get(`${SNAPSHOTS}/${snapshot.id}`).expect(404)).code).toBe('SNAPSHOT_NOT_FOUND');
    expect(errorOf(await del(`${SNAPSHOTS}/${snapshot.id}`).expect(404)).code).toBe('SNAPSHOT_NOT_FOUND');
  });

  it('answers 204 when the object cannot be deleted, and logs the orphan it leaves', async () => {
    const snapshot = await takeReady(SOURCE);
    const file = await fileOf(snapshot.id);
    const { gateway: broken, logged } = loggedApp({
      write: (name, body) => store.write(name, body),
      read: (name) => store.read(name),
      delete: () => Promise.reject(new Error('the disk is read-only')),
    });
    await del(`${SNAPSHOTS}/${snapshot.id}`, admin, broken).expect(204);
    expect(errorOf(await get(`${SNAPSHOTS}/${snapshot.id}`).expect(404)).code).toBe('SNAPSHOT_NOT_FOUND');
    expect(existsSync(file)).toBe(true);
    expect(logged).toEqual([
      expect.objectContaining({
        msg: 'deleting a snapshot object failed: it remains in the store, orphaned',
        object: file.slice(directory.length + 1),
      }),
    ]);
    await broken.close();
  });

  it('answers 503 UNAVAILABLE for downloads and deletes on a gateway without a store, and deletes nothing', async () => {
    const snapshot = await takeReady(SOURCE);
    const storeless = createApp({ api, logger: silentLogger, maxBodyBytes: 1024 * 1024 });
    for (const res of [
      await download(snapshot.id, admin, storeless),
      await del(`${SNAPSHOTS}/${snapshot.id}`, admin, storeless),
    ]) {
      expect([res.status, errorOf(res)]).toEqual([
        503,
        {
          code: 'UNAVAILABLE',
          message: 'this gateway has no snapshot store: snapshot objects can be neither downloaded nor deleted here',
        },
      ]);
    }
    expect((await get(`${SNAPSHOTS}/${snapshot.id}`).expect(200)).body).toEqual(snapshot);
    expect(existsSync(await fileOf(snapshot.id))).toBe(true);
    await storeless.close();
  });
});

describe('access', () => {
  const team = '/v1/spaces/snap-team';
  const collection = `${team}/collections/c`;
  let owner: string;
  let reader: string;
  let mallory: string;
  let snapshot: SnapshotJson;

  beforeAll(async () => {
    owner = await accountWithToken(app, 'olive');
    reader = await accountWithToken(app, 'rita');
    mallory = await accountWithToken(app, 'mallory');
    await post('/v1/spaces', { name: 'snap-team' }, owner).expect(201);
    await post(`${team}/collections`, { name: 'c' }, owner).expect(201);
    await post(`${collection}/batch`, { records: [{ key: 'a', value: '1' }] }, owner).expect(200);
    await request(app).put(`${team}/members/rita`).set('authorization', owner).send({ role: 'reader' }).expect(200);
    snapshot = await takeReady(collection, owner);
  });

  it('lets readers list, read and download snapshots, and only writers delete, restore and schedule', async () => {
    expect(((await get(`${team}/snapshots`, reader).expect(200)).body as SnapshotList).snapshots).toEqual([snapshot]);
    expect((await get(`${team}/snapshots/${snapshot.id}`, reader).expect(200)).body).toEqual(snapshot);
    const downloaded = await request(app)
      .get(`${team}/snapshots/${snapshot.id}/download`)
      .set('authorization', reader)
      .buffer(true)
      .parse(bytes)
      .expect(200);
    expect((downloaded.body as Buffer).byteLength).toBe(snapshot.bytes);

    const refused = [
      await del(`${team}/snapshots/${snapshot.id}`, reader),
      await post(`${team}/snapshots/${snapshot.id}/restore`, { collection: 'c2' }, reader),
      await post(`${team}/snapshots/${snapshot.id}/restore`, { collection: 'c', replace: true }, reader),
      await post(`${collection}/snapshot-schedules`, { everySeconds: 60, keep: 1 }, reader),
    ];
    expect(refused.map((res) => [res.status, errorOf(res).code])).toEqual(
      Array.from({ length: 4 }, () => [403, 'PERMISSION_DENIED']),
    );
    expect((await get(`${team}/snapshots/${snapshot.id}`, owner).expect(200)).body).toEqual(snapshot);
    expect(errorOf(await get(`${team}/collections/c2`, owner).expect(404)).code).toBe('COLLECTION_NOT_FOUND');
  });

  it("keeps a space's snapshots out of other accounts' reach", async () => {
    const refusals = [
      await get(`${team}/snapshots`, mallory),
      await get(`${team}/snapshots/${snapshot.id}`, mallory),
      await request(app).get(`${team}/snapshots/${snapshot.id}/download`).set('authorization', mallory),
      await del(`${team}/snapshots/${snapshot.id}`, mallory),
      await post(`${team}/snapshots/${snapshot.id}/restore`, { collection: 'mine' }, mallory),
      await post(`${collection}/snapshots`, {}, mallory),
      await get(`${collection}/snapshot-schedules`, mallory),
    ];
    expect(refusals.map((res) => [res.status, errorOf(res).code])).toEqual(
      Array.from({ length: 7 }, () => [404, 'SPACE_NOT_FOUND']),
    );
    expect(errorOf(await request(app).get(`${team}/snapshots/${snapshot.id}/download`).expect(401)).code).toBe(
      'UNAUTHENTICATED',
    );
  });
});

describe('schedules', () => {
  const SCHEDULES = `${SOURCE}/snapshot-schedules`;

  it('creates, lists and removes a collection’s schedules', async () => {
    const res = await post(SCHEDULES, { everySeconds: 3600, keep: 3 }).expect(201);
    const schedule = res.body as { id: number };
    expect(schedule).toEqual({
      id: expect.any(Number),
      everySeconds: 3600,
      keep: 3,
      created: expect.stringMatching(RFC3339),
    });
    expect((await get(SCHEDULES).expect(200)).body).toEqual({ schedules: [schedule] });
    expect((await get(`${SPACE}/collections/other/snapshot-schedules`).expect(200)).body).toEqual({ schedules: [] });

    await del(`${SCHEDULES}/${schedule.id}`).expect(204);
    expect((await get(SCHEDULES).expect(200)).body).toEqual({ schedules: [] });
    expect(errorOf(await del(`${SCHEDULES}/${schedule.id}`).expect(404)).code).toBe('SCHEDULE_NOT_FOUND');
  });

  it('refuses schedules that break the rules, and creates none', async () => {
    const bodies = [
      { everySeconds: 59, keep: 3 },
      { everySeconds: 3600, keep: 0 },
      { everySeconds: 3600, keep: 1001 },
      { everySeconds: 60.5, keep: 3 },
      { everySeconds: '3600', keep: 3 },
      { everySeconds: 3600 },
      { everySeconds: 3600, keep: 3, at: 'noon' },
    ];
    for (const body of bodies) {
      const res = await post(SCHEDULES, body);
      expect([body, res.status, errorOf(res).code]).toEqual([body, 400, 'INVALID_ARGUMENT']);
    }
    const text = await request(app).post(SCHEDULES).set('authorization', admin).type('text/plain').send('hourly');
    expect([text.status, errorOf(text).code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
    const ghost = await post(`${SPACE}/collections/ghost/snapshot-schedules`, { everySeconds: 60, keep: 1 });
    expect([ghost.status, errorOf(ghost).code]).toEqual([404, 'COLLECTION_NOT_FOUND']);
    expect(errorOf(await del(`${SCHEDULES}/x`).expect(400)).code).toBe('INVALID_ARGUMENT');
    expect((await get(SCHEDULES).expect(200)).body).toEqual({ schedules: [] });
  });
});

it('describes its routes in the OpenAPI document', async () => {
  const doc = (await request(app).get('/v1/openapi.json').expect(200)).body as {
    paths: Record<
      string,
      Record<string, { responses: Record<string, { headers?: object; content?: Record<string, unknown> }> }>
    >;
    components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
  };
  const snapshots = '/v1/spaces/{space}/snapshots';
  const schedules = '/v1/spaces/{space}/collections/{collection}/snapshot-schedules';
  const listed = app.routes
    .filter((r) => r.openapiPath.includes('snapshot'))
    .map((r) => `${r.method} ${r.openapiPath}`);
  expect(listed).toEqual([
    'post /v1/spaces/{space}/collections/{collection}/snapshots',
    `get ${snapshots}`,
    `get ${snapshots}/{id}`,
    `get ${snapshots}/{id}/download`,
    `delete ${snapshots}/{id}`,
    `post ${snapshots}/{id}/restore`,
    `post ${schedules}`,
    `get ${schedules}`,
    `delete ${schedules}/{id}`,
  ]);
  for (const route of listed) {
    const [method, path] = route.split(' ') as [string, string];
    expect(doc.paths[path]).toHaveProperty(method);
  }
  const downloadResponses = doc.paths[`${snapshots}/{id}/download`]?.get?.responses ?? {};
  expect(Object.keys(downloadResponses).sort()).toEqual([
    '200',
    '400',
    '401',
    '403',
    '404',
    '409',
    '422',
    '429',
    '503',
  ]);
  expect(Object.keys(downloadResponses['200']?.content ?? {})).toEqual(['application/gzip']);
  expect(Object.keys(downloadResponses['200']?.headers ?? {})).toEqual([
    'Content-Disposition',
    'Content-Length',
    'X-Checksum-SHA256',
  ]);
  const { Snapshot, Job } = doc.components.schemas;
  expect(Object.keys(Snapshot?.properties ?? {})).not.toContain('object');
  expect(Object.keys(Job?.properties ?? {})).toEqual(expect.arrayContaining(['snapshotId', 'phase']));
});
