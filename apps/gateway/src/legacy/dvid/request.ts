import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Caller } from '../../auth/callers';
import type { DvidOptions } from '../config';
import type { DialectContext } from '../dialect';
import type { KnownNodes } from './known-nodes';

/** What every DVID handler is given. */
export interface DvidRequest {
  readonly context: DialectContext;
  readonly options: DvidOptions;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly query: URLSearchParams;
  readonly caller: Caller;
  /** The call options that carry the caller's grant. */
  readonly call: { readonly headers: Readonly<Record<string, string>> };
  /** Node UUIDs resolved before (shared by the dialect's requests). */
  readonly knownNodes: KnownNodes;
  /** The space whose repos this request sees. */
  readonly space: string;
  /** The request body, read once on first use. */
  body(): Promise<Uint8Array>;
}

export function sendJson(res: ServerResponse, body: string | object, status = 200): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
  res.end(text);
}

export function sendText(res: ServerResponse, body: string, contentType = 'text/plain'): void {
  res.writeHead(200, { 'content-type': contentType, 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}

/** A success without a body (DVID's POST and DELETE answers). */
export function sendOk(res: ServerResponse): void {
  res.writeHead(200, { 'content-length': '0' });
  res.end();
}
