import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { makeExecutableSchema } from '@graphql-tools/schema';
import express, { type Router } from 'express';
import {
  GraphQLError,
  parse,
  specifiedRules,
  validate,
  type ExecutionArgs,
  type GraphQLScalarType,
  type GraphQLSchema,
} from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { Logger } from '@rosetta/platform';
import type { Callers } from '../auth/callers';
import { authenticateV1, v1Credential, unauthenticated } from '../auth/credentials';
import type { RecordApi } from '../clients/record-api';
import type { RecordReader } from '../clients/record-reader';
import { toHttpFailure } from '../errors';
import type { CollectionFeed } from '../events/collection-feed';
import type { SnapshotObjects } from '../v1/snapshots';
import { createContext, type GraphQLContext } from './context';
import { formatError } from './errors';
import { GRAPHQL_PATH, graphqlHttpHandler } from './http';
import { ASSET_PATH, GRAPHIQL_HTML, graphiqlAssets } from './graphiql';
import { jobResolvers } from './jobs';
import { checkCost, DEFAULT_MAX_TOKENS, depthLimit, estimateCost, type QueryLimits } from './limits';
import { mutationResolvers } from './mutations';
import { queryResolvers, type PageLimits } from './queries';
import { DateTime, JSONScalar, Long } from './scalars';
import { snapshotResolvers } from './snapshots';
import { subscriptionResolvers } from './subscriptions';
import { webhookResolvers } from './webhooks';

/** The committed SDL (the build copies it beside the compiled module). */
export const SDL_PATH = join(__dirname, 'schema.graphql');

export interface GraphQLOptions extends QueryLimits, PageLimits {
  /** Whether the schema may be introspected (GraphiQL needs it). */
  readonly introspection: boolean;
}

export const DEFAULT_GRAPHQL_OPTIONS: GraphQLOptions = {
  maxDepth: 12,
  maxComplexity: 25_000,
  maxTokens: DEFAULT_MAX_TOKENS,
  maxPage: 1000,
  introspection: true,
};

export interface GraphQLDeps {
  readonly api: RecordApi;
  /** The gateway's shared reader: single-record reads of concurrent requests go out together. */
  readonly reader: RecordReader;
  readonly callers: Callers;
  /** Collections' change feeds, for subscriptions. */
  readonly feed: CollectionFeed;
  readonly logger: Logger;
  readonly maxBodyBytes: number;
  readonly options: GraphQLOptions;
  /** The snapshot store, where deleteSnapshot deletes objects; none: deleteSnapshot answers UNAVAILABLE. */
  readonly snapshots?: SnapshotObjects | undefined;
}

export interface GraphQLEndpoint {
  /** Mount at the root: serves GraphiQL's assets. */
  readonly router: Router;
  /** Answers a request for /graphql (POST, GET, GraphiQL's page); false for any other path. */
  readonly handle: (req: IncomingMessage, res: ServerResponse) => boolean;
  /** Takes a WebSocket upgrade for /graphql (graphql-ws); false for any other path. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** Closes the WebSockets and stops the server. */
  close(): Promise<void>;
}

/** A scalar's behaviour without its (undefined) description, which would replace the SDL's. */
const scalar = ({ serialize, parseValue, parseLiteral }: GraphQLScalarType) => ({
  serialize,
  parseValue,
  parseLiteral,
});

/** Costs of recent operations kept (by document, operation and variables). */
const COST_CACHE_ENTRIES = 1000;

export function buildSchema(options: PageLimits, snapshots?: SnapshotObjects): GraphQLSchema {
  return makeExecutableSchema({
    typeDefs: readFileSync(SDL_PATH, 'utf8'),
    resolvers: [
      { DateTime: scalar(DateTime), JSON: scalar(JSONScalar), Long: scalar(Long) },
      queryResolvers(options),
      mutationResolvers,
      subscriptionResolvers,
      webhookResolvers(options),
      jobResolvers(options),
      snapshotResolvers(options, snapshots),
    ],
  });
}

/** The headers a WebSocket's caller authenticates with: the connection_init payload's over the upgrade's. */
function socketHeaders(
  request: IncomingMessage,
  params: Readonly<Record<string, unknown>> | undefined,
): IncomingHttpHeaders {
  const headers: IncomingHttpHeaders = { ...request.headers };
  for (const [name, value] of Object.entries(params ?? {})) {
    if (typeof value === 'string') headers[name.toLowerCase()] = value;
  }
  return headers;
}

/**
 * The GraphQL API: Apollo Server on Express for queries and mutations (automatic persisted
 * queries included), graphql-ws on the same path for subscriptions, and GraphiQL for browsers.
 * Resolvers reach data only through the record service contract.
 */
