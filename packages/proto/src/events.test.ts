import { create, toJsonString } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { ChangeEventSchema, decodeEventMessage, encodeEventMessage } from './index';

const anyText = fc.oneof(
  fc.constant(''),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit)), maxLength: 20 }),
);
const int64 = fc.oneof(fc.constant(0n), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }));

const anyEvent = fc
  .record({
    position: anyText,
    revision: int64,
    op: anyText,
    space: anyText,
    collection: anyText,
    key: anyText,
    version: anyText,
    contentType: anyText,
    size: int64,
    atUs: int64,
    value: fc.option(fc.uint8Array({ maxLength: 2048 }), { nil: undefined }),
  })
  .map((init) => create(ChangeEventSchema, init));

describe('encodeEventMessage', () => {
  it("writes exactly Protobuf-ES's proto3 JSON of the event", () => {
    fc.assert(
      fc.property(anyEvent, (event) => {
        expect(encodeEventMessage(event)).toBe(toJsonString(ChangeEventSchema, event));
      }),
      { numRuns: 3000 },
    );
  });

  it('keeps an empty value apart from none, and reads back what it wrote', () => {
    const base = { position: '12.3', revision: 9n, op: 'put', space: 's', collection: 'c', key: 'k' };
    const empty = create(ChangeEventSchema, { ...base, value: new Uint8Array(0) });
    const none = create(ChangeEventSchema, base);
    expect(encodeEventMessage(empty)).toBe(
      '{"position":"12.3","revision":"9","op":"put","space":"s","collection":"c","key":"k","value":""}',
    );
    expect(encodeEventMessage(none)).toBe(
      '{"position":"12.3","revision":"9","op":"put","space":"s","collection":"c","key":"k"}',
    );
    expect(decodeEventMessage(encodeEventMessage(empty)).value).toEqual(new Uint8Array(0));
    expect(decodeEventMessage(encodeEventMessage(none)).value).toBeUndefined();
    // Protobuf-ES refuses to read a string with a lone surrogate back (not UTF-8): well-formed text only.
    const wellFormed = anyEvent.filter((event) =>
      [event.position, event.op, event.space, event.collection, event.key, event.version, event.contentType].every(
        (field) => field.isWellFormed(),
      ),
    );
    fc.assert(
      fc.property(wellFormed, (event) => {
        const text = encodeEventMessage(event);
        expect(encodeEventMessage(decodeEventMessage(text))).toBe(text);
      }),
      { numRuns: 500 },
    );
  });
});
