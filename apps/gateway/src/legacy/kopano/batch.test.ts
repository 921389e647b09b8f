import fc from 'fast-check';
import { isDomainError } from '@rosetta/core';
import { fieldOf, parseBatch, type BatchEntry } from './batch';

const parse = (body: string | Uint8Array, urlKey = 'cfg') =>
  parseBatch(typeof body === 'string' ? Buffer.from(body) : body, urlKey).map((e) => ({
    key: e.key,
    value: Buffer.from(e.value).toString('latin1'),
    contentType: e.contentType,
  }));

/** The code of the error parseBatch throws, or 'ok'. */
function outcome(body: string | Uint8Array): string {
  try {
    parseBatch(typeof body === 'string' ? Buffer.from(body) : body, 'cfg');
    return 'ok';
  } catch (error) {
    if (isDomainError(error)) return error.code;
    throw error;
  }
}

describe('parseBatch', () => {
  it('puts each entry under the URL key and decodes Base64 values exactly (no NUL padding)', () => {
    expect(
      parse(
        '[{"key":"a","value":"aGk=","content_type":"text/plain"},{"key":"b","value":"aGVsbG8="},{"key":"c","value":"aGVsbG8h"}]',
      ),
    ).toEqual([
      { key: 'cfg/a', value: 'hi', contentType: 'text/plain' },
      { key: 'cfg/b', value: 'hello', contentType: '' },
      { key: 'cfg/c', value: 'hello!', contentType: '' },
    ]);
    expect(parse('[{"key":"x","value":""}]', 'cfg/sub')).toEqual([{ key: 'cfg/sub/x', value: '', contentType: '' }]);
    expect(parse('[{"key":"x","value":"aGk="}]', '')).toEqual([{ key: '/x', value: 'hi', contentType: '' }]);
  });

  it('stores the JSON text of JSON-typed values as sent, whitespace and all, without checking it', () => {
    const body = '[{"key":"j","value": { "a" : [1, 2] } ,"content_type":"application/json; charset=utf-8"}]';
    expect(parse(body)).toEqual([
      { key: 'cfg/j', value: '{ "a" : [1, 2] }', contentType: 'application/json; charset=utf-8' },
    ]);
    expect(parse('[{"key":"n","value":null,"content_type":"application/json"}]')[0]?.value).toBe('null');
    expect(parse('[{"key":"s","value":"aGk=","content_type":"application/json"}]')[0]?.value).toBe('"aGk="');
    expect(parse('[{"key":"m","content_type":"application/json"}]')[0]?.value).toBe('');
  });

  it('skips newlines in Base64 and decodes JSON escapes first', () => {
    expect(parse('[{"key":"a","value":"aG\\nk=\\r\\n"}]')[0]?.value).toBe('hi');
    expect(parse('[{"key":"a","value":"aGk\\u003d"}]')[0]?.value).toBe('hi');
  });

  it('reads null and empty arrays as nothing, and ignores what follows the first value', () => {
    expect(parse('null')).toEqual([]);
    expect(parse(' [ ] ')).toEqual([]);
    expect(parse('[] trailing {garbage')).toEqual([]);
    expect(parse('nullx')).toEqual([]);
    expect(parse('[{"key":"a","value":"aGk="}]]]')).toHaveLength(1);
  });

  it('matches field names as Go does, ignores unknown fields, and lets the last duplicate win', () => {
    expect(parse('[{"KEY":"a","Value":"aGk=","Content_Type":"text/x","extra":{"deep":[1]}}]')).toEqual([
      { key: 'cfg/a', value: 'hi', contentType: 'text/x' },
    ]);
    expect(parse('[{"key":"a","key":"b","value":"aGk=","content_type":"x/y","content_type":null}]')).toEqual([
      { key: 'cfg/b', value: 'hi', contentType: 'x/y' },
    ]);
    expect(fieldOf('\u212aey')).toBe('key');
    expect(fieldOf('content_type')).toBe('content_type');
    expect(fieldOf('contenttype')).toBeUndefined();
    expect(fieldOf('kéy')).toBeUndefined();
  });

  it('keeps the last of several entries with one key, where it stood last', () => {
    expect(parse('[{"key":"a","value":"MQ=="},{"key":"b","value":"Mg=="},{"key":"a","value":"Mw=="}]')).toEqual([
      { key: 'cfg/b', value: '2', contentType: '' },
      { key: 'cfg/a', value: '3', contentType: '' },
    ]);
  });

  it.each([
    ['', 'the body is empty'],
    ['   ', 'the body is empty'],
    ['{}', 'an object'],
    ['"x"', 'a string'],
    ['1', 'a number'],
    ['[', 'an unfinished array'],
    ['[{"key":"a","value":"aGk="}', 'an unfinished array'],
    ['[{"key":"a","value":"aGk="},]', 'a trailing comma'],
    ['[{"key":"a" "value":"aGk="}]', 'a missing comma'],
    ['[null]', 'a null element'],
    ['[1]', 'a number element'],
    ['[[]]', 'an array element'],
    ['[{"value":"aGk="}]', 'a missing key'],
    ['[{"key":null,"value":"aGk="}]', 'a null key'],
    ['[{"key":1,"value":"aGk="}]', 'a number key'],
    ['[{"key":"a","value":"aGk=","content_type":1}]', 'a number content type'],
    ['[{"key":"a","value":"aGk"}]', 'Base64 without its padding'],
    ['[{"key":"a","value":"aGk=="}]', 'Base64 with too much padding'],
    ['[{"key":"a","value":"aG k="}]', 'Base64 with a space'],
    ['[{"key":"a","value":"aGk=aGk="}]', 'Base64 going on after padding'],
    ['[{"key":"a","value":"a-_="}]', 'URL-safe Base64'],
    ['[{"key":"a","value":123}]', 'a number value'],
    ['[{"key":"a","value":null}]', 'a null value'],
    ['[{"key":"a"}]', 'a missing value'],
    ['[{"key":"a","value":{"b":1}}]', 'an object value without a JSON type'],
    ['[{"key":"a","value":"aGk=","content_type":"application/json"},{"key":"b","value":"!"}]', 'a bad second value'],
    ["[{'key':'a'}]", 'single quotes'],
    ['[{"key":"a\u0001","value":""}]', 'a control character in a string'],
  ])('refuses %j (%s)', (body) => {
    expect(outcome(body)).toBe('INVALID_ARGUMENT');
  });

  it('refuses JSON values nested deeper than 10,000 levels, as Go since 1.15 does', () => {
    const nested = (depth: number) =>
      `[{"key":"a","content_type":"application/json","value":${'['.repeat(depth)}${']'.repeat(depth)}}]`;
    expect(outcome(nested(10_000))).toBe('ok');
    expect(outcome(nested(10_001))).toBe('INVALID_ARGUMENT');
  });

  it('refuses more than 10,000 distinct keys, but not 10,000 keys written twice', () => {
    const many = (n: number, distinct: number) =>
      JSON.stringify(Array.from({ length: n }, (_, i) => ({ key: String(i % distinct), value: '' })));
    expect(outcome(many(10_001, 10_001))).toBe('INVALID_ARGUMENT');
    expect(outcome(many(20_000, 10_000))).toBe('ok');
  });

  it('gives back exactly the entries of any well-formed batch', () => {
    const entry = fc.record({
      key: fc.string({ unit: 'grapheme', maxLength: 20 }),
      bytes: fc.uint8Array({ maxLength: 40 }),
      contentType: fc.constantFrom('', 'text/plain', 'image/png; x=1'),
    });
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 10 }), (entries) => {
        const body = JSON.stringify(
          entries.map((e) => ({
            key: e.key,
            value: Buffer.from(e.bytes).toString('base64'),
            content_type: e.contentType,
          })),
          null,
          1,
        );
        const expected = new Map<string, BatchEntry>();
        for (const e of entries) {
          expected.delete(`u/${e.key}`);
          expected.set(`u/${e.key}`, { key: `u/${e.key}`, value: Buffer.from(e.bytes), contentType: e.contentType });
        }
        const parsed = parseBatch(Buffer.from(body), 'u').map((e) => ({ ...e, value: Buffer.from(e.value) }));
        expect(parsed).toEqual([...expected.values()]);
      }),
    );
  });

  it('keeps the JSON text of any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom(0, 2), (value, indent) => {
        const text = JSON.stringify(value, null, indent);
        const body = `[{"key":"j","content_type":"application/json","value":${text}}]`;
        expect(Buffer.from(parseBatch(Buffer.from(body), 'u')[0]?.value ?? []).toString()).toBe(text);
      }),
    );
  });

  it('answers any body with entries or INVALID_ARGUMENT, never anything else', () => {
    const pieces = fc.constantFrom(
      '[',
      ']',
      '{',
      '}',
      ',',
      ':',
      '"key"',
      '"value"',
      '"content_type"',
      '"aGk="',
      'null',
    );
    const body = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      fc.array(pieces, { maxLength: 24 }).map((parts) => parts.join('')),
      fc.string({ maxLength: 64 }),
    );
    fc.assert(
      fc.property(body, (b) => {
        expect(['ok', 'INVALID_ARGUMENT']).toContain(outcome(b));
      }),
      { numRuns: 2000 },
    );
  });
});
