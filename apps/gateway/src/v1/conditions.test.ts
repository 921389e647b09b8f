import { notModified, writeCondition } from './conditions';
import { codeOf as code } from '../../../../test/support/errors';

describe('writeCondition', () => {
  it.each([
    [undefined, undefined, { kind: 'always' }],
    [undefined, '*', { kind: 'absent' }],
    ['*', undefined, { kind: 'present' }],
    ['"42"', undefined, { kind: 'revision', revision: 42 }],
    [' "7" ', undefined, { kind: 'revision', revision: 7 }],
  ])('If-Match %j, If-None-Match %j', (ifMatch, ifNoneMatch, expected) => {
    expect(writeCondition(ifMatch, ifNoneMatch)).toEqual(expected);
  });

  it.each([
    ['both headers', '"1"', '*', 'INVALID_ARGUMENT'],
    ['an unquoted tag', '42', undefined, 'INVALID_ARGUMENT'],
    ['two tags', '"1", "2"', undefined, 'INVALID_ARGUMENT'],
    ['a non-revision tag', '"abc"', undefined, 'INVALID_ARGUMENT'],
    ['revision zero', '"0"', undefined, 'INVALID_ARGUMENT'],
    ['If-None-Match with a tag on a write', undefined, '"3"', 'INVALID_ARGUMENT'],
    ['a weak tag, which never matches strongly', 'W/"3"', undefined, 'REVISION_MISMATCH'],
  ])('refuses %s', (_, ifMatch, ifNoneMatch, expected) => {
    expect(code(() => writeCondition(ifMatch, ifNoneMatch))).toBe(expected);
  });
});

describe('notModified', () => {
  it('matches the current revision, weakly, in a list, or *', () => {
    expect(notModified(undefined, 5)).toBe(false);
    expect(notModified('"5"', 5)).toBe(true);
    expect(notModified('W/"5"', 5n)).toBe(true);
    expect(notModified('"4", "5"', 5)).toBe(true);
    expect(notModified('"4"', 5)).toBe(false);
    expect(notModified('*', 5)).toBe(true);
  });

  it('refuses a malformed header', () => {
    expect(code(() => notModified('5', 5))).toBe('INVALID_ARGUMENT');
  });
});
