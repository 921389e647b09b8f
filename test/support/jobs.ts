import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEmbeddedJobs, type EmbeddedRelay } from '../../apps/worker/src';
import { FileSnapshotStore, type SnapshotStore } from '../../packages/platform/src';
import { silentLogger, type TestApi } from './api';

/** A snapshot store in a directory of its own under the system's temporary directory. */
export function temporaryStore(): { store: SnapshotStore; directory: string; remove(): void } {
  const directory = mkdtempSync(join(tmpdir(), 'rosetta-snapshots-'));
  return {
    store: new FileSnapshotStore(directory),
    directory,
    remove: () => rmSync(directory, { recursive: true, force: true }),
  };
}

/**
 * The worker's jobs run in the test's process, as the all-in-one process runs them: over the
 * test api's clients (which carry an admin grant), looking for jobs every 20 ms.
 */
export function embeddedJobs(
  api: Pick<TestApi, 'jobs' | 'snapshots' | 'records'>,
  options: { deleteBatch: number; store?: SnapshotStore; concurrency?: number },
): EmbeddedRelay {
  // A store of its own, when none is given, goes when the jobs stop.
  const own = options.store === undefined ? temporaryStore() : { store: options.store, remove: () => undefined };
  const jobs = createEmbeddedJobs({
    jobs: api.jobs,
    snapshots: api.snapshots,
    records: api.records,
    store: own.store,
    deleteBatch: options.deleteBatch,
    intervalMs: 20,
    concurrency: options.concurrency ?? 2,
    logger: silentLogger,
  });
  return {
    async stop() {
      await jobs.stop();
      own.remove();
    },
  };
}
