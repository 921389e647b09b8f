import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeaderMap, type ApolloServer } from '@apollo/server';
import type { Logger } from '@rosetta/platform';
import { toHttpFailure } from '../errors';
import { requestIdOf } from '../http/observe';
import { readBody } from '../http/read-body';
import type { GraphQLContext } from './context';

export const GRAPHQL_PATH = '/graphql';

/** What a body that cannot be read answers: raw-body's client errors, and refused encodings. */
function bodyFailure(error: unknown): { status: number; message: string } | undefined {
  const { type, status } = (error ?? {}) as { type?: unknown; status?: unknown };
  if (type === 'entity.too.large') return { status: 413, message: 'request body is too large' };
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return { status, message: 'request body could not be read' };
  }
  const failure = toHttpFailure(error);
  return failure.unexpected ? undefined : { status: failure.status, message: failure.message };
}

function answer(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify({ errors: [{ message, extensions: { code: 'BAD_REQUEST' } }] }));
}

const isJson = (type: string | undefined) =>
  type !== undefined && /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(type.trim());

/**
 * Apollo Server on plain node:http objects, as Apollo's own integrations bind it: the request
 * becomes an HTTPGraphQLRequest, Apollo's response is written as it is. It runs in front of
 * Express, whose router and body parser would cost more than a small query's execution.
 */
export function graphqlHttpHandler(
  server: ApolloServer<GraphQLContext>,
  options: {
    readonly maxBodyBytes: number;
    readonly logger: Logger;
    readonly context: (req: IncomingMessage) => GraphQLContext;
  },
): (req: IncomingMessage, res: ServerResponse) => boolean {
  async function serve(req: IncomingMessage, res: ServerResponse, search: string): Promise<void> {
    const headers = new HeaderMap();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    let body: unknown;
    if (req.method === 'POST' && isJson(req.headers['content-type'])) {
      let raw: Buffer;
      try {
        raw = await readBody(req, options.maxBodyBytes);
      } catch (error) {
        const failure = bodyFailure(error);
        if (failure === undefined) throw error;
        answer(res, failure.status, failure.message);
        return;
      }
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        answer(res, 400, 'request body is not valid JSON');
        return;
      }
    }
    const response = await server.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: (req.method ?? 'GET').toUpperCase(), headers, search, body },
      context: () => Promise.resolve(options.context(req)),
    });
    for (const [name, value] of response.headers) res.setHeader(name, value);
    res.statusCode = response.status ?? 200;
    if (response.body.kind === 'complete') {
      res.end(response.body.string);
      return;
    }
    for await (const chunk of response.body.asyncIterator) res.write(chunk);
    res.end();
  }

  return (req, res) => {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    if ((query === -1 ? url : url.slice(0, query)) !== GRAPHQL_PATH) return false;
    serve(req, res, query === -1 ? '' : url.slice(query)).catch((error: unknown) => {
      // The path only: a GET's query holds the operation and its variables.
      options.logger.error({ err: error, request_id: requestIdOf(req), path: GRAPHQL_PATH }, 'graphql request failed');
      if (res.headersSent) res.destroy();
      else answer(res, 500, 'internal error');
    });
    return true;
  };
}
