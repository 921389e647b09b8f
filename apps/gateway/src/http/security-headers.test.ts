import { createServer, request, type IncomingHttpHeaders, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { API_CONTENT_SECURITY_POLICY, GRAPHIQL_CONTENT_SECURITY_POLICY, setSecurityHeaders } from './security-headers';

let server: Server;
let answer: RequestListener;

beforeAll(async () => {
  server = createServer((req, res) => {
    setSecurityHeaders(req, res);
    answer(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

function get(path: string): Promise<{ status: number; headers: IncomingHttpHeaders }> {
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    })
      .on('error', reject)
      .end();
  });
}

const SECURITY = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

it('sets the headers on an answer written with writeHead, keeping its status and its own headers', async () => {
  answer = (_req, res) => {
    res.writeHead(418, { 'content-type': 'text/plain', 'x-own': '1' });
    res.end('teapot');
  };
  const reply = await get('/store/alice/k');
  expect(reply.status).toBe(418);
  expect(reply.headers).toMatchObject({
    ...SECURITY,
    'content-security-policy': API_CONTENT_SECURITY_POLICY,
    'content-type': 'text/plain',
    'x-own': '1',
  });
  expect(reply.headers['x-powered-by']).toBeUndefined();
  expect(reply.headers['cross-origin-resource-policy']).toBeUndefined();
});

it('lets a route replace a header it needs otherwise', async () => {
  answer = (_req, res) => {
    res.setHeader('x-frame-options', 'SAMEORIGIN');
    res.end();
  };
  expect((await get('/')).headers).toMatchObject({ 'x-frame-options': 'SAMEORIGIN', 'referrer-policy': 'no-referrer' });
});

it('gives the GraphiQL page a policy that lets its own scripts, styles and queries run, and only those', async () => {
  answer = (_req, res) => res.end();
  for (const path of ['/graphql', '/graphql?query=%7Bme%7D']) {
    expect((await get(path)).headers).toMatchObject({
      ...SECURITY,
      'content-security-policy': GRAPHIQL_CONTENT_SECURITY_POLICY,
    });
  }
  expect(GRAPHIQL_CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
  expect(GRAPHIQL_CONTENT_SECURITY_POLICY).toContain("frame-ancestors 'none'");
  expect(GRAPHIQL_CONTENT_SECURITY_POLICY).not.toContain('unsafe-eval');
  expect((await get('/graphql/assets/react.js')).headers['content-security-policy']).toBe(API_CONTENT_SECURITY_POLICY);
});
