import { decodeCursor, encodeCursor, parseFilter, validateLimit } from './scan';
import { codeOf as code } from '../../../test/support/errors';

describe('cursors', () => {
  it('round-trip a key position', () => {
    const cursor = encodeCursor({ order: 'key', key: 'a/é😀' }, false);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor, 'key', false)).toEqual({ order: 'key', key: 'a/é😀' });
  });

  it('round-trip a creation position', () => {
    const cursor = encodeCursor({ order: 'created', createdRevision: 1234 }, true);
    expect(decodeCursor(cursor, 'created', true)).toEqual({ order: 'created', createdRevision: 1234 });
  });

  it('refuse a cursor of another order or direction', () => {
    const cursor = encodeCursor({ order: 'key', key: 'a' }, false);
    expect(code(() => decodeCursor(cursor, 'created', false))).toBe('INVALID_CURSOR');
    expect(code(() => decodeCursor(cursor, 'key', true))).toBe('INVALID_CURSOR');
  });

  it.each([
    ['garbage', '!!!'],
    ['not JSON', Buffer.from('hello').toString('base64url')],
    ['JSON of the wrong shape', Buffer.from('{"v":1,"o":"k","r":0}').toString('base64url')],
    ['a key with NUL', Buffer.from('{"v":1,"o":"k","r":0,"k":"a\\u0000"}').toString('base64url')],
    ['a negative revision', Buffer.from('{"v":1,"o":"c","r":0,"c":-1}').toString('base64url')],
    ['null', Buffer.from('null').toString('base64url')],
  ])('refuse %s', (_, cursor) => {
    expect(code(() => decodeCursor(cursor, 'key', false))).toBe('INVALID_CURSOR');
    expect(code(() => decodeCursor(cursor, 'created', false))).toBe('INVALID_CURSOR');
  });
});

describe('parseFilter', () => {
  it('drops an empty prefix and parses the pattern', () => {
    const filter = parseFilter({ prefix: '', pattern: 'a*' });
    expect(filter.prefix).toBeUndefined();
    expect(filter.pattern?.like).toBe('a%');
  });

  it('checks range bounds as keys', () => {
    expect(code(() => parseFilter({ start: '' }))).toBe('INVALID_KEY');
    expect(code(() => parseFilter({ end: 'a\u0000' }))).toBe('INVALID_KEY');
  });

  it('wants whole microseconds for time bounds', () => {
    expect(code(() => parseFilter({ createdAfter: 1.5 }))).toBe('INVALID_ARGUMENT');
    expect(code(() => parseFilter({ updatedBefore: Number.MAX_SAFE_INTEGER + 10 }))).toBe('INVALID_ARGUMENT');
    expect(parseFilter({ createdAfter: 0 }).createdAfter).toBe(0);
  });

  it('refuses an over-long prefix', () => {
    expect(code(() => parseFilter({ prefix: 'x'.repeat(1025) }))).toBe('INVALID_ARGUMENT');
    expect(code(() => parseFilter({ prefix: 'a\u0000b' }))).toBe('INVALID_ARGUMENT');
  });
});

describe('validateLimit', () => {
  it('accepts none, zero and positive integers', () => {
    expect(code(() => validateLimit(undefined))).toBeUndefined();
    expect(code(() => validateLimit(0))).toBeUndefined();
    expect(code(() => validateLimit(10))).toBeUndefined();
  });

  it.each([-1, 1.5, Number.NaN])('refuses %p', (limit) => {
    expect(code(() => validateLimit(limit))).toBe('INVALID_ARGUMENT');
  });
});
