import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { legacyOptions } from './config';
import { applyCors, corsPolicy, type CorsPolicy } from './cors';

/** The dialects' own defaults: Kopano's rs/cors AllowAll once switched on, Prosody's mod_http. */
const requestStyle = legacyOptions({ KOPANO_KVS_ALLOW_CORS: true }).kopano.cors;
const alwaysStyle = legacyOptions({}).prosody.cors;

/** A server that applies the policy, then answers 418 when the policy did not answer. */
async function serve(policy: CorsPolicy): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    if (applyCors(policy, req, res)) return;
    res.writeHead(418);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function call(policy: CorsPolicy, method: string, headers: Record<string, string>) {
  const { url, server } = await serve(policy);
  try {
    const res = await fetch(`${url}/x`, { method, headers });
    return { status: res.status, headers: Object.fromEntries(res.headers) };
  } finally {
    server.close();
  }
}

describe('request-style CORS (rs/cors AllowAll)', () => {
  it('answers a preflight without going further, echoing the method and canonical headers', async () => {
    const res = await call(requestStyle, 'OPTIONS', {
      origin: 'https://app.example',
      'access-control-request-method': 'put',
      'access-control-request-headers': 'authorization, x-custom-thing',
    });
    expect(res.status).toBe(200);
    expect(res.headers).toMatchObject({
      vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers',
      'access-control-allow-origin': '*',
      'access-control-allow-methods': 'PUT',
      'access-control-allow-headers': 'Authorization, X-Custom-Thing',
    });
    expect(res.headers['access-control-max-age']).toBeUndefined();
  });

  it('marks actual requests with Vary and allows their origin only when one is sent', async () => {
    const withOrigin = await call(requestStyle, 'GET', { origin: 'https://app.example' });
    expect([withOrigin.status, withOrigin.headers['access-control-allow-origin'], withOrigin.headers.vary]).toEqual([
      418,
      '*',
      'Origin',
    ]);
    const without = await call(requestStyle, 'GET', {});
    expect([without.headers['access-control-allow-origin'], without.headers.vary]).toEqual([undefined, 'Origin']);
  });

  it('treats OPTIONS without Access-Control-Request-Method as an ordinary request', async () => {
    expect((await call(requestStyle, 'OPTIONS', { origin: 'https://a.example' })).status).toBe(418);
  });

  it('allows only the configured origins, methods and headers once narrowed', async () => {
    const narrowed = corsPolicy(requestStyle, {
      origins: 'https://a.example',
      methods: 'get',
      headers: 'Content-Type',
    });
    const other = await call(narrowed, 'GET', { origin: 'https://b.example' });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    const allowed = await call({ ...narrowed, exposeHeaders: ['ETag', 'Location'] }, 'GET', {
      origin: 'https://a.example',
    });
    expect(allowed.headers['access-control-allow-origin']).toBe('https://a.example');
    expect(allowed.headers['access-control-expose-headers']).toBe('ETag, Location');
    const badMethod = await call(narrowed, 'OPTIONS', {
      origin: 'https://a.example',
      'access-control-request-method': 'DELETE',
    });
    expect([badMethod.status, badMethod.headers['access-control-allow-origin']]).toEqual([200, undefined]);
    const badHeader = await call(narrowed, 'OPTIONS', {
      origin: 'https://a.example',
      'access-control-request-method': 'GET',
      'access-control-request-headers': 'X-Other',
    });
    expect(badHeader.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('does nothing when disabled', async () => {
    const res = await call({ ...requestStyle, enabled: false }, 'OPTIONS', {
      origin: 'https://a.example',
      'access-control-request-method': 'GET',
    });
    expect([res.status, res.headers.vary]).toEqual([418, undefined]);
  });
});

describe('always-style CORS (Prosody mod_http)', () => {
  it('puts the headers on every response, echoing the origin or * without one', async () => {
    const res = await call(alwaysStyle, 'GET', {});
    expect(res.status).toBe(418);
    expect(res.headers).toMatchObject({
      'access-control-allow-origin': '*',
      'access-control-allow-methods': 'GET, OPTIONS, PUT, POST, DELETE',
      'access-control-allow-headers': 'Content-Type',
      'access-control-max-age': '7200',
    });
    const echoed = await call(alwaysStyle, 'DELETE', { origin: 'https://x.example' });
    expect(echoed.headers['access-control-allow-origin']).toBe('https://x.example');
  });

  it('answers any OPTIONS with 200 and an empty body', async () => {
    const res = await call(alwaysStyle, 'OPTIONS', {});
    expect([res.status, res.headers['content-length']]).toEqual([200, '0']);
  });
});
