import { invalid } from './errors';

/** Space names: what account names and project identifiers look like (`alice`, `alice@example.org`, `team-1`). */
const SPACE_NAME = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/;

export function validateSpaceName(name: string): void {
  if (!SPACE_NAME.test(name)) {
    throw invalid(
      'INVALID_NAME',
      'space name must be 1–128 characters of letters, digits and . _ @ + -, starting with a letter or digit',
    );
  }
}

const SPACE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A space's id: a hyphenated UUID, in either case. Returns it lower-cased, as stored. */
export function validateSpaceId(id: string): string {
  if (!SPACE_ID.test(id)) {
    throw invalid('INVALID_ARGUMENT', 'space id must be a UUID (8-4-4-4-12 hexadecimal digits)');
  }
  return id.toLowerCase();
}

/** Longest collection name, in characters. */
export const MAX_COLLECTION_NAME = 200;

/**
 * Collection names come from many dialects (OpenFn `cat-breeds`, DVID instance names, Prosody
 * store names), so the rule is broad: 1–200 characters, no `/`, no control characters, no
 * leading or trailing space, and not `.` or `..` (they would be path traversal in URLs).
 */
export function validateCollectionName(name: string): void {
  if (name.length === 0 || name.length > MAX_COLLECTION_NAME) {
    throw invalid('INVALID_NAME', `collection name must be 1–${MAX_COLLECTION_NAME} characters`);
  }
  // eslint-disable-next-line no-control-regex
  if (/[/\u0000-\u001f\u007f]/.test(name)) {
    throw invalid('INVALID_NAME', 'collection name must not contain "/" or control characters');
  }
  if (name !== name.trim() || name === '.' || name === '..' || !name.isWellFormed()) {
    throw invalid('INVALID_NAME', 'collection name must not be "." or "..", nor start or end with a space');
  }
}
