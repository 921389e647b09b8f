import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCrashCluster, type CrashCluster } from '../support/crash-cluster';
import { authFetch } from '../support/env';
import { expectEventually } from '../support/expect-eventually';

/**
 * The worker killed (SIGKILL) while it makes a snapshot, and again while it restores one, with
 * gateway, api and worker as separate processes sharing a snapshot directory: after a new worker
 * starts, each job completes, the snapshot holds every record, the store holds whole objects
 * only, and the restored collection matches the source record for record (the restore's own
 * verify phase checks it against the snapshot's checksum too).
 */

jest.setTimeout(240_000);

const RECORDS = 30_000;
const SOURCE = '/v1/spaces/default/collections/source';

let cluster: CrashCluster;
let base: string;
let store: string;

const call = authFetch();

interface JobJson {
  id: number;
  state: string;
  phase?: string;
  progress: { done: number; total: number };
}

beforeAll(async () => {
  store = mkdtempSync(join(tmpdir(), 'rosetta-e2e-snapshots-'));
  cluster = await startCrashCluster({
    worker: { JOB_POLL_MS: '100', JOB_LOCK_MS: '2000', SNAPSHOT_DIR: store },
    gateway: { SNAPSHOT_DIR: store },
  });
  base = cluster.base;
});

afterAll(async () => {
  await cluster?.stop();
  rmSync(store, { recursive: true, force: true });
});

async function json<T>(path: string, init: RequestInit = {}, status = 200): Promise<T> {
  const res = await call(`${base}${path}`, {
    ...init,
    headers: { 'content-type': 'application/json', ...init.headers },
  });
  const text = await res.text();
  if (res.status !== status) throw new Error(`${init.method ?? 'GET'} ${path}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

const jobPath = (id: number) => `/v1/spaces/default/jobs/${id}`;

function finished(id: number): Promise<JobJson> {
  return expectEventually(
    async () => {
      const job = await json<JobJson>(jobPath(id));
      expect(job.state).toBe('succeeded');
      return job;
    },
    { timeoutMs: 150_000, intervalMs: 100 },
  );
}

/** Every record of a collection as `key=value`, in key order. */
async function contentsOf(collection: string): Promise<string[]> {
  const res = await call(`${base}/v1/spaces/default/collections/${collection}/records?limit=100000`, {
    headers: { accept: 'application/x-ndjson' },
  });
  expect(res.status).toBe(200);
  return (await res.text())
    .trimEnd()
    .split('\n')
    .map((line) => {
      const record = JSON.parse(line) as { key: string; value: string };
      return `${record.key}=${record.value}`;
    });
}

/** The files of the store, whole or not, relative to it. */
const filesOf = (dir: string): string[] =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1));

it('finishes a snapshot and a restore, each interrupted by a killed worker', async () => {
  await json('/v1/spaces/default/collections', { method: 'POST', body: JSON.stringify({ name: 'source' }) }, 201);
  for (let i = 0; i < RECORDS; i += 1000) {
    const records = Array.from({ length: 1000 }, (_, j) => {
      const key = `r/${String(i + j).padStart(6, '0')}`;
      return { key, value: `${key} `.repeat(40) };
    });
    await json(`${SOURCE}/batch`, { method: 'POST', body: JSON.stringify({ records }) });
  }

  const { snapshot, job } = await json<{ snapshot: { id: number }; job: JobJson }>(
    `${SOURCE}/snapshots`,
    { method: 'POST', body: '{}' },
    202,
  );
  await cluster.startWorker();
  await expectEventually(async () => expect((await json<JobJson>(jobPath(job.id))).state).toBe('running'), {
    timeoutMs: 60_000,
    intervalMs: 10,
  });
  await cluster.killWorker();
  expect((await json<JobJson>(jobPath(job.id))).state).toBe('running');

  await cluster.startWorker();
  await finished(job.id);
  const ready = await json<{ state: string; records: number }>(`/v1/spaces/default/snapshots/${snapshot.id}`);
  expect(ready).toMatchObject({ state: 'ready', records: RECORDS });
  expect(filesOf(store)).toEqual([expect.stringMatching(/\.ndjson\.gz$/)]);

  const restore = await json<{ job: JobJson }>(
    `/v1/spaces/default/snapshots/${snapshot.id}/restore`,
    { method: 'POST', body: JSON.stringify({ collection: 'copy' }) },
    202,
  );
  await expectEventually(
    async () => expect((await json<JobJson>(jobPath(restore.job.id))).progress.done).toBeGreaterThan(0),
    { timeoutMs: 60_000, intervalMs: 10 },
  );
  await cluster.killWorker();
  const interrupted = await json<JobJson>(jobPath(restore.job.id));
  expect(interrupted.state).toBe('running');

  await cluster.startWorker();
  const restored = await finished(restore.job.id);
  expect(restored.progress.done).toBe(RECORDS);
  expect(await contentsOf('copy')).toEqual(await contentsOf('source'));
});
