import {
  DEFAULT_CONTENT_TYPE,
  assertValueSize,
  isJsonContentType,
  isTextContentType,
  normalizeContentType,
  valueAsText,
} from './values';
import { resolveSettings } from './collections';
import { validateBatchKeys } from './records';
import { validateCollectionName, validateSpaceName } from './names';
import { codeOf as code } from '../../../test/support/errors';

describe('content types', () => {
  it('defaults an empty one', () => {
    expect(normalizeContentType(undefined)).toBe(DEFAULT_CONTENT_TYPE);
    expect(normalizeContentType('  ')).toBe(DEFAULT_CONTENT_TYPE);
  });

  it.each(['text/plain', 'application/json; charset=utf-8', 'application/vnd.api+json', 'text/plain;a="b c"'])(
    'accepts %j',
    (ct) => expect(normalizeContentType(ct)).toBe(ct),
  );

  it.each(['text', 'text/', '/json', 'text/plain; x', 'a b/c', 'text/pl\nain', 'x/'.padEnd(300, 'y')])(
    'refuses %j',
    (ct) => expect(code(() => normalizeContentType(ct))).toBe('INVALID_CONTENT_TYPE'),
  );

  it('knows JSON and text', () => {
    expect(isJsonContentType('Application/JSON; charset=utf-8')).toBe(true);
    expect(isJsonContentType('application/ld+json')).toBe(true);
    expect(isJsonContentType('text/plain')).toBe(false);
    expect(isTextContentType('text/csv')).toBe(true);
    expect(isTextContentType('application/json')).toBe(true);
    expect(isTextContentType('application/octet-stream')).toBe(false);
  });

  it('shows a textual value as its text, a leading byte-order mark kept, and invalid UTF-8 not at all', () => {
    expect(valueAsText('text/plain', Buffer.from('\ufeffbom'))).toBe('\ufeffbom');
    expect(valueAsText('application/json', Buffer.from([0x7b, 0xff, 0x7d]))).toBeUndefined();
    expect(valueAsText('image/png', Buffer.from('x'))).toBeUndefined();
  });
});

describe('limits', () => {
  it('refuses values over the limit', () => {
    expect(code(() => assertValueSize(10, 10))).toBeUndefined();
    expect(code(() => assertValueSize(11, 10))).toBe('VALUE_TOO_LARGE');
  });

  it('fills in collection settings and checks them', () => {
    expect(resolveSettings({}, { maxValueBytesCeiling: 1 << 30 })).toEqual({
      versioned: false,
      maxValueBytes: 16 * 1024 * 1024,
      tags: {},
    });
    expect(code(() => resolveSettings({ maxValueBytes: 0 }, { maxValueBytesCeiling: 100 }))).toBe('INVALID_ARGUMENT');
    expect(code(() => resolveSettings({ maxValueBytes: 101 }, { maxValueBytesCeiling: 100 }))).toBe('INVALID_ARGUMENT');
    expect(code(() => resolveSettings({ tags: { '': 'x' } }, { maxValueBytesCeiling: 100 }))).toBe('INVALID_ARGUMENT');
  });

  it('refuses duplicate and oversized batches', () => {
    expect(code(() => validateBatchKeys(['a', 'b']))).toBeUndefined();
    expect(code(() => validateBatchKeys(['a', 'a']))).toBe('DUPLICATE_KEY');
    expect(code(() => validateBatchKeys(['a', 'b', 'c'], 2))).toBe('BATCH_TOO_LARGE');
    expect(code(() => validateBatchKeys(['a', '']))).toBe('INVALID_KEY');
  });
});

describe('names', () => {
  it.each(['default', 'alice@example.org', 'team-1', 'A.b_c+d'])('accepts space %j', (name) =>
    expect(code(() => validateSpaceName(name))).toBeUndefined(),
  );
  it.each(['', '-x', 'a/b', 'a b', 'x'.repeat(129)])('refuses space %j', (name) =>
    expect(code(() => validateSpaceName(name))).toBe('INVALID_NAME'),
  );
  it.each(['patients', 'cat-breeds', 'a.b_c-1', 'Mixed Case', 'pep_urn:xmpp:x', 'é'])('accepts collection %j', (name) =>
    expect(code(() => validateCollectionName(name))).toBeUndefined(),
  );
  it.each(['', '.', '..', 'a/b', ' lead', 'trail ', 'a\u0000', 'x'.repeat(201)])('refuses collection %j', (name) =>
    expect(code(() => validateCollectionName(name))).toBe('INVALID_NAME'),
  );
});
