import { OpenAPIRegistry, type ResponseConfig } from '@asteasolutions/zod-to-openapi';
import express, { type Request, type RequestHandler, type Response } from 'express';
import { invalid, type ErrorCode } from '@rosetta/core';
import type { z } from 'zod';
import type { Caller } from '../auth/callers';
import { HTTP_STATUS } from '../errors';
import { ErrorBodySchema } from './schemas';

export type Method = 'get' | 'head' | 'put' | 'post' | 'patch' | 'delete';

export interface RouteSpec<Q extends z.ZodType | undefined, B extends z.ZodType | undefined> {
  readonly method: Method;
  /** The path as Express matches it (`:param`, `*rest`). */
  readonly expressPath: string;
  /** The same path in OpenAPI syntax (`{param}`). */
  readonly openapiPath: string;
  readonly summary: string;
  readonly description?: string;
  readonly tags: string[];
  readonly params: z.ZodObject;
  readonly query?: Q;
  /** A JSON body checked by this schema, or a raw body described for the document. */
  readonly body?: B;
  readonly rawBody?: { readonly description: string };
  readonly headers?: z.ZodObject;
  readonly responses: Record<number, ResponseConfig>;
  /** Error codes this route can answer with (documented as responses). */
  readonly errors: ErrorCode[];
  /** Body parsers and the like, run before validation. */
  readonly before?: RequestHandler[];
}

export interface RouteInput<Q, B> {
  readonly query: Q;
  readonly body: B;
  /** Who is calling (authenticated before the handler runs). */
  readonly caller: Caller;
}

/** A route as listed for the OpenAPI document and for the test that walks them all. */
export interface ListedRoute {
  readonly method: Method;
  readonly openapiPath: string;
  /** Reachable without credentials (few are: logins, and what a dialect's spec makes public). */
  readonly public: boolean;
}

type Output<T> = T extends z.ZodType ? z.output<T> : undefined;

/**
 * The numeric id in a path parameter (a token's, a webhook's): path parameters are only
 * documented by their schemas, so each route checks its own.
 */
export function idParam(req: Request, what: string): bigint {
  const id = String((req.params as Record<string, unknown>).id);
  if (!/^\d{1,15}$/.test(id))
    throw invalid('INVALID_ARGUMENT', `${what} id "${id.slice(0, 32)}" is not a positive integer`);
  return BigInt(id);
}

function check<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues
    .slice(0, 5)
    .map((issue) => {
      const path = issue.path.join('.');
      return issue.code === 'unrecognized_keys'
        ? `unknown ${where} field(s): ${issue.keys.join(', ')}`
        : `${path === '' ? where : `${where} ${path}`}: ${issue.message}`;
    })
    .join('; ');
  throw invalid('INVALID_ARGUMENT', issues);
}

/**
 * Collects the /v1 routes: each one is mounted on the Express router with its validation, and
 * registered, with the very same schemas, in the OpenAPI document.
 */
export class RouteTable {
  readonly registry = new OpenAPIRegistry();
  readonly router = express.Router();
  readonly routes: ListedRoute[] = [];

  /** `authenticate` names the caller of every route but the public ones, before anything else runs. */
  constructor(private readonly authenticate: (req: Request) => Promise<Caller>) {
    this.registry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });
    this.registry.registerComponent('securitySchemes', 'basic', { type: 'http', scheme: 'basic' });
    this.registry.registerComponent('securitySchemes', 'session', {
      type: 'apiKey',
      in: 'header',
      name: 'X-Session-Token',
    });
  }

  /** Adds a route that needs a caller. */
  add<Q extends z.ZodType | undefined = undefined, B extends z.ZodType | undefined = undefined>(
    spec: RouteSpec<Q, B>,
    handler: (req: Request, res: Response, input: RouteInput<Output<Q>, Output<B>>) => Promise<void> | void,
  ): void {
    this.mount(spec, false, handler);
  }

  /** Adds a route reachable without credentials; its handler gets no caller. */
  addPublic<Q extends z.ZodType | undefined = undefined, B extends z.ZodType | undefined = undefined>(
    spec: RouteSpec<Q, B>,
    handler: (
      req: Request,
      res: Response,
      input: Omit<RouteInput<Output<Q>, Output<B>>, 'caller'>,
    ) => Promise<void> | void,
  ): void {
    this.mount(spec, true, handler);
  }

  private mount<Q extends z.ZodType | undefined, B extends z.ZodType | undefined>(
    spec: RouteSpec<Q, B>,
    isPublic: boolean,
    handler: (req: Request, res: Response, input: RouteInput<Output<Q>, Output<B>>) => Promise<void> | void,
  ): void {
    this.document(spec, isPublic);
    const { query, body } = spec;
    const authenticate = isPublic ? undefined : this.authenticate;
    const before = spec.before ?? [];
    const authenticated: RequestHandler[] =
      authenticate === undefined
        ? before
        : [
            (req, res, next) => {
              authenticate(req).then((caller) => {
                res.locals.caller = caller;
                next();
              }, next);
            },
            ...before,
          ];
    this.router[spec.method](spec.expressPath, ...authenticated, async (req: Request, res: Response) => {
      const input = {
        query: query === undefined ? undefined : check(query, req.query, 'query'),
        body: body === undefined ? undefined : check(body, req.body, 'body'),
        caller: res.locals.caller as Caller,
      } as RouteInput<Output<Q>, Output<B>>;
      await handler(req, res, input);
    });
  }

  /** Registers a route in the OpenAPI document (and the route list) only: for routes served outside Express. */
  document<Q extends z.ZodType | undefined, B extends z.ZodType | undefined>(
    spec: Omit<RouteSpec<Q, B>, 'expressPath' | 'before'>,
    isPublic = false,
  ): void {
    this.routes.push({ method: spec.method, openapiPath: spec.openapiPath, public: isPublic });
    const errors: ErrorCode[] = isPublic ? spec.errors : [...spec.errors, 'UNAUTHENTICATED', 'PERMISSION_DENIED'];
    const errorResponses: Record<number, ResponseConfig> = {};
    for (const code of errors) {
      errorResponses[HTTP_STATUS[code]] ??= {
        description: 'Error',
        content: { 'application/json': { schema: ErrorBodySchema } },
      };
    }
    this.registry.registerPath({
      method: spec.method,
      path: spec.openapiPath,
      summary: spec.summary,
      ...(spec.description === undefined ? {} : { description: spec.description }),
      tags: spec.tags,
      ...(isPublic ? {} : { security: [{ bearer: [] }, { basic: [] }, { session: [] }] }),
      request: {
        params: spec.params,
        ...(spec.query === undefined ? {} : { query: spec.query as unknown as z.ZodObject }),
        ...(spec.headers === undefined ? {} : { headers: spec.headers }),
        ...(spec.body === undefined
          ? spec.rawBody === undefined
            ? {}
            : {
                body: {
                  description: spec.rawBody.description,
                  content: { '*/*': { schema: { type: 'string', format: 'binary' } } },
                },
              }
          : { body: { content: { 'application/json': { schema: spec.body } } } }),
      },
      responses: { ...errorResponses, ...spec.responses },
    });
  }
}
