import { MAX_KEY_BYTES, prefixUpperBound, validateKey } from './keys';
import { compareUtf8 } from './utf8';
import { codeOf } from '../../../test/support/errors';

describe('validateKey', () => {
  it.each(['a', 'a/b/c', 'with space', 'é😀', '%_*?', 'x'.repeat(MAX_KEY_BYTES)])('accepts %j', (key) => {
    expect(codeOf(() => validateKey(key))).toBeUndefined();
  });

  it.each([
    ['empty', ''],
    ['NUL', 'a\u0000b'],
    ['lone surrogate', 'a\ud800'],
    ['1025 bytes', 'x'.repeat(MAX_KEY_BYTES + 1)],
    ['1026 bytes of 2-byte characters', 'é'.repeat(513)],
  ])('refuses a key that is %s', (_, key) => {
    expect(codeOf(() => validateKey(key))).toBe('INVALID_KEY');
  });

  it('counts bytes, not characters', () => {
    expect(codeOf(() => validateKey('é'.repeat(512)))).toBeUndefined();
    expect(codeOf(() => validateKey('😀'.repeat(256)))).toBeUndefined();
    expect(codeOf(() => validateKey('😀'.repeat(257)))).toBe('INVALID_KEY');
  });
});

describe('prefixUpperBound', () => {
  it.each([
    ['a', 'b'],
    ['ab', 'ac'],
    ['a\u{10ffff}', 'b'],
    ['\ud7ff', '\ue000'],
    ['x\uffff', 'x𐀀'],
  ])('%j → %j', (prefix, upper) => {
    expect(prefixUpperBound(prefix)).toBe(upper);
  });

  it('has none for a prefix of only U+10FFFF', () => {
    expect(prefixUpperBound('\u{10ffff}\u{10ffff}')).toBeUndefined();
  });

  it('bounds every extension of the prefix and nothing past it', () => {
    const prefix = 'ab';
    const upper = prefixUpperBound(prefix) as string;
    for (const key of ['ab', 'ab\u0001', 'ab\u{10ffff}\u{10ffff}', 'abz']) {
      expect(compareUtf8(key, prefix)).toBeGreaterThanOrEqual(0);
      expect(compareUtf8(key, upper)).toBeLessThan(0);
    }
    expect(compareUtf8('ac', upper)).toBeGreaterThanOrEqual(0);
  });
});
