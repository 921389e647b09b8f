import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { envBoolean, envOptionalString } from './env';
import { checkSnapshotName, SnapshotMissing, type SnapshotStore } from './snapshot-store-contract';

export { SnapshotMissing, type SnapshotStore };

/** Objects as files under a directory; a write goes to a temporary file, renamed when whole. */
export class FileSnapshotStore implements SnapshotStore {
  private readonly root: string;

  constructor(directory: string) {
    this.root = resolve(directory);
  }

  private pathOf(name: string): string {
    return resolve(this.root, checkSnapshotName(name));
  }

  async write(name: string, body: Readable): Promise<number> {
    const path = this.pathOf(name);
    await mkdir(dirname(path), { recursive: true });
    const partial = `${path}.partial`;
    try {
      await pipeline(body, createWriteStream(partial));
      await rename(partial, path);
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
    return (await stat(path)).size;
  }

  async read(name: string): Promise<Readable> {
    const path = this.pathOf(name);
    try {
      await stat(path);
    } catch {
      throw new SnapshotMissing(name);
    }
    return createReadStream(path);
  }

  async delete(name: string): Promise<void> {
    await rm(this.pathOf(name), { force: true });
  }
}

/**
 * The snapshot store's settings, read by every process that uses the store (the worker writes
 * and deletes objects, the gateway serves downloads): a directory unless S3 is configured.
 */
export const SnapshotStoreConfigSchema = z.object({
  /** The directory snapshots are stored in (created when missing), when no S3 bucket is set. */
  SNAPSHOT_DIR: z.string().min(1).default('./snapshots'),
  /**
   * The S3 bucket snapshots are stored in; set, it replaces SNAPSHOT_DIR. Credentials come from
   * the AWS SDK's standard chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile, a role).
   */
  SNAPSHOT_S3_BUCKET: envOptionalString(),
  /** Put before every object name to make its key: `rosetta/` stores under `rosetta/…`. */
  SNAPSHOT_S3_PREFIX: z.string().default(''),
  /** The service's URL, for S3-compatible ones (MinIO, …); unset: AWS S3 of the region. */
  SNAPSHOT_S3_ENDPOINT: envOptionalString().pipe(z.url({ protocol: /^https?$/ }).optional()),
  /** The bucket's region (S3-compatible services mostly accept any). */
  SNAPSHOT_S3_REGION: z.string().min(1).default('us-east-1'),
  /** Address the bucket in the path (`host/bucket/key`) rather than the host name, as MinIO needs. */
  SNAPSHOT_S3_FORCE_PATH_STYLE: envBoolean(false),
});

export type SnapshotStoreConfig = z.output<typeof SnapshotStoreConfigSchema>;

/**
 * The store the settings describe: the bucket when one is set, else the directory. The AWS SDK
 * is loaded only then: it would add tens of megabytes to every process that never uses it.
 */
export async function createSnapshotStore(config: SnapshotStoreConfig): Promise<SnapshotStore> {
  if (config.SNAPSHOT_S3_BUCKET === undefined) return new FileSnapshotStore(config.SNAPSHOT_DIR);
  const { createS3SnapshotStore } = await import('./snapshot-store-s3.js');
  return createS3SnapshotStore({
    bucket: config.SNAPSHOT_S3_BUCKET,
    prefix: config.SNAPSHOT_S3_PREFIX,
    region: config.SNAPSHOT_S3_REGION,
    endpoint: config.SNAPSHOT_S3_ENDPOINT,
    forcePathStyle: config.SNAPSHOT_S3_FORCE_PATH_STYLE,
  });
}
