import fc from 'fast-check';
import {
  keyValuesError,
  parseBranch,
  parseCommit,
  parseInstanceCreate,
  parseKeyList,
  parseLog,
  parseNewVersion,
  parseNote,
  parseRepoCreate,
  parseRepoInfo,
  parseTags,
  RESERVED_DATA_NAMES,
} from './body';
import { DvidError } from './errors';

const body = (value: unknown) => new Uint8Array(Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)));

/** The DvidError a parser throws; anything else (or nothing) fails the test. */
function failure(run: () => unknown): DvidError {
  try {
    run();
  } catch (error) {
    if (error instanceof DvidError) return error;
    throw error;
  }
  throw new Error('expected a DvidError');
}

/** The message of the DvidError(400, with the path suffix) a parser throws. */
function refusal(run: () => unknown): string {
  const error = failure(run);
  expect(error).toMatchObject({ status: 400, withPath: true });
  return error.message;
}

const UUID = '0123456789abcdef0123456789abcdef';

describe('parseRepoCreate', () => {
  const none = { alias: '', description: '', passcode: '', root: undefined };

  it.each(['', ' \n', 'null', '{}'])('reads %j as no settings', (text) => {
    expect(parseRepoCreate(body(text))).toEqual(none);
  });

  it('refuses a body that opens with a byte-order mark, as Go’s decoder does', () => {
    expect(refusal(() => parseRepoCreate(body('\ufeff{}')))).toMatch(/Unexpected token/);
  });

  it('reads every field, its name in any case', () => {
    expect(parseRepoCreate(body({ Alias: 'a', DESCRIPTION: 'd', root: UUID, PassCode: 'p', other: 1 }))).toEqual({
      alias: 'a',
      description: 'd',
      root: UUID,
      passcode: 'p',
    });
  });

  it('takes the last spelling of a key', () => {
    expect(parseRepoCreate(body('{"alias":"x","ALIAS":"y"}')).alias).toBe('y');
  });

  it('reads an empty root as none', () => {
    expect(parseRepoCreate(body({ root: '' })).root).toBeUndefined();
  });

  it('is not fooled by a __proto__ key', () => {
    expect(parseRepoCreate(body('{"__proto__":{"alias":"x"}}'))).toEqual(none);
  });

  it.each([
    ['{', /^Error decoding POSTed JSON config for new repo: Malformed JSON request in body: .+/],
    ['[1]', /^Error decoding POSTed JSON config for new repo: Malformed JSON request in body: expected a JSON object$/],
    ['"a"', /expected a JSON object$/],
    ['{"alias":5}', /^POST on repos endpoint requires valid 'alias': Setting for 'alias' was not a string: 5$/],
    [
      '{"description":["d"]}',
      /^POST on repos endpoint requires valid 'description': Setting for 'description' was not a string: \["d"\]$/,
    ],
    ['{"passcode":null}', /^POST on repos endpoint requires valid 'passcode': Setting for 'passcode' was not a string/],
    [
      '{"root":true}',
      /^POST on repos endpoint with error on getting 'root': Setting for 'root' was not a string: true$/,
    ],
  ])('refuses %s', (text, message) => {
    expect(refusal(() => parseRepoCreate(body(text)))).toMatch(message);
  });
});

describe('parseRepoInfo', () => {
  it('leaves absent fields undefined', () => {
    expect(parseRepoInfo(body(''))).toEqual({ alias: undefined, description: undefined });
    expect(parseRepoInfo(body({ ALIAS: 'a' }))).toEqual({ alias: 'a', description: undefined });
    expect(parseRepoInfo(body({ alias: '', Description: 'd' }))).toEqual({ alias: '', description: 'd' });
  });

  it.each([
    ['{"alias"', /^Error decoding POSTed JSON config for POST repo: Malformed JSON request in body: .+/],
    ['{"alias":1}', /^POST on repo\/info endpoint requires valid 'alias': Setting for 'alias' was not a string: 1$/],
    ['{"description":{}}', /^POST on repo\/info endpoint requires valid 'description': .*not a string: \{\}$/],
  ])('refuses %s', (text, message) => {
    expect(refusal(() => parseRepoInfo(body(text)))).toMatch(message);
  });
});

