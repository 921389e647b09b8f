import request from 'supertest';
import { SignJWT } from 'jose';
import { createApp } from '../../apps/gateway/src';
import { silentLogger, startTestApi, type TestApi } from '../support/api';
import { TEST_ADMIN_TOKEN } from '../support/env';

/**
 * Who may do what, through the /v1 routes of a real gateway app over a real record service:
 * every credential kind, roles, scopes, expiry, revocation, rate limits, and an isolation
 * matrix proving one account's records are out of another's reach by every route.
 */

const JWT_SECRET = 'jwt-test-secret-0123456789abcdef0123456789';

let api: TestApi;
let app: ReturnType<typeof createApp>;
const admin = `Bearer ${TEST_ADMIN_TOKEN}`;
const basic = (login: string, password: string) => `Basic ${Buffer.from(`${login}:${password}`).toString('base64')}`;
const errorOf = (res: request.Response) => (res.body as { error: { code: string; message: string } }).error;

beforeAll(async () => {
  api = await startTestApi({
    env: {
      AUTH_MAX_FAILURES_PER_ACCOUNT: '3',
      JWT_SECRET,
      JWT_REQUIRED_TRUE_CLAIM: 'kc.isAccessToken',
      JWT_SCOPES_CLAIM: 'kc.authorizedScopes',
      JWT_CREATE_ACCOUNTS: 'true',
    },
  });
  app = createApp({ api, logger: silentLogger, maxBodyBytes: 1024 * 1024 });
  for (const name of ['alice', 'bob', 'carol', 'mallory']) {
    await request(app)
      .post('/v1/admin/accounts')
      .set('authorization', admin)
      .send({ name, password: `${name}-password` })
      .expect(201);
  }
});

afterAll(() => api.close());

async function tokenFor(login: string, body: Record<string, unknown> = {}): Promise<string> {
  const res = await request(app)
    .post('/v1/tokens')
    .set('authorization', basic(login, `${login}-password`))
    .send(body)
    .expect(201);
  return `Bearer ${(res.body as { secret: string }).secret}`;
}

const put = (auth: string, path: string, value = 'v') =>
  request(app).put(path).set('authorization', auth).type('text/plain').send(value);

