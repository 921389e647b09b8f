import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '@rosetta/platform';
import type { Callers } from '../auth/callers';
import type { RecordApi } from '../clients/record-api';
import type { RecordReader } from '../clients/record-reader';
import type { RecordWriter } from '../clients/record-writer';
import { failureOf, type HttpFailure } from '../errors';

/** What every dialect adapter is given. */
export interface DialectContext {
  readonly api: RecordApi;
  /** Turns credentials into callers (shared with /v1, so one cache serves every dialect). */
  readonly callers: Callers;
  /** Coalesce single-record reads and writes into batch calls (shared with /v1). */
  readonly reader: RecordReader;
  readonly writer: RecordWriter;
  readonly logger: Logger;
  /** The gateway's largest request body (MAX_BODY_BYTES), for dialects without a limit of their own. */
  readonly maxBodyBytes: number;
}

/** A route of a dialect, as listed for the documentation and for the test that walks them all. */
export interface DialectRoute {
  readonly method: string;
  /** A concrete path that reaches the route. */
  readonly path: string;
  /** Reachable without credentials (logins, CORS preflights, what the dialect's spec makes public). */
  readonly public: boolean;
}

/**
 * A legacy dialect: a thin adapter that answers its own paths in its own shapes over the record
 * service contract. Dialects run on plain node:http objects, in front of Express: their answers
 * must be byte-exact, and Express's decoration would only cost time.
 */
export interface Dialect {
  readonly name: string;
  readonly routes: readonly DialectRoute[];
  /** The status the dialect answers a request without credentials with. */
  readonly unauthenticatedStatus: number;
  /** Serves the request when its path is the dialect's (true), or leaves it alone (false). */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
}

/**
 * Runs a dialect's handler and renders any failure in the dialect's shape: `render` turns the
 * classified failure (unexpected ones are logged) into the response. Once a response has
 * started, a failure can only cut the connection.
 */
export function serve(
  context: DialectContext,
  req: IncomingMessage,
  res: ServerResponse,
  handler: () => Promise<void>,
  render: (failure: HttpFailure) => void,
): void {
  handler().catch((error: unknown) => {
    const failure = failureOf(req, error, context.logger);
    if (res.headersSent) res.destroy();
    else render(failure);
  });
}

/** The path of a request URL, without its query. */
export function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/** The query of a request URL, parsed. */
export function queryOf(url: string): URLSearchParams {
  const query = url.indexOf('?');
  return new URLSearchParams(query === -1 ? '' : url.slice(query + 1));
}
