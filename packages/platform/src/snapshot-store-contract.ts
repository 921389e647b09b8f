import type { Readable } from 'node:stream';

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

/**
 * Returns `name` when it is a plain relative path (`a/b/c`), refusing any other: an absolute one,
 * or one with empty, `.` or `..` segments, could leave the store's directory or key prefix, or
 * name one object in several ways.
 */
export function checkSnapshotName(name: string): string {
  if (name.split('/').some((segment) => segment === '' || segment === '.' || segment === '..')) {
    throw new Error(`snapshot object name ${JSON.stringify(name)} is not a plain relative path`);
  }
  return name;
}