describe('authentication', () => {
  it('refuses requests without credentials, or with malformed ones, with 401 and a challenge', async () => {
    const res = await request(app).get('/v1/spaces/default/collections').expect(401);
    expect(errorOf(res).code).toBe('UNAUTHENTICATED');
    expect(res.headers['www-authenticate']).toMatch(/Bearer/);
    for (const value of ['Bearer ', 'Basic !!!', 'Digest x', 'Bearer rst_unknown']) {
      expect(errorOf(await request(app).get('/v1/spaces').set('authorization', value).expect(401)).code).toBe(
        'UNAUTHENTICATED',
      );
    }
    await request(app).get('/v1/spaces').set('x-session-token', 'abc').expect(401);
    await request(app).get('/v1/spaces').set('x-session-token', 'a'.repeat(64)).expect(401);
    await request(app).get('/v1/spaces').set('authorization', basic('alice', 'wrong-password')).expect(401);
  });

  it('answers every route of the table with 401 when no credential comes, except the public ones', async () => {
    const routes = app.routes.filter((r) => !r.public);
    expect(routes.length).toBeGreaterThan(25);
    for (const route of routes) {
      const path = route.openapiPath.replace(/\{(\w+)\}/g, (_m, name: string) => (name === 'id' ? '1' : `x${name}`));
      const call = request(app)[route.method](path);
      const res = await (route.method === 'get' || route.method === 'head' ? call : call.type('json').send('{}'));
      expect([route.method, path, res.status]).toEqual([route.method, path, 401]);
    }
    expect(app.routes.filter((r) => r.public).map((r) => r.openapiPath)).toEqual(['/v1/auth/login', '/v1/auth/logout']);
  });

  it("answers every legacy dialect route without credentials with the dialect's own refusal", async () => {
    const routes = app.legacyRoutes.filter((r) => !r.public);
    expect(new Set(routes.map((r) => r.dialect))).toEqual(
      new Set(['kopano-kvs', 'rivet', 'prosody', 'openfn', 'dvid']),
    );
    for (const route of routes) {
      const call = request(app)[route.method.toLowerCase() as 'get'](route.path);
      // Node itself refuses a HEAD that carries a body, before any dialect sees it.
      const res = await (['GET', 'HEAD'].includes(route.method) ? call : call.type('json').send('{}'));
      expect([route.dialect, route.method, route.path, res.status]).toEqual([
        route.dialect,
        route.method,
        route.path,
        route.unauthenticatedStatus,
      ]);
    }
    expect(app.legacyRoutes.filter((r) => r.public).map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /login',
      'GET /logout',
      'OPTIONS /data/notes',
      'GET /api/server/info',
      'GET /api/server/types',
      'GET /api/server/compiled-types',
      'GET /api/help',
      'GET /api/help/keyvalue',
      'GET /api/heartbeat',
      'GET /api/load',
    ]);
  });

  it('knows who is calling, by token, password, session and JWT', async () => {
    const who = async (set: (r: request.Test) => request.Test) =>
      (await set(request(app).get('/v1/auth/whoami')).expect(200)).body as { account: string; via: string };
    expect(await who((r) => r.set('authorization', admin))).toMatchObject({ account: 'admin', via: 'token' });
    expect(await who((r) => r.set('authorization', basic('alice', 'alice-password')))).toMatchObject({
      account: 'alice',
      via: 'password',
    });
    const login = await request(app)
      .post('/v1/auth/login')
      .send({ login: 'bob', password: 'bob-password' })
      .expect(200);
    expect(login.body.session).toMatch(/^[0-9a-f]{64}$/);
    expect(await who((r) => r.set('x-session-token', login.body.session as string))).toMatchObject({
      account: 'bob',
      via: 'session',
    });
    const jwt = await new SignJWT({ 'kc.isAccessToken': true, 'kc.authorizedScopes': ['kopano/kvs'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('carol')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(JWT_SECRET));
    expect(await who((r) => r.set('authorization', `Bearer ${jwt}`))).toMatchObject({ account: 'carol', via: 'jwt' });
  });

  it('refuses JWTs that are forged, expired, not access tokens or without exp', async () => {
    const key = new TextEncoder().encode(JWT_SECRET);
    const sign = (claims: Record<string, unknown>, exp: string | undefined, secret = key) => {
      const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject('carol');
      return (exp === undefined ? jwt : jwt.setExpirationTime(exp)).sign(secret);
    };
    const bad = [
      await sign({ 'kc.isAccessToken': true }, '1h', new TextEncoder().encode('x'.repeat(40))),
      await sign({ 'kc.isAccessToken': true }, '-1m'),
      await sign({ 'kc.isAccessToken': false }, '1h'),
      await sign({ 'kc.isAccessToken': true }, undefined),
    ];
    for (const jwt of bad) {
      expect(errorOf(await request(app).get('/v1/spaces').set('authorization', `Bearer ${jwt}`).expect(401)).code).toBe(
        'UNAUTHENTICATED',
      );
    }
  });

  it('creates an account for a new JWT subject when configured to', async () => {
    const jwt = await new SignJWT({ 'kc.isAccessToken': true })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('urn:user:42')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(JWT_SECRET));
    const res = await request(app).get('/v1/auth/whoami').set('authorization', `Bearer ${jwt}`).expect(200);
    expect(res.body.account).toMatch(/^jwt-[0-9a-f]{24}$/);
    expect(res.body.personalSpace).toBe(res.body.account);
  });

  it('limits failed password attempts per account with 429 and Retry-After, right password or not', async () => {
    for (let i = 0; i < 3; i++) {
      await request(app).get('/v1/spaces').set('authorization', basic('mallory', 'guess')).expect(401);
    }
    const limited = await request(app).get('/v1/spaces').set('authorization', basic('mallory', 'guess')).expect(429);
    expect(errorOf(limited).code).toBe('RATE_LIMITED');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    await request(app).post('/v1/auth/login').send({ login: 'mallory', password: 'mallory-password' }).expect(429);
  });
});

