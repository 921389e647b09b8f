import type { Collection, StoredRecord } from '@rosetta/core';
import type { CacheEntry, RecordEntry } from '../services/ports';

/**
 * How cache entries look as bytes (Redis). Every entry starts with `<revision>|<kind>`, which is
 * all the "set if newer" script reads:
 *   collection  `<rev>|v|<id>|<rootNodeId>|<json>`  or the tombstone `<rev>|t`
 *   record      `<rev>|v|<createdRev>|<created>|<updated>|<contentType>\n<value bytes>`,
 *               the tombstone `<rev>|t\n`, or the marker `<rev>|m\n` ("read the database")
 */
export type EntryKind = 'v' | 't' | 'm';

export function encodeCollection(entry: CacheEntry<Collection>): string {
  const c = entry.value;
  if (c === undefined) return `${entry.revision}|t`;
  return `${entry.revision}|v|${c.id}|${c.rootNodeId}|${JSON.stringify(c)}`;
}

export function decodeCollection(text: string): CacheEntry<Collection> | undefined {
  const match = /^(\d+)\|([vt])(?:\|\d+\|\d+\|(.*))?$/s.exec(text);
  if (match === null) return undefined;
  const revision = Number(match[1]);
  if (match[2] === 't') return { revision, value: undefined };
  return { revision, value: JSON.parse(match[3] as string) as Collection };
}

/** How an entry is kept: a live value small enough for the cache, else a tombstone or a marker. */
export function entryKind(entry: RecordEntry, maxValueBytes: number): EntryKind {
  if (entry.state !== 'live') return entry.state === 'deleted' ? 't' : 'm';
  return entry.record.value.byteLength > maxValueBytes ? 'm' : 'v';
}

export function encodeRecord(revision: number, record: StoredRecord | undefined, kind: EntryKind): Buffer {
  if (kind !== 'v' || record === undefined) return Buffer.from(`${revision}|${kind}\n`);
  const r = record;
  const head = Buffer.from(`${revision}|v|${r.createdRevision}|${r.created}|${r.updated}|${r.contentType}\n`);
  return Buffer.concat([head, r.value]);
}

/** Undefined for markers and for anything unreadable: the caller reads the database. */
export function decodeRecord(key: string, bytes: Buffer): CacheEntry<StoredRecord> | undefined {
  const newline = bytes.indexOf(0x0a);
  if (newline === -1) return undefined;
  const fields = bytes.toString('utf8', 0, newline).split('|');
  const revision = Number(fields[0]);
  if (!Number.isSafeInteger(revision)) return undefined;
  if (fields[1] === 't') return { revision, value: undefined };
  if (fields[1] !== 'v' || fields.length < 6) return undefined;
  return {
    revision,
    value: {
      key,
      value: bytes.subarray(newline + 1),
      contentType: fields.slice(5).join('|'),
      created: Number(fields[3]),
      updated: Number(fields[4]),
      revision,
      createdRevision: Number(fields[2]),
    },
  };
}
