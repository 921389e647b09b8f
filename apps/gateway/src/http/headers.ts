import type { IncomingMessage } from 'node:http';

/** A request header as one string (repeated headers joined with ", ", as HTTP allows). */
export function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}