describe('sessions', () => {
  it('logs in, works, is read-only when asked, and logs out', async () => {
    const full = (await request(app).post('/v1/auth/login').set('authorization', basic('carol', 'carol-password')))
      .body as { session: string };
    const readOnly = (
      await request(app)
        .post('/v1/auth/login?readOnly=true')
        .set('authorization', basic('carol', 'carol-password'))
        .expect(200)
    ).body as { session: string; readOnly: boolean };
    expect(readOnly.readOnly).toBe(true);
    const collection = '/v1/spaces/carol/collections';
    await request(app).post(collection).set('x-session-token', full.session).send({ name: 'notes' }).expect(201);
    await request(app)
      .put(`${collection}/notes/records/k`)
      .set('x-session-token', full.session)
      .type('text/plain')
      .send('v')
      .expect(201);
    await request(app).get(`${collection}/notes/records/k`).set('x-session-token', readOnly.session).expect(200);
    const refused = await request(app)
      .put(`${collection}/notes/records/k`)
      .set('x-session-token', readOnly.session)
      .type('text/plain')
      .send('w')
      .expect(403);
    expect(errorOf(refused).code).toBe('PERMISSION_DENIED');
    expect((await request(app).post('/v1/auth/logout').set('x-session-token', full.session).expect(200)).body).toEqual({
      ended: 1,
    });
    await expectRefusedSoon(() => request(app).get('/v1/spaces').set('x-session-token', full.session));
    await request(app).get('/v1/spaces').set('x-session-token', readOnly.session).expect(200);
  });
});

