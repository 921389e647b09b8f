/** Length of a string in UTF-8 bytes, without allocating. Lone surrogates count as U+FFFD (3 bytes). */
export function utf8ByteLength(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/**
 * Compares two strings in the order of their UTF-8 bytes, which is Unicode code point order.
 * JavaScript's `<` compares UTF-16 code units and puts U+E000–U+FFFF after astral characters;
 * Postgres (`COLLATE "C"`) and every dialect order keys by bytes, so everything in memory must too.
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (0xD800–0xDFFF) encode code points above U+FFFF, so they sort after U+E000–U+FFFF.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs === ys) return x - y;
    if (xs) return y >= 0xe000 ? 1 : x - y;
    return x >= 0xe000 ? -1 : x - y;
  }
  return a.length - b.length;
}
