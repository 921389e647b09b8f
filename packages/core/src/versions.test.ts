import fc from 'fast-check';
import { DomainError, isDomainError, type ErrorCode } from './errors';
import { parseRfc3339Micros } from './time';
import {
  ambiguousVersion,
  ancestorOutOfRange,
  dvidMutationMessage,
  MAX_VERSION_SPEC_LENGTH,
  parseVersionSpec,
  pickAncestor,
  repoRequired,
  unknownBranch,
  unknownVersion,
  validateAssignedUuid,
  validateBranchName,
  validateRootUuid,
  type VersionSpec,
} from './versions';

/** The DomainError `fn` throws; fails the test when it returns. */
function errorOf(fn: () => unknown): DomainError {
  try {
    fn();
  } catch (error) {
    if (isDomainError(error)) return error;
    throw error;
  }
  throw new Error('expected a DomainError');
}

/** The error carries `message` as its public text too: the DVID dialect shows it verbatim. */
function expectError(error: DomainError, code: ErrorCode, message: string): void {
  expect(error).toBeInstanceOf(DomainError);
  expect({ code: error.code, message: error.message, publicMessage: error.publicMessage }).toEqual({
    code,
    message,
    publicMessage: message,
  });
}

/** A short test title for a long input. */
function shown(text: string): string {
  return text.length > 40 ? `${JSON.stringify(text.slice(0, 8))}… (${text.length} units)` : JSON.stringify(text);
}

/** Rows with a short title for their first column in front. */
function titled<R extends readonly [string, ...unknown[]]>(rows: readonly R[]): [string, ...R][] {
  return rows.map((row) => [shown(row[0]), ...row]);
}

const UUID = '28841c8277e044a7b187dda03e18da13';

