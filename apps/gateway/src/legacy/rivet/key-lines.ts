import type { ServerResponse } from 'node:http';
import { writeChunk } from '../../http/write-chunk';
import { TEXT_CONTENT_TYPE } from './render';

/** Characters gathered before a write: few large chunks on the wire rather than one per key. */
const FLUSH_CHARS = 64 * 1024;

/**
 * Answers 200 with the keys joined by `\n` (no trailing newline), as Rivet lists them, while
 * they stream in: memory holds one chunk whatever the listing's size, and a slow reader slows
 * the scan rather than filling the heap. Nothing is sent until the first chunk is full, so a
 * failure before then (the store is not the caller's) is still answered as an error; a short
 * listing goes out whole, with its Content-Length. A client that goes away stops the scan.
 */
export async function writeKeyLines(res: ServerResponse, keys: AsyncIterable<string>): Promise<void> {
  let pending = '';
  let separator = '';
  for await (const key of keys) {
    pending += separator + key;
    separator = '\n';
    if (pending.length < FLUSH_CHARS) continue;
    if (!res.headersSent) res.writeHead(200, { 'content-type': TEXT_CONTENT_TYPE });
    const written = await writeChunk(res, pending);
    pending = '';
    if (!written || res.destroyed) return;
  }
  if (!res.headersSent) {
    res.writeHead(200, {
      'content-type': TEXT_CONTENT_TYPE,
      'content-length': String(Buffer.byteLength(pending)),
    });
  }
  res.end(pending);
}