describe('parseInstanceCreate', () => {
  const minimal = { typename: 'keyvalue', dataname: 'kv' };

  it('defaults to a versioned instance with LZ4 compression, no checksum and no tags', () => {
    expect(parseInstanceCreate(body(minimal))).toEqual({
      typeName: 'keyvalue',
      dataName: 'kv',
      versioned: true,
      compression: 'LZ4 compression, level -1',
      checksum: 'No checksum',
      tags: null,
    });
  });

  it('matches top-level keys in any case', () => {
    const parsed = parseInstanceCreate(body({ TypeName: 'keyvalue', DataName: 'kv', VERSIONED: false }));
    expect(parsed).toMatchObject({ dataName: 'kv', versioned: false });
  });

  it.each([
    [true, true],
    [false, false],
    ['true', true],
    ['TRUE', true],
    ['1', true],
    ['false', false],
    ['False', false],
    ['0', false],
  ])('reads versioned %j as %s', (versioned, expected) => {
    expect(parseInstanceCreate(body({ ...minimal, versioned })).versioned).toBe(expected);
  });

  it.each([
    ['none', 'No compression, level -1'],
    ['Snappy', 'Go Snappy compression, level -1'],
    ['LZ4', 'LZ4 compression, level -1'],
    ['gzip', 'gzip compression, level -1'],
    ['gzip:1', 'gzip compression, level 1'],
    ['GZIP:9', 'gzip compression, level 9'],
  ])('labels compression %s as %s', (Compression, label) => {
    expect(parseInstanceCreate(body({ ...minimal, Compression })).compression).toBe(label);
  });

  it.each([
    ['none', 'No checksum'],
    ['crc32', 'CRC32 checksum'],
    ['CRC32', 'CRC32 checksum'],
  ])('labels checksum %s as %s', (Checksum, label) => {
    expect(parseInstanceCreate(body({ ...minimal, Checksum })).checksum).toBe(label);
  });

  it.each([
    ['a=1,b=2', { a: '1', b: '2' }],
    ['a=1,,noequals,=x,c=d=e,e=', { a: '1', e: '' }],
    ['', {}],
    ['a=1,a=2', { a: '2' }],
  ])('reads tags %j', (Tags, tags) => {
    expect(parseInstanceCreate(body({ ...minimal, Tags })).tags).toEqual(tags);
  });

  it('keeps a __proto__ tag as an ordinary key', () => {
    const { tags } = parseInstanceCreate(body({ ...minimal, tags: '__proto__=x' }));
    expect(Object.getPrototypeOf(tags)).toBe(Object.prototype);
    expect(Object.entries(tags ?? {})).toEqual([['__proto__', 'x']]);
  });

  it.each([
    ['', "POST on repo endpoint requires specification of valid 'typename'"],
    ['{"dataname":"kv"}', "POST on repo endpoint requires specification of valid 'typename'"],
    ['{"typename":5,"dataname":"kv"}', "POST on repo endpoint requires specification of valid 'typename'"],
    ['{"typename":"keyvalue"}', "POST on repo endpoint requires specification of valid 'dataname'"],
    ['{"typename":"nope"}', "POST on repo endpoint requires specification of valid 'dataname'"],
    ['{"typename":"keyvalue","dataname":""}', "POST on repo endpoint requires specification of valid 'dataname'"],
    ['{"typename":"keyvalue","dataname":["kv"]}', "POST on repo endpoint requires specification of valid 'dataname'"],
    ['{"typename":"labelmap","dataname":"log"}', 'Data type "labelmap" is not supported by current DVID server'],
    ['{"typename":"KeyValue","dataname":"kv"}', 'Data type "KeyValue" is not supported by current DVID server'],
    ['{"typename":"keyvalue","dataname":"kv","compression":"gzip:0"}', 'Illegal compression specified: gzip:0'],
    ['{"typename":"keyvalue","dataname":"kv","compression":"GZIP:10"}', 'Illegal compression specified: GZIP:10'],
    ['{"typename":"keyvalue","dataname":"kv","compression":"gzip:"}', 'Illegal compression specified: gzip:'],
    ['{"typename":"keyvalue","dataname":"kv","compression":"jpeg"}', 'Illegal compression specified: jpeg'],
    ['{"typename":"keyvalue","dataname":"kv","compression":"Zstd"}', 'Illegal compression specified: Zstd'],
    ['{"typename":"keyvalue","dataname":"kv","compression":5}', "Setting for 'Compression' was not a string: 5"],
    ['{"typename":"keyvalue","dataname":"kv","checksum":"md5"}', 'Illegal checksum specified: md5'],
    ['{"typename":"keyvalue","dataname":"kv","checksum":false}', "Setting for 'Checksum' was not a string: false"],
    [
      '{"typename":"keyvalue","dataname":"kv","versioned":"yes"}',
      "Illegal setting for 'versioned' (needs to be 'false', '0', 'true', or '1'): yes",
    ],
    ['{"typename":"keyvalue","dataname":"kv","versioned":1}', "Setting for 'Versioned' was not a string: 1"],
    ['{"typename":"keyvalue","dataname":"kv","versioned":null}', "Setting for 'Versioned' was not a string: null"],
    ['{"typename":"keyvalue","dataname":"kv","tags":{"a":"b"}}', 'Setting for \'Tags\' was not a string: {"a":"b"}'],
    ['{"typename":"keyvalue","dataname":"kv","compression":"x","checksum":"y"}', 'Illegal compression specified: x'],
  ])('refuses %s', (text, message) => {
    expect(refusal(() => parseInstanceCreate(body(text)))).toBe(message);
  });

  it.each([...RESERVED_DATA_NAMES])('refuses the reserved name %s', (dataname) => {
    expect(refusal(() => parseInstanceCreate(body({ typename: 'keyvalue', dataname })))).toBe(
      `cannot use reserved name "${dataname}"`,
    );
  });

  it('reserves DVID’s names and our node actions', () => {
    expect([...RESERVED_DATA_NAMES].sort()).toEqual(['branch', 'commit', 'log', 'newversion', 'note', 'status', 'tag']);
  });

  it('quotes a name the Go way', () => {
    expect(refusal(() => parseInstanceCreate(body({ typename: 'a"b\n', dataname: 'kv' })))).toBe(
      'Data type "a\\"b\\n" is not supported by current DVID server',
    );
  });

  it('refuses malformed JSON with DVID’s prefix', () => {
    expect(refusal(() => parseInstanceCreate(body('{"typename"')))).toMatch(
      /^Error decoding POSTed JSON config for 'new': Malformed JSON request in body: .+/,
    );
  });
});

