import { formatMicros, valueAsText } from '@rosetta/core';
import type { ChangeEvent, Collection, Record as RecordMessage } from '@rosetta/proto';

export interface RecordMetaJson {
  key: string;
  contentType: string;
  size: number;
  revision: number;
  createdRevision: number;
  created: string;
  updated: string;
}

export interface RecordJson extends RecordMetaJson {
  value?: string;
  encoding?: 'utf8' | 'base64';
}

export function recordMetaJson(record: RecordMessage): RecordMetaJson {
  return {
    key: record.key,
    contentType: record.contentType,
    size: Number(record.size),
    revision: Number(record.revision),
    createdRevision: Number(record.createdRevision),
    created: formatMicros(Number(record.createdUs)),
    updated: formatMicros(Number(record.updatedUs)),
  };
}

export function recordJson(record: RecordMessage, withValue: boolean): RecordJson {
  const { key, ...meta } = recordMetaJson(record);
  if (!withValue) return { key, ...meta };
  const text = valueAsText(record.contentType, record.value);
  return text === undefined
    ? { key, value: Buffer.from(record.value).toString('base64'), encoding: 'base64', ...meta }
    : { key, value: text, encoding: 'utf8', ...meta };
}

export function collectionJson(collection: Collection) {
  return {
    space: collection.space,
    name: collection.name,
    versioned: collection.versioned,
    maxValueBytes: Number(collection.maxValueBytes),
    tags: collection.tags,
    revision: Number(collection.revision),
    rootVersion: collection.rootVersion,
    created: formatMicros(Number(collection.createdUs)),
    updated: formatMicros(Number(collection.updatedUs)),
  };
}

/** A path that addresses a record, each key segment percent-encoded. */
export function recordPath(space: string, collection: string, key: string): string {
  const encodedKey = key.split('/').map(encodeURIComponent).join('/');
  return `/v1/spaces/${encodeURIComponent(space)}/collections/${encodeURIComponent(collection)}/records/${encodedKey}`;
}

/** A change event as /v1 and Rivet's watch show it: the value as text or Base64, like records. */
export function changeEventJson(event: ChangeEvent) {
  const text = event.value === undefined ? undefined : valueAsText(event.contentType, event.value);
  return {
    revision: Number(event.revision),
    op: event.op,
    key: event.key,
    version: event.version,
    contentType: event.contentType,
    size: Number(event.size),
    at: formatMicros(Number(event.atUs)),
    ...(event.value === undefined
      ? {}
      : text === undefined
        ? { value: Buffer.from(event.value).toString('base64'), encoding: 'base64' as const }
        : { value: text, encoding: 'utf8' as const }),
  };
}
