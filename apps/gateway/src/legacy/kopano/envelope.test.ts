import fc from 'fast-check';
import { goJsonString, renderEnvelope, type EnvelopeRecord } from './envelope';

const record = (key: string, value: string | Uint8Array, contentType: string): EnvelopeRecord => ({
  key,
  value: typeof value === 'string' ? Buffer.from(value) : value,
  contentType,
});

/** The whole envelope as text (undefined when the record has none). */
function envelope(r: EnvelopeRecord): string | undefined {
  const chunks = renderEnvelope(r);
  return chunks === undefined ? undefined : Buffer.concat([...chunks]).toString('utf8');
}

describe('renderEnvelope', () => {
  it('writes the spec examples byte for byte', () => {
    expect(envelope(record('test1/doc1', '{"a":1}', 'application/json'))).toBe(
      '{\n  "key": "test1/doc1",\n  "value": {\n    "a": 1\n  }\n}',
    );
    expect(envelope(record('test1/greeting', 'hello', 'text/plain'))).toBe(
      '{\n  "key": "test1/greeting",\n  "value": "aGVsbG8=",\n  "content_type": "text/plain"\n}',
    );
  });

  it('re-indents stored JSON, keeps empty objects and arrays inline and tokens as written', () => {
    const stored = ' { "b" : [ 1 , 2.50 , -0e+3 , { } , [ ] , [ {"c" :null}] ], "a":"x\\u00e9\\n" , "d": true}\n';
    expect(envelope(record('k', stored, 'application/json'))).toBe(
      [
        '{',
        '  "key": "k",',
        '  "value": {',
        '    "b": [',
        '      1,',
        '      2.50,',
        '      -0e+3,',
        '      {},',
        '      [],',
        '      [',
        '        {',
        '          "c": null',
        '        }',
        '      ]',
        '    ],',
        '    "a": "x\\u00e9\\n",',
        '    "d": true',
        '  }',
        '}',
      ].join('\n'),
    );
  });

  it('embeds scalars and empty containers at the top level as they are', () => {
    expect(envelope(record('k', '"s"', 'application/json'))).toBe('{\n  "key": "k",\n  "value": "s"\n}');
    expect(envelope(record('k', '42', 'application/json; charset=utf-8'))).toBe('{\n  "key": "k",\n  "value": 42\n}');
    expect(envelope(record('k', '[]', 'application/json'))).toBe('{\n  "key": "k",\n  "value": []\n}');
    expect(envelope(record('k', 'null', 'application/json'))).toBe('{\n  "key": "k",\n  "value": null\n}');
  });

  it('escapes <, >, & and U+2028/U+2029 inside stored JSON, and passes other bytes through', () => {
    const stored = Buffer.concat([Buffer.from('{"h":"<b>&\u2028\u2029é"'), Buffer.from(',"x":"\xff"}', 'latin1')]);
    const chunks = renderEnvelope(record('k', stored, 'application/json'));
    expect(Buffer.concat([...(chunks ?? [])])).toEqual(
      Buffer.concat([
        Buffer.from('{\n  "key": "k",\n  "value": {\n    "h": "\\u003cb\\u003e\\u0026\\u2028\\u2029é",\n    "x": "'),
        Buffer.from([0xff]),
        Buffer.from('"\n  }\n}'),
      ]),
    );
  });

  it('escapes the key and content type as Go does', () => {
    expect(envelope(record('a"b\\c<d>&\n\t\r\u0001\b\f\u2028\u007f', 'x', 'text/plain; q="<1>"'))).toBe(
      '{\n  "key": "a\\"b\\\\c\\u003cd\\u003e\\u0026\\n\\t\\r\\u0001\\u0008\\u000c\\u2028\u007f",\n' +
        '  "value": "eA==",\n  "content_type": "text/plain; q=\\"\\u003c1\\u003e\\""\n}',
    );
  });

  it('omits content_type for JSON (prefix match, case-sensitive) and shows Base64 otherwise', () => {
    expect(envelope(record('k', '{}', 'application/jsonx'))).toBe('{\n  "key": "k",\n  "value": {}\n}');
    expect(envelope(record('k', '{}', 'Application/JSON'))).toBe(
      '{\n  "key": "k",\n  "value": "e30=",\n  "content_type": "Application/JSON"\n}',
    );
    expect(envelope(record('k', '', 'application/octet-stream'))).toBe(
      '{\n  "key": "k",\n  "value": "",\n  "content_type": "application/octet-stream"\n}',
    );
    expect(envelope(record('k', 'hi', ''))).toBe('{\n  "key": "k",\n  "value": "aGk="\n}');
  });

  it('has no envelope for JSON-typed values that are not JSON', () => {
    for (const bad of [
      '',
      ' ',
      '{',
      '{"a":1} x',
      '{"a":1,}',
      '[1,]',
      "{'a':1}",
      '"\u0001"',
      '01',
      '1.',
      'nul',
      '"\\x"',
    ]) {
      expect(envelope(record('k', bad, 'application/json'))).toBeUndefined();
    }
    expect(envelope(record('k', '['.repeat(10_001) + ']'.repeat(10_001), 'application/json'))).toBeUndefined();
    expect(renderEnvelope(record('k', '['.repeat(10_000) + ']'.repeat(10_000), 'application/json'))).toBeDefined();
  });

  it('streams big documents in chunks', () => {
    const big = JSON.stringify(Array.from({ length: 10_000 }, (_, i) => ({ i })));
    const chunks = [...(renderEnvelope(record('k', big, 'application/json')) ?? [])];
    expect(chunks.length).toBeGreaterThan(1);
    const parsed = JSON.parse(Buffer.concat(chunks).toString()) as { value: unknown };
    expect(parsed.value).toEqual(JSON.parse(big));
  });

  it('lays out any JSON document as JSON.stringify(…, null, 2) would, one level deeper', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = JSON.stringify(value);
        fc.pre(!/[\\<>&\u2028\u2029]/.test(text));
        const expected = JSON.stringify(value, null, 2).replaceAll('\n', '\n  ');
        expect(envelope(record('k', text, 'application/json'))).toBe(`{\n  "key": "k",\n  "value": ${expected}\n}`);
      }),
    );
  });

  it('always writes valid JSON that gives back the key, the value and the type', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.jsonValue(), fc.uint8Array(), (key, value, bytes) => {
        const asJson = JSON.parse(envelope(record(key, JSON.stringify(value), 'application/json')) as string);
        expect(asJson).toEqual({ key, value: JSON.parse(JSON.stringify(value)) });
        const asBytes = JSON.parse(envelope(record(key, bytes, 'image/png')) as string);
        expect(asBytes).toEqual({ key, value: Buffer.from(bytes).toString('base64'), content_type: 'image/png' });
      }),
    );
  });
});

describe('goJsonString', () => {
  it('uses short escapes only for quote, backslash, newline, carriage return and tab', () => {
    expect(goJsonString('"\\\n\r\t\b\f\u0000\u001f ')).toBe('"\\"\\\\\\n\\r\\t\\u0008\\u000c\\u0000\\u001f "');
  });
});