describe('parseCommit', () => {
  it.each(['', ' \r\n\t'])('requires a body (%j), with Go’s message', (text) => {
    expect(refusal(() => parseCommit(body(text)))).toBe('Malformed JSON request in body: unexpected end of JSON input');
  });

  it.each([
    ['{}', { note: '', log: [] }],
    ['null', { note: '', log: [] }],
    ['{"note":"n","log":["a","b"]}', { note: 'n', log: ['a', 'b'] }],
    ['{"Note":"n","LOG":["a"]}', { note: 'n', log: ['a'] }],
    ['{"note":null,"log":null}', { note: '', log: [] }],
    ['{"log":["a",null]}', { note: '', log: ['a', ''] }],
    ['{"note":"x","other":[1]}', { note: 'x', log: [] }],
  ])('reads %s', (text, expected) => {
    expect(parseCommit(body(text))).toEqual(expected);
  });

  it.each([
    ['{', /^Malformed JSON request in body: .+/],
    ['[]', /^Malformed JSON request in body: expected a JSON object$/],
    ['"note"', /^Malformed JSON request in body: expected a JSON object$/],
    ['{"note":5}', /^Malformed JSON request in body: 'note' must be a string$/],
    ['{"log":"a"}', /^Malformed JSON request in body: 'log' must be an array of strings$/],
    ['{"log":[1]}', /^Malformed JSON request in body: 'log' must be an array of strings$/],
    ['{} x', /^Malformed JSON request in body: .+/],
  ])('refuses %s', (text, message) => {
    expect(refusal(() => parseCommit(body(text)))).toMatch(message);
  });
});

