import type { IncomingMessage } from 'node:http';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import getRawBody from 'raw-body';
import { invalid } from '@rosetta/core';
import { header } from './headers';

/** The request body, decompressed as Content-Encoding says, refused past `limit` bytes. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const encoding = (header(req, 'content-encoding') ?? 'identity').trim().toLowerCase();
  const length = header(req, 'content-length');
  if (encoding === 'identity') return getRawBody(req, { limit, length });
  const inflate =
    encoding === 'gzip'
      ? createGunzip()
      : encoding === 'deflate'
        ? createInflate()
        : encoding === 'br'
          ? createBrotliDecompress()
          : undefined;
  if (inflate === undefined) throw invalid('UNSUPPORTED_MEDIA_TYPE', `unsupported Content-Encoding "${encoding}"`);
  req.pipe(inflate);
  return getRawBody(inflate, { limit }).catch((error: unknown) => {
    // zlib's errors (Z_DATA_ERROR, Z_BUF_ERROR…) mean the client sent a body that is not what it says.
    const { code } = (error ?? {}) as { code?: unknown };
    if (typeof code === 'string' && code.startsWith('Z_')) {
      throw invalid('INVALID_ARGUMENT', `the body does not decode as its Content-Encoding (${encoding}) says`);
    }
    throw error;
  });
}