export function graphqlEndpoint(deps: GraphQLDeps): GraphQLEndpoint {
  const { api, reader, callers, feed, logger, options } = deps;
  const schema = buildSchema(options, deps.snapshots);
  const rules = [depthLimit(options.maxDepth)];
  const parseOptions = { maxTokens: options.maxTokens ?? DEFAULT_MAX_TOKENS };
  const format = formatError(logger);

  // An operation's cost depends on its document and variables only: remember the last ones.
  const costs = new Map<string, number>();
  const costLimit: ApolloServerPlugin<GraphQLContext> = {
    requestDidStart() {
      return Promise.resolve({
        didResolveOperation({ request, document, queryHash }) {
          const key = `${queryHash}\u0000${request.operationName ?? ''}\u0000${JSON.stringify(request.variables ?? {})}`;
          let cost = costs.get(key);
          if (cost === undefined) {
            cost = estimateCost(schema, document, request.variables, request.operationName);
            if (costs.size >= COST_CACHE_ENTRIES) costs.clear();
            costs.set(key, cost);
          }
          checkCost(cost, options.maxComplexity);
          return Promise.resolve();
        },
      });
    },
  };
  const graphiql: ApolloServerPlugin<GraphQLContext> = {
    serverWillStart() {
      return Promise.resolve({
        renderLandingPage: () => Promise.resolve({ html: GRAPHIQL_HTML }),
      });
    },
  };
  const server = new ApolloServer<GraphQLContext>({
    schema,
    introspection: options.introspection,
    validationRules: rules,
    parseOptions,
    formatError: format,
    includeStacktraceInErrorResponses: false,
    logger,
    // Cache hints are for HTTP caches and CDNs in front of public data: ours needs credentials.
    plugins: [ApolloServerPluginCacheControlDisabled(), costLimit, ...(options.introspection ? [graphiql] : [])],
  });
  server.startInBackgroundHandlingStartupErrorsByLoggingAndFailingAllRequests();

  const router = express.Router();
  if (options.introspection) router.use(ASSET_PATH, graphiqlAssets());
  const handle = graphqlHttpHandler(server, {
    maxBodyBytes: deps.maxBodyBytes,
    logger,
    context: (req) => createContext(api, reader, feed, () => authenticateV1(callers, req)),
  });

  const sockets = new WebSocketServer({ noServer: true, maxPayload: deps.maxBodyBytes });
  const wsServer = useServer<Record<string, unknown>>(
    {
      schema,
      // A socket without credentials, or with refused ones, is closed with 4403 Forbidden; one
      // that could not be checked (the record service unreachable, a rate limit) with 1013 Try
      // Again Later, so that clients retry instead of giving up.
      onConnect: async (ctx) => {
        try {
          const found = v1Credential({ headers: socketHeaders(ctx.extra.request, ctx.connectionParams) });
          if (found === undefined) return false;
          await callers.authenticate(found.key, found.credential, callers.clientAddress(ctx.extra.request));
          return true;
        } catch (error) {
          const failure = toHttpFailure(error);
          if (failure.code === 'UNAUTHENTICATED' || failure.code === 'PERMISSION_DENIED') return false;
          if (failure.unexpected) logger.error({ err: error }, 'authenticating a GraphQL WebSocket failed');
          ctx.extra.socket.close(1013, failure.code === 'RATE_LIMITED' ? 'rate limited' : 'try again later');
          return false;
        }
      },
      context: (ctx) =>
        createContext(api, reader, feed, async () => {
          const headers = socketHeaders(ctx.extra.request, ctx.connectionParams);
          const found = v1Credential({ headers });
          if (found === undefined) throw unauthenticated('authentication required');
          return callers.authenticate(found.key, found.credential, callers.clientAddress(ctx.extra.request));
        }),
      onSubscribe: (_ctx, _id, payload) => {
        let document;
        try {
          document = parse(payload.query, parseOptions);
        } catch (error) {
          return [error instanceof GraphQLError ? error : new GraphQLError(String(error))];
        }
        const errors = validate(schema, document, [...specifiedRules, ...rules]);
        if (errors.length > 0) return errors;
        try {
          checkCost(
            estimateCost(schema, document, payload.variables ?? undefined, payload.operationName ?? undefined),
            options.maxComplexity,
          );
        } catch (error) {
          return [error as GraphQLError];
        }
        const args: ExecutionArgs = {
          schema,
          document,
          variableValues: payload.variables ?? null,
          operationName: payload.operationName ?? null,
        };
        return args;
      },
      onNext: (_ctx, _id, _payload, _args, result) =>
        result.errors === undefined
          ? result
          : { ...result, errors: result.errors.map((error) => format(error.toJSON(), error)) },
    },
    sockets,
  );

  return {
    router,
    handle,
    upgrade(req, socket, head) {
      if (new URL(req.url ?? '/', 'http://gateway').pathname !== GRAPHQL_PATH) return false;
      sockets.handleUpgrade(req, socket, head, (ws) => sockets.emit('connection', ws, req));
      return true;
    },
    async close() {
      await wsServer.dispose();
      await new Promise<void>((resolve) => sockets.close(() => resolve()));
      await server.stop();
    },
  };
}
