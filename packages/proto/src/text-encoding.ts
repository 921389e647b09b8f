import { configureTextEncoding, getTextEncoding } from '@bufbuild/protobuf/wire';

/**
 * Protobuf-ES encodes every string field with the Text Encoding API, whose `encode` allocates a
 * new ArrayBuffer for each string. Node's `Buffer.from` writes the same bytes (UTF-8, a lone
 * surrogate as U+FFFD) and cuts short strings from a pooled slab: `toBinary` of a change event
 * with seven short strings and a 1 KiB value takes 5.8 µs instead of 19.4 µs, and every message
 * the gateway, the api and the worker exchange has such strings (keys, names, content types).
 *
 * Decoding stays with `TextDecoder` (as fast there), but with `ignoreBOM`: the default decoder
 * Protobuf-ES makes drops a U+FEFF that opens a string, so a key or a name beginning with one
 * would lose it on every hop. Configured once, when this package loads.
 */
export function useRosettaTextEncoding(): void {
  const lenient = new TextDecoder('utf-8', { ignoreBOM: true });
  const strict = new TextDecoder('utf-8', { ignoreBOM: true, fatal: true });
  configureTextEncoding({
    checkUtf8: getTextEncoding().checkUtf8,
    encodeUtf8: (text: string) => Buffer.from(text, 'utf8'),
    decodeUtf8: (bytes: Uint8Array, isStrict?: boolean) => (isStrict === true ? strict : lenient).decode(bytes),
  });
}