describe('parseVersionSpec', () => {
  it.each(
    titled<[string, VersionSpec]>([
      ['abc', { kind: 'prefix', prefix: 'abc' }],
      [UUID, { kind: 'prefix', prefix: UUID }],
      ['ABC', { kind: 'prefix', prefix: 'ABC' }],
      ['v1.0', { kind: 'prefix', prefix: 'v1.0' }],
      ['a b', { kind: 'prefix', prefix: 'a b' }],
      ['abc~1', { kind: 'prefix', prefix: 'abc~1' }],
      ['abc:', { kind: 'prefix', prefix: 'abc' }],
      [':', { kind: 'branch', prefix: '', branch: '', ancestor: 0 }],
      [':master', { kind: 'branch', prefix: '', branch: '', ancestor: 0 }],
      [':dev', { kind: 'branch', prefix: '', branch: 'dev', ancestor: 0 }],
      ['abc:master', { kind: 'branch', prefix: 'abc', branch: '', ancestor: 0 }],
      ['abc:Master', { kind: 'branch', prefix: 'abc', branch: 'Master', ancestor: 0 }],
      ['abc:dev', { kind: 'branch', prefix: 'abc', branch: 'dev', ancestor: 0 }],
      ['abc:master~1', { kind: 'branch', prefix: 'abc', branch: '', ancestor: 1 }],
      ['abc:dev~0', { kind: 'branch', prefix: 'abc', branch: 'dev', ancestor: 0 }],
      ['abc:dev~007', { kind: 'branch', prefix: 'abc', branch: 'dev', ancestor: 7 }],
      [':master~12', { kind: 'branch', prefix: '', branch: '', ancestor: 12 }],
      [':~2', { kind: 'branch', prefix: '', branch: '', ancestor: 2 }],
      ['abc:dev~9007199254740991', { kind: 'branch', prefix: 'abc', branch: 'dev', ancestor: Number.MAX_SAFE_INTEGER }],
      // As in DVID: more than one `~` makes the whole text a branch name.
      ['abc:a~1~2', { kind: 'branch', prefix: 'abc', branch: 'a~1~2', ancestor: 0 }],
    ]),
  )('%s → %j', (_, spec, parsed) => {
    expect(parseVersionSpec(spec)).toEqual(parsed);
  });

  it('accepts a spec of exactly 200 characters', () => {
    const spec = 'x'.repeat(MAX_VERSION_SPEC_LENGTH);
    expect(parseVersionSpec(spec)).toEqual({ kind: 'prefix', prefix: spec });
  });

  it('reads a branch text of `~` alone as branch "" with an empty parent number', () => {
    expectError(
      errorOf(() => parseVersionSpec('abc:~')),
      'INVALID_ARGUMENT',
      `can't parse parent "" in branch ""`,
    );
  });

  it.each(
    titled([
      ['', 'bad UUID specification ""'],
      ['a:b:c', 'bad UUID specification "a:b:c"'],
      ['::', 'bad UUID specification "::"'],
      [`${UUID}:master:x`, `bad UUID specification "${UUID}:master:x"`],
      ['a"b\\:c:d', 'bad UUID specification "a\\"b\\\\:c:d"'],
      ['x'.repeat(201), `bad UUID specification "${'x'.repeat(200)}"`],
      ['abc\n', 'bad UUID specification "abc\\n"'],
      ['a\tb\u0007', 'bad UUID specification "a\\tb\\a"'],
      ['\u0000', 'bad UUID specification "\\x00"'],
      ['\u007f', 'bad UUID specification "\\x7f"'],
      ['\u0085', 'bad UUID specification "\\u0085"'],
      ['é', 'bad UUID specification "é"'],
      ['😀\u{e0001}', 'bad UUID specification "😀\\U000e0001"'],
      ['a\ud800', 'bad UUID specification "a\\ud800"'],
      [`${'😀'.repeat(250)}`, `bad UUID specification "${'😀'.repeat(200)}"`],
    ]),
  )('refuses %s', (_, spec, message) => {
    expectError(
      errorOf(() => parseVersionSpec(spec)),
      'INVALID_ARGUMENT',
      message,
    );
  });

  it.each([
    ['abc:master~x', 'x', 'master'],
    ['abc:master~', '', 'master'],
    [':dev~-1', '-1', 'dev'],
    [':dev~+1', '+1', 'dev'],
    [':dev~1.0', '1.0', 'dev'],
    [':dev~ 1', ' 1', 'dev'],
    [':dev~0x1', '0x1', 'dev'],
    [':dev~9007199254740992', '9007199254740992', 'dev'],
    [':~x', 'x', ''],
    ['abc:de"v~x', 'x', 'de\\"v'],
  ])('refuses the parent number of %j', (spec, parent, branch) => {
    expectError(
      errorOf(() => parseVersionSpec(spec)),
      'INVALID_ARGUMENT',
      `can't parse parent "${parent}" in branch "${branch}"`,
    );
  });

  const anyText: [string, fc.Arbitrary<string>][] = [
    ['fc.string', fc.string({ maxLength: 300 })],
    ['full Unicode', fc.string({ unit: 'binary', maxLength: 300 })],
    [
      'UTF-16 units',
      fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 300 }),
    ],
    ['spec-like', fc.string({ unit: fc.constantFrom(...'ab:~0123456789master "\\\n'.split('')), maxLength: 40 })],
  ];

  it.each(anyText)('throws nothing but INVALID_ARGUMENT for any string (%s)', (_, arbitrary) => {
    fc.assert(
      fc.property(arbitrary, (spec) => {
        try {
          const parsed = parseVersionSpec(spec);
          return (
            spec.length > 0 &&
            spec.length <= MAX_VERSION_SPEC_LENGTH &&
            (parsed.kind === 'prefix' || Number.isSafeInteger(parsed.ancestor))
          );
        } catch (error) {
          // An echo is at most 200 code points, each escaped to at most 10 characters, none raw control.
          return (
            isDomainError(error) &&
            error.code === 'INVALID_ARGUMENT' &&
            error.publicMessage === error.message &&
            error.message.length < 2100 &&
            !/\p{Cc}/u.test(error.message)
          );
        }
      }),
      { numRuns: 10_000 },
    );
  });

  it('quotes a bad spec of printable ASCII as JSON does', () => {
    const ascii = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) });
    fc.assert(
      fc.property(ascii, ascii, ascii, (a, b, c) => {
        const spec = `${a}:${b}:${c}`;
        const echoed = spec.slice(0, 200);
        expect(errorOf(() => parseVersionSpec(spec)).message).toBe(`bad UUID specification ${JSON.stringify(echoed)}`);
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips generated valid specs', () => {
    const prefixChars = fc.constantFrom(...'0123456789abcdefABCDEF._-v'.split(''));
    const branchChars = fc
      .integer({ min: 0x20, max: 0x7e })
      .map((c) => String.fromCharCode(c))
      .filter((c) => c !== ':' && c !== '~');
    const branchText = fc.oneof(fc.constant('master'), fc.string({ unit: branchChars, minLength: 1, maxLength: 60 }));
    const spec = fc.oneof(
      fc.record({
        prefix: fc.string({ unit: prefixChars, minLength: 1, maxLength: 40 }),
        colon: fc.boolean(),
      }),
      fc.record({
        prefix: fc.string({ unit: prefixChars, maxLength: 40 }),
        branch: branchText,
        ancestor: fc.option(fc.nat(), { nil: undefined }),
        zeros: fc.integer({ min: 0, max: 3 }),
      }),
    );
    fc.assert(
      fc.property(spec, (s) => {
        if (!('branch' in s)) {
          expect(parseVersionSpec(s.colon ? `${s.prefix}:` : s.prefix)).toEqual({ kind: 'prefix', prefix: s.prefix });
          return;
        }
        const suffix = s.ancestor === undefined ? '' : `~${'0'.repeat(s.zeros)}${s.ancestor}`;
        expect(parseVersionSpec(`${s.prefix}:${s.branch}${suffix}`)).toEqual({
          kind: 'branch',
          prefix: s.prefix,
          branch: s.branch === 'master' ? '' : s.branch,
          ancestor: s.ancestor ?? 0,
        });
      }),
      { numRuns: 5000 },
    );
  });
});

