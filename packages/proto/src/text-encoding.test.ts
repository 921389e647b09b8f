import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { getTextEncoding } from '@bufbuild/protobuf/wire';
import fc from 'fast-check';
import { ChangeEventSchema } from './index';

/** Any UTF-16 text, lone surrogates included: one code unit at a time, or a whole code point. */
const anyText = fc.string({
  unit: fc.oneof(
    fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit)),
    fc.integer({ min: 0, max: 0x10ffff }).map((point) => String.fromCodePoint(point)),
  ),
  maxLength: 64,
});

describe('the text encoding @rosetta/proto configures', () => {
  const standard = new TextEncoder();

  it('is in place once the package has loaded', () => {
    expect(getTextEncoding().encodeUtf8('ü')).toBeInstanceOf(Buffer);
  });

  it('writes the bytes TextEncoder writes, lone surrogates as U+FFFD', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        expect(Buffer.compare(getTextEncoding().encodeUtf8(text), standard.encode(text))).toBe(0);
      }),
      { numRuns: 2000 },
    );
    expect([...getTextEncoding().encodeUtf8('a\ud800b')]).toEqual([0x61, 0xef, 0xbf, 0xbd, 0x62]);
  });

  it('gives messages that decode back to their strings', () => {
    fc.assert(
      fc.property(anyText, anyText, (key, collection) => {
        const event = create(ChangeEventSchema, { key, collection, op: 'put', revision: 7n });
        const decoded = fromBinary(ChangeEventSchema, toBinary(ChangeEventSchema, event));
        expect(decoded.key).toBe(key.toWellFormed());
        expect(decoded.collection).toBe(collection.toWellFormed());
        expect(decoded.revision).toBe(7n);
      }),
      { numRuns: 1000 },
    );
  });

  it('keeps a U+FEFF that opens a string, as the default decoder does not', () => {
    for (const text of ['\ufeff', '\ufeffkey', '\ufeff\ufeff', 'a\ufeff']) {
      const event = create(ChangeEventSchema, { key: text, collection: text, op: 'put', revision: 1n });
      const decoded = fromBinary(ChangeEventSchema, toBinary(ChangeEventSchema, event));
      expect([decoded.key, decoded.collection]).toEqual([text, text]);
    }
  });
});