/** Within a second (a grant's lifetime), the request is refused with 401. */
async function expectRefusedSoon(send: () => request.Test): Promise<void> {
  const started = Date.now();
  for (;;) {
    const res = await send();
    if (res.status === 401) break;
    expect(Date.now() - started).toBeLessThan(1500);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('tokens', () => {
  it('read-only tokens read but never write', async () => {
    const token = await tokenFor('alice', { name: 'ro', readOnly: true });
    const writer = await tokenFor('alice');
    await request(app)
      .post('/v1/spaces/alice/collections')
      .set('authorization', writer)
      .send({ name: 'ro' })
      .expect(201);
    await put(writer, '/v1/spaces/alice/collections/ro/records/k').expect(201);
    await request(app).get('/v1/spaces/alice/collections/ro/records/k').set('authorization', token).expect(200);
    expect(errorOf(await put(token, '/v1/spaces/alice/collections/ro/records/k').expect(403)).code).toBe(
      'PERMISSION_DENIED',
    );
    await request(app).delete('/v1/spaces/alice/collections/ro/records/k').set('authorization', token).expect(403);
    await request(app).post('/v1/tokens').set('authorization', token).send({}).expect(403);
  });

  it('expired and revoked tokens fail, and a revocation takes effect within a second', async () => {
    const expiring = await tokenFor('alice', { expiresInSeconds: 1 });
    await request(app).get('/v1/spaces').set('authorization', expiring).expect(200);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await expectRefusedSoon(() => request(app).get('/v1/spaces').set('authorization', expiring));

    const revoked = await tokenFor('alice', { name: 'to revoke' });
    await request(app).get('/v1/spaces').set('authorization', revoked).expect(200);
    const list = await request(app).get('/v1/tokens').set('authorization', revoked).expect(200);
    const { id } = (list.body.tokens as Array<{ id: number; name: string }>).find((t) => t.name === 'to revoke')!;
    expect(JSON.stringify(list.body)).not.toContain(revoked.slice(7));
    const malformed = await request(app)
      .delete('/v1/tokens/abc')
      .set('authorization', basic('alice', 'alice-password'));
    expect([malformed.status, errorOf(malformed).code]).toEqual([400, 'INVALID_ARGUMENT']);
    await request(app).delete(`/v1/tokens/${id}`).set('authorization', basic('alice', 'alice-password')).expect(204);
    await expectRefusedSoon(() => request(app).get('/v1/spaces').set('authorization', revoked));
  });

  it('scoped tokens reach only their collection and key prefix', async () => {
    const owner = await tokenFor('alice');
    await request(app)
      .post('/v1/spaces/alice/collections')
      .set('authorization', owner)
      .send({ name: 'sc' })
      .expect(201);
    await request(app)
      .post('/v1/spaces/alice/collections')
      .set('authorization', owner)
      .send({ name: 'other' })
      .expect(201);
    for (const key of ['pub/a', 'pub/b', 'priv/c']) await put(owner, `/v1/spaces/alice/collections/sc/records/${key}`);
    const scoped = await tokenFor('alice', {
      scopes: [{ space: 'alice', collection: 'sc', write: true, keyPrefix: 'pub/' }],
    });
    const base = '/v1/spaces/alice/collections/sc';
    await request(app).get(`${base}/records/pub/a`).set('authorization', scoped).expect(200);
    await put(scoped, `${base}/records/pub/new`).expect(201);
    await request(app).get(`${base}/records/priv/c`).set('authorization', scoped).expect(403);
    await put(scoped, `${base}/records/priv/x`).expect(403);
    const listed = await request(app).get(`${base}/records?keysOnly=true`).set('authorization', scoped).expect(200);
    expect((listed.body.records as Array<{ key: string }>).map((r) => r.key)).toEqual(['pub/a', 'pub/b', 'pub/new']);
    await request(app).get(`${base}/records?prefix=priv/`).set('authorization', scoped).expect(403);
    await request(app).get('/v1/spaces/alice/collections/other/records').set('authorization', scoped).expect(403);
    const collections = await request(app).get('/v1/spaces/alice/collections').set('authorization', scoped).expect(200);
    expect((collections.body.collections as Array<{ name: string }>).map((c) => c.name)).toEqual(['sc']);
    await request(app).delete(base).set('authorization', scoped).expect(403);
  });

  it('run tokens act in one space only', async () => {
    const owner = await tokenFor('alice');
    await request(app).post('/v1/spaces').set('authorization', owner).send({ name: 'project-1' }).expect(201);
    const run = await request(app)
      .post('/v1/spaces/project-1/run-tokens')
      .set('authorization', owner)
      .send({ expiresInSeconds: 60 })
      .expect(201);
    const token = `Bearer ${run.body.secret as string}`;
    expect(run.body.token).toMatchObject({ kind: 'run', scopes: [{ space: 'project-1', write: true }] });
    await request(app)
      .post('/v1/spaces/project-1/collections')
      .set('authorization', token)
      .send({ name: 'c' })
      .expect(201);
    await put(token, '/v1/spaces/project-1/collections/c/records/k').expect(201);
    await request(app).get('/v1/spaces/alice/collections').set('authorization', token).expect(403);
    await request(app).post('/v1/spaces/project-1/run-tokens').set('authorization', token).send({}).expect(403);
    await request(app)
      .post('/v1/spaces/project-1/run-tokens')
      .set('authorization', owner)
      .send({ expiresInSeconds: 10 ** 9 })
      .expect(400);
  });

  it('enforces a token’s request rate with 429', async () => {
    const limited = await tokenFor('alice', { rateLimit: 2 });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      statuses.push((await request(app).get('/v1/spaces/alice/collections').set('authorization', limited)).status);
    }
    expect(statuses.slice(0, 2)).toEqual([200, 200]);
    expect(statuses).toContain(429);
  });
});

describe('space ids', () => {
  it('gives every space a UUID, keeps one given at creation, and refuses a taken or malformed one', async () => {
    const alice = await tokenFor('alice');
    const bob = await tokenFor('bob');
    const id = '4f0c2d1e-9b8a-4c7d-8e6f-5a4b3c2d1e0f';
    const created = await request(app)
      .post('/v1/spaces')
      .set('authorization', alice)
      .send({ name: 'kept-id', id: id.toUpperCase() })
      .expect(201);
    expect(created.body).toMatchObject({ name: 'kept-id', id, kind: 'shared' });
    const again = await request(app).post('/v1/spaces').set('authorization', bob).send({ name: 'other', id });
    expect([again.status, errorOf(again).code]).toEqual([409, 'SPACE_EXISTS']);
    const malformed = await request(app).post('/v1/spaces').set('authorization', bob).send({ name: 'x', id: 'nope' });
    expect([malformed.status, errorOf(malformed).code]).toEqual([400, 'INVALID_ARGUMENT']);
    const personal = await request(app).get('/v1/spaces/alice').set('authorization', alice).expect(200);
    expect(personal.body.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect((await request(app).get('/v1/spaces/kept-id').set('authorization', alice).expect(200)).body.id).toBe(id);
  });
});

describe('roles in a shared space', () => {
  it('readers read, writers write, owners manage; members come and go within a second', async () => {
    const alice = await tokenFor('alice');
    const bob = await tokenFor('bob');
    await request(app).post('/v1/spaces').set('authorization', alice).send({ name: 'team' }).expect(201);
    await request(app).post('/v1/spaces/team/collections').set('authorization', alice).send({ name: 'c' }).expect(201);
    await put(alice, '/v1/spaces/team/collections/c/records/k').expect(201);
    await request(app).get('/v1/spaces/team/collections/c/records/k').set('authorization', bob).expect(404);

    await request(app)
      .put('/v1/spaces/team/members/bob')
      .set('authorization', alice)
      .send({ role: 'reader' })
      .expect(200);
    await request(app).get('/v1/spaces/team/collections/c/records/k').set('authorization', bob).expect(200);
    expect(errorOf(await put(bob, '/v1/spaces/team/collections/c/records/k').expect(403)).code).toBe(
      'PERMISSION_DENIED',
    );

    await request(app)
      .put('/v1/spaces/team/members/bob')
      .set('authorization', alice)
      .send({ role: 'writer' })
      .expect(200);
    await put(bob, '/v1/spaces/team/collections/c/records/k').expect(200);
    await request(app).delete('/v1/spaces/team/collections/c').set('authorization', bob).expect(403);
    await request(app)
      .put('/v1/spaces/team/members/carol')
      .set('authorization', bob)
      .send({ role: 'owner' })
      .expect(403);

    const members = await request(app).get('/v1/spaces/team/members').set('authorization', bob).expect(200);
    expect(members.body.members).toEqual([
      { space: 'team', account: 'alice', role: 'owner' },
      { space: 'team', account: 'bob', role: 'writer' },
    ]);
    expect(
      errorOf(
        await request(app).put('/v1/spaces/team/members/alice').set('authorization', alice).send({ role: 'reader' }),
      ).code,
    ).toBe('LAST_OWNER');
    await request(app).delete('/v1/spaces/team/members/bob').set('authorization', alice).expect(204);
    const started = Date.now();
    while (
      (await request(app).get('/v1/spaces/team/collections/c/records/k').set('authorization', bob)).status !== 404
    ) {
      expect(Date.now() - started).toBeLessThan(1500);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
});

describe('administration', () => {
  it('is for admins only, and disabling an account locks it out within a second', async () => {
    const bob = await tokenFor('bob');
    await request(app).get('/v1/admin/accounts').set('authorization', bob).expect(403);
    await request(app).post('/v1/admin/accounts').set('authorization', bob).send({ name: 'eve' }).expect(403);
    const listed = await request(app).get('/v1/admin/accounts').set('authorization', admin).expect(200);
    expect((listed.body.accounts as Array<{ login: string }>).map((a) => a.login)).toEqual(
      expect.arrayContaining(['admin', 'alice', 'bob']),
    );
    expect(JSON.stringify(listed.body)).not.toMatch(/scrypt|password_hash/);
    await request(app).post('/v1/admin/accounts').set('authorization', admin).send({ name: 'alice' }).expect(409);
    await request(app).post('/v1/admin/accounts').set('authorization', admin).send({ name: 'bad/name' }).expect(400);
    await request(app)
      .post('/v1/admin/accounts')
      .set('authorization', admin)
      .send({ name: 'short', password: 'x' })
      .expect(400);
    await request(app).get('/v1/spaces').set('authorization', bob).expect(200);
    await request(app).patch('/v1/admin/accounts/bob').set('authorization', admin).send({ disabled: true }).expect(200);
    await expectRefusedSoon(() => request(app).get('/v1/spaces').set('authorization', bob));
    await request(app)
      .patch('/v1/admin/accounts/bob')
      .set('authorization', admin)
      .send({ disabled: false })
      .expect(200);
  });
});

describe('isolation', () => {
  it("keeps alice's records out of bob's reach through every record and collection route", async () => {
    const alice = await tokenFor('alice');
    const bob = await tokenFor('bob');
    const base = '/v1/spaces/alice/collections';
    await request(app).post(base).set('authorization', alice).send({ name: 'secret' }).expect(201);
    await put(alice, `${base}/secret/records/k`, 'alice-only').expect(201);
    const attempts: Array<[string, request.Test]> = [
      ['list collections', request(app).get(base)],
      ['get collection', request(app).get(`${base}/secret`)],
      ['create collection', request(app).post(base).send({ name: 'x' })],
      [
        'update collection',
        request(app)
          .patch(`${base}/secret`)
          .send({ tags: { a: 'b' } }),
      ],
      ['delete collection', request(app).delete(`${base}/secret`)],
      ['get', request(app).get(`${base}/secret/records/k`)],
      ['head', request(app).head(`${base}/secret/records/k`)],
      ['put', request(app).put(`${base}/secret/records/k`).type('text/plain').send('bob')],
      ['delete', request(app).delete(`${base}/secret/records/k`)],
      ['list', request(app).get(`${base}/secret/records`)],
      ['count', request(app).get(`${base}/secret/count`)],
      ['changes', request(app).get(`${base}/secret/changes?since=0&wait=0`)],
      [
        'batch',
        request(app)
          .post(`${base}/secret/batch`)
          .send({ records: [{ key: 'k', value: 'bob' }] }),
      ],
      [
        'batch-get',
        request(app)
          .post(`${base}/secret/batch-get`)
          .send({ keys: ['k'] }),
      ],
      ['delete-matching', request(app).post(`${base}/secret/delete-matching`).send({ prefix: '' })],
      ['members', request(app).get('/v1/spaces/alice/members')],
      ['space', request(app).get('/v1/spaces/alice')],
      ['run token', request(app).post('/v1/spaces/alice/run-tokens').send({})],
    ];
    for (const [name, attempt] of attempts) {
      const res = await attempt.set('authorization', bob);
      expect([name, res.status]).toEqual([name, 404]);
    }
    const still = await request(app).get(`${base}/secret/records/k`).set('authorization', alice).expect(200);
    expect(still.text).toBe('alice-only');
    const spaces = await request(app).get('/v1/spaces').set('authorization', bob).expect(200);
    expect((spaces.body.spaces as Array<{ name: string }>).map((s) => s.name)).not.toContain('alice');
  });

  it("keeps a project's OpenFn items out of reach of other accounts and other projects' run tokens", async () => {
    const alice = await tokenFor('alice');
    const bob = await tokenFor('bob');
    const created = await request(app).post('/v1/spaces').set('authorization', alice).send({ name: 'alice-project' });
    expect(created.status).toBe(201);
    const projectId = (created.body as { id: string }).id;
    await request(app)
      .post('/v1/spaces/alice-project/collections')
      .set('authorization', alice)
      .send({ name: 'secret-items' })
      .expect(201);
    await put(alice, '/v1/spaces/alice-project/collections/secret-items/records/k', 'alice-only').expect(201);
    await request(app).post('/v1/spaces').set('authorization', bob).send({ name: 'bob-project' }).expect(201);
    const run = await request(app).post('/v1/spaces/bob-project/run-tokens').set('authorization', bob).send({});
    const bobRun = `Bearer ${(run.body as { secret: string }).secret}`;
    for (const credential of [bob, bobRun]) {
      for (const query of ['', `?project_id=${projectId}`]) {
        const base = '/collections/secret-items';
        const attempts: Array<[string, request.Test]> = [
          ['list', request(app).get(`${base}${query}`)],
          ['count', request(app).head(`${base}${query}`)],
          ['get', request(app).get(`${base}/k${query}`)],
          ['put', request(app).put(`${base}/k${query}`).send({ value: 'bob' })],
          [
            'post',
            request(app)
              .post(`${base}${query}`)
              .send({ items: [{ key: 'k', value: 'bob' }] }),
          ],
          ['delete', request(app).delete(`${base}/k${query}`)],
          ['delete many', request(app).delete(`${base}${query}`)],
        ];
        for (const [name, attempt] of attempts) {
          const res = await attempt.set('authorization', credential);
          expect([name, query, res.status]).toEqual([name, query, 401]);
        }
      }
    }
    const still = await request(app)
      .get('/v1/spaces/alice-project/collections/secret-items/records/k')
      .set('authorization', alice)
      .expect(200);
    expect(still.text).toBe('alice-only');
  });
});
