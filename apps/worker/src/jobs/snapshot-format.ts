import { createHash, type Hash } from 'node:crypto';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

/**
 * A snapshot object: gzipped NDJSON. Its first line describes it; every other line is a record,
 * in key order: `{"key":…,"contentType":…,"value":<base64>}`. The snapshot's checksum is the
 * SHA-256 of its record lines exactly as written (newline included), so that a collection read
 * back in key order and written out the same way has the same checksum when it holds the same
 * records, byte for byte.
 */
export const SNAPSHOT_FORMAT = 'rosetta-snapshot';
export const SNAPSHOT_FORMAT_VERSION = 1;

export interface SnapshotHeader {
  readonly format: typeof SNAPSHOT_FORMAT;
  readonly version: typeof SNAPSHOT_FORMAT_VERSION;
  readonly space: string;
  readonly collection: string;
  /** The collection's version, for a versioned collection's snapshot; empty otherwise. */
  readonly at: string;
  readonly snapshot: string;
  readonly taken: string;
}

export interface SnapshotEntry {
  readonly key: string;
  readonly contentType: string;
  readonly value: Uint8Array;
}

export const headerLine = (header: SnapshotHeader) => `${JSON.stringify(header)}\n`;

export const recordLine = (record: SnapshotEntry) =>
  `${JSON.stringify({ key: record.key, contentType: record.contentType, value: Buffer.from(record.value).toString('base64') })}\n`;

/** The running checksum of record lines. */
export class SnapshotChecksum {
  private readonly hash: Hash = createHash('sha256');

  add(line: string): void {
    this.hash.update(line, 'utf8');
  }

  hex(): string {
    return this.hash.digest('hex');
  }
}

/** An object that is not a snapshot, or not a whole one. */
export class SnapshotUnreadable extends Error {}

function parseRecord(line: string, number: number): SnapshotEntry {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    throw new SnapshotUnreadable(`line ${number} is not JSON`);
  }
  const { key, contentType, value } = (parsed ?? {}) as Record<string, unknown>;
  if (typeof key !== 'string' || typeof contentType !== 'string' || typeof value !== 'string') {
    throw new SnapshotUnreadable(`line ${number} is not a record`);
  }
  return { key, contentType, value: Buffer.from(value, 'base64') };
}

/**
 * The records of a snapshot object, in order, each with its line (for the checksum). The header
 * is checked first; anything malformed, or a stream that is cut, throws SnapshotUnreadable.
 */
export async function* readSnapshot(
  object: Readable,
): AsyncGenerator<{ readonly record: SnapshotEntry; readonly line: string }> {
  const gunzip = createGunzip();
  // readline ends quietly when its input fails: the failure is kept and thrown after the lines.
  let failure: Error | undefined;
  gunzip.on('error', (error) => (failure ??= error));
  object.on('error', (error) => gunzip.destroy(error));
  const lines = createInterface({ input: object.pipe(gunzip), crlfDelay: Infinity });
  let number = 0;
  try {
    for await (const text of lines) {
      number += 1;
      if (number === 1) {
        let header: Partial<SnapshotHeader> = {};
        try {
          header = JSON.parse(text) as Partial<SnapshotHeader>;
        } catch {
          throw new SnapshotUnreadable('the first line is not a snapshot header');
        }
        if (header.format !== SNAPSHOT_FORMAT || header.version !== SNAPSHOT_FORMAT_VERSION) {
          throw new SnapshotUnreadable('the first line is not a snapshot header');
        }
        continue;
      }
      yield { record: parseRecord(text, number), line: `${text}\n` };
    }
  } catch (error) {
    if (error instanceof SnapshotUnreadable) throw error;
    throw new SnapshotUnreadable(
      `the object cannot be read: ${error instanceof Error ? error.message : String(error)}`,
    );
  } finally {
    lines.close();
    object.destroy();
  }
  if (failure !== undefined) throw new SnapshotUnreadable(`the object cannot be read: ${failure.message}`);
  if (number === 0) throw new SnapshotUnreadable('the object is empty');
}
