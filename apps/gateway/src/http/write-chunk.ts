import type { ServerResponse } from 'node:http';
import { stallLimitOf } from './overload';

/**
 * Writes a chunk and waits while the socket's buffer is full, so a slow reader slows the reads
 * behind it instead of growing memory. Resolves false when the client has gone. Under the
 * gateway's server, a client that takes none of the buffer for the stall limit
 * (GATEWAY_STREAM_STALL_MS) is cut: the stream ends and frees what it holds.
 */
export async function writeChunk(res: ServerResponse, chunk: string | Uint8Array): Promise<boolean> {
  if (res.destroyed) return false;
  if (res.write(chunk)) return true;
  const stall = stallLimitOf(res);
  return new Promise<boolean>((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    const timer =
      stall === undefined
        ? undefined
        : setTimeout(() => {
            stall.gate.stalled();
            res.destroy();
          }, stall.ms);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}
