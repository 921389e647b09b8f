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
