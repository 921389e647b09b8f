import { DomainError } from './errors';
import { MAX_PATTERN_WILDCARDS, escapeGlob, matchGlob, parseGlob } from './patterns';

describe('parseGlob', () => {
  it('escapes SQL wildcards so that % and _ in keys stay literal', () => {
    const p = parseGlob('a%b_c*');
    expect(p.like).toBe('a\\%b\\_c%');
    expect(p.prefix).toBe('a%b_c');
    expect(p.exact).toBe(false);
  });

  it('turns * into % and ? into _', () => {
    expect(parseGlob('foo:*:bar?').like).toBe('foo:%:bar_');
  });

  it('reads \\ as an escape', () => {
    const p = parseGlob('a\\*b\\?c\\\\');
    expect(p.exact).toBe(true);
    expect(p.prefix).toBe('a*b?c\\');
    expect(p.like).toBe('a*b?c\\\\');
  });

  it('folds ** into one wildcard', () => {
    expect(parseGlob('a**b').tokens).toEqual([
      { kind: 'literal', text: 'a' },
      { kind: 'any' },
      { kind: 'literal', text: 'b' },
    ]);
  });

  it('has an empty prefix when it starts with a wildcard', () => {
    expect(parseGlob('*x').prefix).toBe('');
  });

  it.each([
    ['a trailing backslash', 'abc\\'],
    ['too many wildcards', '*a'.repeat(MAX_PATTERN_WILDCARDS + 1)],
    ['a lone surrogate', '\ud800*'],
    ['too many bytes', 'x'.repeat(1025)],
  ])('refuses %s', (_, pattern) => {
    expect(() => parseGlob(pattern)).toThrow(DomainError);
    try {
      parseGlob(pattern);
    } catch (error) {
      expect((error as DomainError).code).toBe('INVALID_PATTERN');
    }
  });

  it('round-trips escaped literals', () => {
    for (const text of ['plain', 'a*b', '?', '\\', 'x\\*?y']) {
      const p = parseGlob(escapeGlob(text));
      expect(p.exact).toBe(true);
      expect(p.prefix).toBe(text);
    }
  });
});

describe('matchGlob', () => {
  const m = (pattern: string, key: string) => matchGlob(parseGlob(pattern), key);

  it.each([
    ['foo:bar:*', 'foo:bar:baz', true],
    ['foo:bar:*', 'foo:bar:baz:quux', true],
    ['foo:*:baz', 'foo:bar:baz', true],
    ['foo:*:baz', 'foo:bar:baz:quux', false],
    ['foo:*:bar*', 'foo:123:bar1', true],
    ['foo:*:bar*', 'foo:234:boo', false],
    ['*', '', true],
    ['*', 'anything', true],
    ['a?c', 'abc', true],
    ['a?c', 'ac', false],
    ['a_c', 'abc', false],
    ['a_c', 'a_c', true],
    ['100%', '100%', true],
    ['100%', '1000', false],
    ['?', '😀', true],
    ['a*b*c*d', 'aXbYcZd', true],
    ['a*b*c*d', 'aXbYcZ', false],
  ])('%j against %j is %s', (pattern, key, expected) => {
    expect(m(pattern, key)).toBe(expected);
  });

  it('stays fast on a pattern that makes naive backtracking explode', () => {
    const pattern = '*a'.repeat(MAX_PATTERN_WILDCARDS) + 'b';
    const key = 'a'.repeat(1000);
    const started = process.hrtime.bigint();
    expect(m(pattern, key)).toBe(false);
    // Quadratic at worst: 16 × 1000 steps, far below a millisecond budget of 100.
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(100);
  });
});