describe('resolver messages', () => {
  it.each<[string, () => DomainError, ErrorCode, string]>([
    ['ambiguousVersion', () => ambiguousVersion('ab'), 'INVALID_ARGUMENT', 'more than one UUID matches ab'],
    ['unknownVersion', () => unknownVersion('zz'), 'VERSION_NOT_FOUND', 'could not find UUID with partial match to zz'],
    [
      'unknownVersion, a prefix with quotes',
      () => unknownVersion('a"b\\'),
      'VERSION_NOT_FOUND',
      'could not find UUID with partial match to a"b\\',
    ],
    [
      'unknownVersion, unprintable text',
      () => unknownVersion('a\nb'),
      'VERSION_NOT_FOUND',
      'could not find UUID with partial match to a\\nb',
    ],
    ['repoRequired', () => repoRequired(), 'INVALID_ARGUMENT', 'UUID must be specified if more than one repo exists'],
    [
      'unknownBranch, master',
      () => unknownBranch('', UUID),
      'VERSION_NOT_FOUND',
      `branch "master" not found in repo "${UUID}"`,
    ],
    [
      'unknownBranch without a prefix',
      () => unknownBranch('dev', ''),
      'VERSION_NOT_FOUND',
      'branch "dev" not found in repo ""',
    ],
    [
      'unknownBranch, a name with a quote',
      () => unknownBranch('a"b', 'v1.0'),
      'VERSION_NOT_FOUND',
      'branch "a\\"b" not found in repo "v1.0"',
    ],
    [
      'ancestorOutOfRange',
      () => ancestorOutOfRange(3, 'master'),
      'INVALID_ARGUMENT',
      'parent 3 is out of range for branch "master"',
    ],
    [
      'ancestorOutOfRange, empty branch text',
      () => ancestorOutOfRange(0, ''),
      'INVALID_ARGUMENT',
      'parent 0 is out of range for branch ""',
    ],
  ])('%s', (_, make, code, message) => {
    expectError(make(), code, message);
  });

  it('caps the echo at 200 code points', () => {
    expect(ambiguousVersion('é'.repeat(300)).message).toBe(`more than one UUID matches ${'é'.repeat(200)}`);
  });
});

