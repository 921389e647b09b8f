import { invalid } from './errors';
import { utf8ByteLength } from './utf8';

/** Longest pattern, in UTF-8 bytes. */
export const MAX_PATTERN_BYTES = 1024;
/**
 * Most wildcards in one pattern. SQL LIKE backtracks on each `%`, so the cost of a match grows
 * with the number of wildcards; a small cap keeps a hostile pattern from burning CPU.
 */
export const MAX_PATTERN_WILDCARDS = 16;

/**
 * A parsed glob pattern. Syntax: `*` matches any run of characters (including none), `?` matches
 * exactly one character, and `\` makes the next character literal. Everything else, including
 * `%` and `_`, is literal: the SQL form escapes them, so a key's `%` or `_` never acts as a
 * wildcard.
 */
export interface GlobPattern {
  /** The pattern as given. */
  readonly source: string;
  /** An anchored SQL LIKE pattern whose escape character is `\`. */
  readonly like: string;
  /** The literal text before the first wildcard (lets the database use the key index). */
  readonly prefix: string;
  /** True when the pattern has no wildcard: it matches one key, `prefix`. */
  readonly exact: boolean;
  readonly tokens: readonly GlobToken[];
}

export type GlobToken = { kind: 'literal'; text: string } | { kind: 'any' } | { kind: 'one' };

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

export function parseGlob(source: string): GlobPattern {
  if (utf8ByteLength(source) > MAX_PATTERN_BYTES) {
    throw invalid('INVALID_PATTERN', `pattern is longer than ${MAX_PATTERN_BYTES} bytes`);
  }
  if (!source.isWellFormed()) throw invalid('INVALID_PATTERN', 'pattern must be valid UTF-8');
  const tokens: GlobToken[] = [];
  let literal = '';
  let wildcards = 0;
  const flush = () => {
    if (literal) tokens.push({ kind: 'literal', text: literal });
    literal = '';
  };
  for (let i = 0; i < source.length; i++) {
    const c = source[i] as string;
    if (c === '\\') {
      const next = source[i + 1];
      if (next === undefined) throw invalid('INVALID_PATTERN', 'pattern ends with a lone "\\"');
      literal += next;
      i++;
    } else if (c === '*' || c === '?') {
      flush();
      const previous = tokens[tokens.length - 1];
      // `**` means the same as `*`; folding it keeps the wildcard count honest.
      if (c === '*' && previous?.kind === 'any') continue;
      tokens.push({ kind: c === '*' ? 'any' : 'one' });
      wildcards++;
    } else {
      literal += c;
    }
  }
  flush();
  if (wildcards > MAX_PATTERN_WILDCARDS) {
    throw invalid('INVALID_PATTERN', `pattern has more than ${MAX_PATTERN_WILDCARDS} wildcards`);
  }
  const first = tokens[0];
  const prefix = first?.kind === 'literal' ? first.text : '';
  const like = tokens.map((t) => (t.kind === 'literal' ? escapeLike(t.text) : t.kind === 'any' ? '%' : '_')).join('');
  return { source, like, prefix, exact: wildcards === 0, tokens };
}