describe('parseNewVersion', () => {
  it('takes an empty body as no settings', () => {
    expect(parseNewVersion(new Uint8Array(0))).toEqual({ note: '', uuid: undefined });
  });

  it('reads the note and the assigned UUID, lower-cased', () => {
    expect(parseNewVersion(body({ note: 'n', uuid: UUID.toUpperCase() }))).toEqual({ note: 'n', uuid: UUID });
    expect(parseNewVersion(body({ NOTE: 'n', uuid: '' }))).toEqual({ note: 'n', uuid: undefined });
  });

  it('takes any 32 hex digits', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9a-fA-F]{32}$/), (uuid) => {
        expect(parseNewVersion(body({ uuid })).uuid).toBe(uuid.toLowerCase());
      }),
    );
  });

  it.each([
    ['abc', 'Bad UUID provided: UUID must be 32 character hexadecimal string'],
    [`${UUID}0`, 'Bad UUID provided: UUID must be 32 character hexadecimal string'],
    [`${UUID.slice(0, 31)}é`, 'Bad UUID provided: UUID must be 32 character hexadecimal string'],
    [`${UUID.slice(0, 30)}é`, "Bad UUID provided: encoding/hex: invalid byte: U+00C3 'Ã'"],
    [`${UUID.slice(0, 10)}g${UUID.slice(11)}`, "Bad UUID provided: encoding/hex: invalid byte: U+0067 'g'"],
    [`${UUID.slice(0, 31)} `, "Bad UUID provided: encoding/hex: invalid byte: U+0020 ' '"],
    [`\t${UUID.slice(1)}`, 'Bad UUID provided: encoding/hex: invalid byte: U+0009'],
    ['0123456789abcdef-0123456789abcde', "Bad UUID provided: encoding/hex: invalid byte: U+002D '-'"],
  ])('refuses the UUID %j', (uuid, message) => {
    expect(refusal(() => parseNewVersion(body({ uuid })))).toBe(message);
  });

  it.each([
    [' ', /^Malformed JSON request in body: unexpected end of JSON input$/],
    ['{"uuid":5}', /^Malformed JSON request in body: 'uuid' must be a string$/],
    ['{"note":{}}', /^Malformed JSON request in body: 'note' must be a string$/],
    ['[', /^Malformed JSON request in body: .+/],
  ])('refuses the body %j', (text, message) => {
    expect(refusal(() => parseNewVersion(body(text)))).toMatch(message);
  });
});

describe('parseBranch', () => {
  it('reads the branch, the note and the assigned UUID', () => {
    expect(parseBranch(body({ branch: 'b', note: 'n', uuid: UUID }))).toEqual({ branch: 'b', note: 'n', uuid: UUID });
    expect(parseBranch(body({ Branch: 'Master' }))).toEqual({ branch: 'Master', note: '', uuid: undefined });
  });

  it.each(['', '{}', '{"branch":""}', '{"branch":"master"}', '{"branch":null}'])(
    'refuses the master branch (%j)',
    (text) => {
      expect(refusal(() => parseBranch(body(text)))).toBe('Cannot create a master branch');
    },
  );

  it('checks the UUID before the branch, as DVID does', () => {
    expect(refusal(() => parseBranch(body({ uuid: 'x' })))).toMatch(/^Bad UUID provided: /);
  });

  it.each(['{"branch":1}', '{"branch":"b"', ' '])('refuses the body %j', (text) => {
    expect(refusal(() => parseBranch(body(text)))).toMatch(/^Malformed JSON request in body: .+/);
  });
});

describe('parseNote', () => {
  it.each([
    ['{"note":"x"}', 'x'],
    ['{"note":""}', ''],
    ['{"note":null}', ''],
    ['{"note":"x","other":"y"}', 'x'],
  ])('reads %s', (text, note) => {
    expect(parseNote(body(text))).toBe(note);
  });

  it.each(['', '{}', 'null', '{"Note":"x"}'])('refuses %j without a note key (keys are exact)', (text) => {
    expect(refusal(() => parseNote(body(text)))).toBe("Could not find 'note' value in POSTed JSON.");
  });

  it.each([
    ['{"note":5}', /^Malformed JSON request in body: 'note' must be a string$/],
    ['{"note":"x","n":1}', /^Malformed JSON request in body: 'n' must be a string$/],
    ['["note"]', /^Malformed JSON request in body: expected a JSON object$/],
    ['{', /^Malformed JSON request in body: .+/],
  ])('refuses %s', (text, message) => {
    expect(refusal(() => parseNote(body(text)))).toMatch(message);
  });
});

