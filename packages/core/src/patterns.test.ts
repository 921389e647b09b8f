import { DomainError } from './errors';
import { MAX_PATTERN_WILDCARDS, parseGlob } from './patterns';

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
});
