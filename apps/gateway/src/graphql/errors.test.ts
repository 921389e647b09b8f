import { create, toBinary } from '@bufbuild/protobuf';
import { ApolloServer } from '@apollo/server';
import { Code, ConnectError } from '@connectrpc/connect';
import { GraphQLError, locatedError, type GraphQLFormattedError } from 'graphql';
import pino from 'pino';
import { DomainError, ERROR_CODES } from '@rosetta/core';
import { ErrorDetailSchema, wireError } from '@rosetta/proto';
import { badInput, formatError, GRAPHQL_CODE } from './errors';

/** A pino logger writing JSON lines into an array. */
function memoryLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

const PATH = ['collection', 'records'];
const LOCATIONS = [{ line: 1, column: 3 }];

/** Formats `original` as Apollo does for an error thrown by the resolver at PATH. */
function formatThrown(original: unknown) {
  const { logger, lines } = memoryLogger();
  const error = locatedError(original, undefined, PATH);
  const formatted: GraphQLFormattedError = {
    message: error.message,
    locations: LOCATIONS,
    path: PATH,
    extensions: { code: 'INTERNAL_SERVER_ERROR' },
  };
  return { result: formatError(logger)(formatted, error), lines };
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

describe('GRAPHQL_CODE', () => {
  it('maps every domain error code, and nothing else', () => {
    expect(Object.keys(GRAPHQL_CODE).sort()).toEqual([...ERROR_CODES].sort());
    for (const code of ERROR_CODES) expect(GRAPHQL_CODE[code]).toMatch(/^[A-Z][A-Z_]*[A-Z]$/);
  });

  it("uses Apollo's conventional codes where one means the same, the domain code otherwise", () => {
    const conventional: Record<string, string> = {
      INVALID_ARGUMENT: 'BAD_USER_INPUT',
      PERMISSION_DENIED: 'FORBIDDEN',
      INTERNAL: 'INTERNAL_SERVER_ERROR',
      UNAUTHENTICATED: 'UNAUTHENTICATED',
    };
    for (const code of ERROR_CODES) expect(GRAPHQL_CODE[code]).toBe(conventional[code] ?? code);
  });
});

describe('formatError', () => {
  describe('a domain error', () => {
    it('shows its public message and GraphQL code, keeping the path and locations', () => {
      const { result, lines } = formatThrown(
        new DomainError('COLLECTION_NOT_FOUND', 'lookup of s/c found no row in collections', {
          publicMessage: 'no collection "c" in space "s"',
        }),
      );
      expect(result).toEqual({
        message: 'no collection "c" in space "s"',
        locations: LOCATIONS,
        path: PATH,
        extensions: { code: 'COLLECTION_NOT_FOUND' },
      });
      expect(lines).toEqual([]);
    });

    it('shows a generic text for its code when it has no public message, never its internal message', () => {
      const { result, lines } = formatThrown(new DomainError('PERMISSION_DENIED', 'role reader of alice on s'));
      expect(result.message).toBe('permission denied');
      expect(result.extensions).toEqual({ code: 'FORBIDDEN' });
      expect(JSON.stringify(result)).not.toContain('alice');
      expect(lines).toEqual([]);
    });

    it('maps the codes Apollo names its own way', () => {
      expect(formatThrown(badInput('first must be from 0 to 1000')).result).toMatchObject({
        message: 'first must be from 0 to 1000',
        extensions: { code: 'BAD_USER_INPUT' },
      });
      expect(formatThrown(new DomainError('UNAUTHENTICATED', 'no credential')).result.extensions).toEqual({
        code: 'UNAUTHENTICATED',
      });
    });

    it('carries the seconds to wait of a rate limit', () => {
      const { result } = formatThrown(
        new DomainError('RATE_LIMITED', 'bucket empty', { publicMessage: 'too many requests', retryAfterSeconds: 12 }),
      );
      expect(result).toMatchObject({
        message: 'too many requests',
        extensions: { code: 'RATE_LIMITED', retryAfterSeconds: 12 },
      });
    });

    it('leaves out locations and path when the error has none', () => {
      const { logger } = memoryLogger();
      const original = new DomainError('KEY_NOT_FOUND', 'k', { publicMessage: 'no such key' });
      const error = new GraphQLError('k', { originalError: original, path: ['record'] });
      const result = formatError(logger)({ message: 'k' }, error);
      expect(result).toEqual({ message: 'no such key', extensions: { code: 'KEY_NOT_FOUND' } });
    });
  });

  describe("a record service's error", () => {
    it('maps the domain code it carries, with its public message', () => {
      const { result, lines } = formatThrown(wireError(Code.NotFound, 'KEY_NOT_FOUND', 'no such key "k"'));
      expect(result).toEqual({
        message: 'no such key "k"',
        locations: LOCATIONS,
        path: PATH,
        extensions: { code: 'KEY_NOT_FOUND' },
      });
      expect(lines).toEqual([]);
    });

    it('maps the detail as a client receives it off the wire', () => {
      const received = new ConnectError('[already_exists] record exists', Code.AlreadyExists);
      const detail = create(ErrorDetailSchema, { code: 'RECORD_EXISTS', publicMessage: 'key "k" exists' });
      received.details.push({ type: ErrorDetailSchema.typeName, value: toBinary(ErrorDetailSchema, detail) });
      expect(formatThrown(received).result).toMatchObject({
        message: 'key "k" exists',
        extensions: { code: 'RECORD_EXISTS' },
      });
    });

    it('maps codes named differently in GraphQL, and falls back to the generic text', () => {
      const { result } = formatThrown(wireError(Code.PermissionDenied, 'PERMISSION_DENIED', undefined));
      expect(result).toMatchObject({ message: 'permission denied', extensions: { code: 'FORBIDDEN' } });
    });

    it('carries the seconds to wait of a rate limit', () => {
      const { result } = formatThrown(wireError(Code.ResourceExhausted, 'RATE_LIMITED', 'too many requests', 30));
      expect(result).toMatchObject({
        message: 'too many requests',
        extensions: { code: 'RATE_LIMITED', retryAfterSeconds: 30 },
      });
    });

    it('reports an unreachable record service as UNAVAILABLE, logged with an error id', () => {
      const { result, lines } = formatThrown(new ConnectError('connect ECONNREFUSED 10.0.0.7:7001', Code.Unavailable));
      expect(result.extensions).toEqual({ code: 'UNAVAILABLE' });
      expect(result.message).toMatch(
        /^the store is temporarily unavailable; retry shortly \(error id [0-9a-f-]{36}\)$/,
      );
      expect(result.message).not.toContain('10.0.0.7');
      expect(lines).toHaveLength(1);
      expect(result.message).toContain(String(lines[0]?.errorId));
    });

    it('treats an error without a known domain code as internal', () => {
      const unknown = wireError(Code.Internal, 'SOMETHING_NEW', 'detail from a newer service');
      const { result, lines } = formatThrown(unknown);
      expect(result.extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR' });
      expect(result.message).toMatch(/^internal error \(error id [0-9a-f-]{36}\)$/);
      expect(lines).toHaveLength(1);
    });
  });

  describe('an unexpected error', () => {
    it('hides its detail, and logs it with an error id that the message shows', () => {
      const bug = new TypeError("Cannot read properties of undefined (reading 'password')");
      const { result, lines } = formatThrown(bug);

      const errorId = UUID.exec(result.message)?.[0];
      expect(errorId).toBeDefined();
      expect(result).toEqual({
        message: `internal error (error id ${errorId})`,
        locations: LOCATIONS,
        path: PATH,
        extensions: { code: 'INTERNAL_SERVER_ERROR' },
      });
      expect(JSON.stringify(result)).not.toContain('password');

      expect(lines).toHaveLength(1);
      const [line] = lines;
      expect(line).toMatchObject({
        level: 50,
        msg: 'graphql resolver failed',
        errorId,
        path: PATH,
        err: { type: 'TypeError', message: "Cannot read properties of undefined (reading 'password')" },
      });
    });

    it('gives each failure an error id of its own', () => {
      const { logger, lines } = memoryLogger();
      const format = formatError(logger);
      const error = locatedError(new Error('boom'), undefined, PATH);
      const first = format({ message: 'boom', path: PATH }, error).message;
      const second = format({ message: 'boom', path: PATH }, error).message;
      expect(first).not.toBe(second);
      expect(lines.map((l) => l.errorId)).toEqual([UUID.exec(first)?.[0], UUID.exec(second)?.[0]]);
    });

    it('treats a thrown non-error value like any bug', () => {
      const { result, lines } = formatThrown('a string');
      expect(result.extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR' });
      expect(result.message).toMatch(/^internal error \(error id /);
      expect(lines).toHaveLength(1);
    });
  });

  describe('errors of GraphQL itself', () => {
    it('passes a validation or syntax error through unchanged', () => {
      const { logger, lines } = memoryLogger();
      const error = new GraphQLError('Cannot query field "nope" on type "Query".', {
        extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
      });
      const formatted: GraphQLFormattedError = {
        message: error.message,
        locations: LOCATIONS,
        extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
      };
      expect(formatError(logger)(formatted, error)).toBe(formatted);
      expect(lines).toEqual([]);
    });

    it('passes a GraphQL error thrown by a resolver (a scalar refusing input) through unchanged', () => {
      const { logger, lines } = memoryLogger();
      const refusal = new GraphQLError('"x" is not a 64-bit integer', { extensions: { code: 'BAD_USER_INPUT' } });
      const error = locatedError(refusal, undefined, PATH);
      const formatted: GraphQLFormattedError = { message: refusal.message, path: PATH, extensions: refusal.extensions };
      expect(formatError(logger)(formatted, error)).toBe(formatted);
      expect(lines).toEqual([]);
    });
  });

  it('formats what Apollo Server hands it for errors thrown by resolvers', async () => {
    const { logger, lines } = memoryLogger();
    const server = new ApolloServer({
      typeDefs: 'type Query { missing: String  denied: String  limited: String  broken: String }',
      resolvers: {
        Query: {
          missing: () => {
            throw wireError(Code.NotFound, 'COLLECTION_NOT_FOUND', 'no collection "c"');
          },
          denied: () => Promise.reject(new DomainError('PERMISSION_DENIED', 'reader', { publicMessage: 'read-only' })),
          limited: () => {
            throw new DomainError('RATE_LIMITED', 'x', { retryAfterSeconds: 3 });
          },
          broken: () => {
            throw new Error('secret detail');
          },
        },
      },
      formatError: formatError(logger),
      logger,
    });
    await server.start();
    try {
      const response = await server.executeOperation({ query: '{ missing denied limited broken }' });
      expect(response.body.kind).toBe('single');
      if (response.body.kind !== 'single') return;
      const errors = response.body.singleResult.errors ?? [];
      const byPath = Object.fromEntries(errors.map((e) => [String(e.path?.[0]), e]));
      expect(byPath.missing).toEqual({
        message: 'no collection "c"',
        locations: [{ line: 1, column: 3 }],
        path: ['missing'],
        extensions: { code: 'COLLECTION_NOT_FOUND' },
      });
      expect(byPath.denied).toMatchObject({ message: 'read-only', extensions: { code: 'FORBIDDEN' } });
      expect(byPath.limited).toMatchObject({
        message: 'rate limited',
        extensions: { code: 'RATE_LIMITED', retryAfterSeconds: 3 },
      });
      expect(byPath.broken?.extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR' });
      expect(byPath.broken?.message).not.toContain('secret');
      const logged = lines.filter((l) => l.msg === 'graphql resolver failed');
      expect(logged).toHaveLength(1);
      expect(byPath.broken?.message).toBe(`internal error (error id ${String(logged[0]?.errorId)})`);
      expect(logged[0]).toMatchObject({ path: ['broken'], err: { message: 'secret detail' } });
    } finally {
      await server.stop();
    }
  });
});
