import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, type Client } from '@connectrpc/connect';
import { DomainError, type ErrorCode } from '@rosetta/core';
import { createLogger } from '@rosetta/platform';
import { AuthenticateResponseSchema, PrincipalSchema, type AuthService } from '@rosetta/proto';
import { Callers } from '../../auth/callers';
import { legacyOptions } from '../config';
import type { DialectContext } from '../dialect';
import { KOPANO_STATUS } from './responses';
import { kopanoDialect } from './routes';

/**
 * How the dialect answers what authentication can throw, with the record service replaced by
 * an authenticator that answers as told (the integration test covers the real one). Requests
 * delete the empty key, which the dialect refuses (400) without calling the store, so an accepted
 * caller shows as a 400.
 */

type Answer = { principal: { via: string; externalScopes: string[] } } | { error: unknown };

let answer: Answer;
let server: Server;
let url: string;

const auth = {
  authenticate: () => {
    if ('error' in answer) return Promise.reject(answer.error);
    const principal = create(PrincipalSchema, { account: 'a', personalSpace: 'a', ...answer.principal });
    return Promise.resolve(create(AuthenticateResponseSchema, { principal, grant: 'g', grantExpiresMs: 0n }));
  },
} as unknown as Client<typeof AuthService>;

beforeAll(async () => {
  const context = {
    callers: new Callers(auth),
    logger: createLogger({ name: 'test', level: 'silent' }),
  } as unknown as DialectContext;
  const dialect = kopanoDialect(context, legacyOptions({}).kopano);
  server = createServer((req, res) => {
    if (dialect.handle(req, res)) return;
    res.writeHead(418);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise((resolve) => server.close(resolve)));

async function call(path = '/api/kvs/v1/kv/user/') {
  const res = await fetch(url + path, { method: 'DELETE', headers: { authorization: 'Bearer a.b.c' } });
  return [res.status, res.headers.get('content-type'), res.headers.get('x-content-type-options'), await res.text()];
}

const text = (status: number) => [status, 'text/plain; charset=utf-8', 'nosniff', '\n'];

describe('kopanoDialect', () => {
  it.each<ErrorCode>(['UNAUTHENTICATED', 'RATE_LIMITED', 'PERMISSION_DENIED', 'SPACE_NOT_FOUND', 'ACCOUNT_NOT_FOUND'])(
    'answers %s from authentication with 403 and a newline',
    async (code) => {
      answer = { error: new DomainError(code, code, { retryAfterSeconds: 5 }) };
      expect(await call()).toEqual(text(403));
    },
  );

  it('answers an unreachable or failing record service with 500', async () => {
    answer = { error: new ConnectError('down', Code.Unavailable) };
    expect(await call()).toEqual(text(500));
    answer = { error: new Error('bug') };
    expect(await call()).toEqual(text(500));
  });

  it('requires the configured scopes of JWT callers only', async () => {
    answer = { principal: { via: 'jwt', externalScopes: ['other'] } };
    expect(await call()).toEqual(text(403));
    answer = { principal: { via: 'jwt', externalScopes: ['other', 'kopano/kvs'] } };
    expect(await call()).toEqual(text(400));
    answer = { principal: { via: 'token', externalScopes: [] } };
    expect(await call()).toEqual(text(400));
  });

  it('leaves paths outside /api/kvs/v1 alone', async () => {
    for (const path of ['/api/kvs/v1x', '/api/kvs/v2/kv/user/a', '/v1/spaces']) {
      expect((await fetch(url + path)).status).toBe(418);
    }
  });

  it('maps only 400, 403 and 500 onto error bodies', () => {
    expect(new Set(Object.values(KOPANO_STATUS))).toEqual(new Set([400, 403, 500]));
  });
});
