import { invalid } from './errors';
import { DEFAULT_MAX_VALUE_BYTES } from './values';

export const MAX_TAGS = 64;
export const MAX_TAG_NAME = 128;
export const MAX_TAG_VALUE = 1024;

/** What a collection's owner may choose. */
export interface CollectionSettings {
  /** A versioned collection keeps a DAG of version nodes; an unversioned one lives on one implicit node. */
  readonly versioned: boolean;
  /** Largest value accepted, in bytes. */
  readonly maxValueBytes: number;
  readonly tags: Readonly<Record<string, string>>;
}

export interface Collection extends CollectionSettings {
  readonly id: number;
  readonly space: string;
  readonly name: string;
  /** The version node unversioned writes go to (the root of the collection's DAG). */
  readonly rootNodeId: number;
  readonly rootVersion: string;
  /** The version DAG the collection lives in (its own, or a DVID repo's). */
  readonly dagId: number;
  /** A stable id of its own: 32 hexadecimal digits (DVID's DataUUID). */
  readonly uuid: string;
  /** The version node it was created at. */
  readonly originVersion: string;
  /** Settings a dialect records and shows back, without effect on storage. */
  readonly properties: Readonly<Record<string, string>>;
  readonly created: number;
  readonly updated: number;
  /** Revision of the last change to the collection's own settings. */
  readonly revision: number;
}

export interface CollectionSettingsInput {
  versioned?: boolean | undefined;
  maxValueBytes?: number | undefined;
  tags?: Record<string, string> | undefined;
}

export function validateMaxValueBytes(value: number, ceiling: number): void {
  if (!Number.isSafeInteger(value) || value < 1 || value > ceiling) {
    throw invalid('INVALID_ARGUMENT', `maxValueBytes must be an integer from 1 to ${ceiling}`);
  }
}

export function validateTags(tags: Record<string, string>): void {
  const entries = Object.entries(tags);
  if (entries.length > MAX_TAGS) throw invalid('INVALID_ARGUMENT', `at most ${MAX_TAGS} tags`);
  for (const [name, value] of entries) {
    if (name.length === 0 || name.length > MAX_TAG_NAME) {
      throw invalid('INVALID_ARGUMENT', `tag names must be 1–${MAX_TAG_NAME} characters`);
    }
    if (typeof value !== 'string' || value.length > MAX_TAG_VALUE) {
      throw invalid('INVALID_ARGUMENT', `tag values must be strings of at most ${MAX_TAG_VALUE} characters`);
    }
  }
}

/** Settings for a new collection: defaults filled in, every field checked. */
export function resolveSettings(
  input: CollectionSettingsInput,
  limits: { defaultMaxValueBytes?: number; maxValueBytesCeiling: number },
): CollectionSettings {
  const maxValueBytes = input.maxValueBytes ?? limits.defaultMaxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
  validateMaxValueBytes(maxValueBytes, limits.maxValueBytesCeiling);
  const tags = input.tags ?? {};
  validateTags(tags);
  return { versioned: input.versioned ?? false, maxValueBytes, tags };
}
