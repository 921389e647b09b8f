import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, relative, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';

/**
 * Where snapshot objects live: a directory by default, S3-compatible storage when configured.
 * Names are relative paths (`space/collection/id.ndjson.gz`); writing a name replaces what was
 * there only once the new object is whole.
 */
export interface SnapshotStore {
  /** Writes `body` under `name`; resolves with its size once it is stored whole. */
  write(name: string, body: Readable): Promise<number>;
  /** The object's bytes; rejects with SnapshotMissing when there is none. */
  read(name: string): Promise<Readable>;
  /** Deletes the object; nothing happens when there is none. */
  delete(name: string): Promise<void>;
}

/** No object has that name. */
export class SnapshotMissing extends Error {
  constructor(readonly object: string) {
    super(`snapshot object ${object} is missing from the store`);
  }
}

/** Objects as files under a directory; a write goes to a temporary file, renamed when whole. */
export class FileSnapshotStore implements SnapshotStore {
  private readonly root: string;

  constructor(directory: string) {
    this.root = resolve(directory);
  }

  /** The file of a name, refusing any that would leave the directory. */
  private pathOf(name: string): string {
    const path = resolve(this.root, name);
    const inside = relative(this.root, path);
    if (inside === '' || inside.startsWith(`..${sep}`) || inside === '..' || resolve(inside) === inside) {
      throw new Error(`snapshot object name ${JSON.stringify(name)} leaves the store`);
    }
    return path;
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
});

export type SnapshotStoreConfig = z.output<typeof SnapshotStoreConfigSchema>;

/** The store the settings describe. */
export function createSnapshotStore(config: SnapshotStoreConfig): SnapshotStore {
  return new FileSnapshotStore(config.SNAPSHOT_DIR);
}
