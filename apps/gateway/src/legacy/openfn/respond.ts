import type { ServerResponse } from 'node:http';

/** What Phoenix puts on every controller answer. */
export const CACHE_CONTROL = 'max-age=0, private, must-revalidate';

/** A JSON answer as Phoenix's `json/2` sends it. */
export function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'cache-control': CACHE_CONTROL,
    'content-length': String(Buffer.byteLength(body)),
  });
  res.end(body);
}