describe('pickAncestor', () => {
  const ancestry = ['leaf', 'parent', 'root'];

  it.each([
    ['abc:master', 'leaf'],
    ['abc:master~0', 'leaf'],
    ['abc:master~1', 'parent'],
    ['abc:master~2', 'root'],
    [':dev~02', 'root'],
  ])('%s → %s', (spec, node) => {
    expect(pickAncestor(ancestry, parseVersionSpec(spec) as Extract<VersionSpec, { kind: 'branch' }>)).toBe(node);
  });

  it.each<[readonly string[], string, number, string]>([
    [ancestry, '', 3, 'parent 3 is out of range for branch "master"'],
    [ancestry, 'dev', 99, 'parent 99 is out of range for branch "dev"'],
    [[], 'dev', 0, 'parent 0 is out of range for branch "dev"'],
  ])('refuses %j %j~%i', (list, branch, ancestor, message) => {
    expectError(
      errorOf(() => pickAncestor(list, { branch, ancestor })),
      'INVALID_ARGUMENT',
      message,
    );
  });

  it('returns falsy elements too', () => {
    expect(pickAncestor([0, 1], { branch: '', ancestor: 0 })).toBe(0);
  });
});

describe('validateAssignedUuid', () => {
  it.each([
    [UUID, UUID],
    [UUID.toUpperCase(), UUID],
    ['0123456789ABCDEFabcdef0123456789', '0123456789abcdefabcdef0123456789'],
  ])('accepts %s as %s', (uuid, stored) => {
    expect(validateAssignedUuid(uuid)).toBe(stored);
  });

  it.each(
    titled([
      ['', 'Bad UUID provided: '],
      [UUID.slice(1), `Bad UUID provided: ${UUID.slice(1)}`],
      [`${UUID}0`, `Bad UUID provided: ${UUID}0`],
      [`g${UUID.slice(1)}`, `Bad UUID provided: g${UUID.slice(1)}`],
      ['28841c82-77e0-44a7-b187-dda03e18da13', 'Bad UUID provided: 28841c82-77e0-44a7-b187-dda03e18da13'],
      [` ${UUID}`, `Bad UUID provided:  ${UUID}`],
      [`${UUID}\n`, `Bad UUID provided: ${UUID}\\n`],
      ['a'.repeat(500), `Bad UUID provided: ${'a'.repeat(200)}`],
    ]),
  )('refuses %s', (_, uuid, message) => {
    expectError(
      errorOf(() => validateAssignedUuid(uuid)),
      'INVALID_ARGUMENT',
      message,
    );
  });
});

describe('validateRootUuid', () => {
  it.each(['a', 'v1.0', 'My_Repo-1', UUID, UUID.toUpperCase(), 'x'.repeat(64), '...', '-'].map((u) => [shown(u), u]))(
    'accepts %s as given',
    (_, uuid) => {
      expect(validateRootUuid(uuid)).toBe(uuid);
    },
  );

  it.each(
    titled([
      ['', '""'],
      ['x'.repeat(65), `"${'x'.repeat(65)}"`],
      ['a:b', '"a:b"'],
      ['a~1', '"a~1"'],
      ['a b', '"a b"'],
      ['a/b', '"a/b"'],
      ['é', '"é"'],
      ['a"b', '"a\\"b"'],
      ['a\u0000', '"a\\x00"'],
      ['y'.repeat(300), `"${'y'.repeat(200)}"`],
    ]),
  )('refuses %s', (_, uuid, echoed) => {
    expectError(
      errorOf(() => validateRootUuid(uuid)),
      'INVALID_ARGUMENT',
      `bad root UUID ${echoed}: 1–64 letters, digits, '.', '_' or '-'`,
    );
  });
});

describe('validateBranchName', () => {
  it.each(
    ['dev', 'Master', 'master2', ' master', 'a b', 'a~b', 'é 😀', 'x'.repeat(200), '😀'.repeat(200)].map((n) => [
      shown(n),
      n,
    ]),
  )('accepts %s as given', (_, name) => {
    expect(validateBranchName(name)).toBe(name);
  });

  it.each(['', 'master'])('refuses %j as a master branch', (name) => {
    expectError(
      errorOf(() => validateBranchName(name)),
      'INVALID_ARGUMENT',
      'Cannot create a master branch',
    );
  });

  it.each([
    ['201 characters', 'x'.repeat(201)],
    ['201 code points', '😀'.repeat(201)],
    ['a newline', 'a\nb'],
    ['NUL', '\u0000'],
    ['DEL', 'a\u007f'],
    ['a C1 control', 'a\u0085'],
    ['a lone surrogate', 'a\ud800'],
  ])('refuses a name with %s', (_, name) => {
    expectError(
      errorOf(() => validateBranchName(name)),
      'INVALID_ARGUMENT',
      'bad branch name',
    );
  });
});

