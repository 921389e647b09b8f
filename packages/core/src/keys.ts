import { invalid } from './errors';
import { utf8ByteLength } from './utf8';

/** Longest key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;

/**
 * Keys are UTF-8 text of 1 to 1024 bytes without NUL. They are ordered by their bytes
 * (see `compareUtf8`). A string with a lone surrogate has no UTF-8 form and is refused.
 */
export function validateKey(key: string): void {
  if (key.length === 0) throw invalid('INVALID_KEY', 'key must not be empty');
  if (key.includes('\u0000')) throw invalid('INVALID_KEY', 'key must not contain NUL');
  if (!key.isWellFormed()) throw invalid('INVALID_KEY', 'key must be valid UTF-8');
  const bytes = utf8ByteLength(key);
  if (bytes > MAX_KEY_BYTES) {
    throw invalid('INVALID_KEY', `key is ${bytes} bytes long; the limit is ${MAX_KEY_BYTES}`);
  }
}

/**
 * The smallest string greater than every string that starts with `prefix`, in byte order, or
 * undefined when there is none (the prefix is all U+10FFFF). With it, "starts with" becomes a
 * key range any index serves: `prefix <= key < upper`.
 */
export function prefixUpperBound(prefix: string): string | undefined {
  const points = Array.from(prefix);
  while (points.length > 0) {
    const last = (points.pop() as string).codePointAt(0) as number;
    if (last < 0x10ffff) {
      // Skip the surrogate range: those code points have no UTF-8 form.
      const next = last === 0xd7ff ? 0xe000 : last + 1;
      return points.join('') + String.fromCodePoint(next);
    }
  }
  return undefined;
}