describe('parseLog', () => {
  it.each([
    ['{"log":["a","b"]}', ['a', 'b']],
    ['{"log":[]}', []],
    ['{"log":null}', []],
    ['{"log":["a",null],"other":["x"]}', ['a', '']],
  ])('reads %s', (text, log) => {
    expect(parseLog(body(text))).toEqual(log);
  });

  it.each(['', '{}', '{"Log":["a"]}', '{"other":[]}'])('refuses %j without a log key', (text) => {
    expect(refusal(() => parseLog(body(text)))).toBe("Could not find 'log' value in POSTed JSON.");
  });

  it.each([
    ['{"log":"a"}', /^Malformed JSON request in body: 'log' must be an array of strings$/],
    ['{"log":[1]}', /^Malformed JSON request in body: 'log' must be an array of strings$/],
    ['{"log":[],"x":5}', /^Malformed JSON request in body: 'x' must be an array of strings$/],
    ['{"log":[', /^Malformed JSON request in body: .+/],
  ])('refuses %s', (text, message) => {
    expect(refusal(() => parseLog(body(text)))).toMatch(message);
  });
});

describe('parseTags', () => {
  it.each([
    ['{"a":"1","B":"2"}', { a: '1', B: '2' }],
    ['{"a":null}', { a: '' }],
    ['{}', {}],
    ['null', {}],
    ['', {}],
  ])('reads %j', (text, tags) => {
    expect(parseTags(body(text))).toEqual(tags);
  });

  it('keeps a __proto__ key as an ordinary tag', () => {
    const tags = parseTags(body('{"__proto__":"x"}'));
    expect(Object.getPrototypeOf(tags)).toBe(Object.prototype);
    expect(Object.entries(tags)).toEqual([['__proto__', 'x']]);
  });

  it.each([
    ['{"a":1}', /^Malformed JSON request in tags setter: 'a' must be a string$/],
    ['["a"]', /^Malformed JSON request in tags setter: expected a JSON object$/],
    ['{"a":', /^Malformed JSON request in tags setter: .+/],
  ])('refuses %s', (text, message) => {
    expect(refusal(() => parseTags(body(text)))).toMatch(message);
  });
});

describe('parseKeyList', () => {
  it.each([
    ['["a","b","a"]', ['a', 'b', 'a']],
    ['[]', []],
    ['null', []],
    ['[null,"x"]', ['', 'x']],
    ['["é","a/b"]', ['é', 'a/b']],
  ])('reads %s', (text, keys) => {
    expect(parseKeyList(body(text))).toEqual(keys);
  });

  it.each([
    ['', /^unexpected end of JSON input$/],
    ['["a"', /.+/],
    ['{"a":1}', /^expected a JSON array of key strings$/],
    ['"a"', /^expected a JSON array of key strings$/],
    ['[1]', /^expected a JSON array of key strings$/],
    ['[["a"]]', /^expected a JSON array of key strings$/],
    ['[{"key":"a","byte_start":0,"byte_end":3}]', /^key objects with byte ranges are not supported/],
    ['\ufeff["a"]', /^Unexpected token/],
    ['["a",{"key":"b"}]', /^key objects with byte ranges are not supported/],
  ])('refuses %j', (text, message) => {
    expect(refusal(() => parseKeyList(body(text)))).toMatch(message);
  });
});

describe('keyValuesError', () => {
  it('prefixes the message as DVID’s GET /keyvalues handler does, keeping status and cause', () => {
    const cause = new DvidError(400, 'can only specify tar or json output, not both');
    const error = keyValuesError(cause, 0, 'kv');
    expect(error).toMatchObject({
      status: 400,
      withPath: true,
      message: 'GET /keyvalues on 0 keys, data "kv": can only specify tar or json output, not both',
    });
    expect(error.cause).toBe(cause);
    expect(keyValuesError(new DvidError(400, 'bad JSON for key "a"'), 2, 'a"b').message).toBe(
      'GET /keyvalues on 2 keys, data "a\\"b": bad JSON for key "a"',
    );
  });
});