describe('dvidMutationMessage', () => {
  const at = Date.UTC(2026, 5, 22, 18, 17, 4) * 1000;
  const event = { op: 'put', key: '20', size: 4039, version: UUID, at: at + 123_456 } as const;

  it('renders a put as postkv', () => {
    expect(dvidMutationMessage(event)).toBe(
      `{"Action":"postkv","Bytes":4039,"Key":"20","Timestamp":"2026-06-22 18:17:04.123456 +0000 UTC","UUID":"${UUID}"}`,
    );
  });

  it('renders a delete without Bytes', () => {
    expect(dvidMutationMessage({ ...event, op: 'delete' })).toBe(
      `{"Action":"delete","Key":"20","Timestamp":"2026-06-22 18:17:04.123456 +0000 UTC","UUID":"${UUID}"}`,
    );
  });

  it.each(['collection.created', 'collection.updated', 'collection.deleted'] as const)('has nothing for %s', (op) => {
    expect(dvidMutationMessage({ ...event, op, key: '' })).toBeUndefined();
  });

  it.each([
    [at, '2026-06-22 18:17:04 +0000 UTC'],
    [at + 1, '2026-06-22 18:17:04.000001 +0000 UTC'],
    [at + 120_000, '2026-06-22 18:17:04.12 +0000 UTC'],
    [at + 500_000, '2026-06-22 18:17:04.5 +0000 UTC'],
    [at + 100, '2026-06-22 18:17:04.0001 +0000 UTC'],
    [at + 999_999, '2026-06-22 18:17:04.999999 +0000 UTC'],
    [0, '1970-01-01 00:00:00 +0000 UTC'],
    [-1, '1969-12-31 23:59:59.999999 +0000 UTC'],
    [Date.UTC(999, 0, 2, 3, 4, 5) * 1000, '0999-01-02 03:04:05 +0000 UTC'],
  ])('timestamps %i as %s', (micros, timestamp) => {
    const parsed: unknown = JSON.parse(dvidMutationMessage({ ...event, at: micros }) ?? '');
    expect(parsed).toMatchObject({ Timestamp: timestamp });
  });

  it.each([
    ['a<b>&c', 'a\\u003cb\\u003e\\u0026c'],
    ['"\\\n\t\b\f\r', '\\"\\\\\\n\\t\\b\\f\\r'],
    ['\u0001\u001f\u007f', '\\u0001\\u001f\u007f'],
    ['\u2028\u2029', '\\u2028\\u2029'],
    ['é😀/ ', 'é😀/ '],
    ['a\ud800', 'a\ufffd'],
  ])('escapes the key %j as Go does', (key, json) => {
    expect(dvidMutationMessage({ ...event, key })).toContain(`"Key":"${json}"`);
  });

  it('parses as JSON with the keys in order and the event in it', () => {
    const sample = fc.record({
      op: fc.constantFrom('put', 'delete'),
      key: fc.string({ unit: 'binary', minLength: 1 }),
      size: fc.nat(),
      version: fc.string({ unit: fc.constantFrom(...'0123456789abcdef'.split('')), minLength: 32, maxLength: 32 }),
      at: fc.integer({ min: 0, max: 4_102_444_800_000_000 }),
    });
    fc.assert(
      fc.property(sample, (e) => {
        const text = dvidMutationMessage(e) ?? '';
        expect(text).not.toMatch(/[<>&\u2028\u2029]/);
        const parsed = JSON.parse(text) as Record<string, unknown>;
        expect(Object.keys(parsed)).toEqual(
          e.op === 'put' ? ['Action', 'Bytes', 'Key', 'Timestamp', 'UUID'] : ['Action', 'Key', 'Timestamp', 'UUID'],
        );
        expect(parsed).toMatchObject({
          Action: e.op === 'put' ? 'postkv' : 'delete',
          Key: e.key.toWellFormed(),
          UUID: e.version,
        });
        if (e.op === 'put') expect(parsed['Bytes']).toBe(e.size);
        const match = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d{0,5}[1-9])?) \+0000 UTC$/.exec(
          String(parsed['Timestamp']),
        );
        expect(match).not.toBeNull();
        expect(parseRfc3339Micros(`${match?.[1]}T${match?.[2]}Z`)).toBe(e.at);
      }),
      { numRuns: 2000 },
    );
  });
});
