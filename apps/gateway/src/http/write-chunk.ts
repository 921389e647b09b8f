import type { ServerResponse } from 'node:http';

/**
 * Writes a chunk and waits while the socket's buffer is full, so a slow reader slows the reads
 * behind it instead of growing memory. Resolves false when the client has gone.
 */
export async function writeChunk(res: ServerResponse, chunk: string | Uint8Array): Promise<boolean> {
  if (res.destroyed) return false;
  if (res.write(chunk)) return true;
  return new Promise<boolean>((resolve) => {
    const done = (ok: boolean) => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}

/**
 * A chunk of a streamed answer gathered as UTF-8 bytes, piece by piece. Encoding each piece (a
 * record's JSON, say) as it comes is about three times cheaper than appending the pieces to one
 * string: a long concatenated string must be flattened, then measured and encoded again by
 * `res.write` (docs/benchmarks.md, "Lists, streams and memory"), and it leaves more garbage behind.
 */
export class ChunkBuilder {
  private parts: Buffer[] = [];
  private bytes = 0;

  add(text: string): void {
    const part = Buffer.from(text, 'utf8');
    this.parts.push(part);
    this.bytes += part.byteLength;
  }

  /** Pieces added since the last take. */
  get pieces(): number {
    return this.parts.length;
  }

  /** The bytes added since the last take, as one buffer; the builder starts again empty. */
  take(): Buffer {
    const chunk = Buffer.concat(this.parts, this.bytes);
    this.parts = [];
    this.bytes = 0;
    return chunk;
  }
}
