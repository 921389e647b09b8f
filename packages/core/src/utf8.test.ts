import { compareUtf8, utf8ByteLength } from './utf8';

describe('utf8ByteLength', () => {
  it.each([
    ['', 0],
    ['a', 1],
    ['é', 2],
    ['€', 3],
    ['😀', 4],
    ['a😀b', 6],
    ['\ud800', 3],
  ])('%j is %i bytes', (text, bytes) => {
    expect(utf8ByteLength(text)).toBe(bytes);
    if (text.isWellFormed()) expect(utf8ByteLength(text)).toBe(Buffer.byteLength(text, 'utf8'));
  });
});

describe('compareUtf8', () => {
  const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

  it('orders like the UTF-8 bytes, not like UTF-16 code units', () => {
    // U+FF5E sorts after U+1F600 in UTF-16 (0xFF5E > 0xD83D) but before it in UTF-8.
    expect('\uff5e' > '😀').toBe(true);
    expect(compareUtf8('\uff5e', '😀')).toBeLessThan(0);
    expect(compareUtf8('😀', '\uff5e')).toBeGreaterThan(0);
  });

  it('agrees with Buffer.compare on a mixed sample', () => {
    const sample = ['', 'a', 'ab', 'b', 'é', '€', '\ue000', '\uffff', '😀', '😀a', 'a\u0001', 'Z', '~', '\u007f'];
    for (const a of sample) {
      for (const b of sample) {
        expect(Math.sign(compareUtf8(a, b))).toBe(Math.sign(byBytes(a, b)));
      }
    }
  });

  it('puts a prefix before its extensions', () => {
    expect(compareUtf8('a', 'ab')).toBeLessThan(0);
    expect(compareUtf8('ab', 'a')).toBeGreaterThan(0);
    expect(compareUtf8('same', 'same')).toBe(0);
  });
});
