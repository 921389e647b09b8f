import type { Server } from 'node:http';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { createApp, legacyOptions } from '../../apps/gateway/src';
import { listen, portOf, rawRequest, type RawOptions, type RawReply } from '../support/raw-http';
import { silentLogger, startTestApi, type TestApi } from '../support/api';
import { TEST_ADMIN_TOKEN } from '../support/env';

/**
 * The Rivet dialect (specs/rivet.md, intended behaviour §3–§8, §11) through a real gateway app
 * over a real record service on Postgres and Redis: every status, Content-Type and body byte
 * for byte, sessions, paging, isolation between users, and a property run that no request
 * shape makes the dialect fail.
 */

const JSON_TYPE = 'application/json; charset=UTF-8';
const TEXT_TYPE = 'text/plain; charset=UTF-8';
const MiB = 1024 * 1024;

let api: TestApi;
let app: ReturnType<typeof createApp>;
let server: Server;
let corsServer: Server;

const password = (login: string) => `${login.split('@')[0] ?? login}-password`;
const basic = (login: string, secret = password(login)) =>
  `Basic ${Buffer.from(`${login}:${secret}`).toString('base64')}`;

interface CallOptions extends RawOptions {
  readonly to?: Server;
}

/** One request with exactly this method, path (sent as is, escapes and all), headers and body. */
const call = (method: string, path: string, options: CallOptions = {}): Promise<RawReply> =>
  rawRequest(portOf(options.to ?? server), method, path, options);

/** A store request with a session (or none). */
const store = (
  method: string,
  path: string,
  session: string | undefined,
  body?: string | Uint8Array,
  headers: Record<string, string> = {},
) =>
  call(method, path, {
    headers: { ...headers, ...(session === undefined ? {} : { 'x-session-token': session }) },
    ...(body === undefined ? {} : { body }),
  });

/** The answer as [status, Content-Type, body], so a mismatch shows all three. */
const shape = (reply: RawReply) => [reply.status, reply.headers['content-type'], reply.text];
const error = (status: number, message: string) => [status, JSON_TYPE, `{"message":"${message}"}\n`];
const text = (status: number, body: string) => [status, TEXT_TYPE, body];

async function login(loginName: string, query = ''): Promise<string> {
  const reply = await call('GET', `/login${query}`, { headers: { authorization: basic(loginName) } });
  expect(shape(reply)).toEqual(text(200, expect.stringMatching(/^[0-9a-f]{64}$/) as unknown as string));
  return reply.text;
}

/** Within a grant's lifetime (a second), the session is refused with 401. */
async function expectRefusedSoon(session: string, path: string): Promise<void> {
  const started = Date.now();
  for (;;) {
    const reply = await store('GET', path, session);
    if (reply.status === 401) {
      expect(shape(reply)).toEqual(error(401, 'Unauthorized'));
      return;
    }
    expect(reply.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(1500);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A record as the native API (/v1) sees it, with a session of its owner. */
const v1Record = (space: string, key: string, session: string) =>
  call('GET', `/v1/spaces/${space}/collections/rivet/records/${key.split('/').map(encodeURIComponent).join('/')}`, {
    headers: { 'x-session-token': session },
  });

const ACCOUNTS = [
  'alice',
  'bob',
  'carol',
  'dave',
  'erin@example.com',
  'frank',
  'grace',
  'mallory',
  'table',
  'fuzz',
  'heidi',
];

beforeAll(async () => {
  api = await startTestApi({ env: { AUTH_MAX_FAILURES_PER_ACCOUNT: '3', AUTH_MAX_FAILURES_PER_ADDRESS: '100000' } });
  app = createApp({ api, logger: silentLogger, maxBodyBytes: 64 * MiB, legacy: legacyOptions({}) });
  server = await listen(app);
  corsServer = await listen(
    createApp({ api, logger: silentLogger, maxBodyBytes: MiB, legacy: legacyOptions({ RIVET_ALLOW_CORS: true }) }),
  );
  for (const account of ACCOUNTS) {
    const [name, host] = account.split('@');
    const reply = await call('POST', '/v1/admin/accounts', {
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name, ...(host === undefined ? {} : { host }), password: password(account) }),
    });
    expect(reply.status).toBe(201);
  }
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await new Promise((resolve) => corsServer.close(resolve));
  await api.close();
});

describe('§11 status table, row by row', () => {
  it('answers each situation of the table with its status and body', async () => {
    const token = await login('table');
    const other = await login('heidi');
    expect(shape(await store('POST', '/store/table/existing', token, 'v1'))).toEqual(text(201, 'existing'));
    const rows: Array<[string, () => Promise<RawReply>, unknown[]]> = [
      ['login/logout without valid Basic', () => call('GET', '/login'), error(400, 'Bad Request')],
      [
        'login/logout without valid Basic (logout)',
        () => call('GET', '/logout', { headers: { authorization: 'Basic !!!' } }),
        error(400, 'Bad Request'),
      ],
      [
        'login bad credentials',
        () => call('GET', '/login', { headers: { authorization: basic('table', 'wrong-password') } }),
        error(401, 'Unauthorized'),
      ],
      [
        'logout bad credentials',
        () => call('GET', '/logout', { headers: { authorization: basic('nobody', 'whatever1') } }),
        error(401, 'Unauthorized'),
      ],
      ['store: no X-Session-Token', () => store('GET', '/store/table', undefined), error(401, 'Unauthorized')],
      ['store: token not 64 hex digits', () => store('GET', '/store/table', 'abc'), error(400, 'Bad Request')],
      ['store: no session for the path user', () => store('GET', '/store/ghost', token), error(401, 'Unauthorized')],
      ['store: token mismatch', () => store('GET', '/store/table', 'f'.repeat(64)), error(401, 'Unauthorized')],
      ["store: other user's token", () => store('GET', '/store/table', other), error(401, 'Unauthorized')],
      ['list', () => store('GET', '/store/table', token), text(200, 'existing')],
      ['GET existing', () => store('GET', '/store/table/existing', token), text(200, 'v1')],
      ['GET missing', () => store('GET', '/store/table/missing', token), error(404, 'Not Found')],
      ['POST new key', () => store('POST', '/store/table/new', token, 'n'), text(201, 'new')],
      ['POST existing key', () => store('POST', '/store/table/new', token, 'n2'), text(200, 'new')],
      ['PUT existing key', () => store('PUT', '/store/table/existing', token, 'v2'), text(200, 'existing')],
      ['PUT missing key', () => store('PUT', '/store/table/absent', token, 'x'), error(404, 'Not Found')],
      ['DELETE existing', () => store('DELETE', '/store/table/new', token), text(200, 'new')],
      ['DELETE missing', () => store('DELETE', '/store/table/new', token), text(200, 'new')],
      ['POST empty key', () => store('POST', '/store/table/', token, 'x'), error(500, 'key required')],
      [
        'wrong method on a known path',
        () => store('PATCH', '/store/table/existing', token),
        error(405, 'Method Not Allowed'),
      ],
      ['unknown path', () => call('GET', '/login/elsewhere'), error(404, 'Not Found')],
      ['logout ok', () => call('GET', '/logout', { headers: { authorization: basic('heidi') } }), text(200, '')],
    ];
    for (const [situation, send, expected] of rows) {
      expect([situation, ...shape(await send())]).toEqual([situation, ...expected]);
    }
    await expectRefusedSoon(other, '/store/heidi');
    expect(shape(await store('GET', '/store/table/existing', token))).toEqual(text(200, 'v2'));
    expect(shape(await store('GET', '/store/table/absent', token))).toEqual(error(404, 'Not Found'));
  });
});

describe('§3 sessions', () => {
  it('logs in with Basic: a new 64-hex session each time, several alive at once', async () => {
    const sessions = await Promise.all([1, 2, 3, 4, 5].map(() => login('dave')));
    expect(new Set(sessions).size).toBe(5);
    const written = await Promise.all(sessions.map((s, i) => store('POST', `/store/dave/from-${i}`, s, `v${i}`)));
    expect(written.map(shape)).toEqual(sessions.map((_s, i) => text(201, `from-${i}`)));
    for (const session of sessions) {
      expect(shape(await store('GET', '/store/dave', session))).toEqual(
        text(200, 'from-0\nfrom-1\nfrom-2\nfrom-3\nfrom-4'),
      );
    }
  });

  it('refuses missing or malformed Basic headers with 400, and wrong credentials with 401 and no challenge', async () => {
    for (const authorization of [
      undefined,
      '',
      'Basic',
      'Basic !!!',
      `Basic ${Buffer.from('alice').toString('base64')}`,
      'Bearer abc',
    ]) {
      for (const path of ['/login', '/logout']) {
        const headers: Record<string, string> = authorization === undefined ? {} : { authorization };
        expect([path, authorization, ...shape(await call('GET', path, { headers }))]).toEqual([
          path,
          authorization,
          ...error(400, 'Bad Request'),
        ]);
      }
    }
    for (const authorization of [basic('alice', 'wrong-password'), basic('nobody'), basic('', 'x')]) {
      const reply = await call('GET', '/login', { headers: { authorization } });
      expect(shape(reply)).toEqual(error(401, 'Unauthorized'));
      expect(reply.headers['www-authenticate']).toBeUndefined();
    }
  });

  it('limits password failures: past the limit, 429 with Retry-After, even with the right password', async () => {
    for (let i = 0; i < 3; i++) {
      const reply = await call('GET', '/login', { headers: { authorization: basic('mallory', 'wrong-password') } });
      expect(shape(reply)).toEqual(error(401, 'Unauthorized'));
    }
    for (const path of ['/login', '/logout']) {
      const reply = await call('GET', path, { headers: { authorization: basic('mallory') } });
      expect(shape(reply)).toEqual(error(429, 'Too Many Requests'));
      expect(Number(reply.headers['retry-after'])).toBeGreaterThan(0);
    }
  });

  it('answers accounts with a host, whose store is name@host', async () => {
    const session = await login('erin@example.com');
    expect(shape(await store('POST', '/store/erin@example.com/k', session, 'v'))).toEqual(text(201, 'k'));
    expect(shape(await store('GET', '/store/erin%40example.com/k', session))).toEqual(text(200, 'v'));
    expect(shape(await store('GET', '/store/erin/k', session))).toEqual(error(401, 'Unauthorized'));
    expect((await v1Record('erin@example.com', 'k', session)).text).toBe('v');
  });

  it('gives read-only sessions with ?read_only=1: they read, and every write is 403', async () => {
    const writer = await login('alice');
    const reader = await login('alice', '?read_only=1');
    await store('POST', '/store/alice/ro/kept', writer, 'kept');
    expect(shape(await store('GET', '/store/alice?prefix=ro/', reader))).toEqual(text(200, 'ro/kept'));
    expect(shape(await store('GET', '/store/alice/ro/kept', reader))).toEqual(text(200, 'kept'));
    for (const [method, path] of [
      ['POST', '/store/alice/ro/new'],
      ['POST', '/store/alice/ro/kept'],
      ['PUT', '/store/alice/ro/kept'],
      ['DELETE', '/store/alice/ro/kept'],
      ['DELETE', '/store/alice/'],
    ] as const) {
      expect([method, path, ...shape(await store(method, path, reader, 'changed'))]).toEqual([
        method,
        path,
        ...error(403, 'Forbidden'),
      ]);
    }
    expect(shape(await store('GET', '/store/alice?prefix=ro/', writer))).toEqual(text(200, 'ro/kept'));
    expect(shape(await store('GET', '/store/alice/ro/kept', writer))).toEqual(text(200, 'kept'));
  });

  it('logs out one session with its X-Session-Token, and every session without one', async () => {
    const [first, second, third] = [await login('carol'), await login('carol'), await login('carol')] as const;
    const one = await call('GET', '/logout', {
      headers: { authorization: basic('carol'), 'x-session-token': first },
    });
    expect(shape(one)).toEqual(text(200, ''));
    expect(one.headers['content-length']).toBe('0');
    await expectRefusedSoon(first, '/store/carol');
    expect((await store('GET', '/store/carol', second)).status).toBe(200);
    expect((await store('GET', '/store/carol', third)).status).toBe(200);

    expect(shape(await call('GET', '/logout', { headers: { authorization: basic('carol') } }))).toEqual(text(200, ''));
    await expectRefusedSoon(second, '/store/carol');
    await expectRefusedSoon(third, '/store/carol');
    expect(shape(await call('GET', '/logout', { headers: { authorization: basic('carol') } }))).toEqual(text(200, ''));
  });

  it("checks the password before ending anything, and never ends another user's session", async () => {
    const carol = await login('carol');
    const bob = await login('bob');
    const refused = await call('GET', '/logout', {
      headers: { authorization: basic('carol', 'wrong-password'), 'x-session-token': carol },
    });
    expect(shape(refused)).toEqual(error(401, 'Unauthorized'));
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await store('GET', '/store/carol', carol)).status).toBe(200);

    const withBobsToken = await call('GET', '/logout', {
      headers: { authorization: basic('carol'), 'x-session-token': bob },
    });
    expect(shape(withBobsToken)).toEqual(text(200, ''));
    await expectRefusedSoon(carol, '/store/carol');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await store('GET', '/store/bob', bob)).status).toBe(200);
  });

  it('answers other methods on /login and /logout with 405, HEAD without a body', async () => {
    for (const [method, path] of [
      ['POST', '/login'],
      ['PUT', '/logout'],
      ['DELETE', '/login'],
    ] as const) {
      const reply = await call(method, path, { headers: { authorization: basic('alice') } });
      expect(shape(reply)).toEqual(error(405, 'Method Not Allowed'));
      expect(reply.headers.allow).toBe('GET');
    }
    const head = await call('HEAD', '/login', { headers: { authorization: basic('alice') } });
    expect([head.status, head.headers['content-type'], head.text]).toEqual([405, JSON_TYPE, '']);
  });
});

describe('§4 session check of /store', () => {
  let alice: string;
  beforeAll(async () => {
    alice = await login('alice');
  });

  it('refuses a missing or empty token with 401, a malformed one with 400, an unknown one with 401', async () => {
    expect(shape(await store('GET', '/store/alice', undefined))).toEqual(error(401, 'Unauthorized'));
    expect(shape(await store('GET', '/store/alice', ''))).toEqual(error(401, 'Unauthorized'));
    for (const token of ['abc', alice.slice(1), `${alice}0`, `g${alice.slice(1)}`, `${alice.slice(2)} x`]) {
      expect([token, ...shape(await store('GET', '/store/alice', token))]).toEqual([
        token,
        ...error(400, 'Bad Request'),
      ]);
    }
    expect(shape(await store('GET', '/store/alice', '0'.repeat(64)))).toEqual(error(401, 'Unauthorized'));
  });

  it('accepts the token in upper case, as Rivet decoded the hex', async () => {
    expect((await store('GET', '/store/alice', alice.toUpperCase())).status).toBe(200);
  });

  it('checks the token before the user: malformed is 400 even for unknown users, well-formed is 401', async () => {
    expect(shape(await store('GET', '/store/ghost', 'xyz'))).toEqual(error(400, 'Bad Request'));
    expect(shape(await store('GET', '/store/ghost/k', alice))).toEqual(error(401, 'Unauthorized'));
    expect(shape(await store('DELETE', '/store/ghost/k', alice))).toEqual(error(401, 'Unauthorized'));
  });

  it('lists its routes, and refuses each without a session with 401 (the public ones are /login and /logout)', async () => {
    const routes = app.legacyRoutes.filter((r) => r.dialect === 'rivet');
    expect(routes.map((r) => `${r.method} ${r.path} ${r.public ? 'public' : ''}`.trim())).toEqual([
      'GET /login public',
      'GET /logout public',
      'GET /store/alice',
      'GET /store/alice/profile/bio',
      'POST /store/alice/profile/bio',
      'PUT /store/alice/profile/bio',
      'DELETE /store/alice/profile/bio',
    ]);
    for (const route of routes.filter((r) => !r.public)) {
      const reply = await call(route.method, route.path, {
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect([route.method, route.path, ...shape(reply)]).toEqual([
        route.method,
        route.path,
        ...error(401, 'Unauthorized'),
      ]);
      expect(route.unauthenticatedStatus).toBe(401);
    }
  });

  it('runs the check on /store, /store/, an empty user and names no account has: 401, or 400 for a malformed token', async () => {
    for (const path of ['/store', '/store/', '/store//k', '/store/a%2Fb/k', '/store/%00/k', '/store/-x/k']) {
      for (const method of ['GET', 'DELETE']) {
        expect([path, ...shape(await store(method, path, undefined))]).toEqual([path, ...error(401, 'Unauthorized')]);
        expect([path, ...shape(await store(method, path, 'nothex'))]).toEqual([path, ...error(400, 'Bad Request')]);
        expect([path, ...shape(await store(method, path, alice))]).toEqual([path, ...error(401, 'Unauthorized')]);
      }
    }
  });
});

describe('§5 listing', () => {
  let grace: string;
  beforeAll(async () => {
    grace = await login('grace');
  });

  it('answers an empty 200 for a user who never wrote', async () => {
    expect(shape(await store('GET', '/store/grace', grace))).toEqual(text(200, ''));
  });

  it('pages as the spec’s example does: inclusive offset, overlapping pages', async () => {
    for (const key of ['a', 'b', 'c', 'd']) await store('POST', `/store/grace/${key}`, grace, key);
    const list = (query: string) => store('GET', `/store/grace${query}`, grace);
    expect(shape(await list('?limit=2'))).toEqual(text(200, 'a\nb'));
    expect(shape(await list('?limit=2&offset=b'))).toEqual(text(200, 'b\nc'));
    expect(shape(await list('?limit=2&offset=bb'))).toEqual(text(200, 'c\nd'));
    expect(shape(await list('?offset=z'))).toEqual(text(200, ''));
    expect(shape(await list(''))).toEqual(text(200, 'a\nb\nc\nd'));
    for (const limit of ['0', '-1', 'abc', '', '1.5', '99999999999999999999']) {
      expect([limit, ...shape(await list(`?limit=${limit}`))]).toEqual([limit, ...text(200, 'a\nb\nc\nd')]);
    }
  });

  it('orders keys by their bytes', async () => {
    const session = await login('bob');
    const keys = ['profile/bio', 'Z', '~', 'a', 'profile', 'é', 'A', 'profile/address', '𝄞', '\uffee'];
    for (const key of keys) await store('POST', `/store/bob/${encodeURIComponent(key)}`, session, 'x');
    const sorted = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect(sorted.slice(0, 6)).toEqual(['A', 'Z', 'a', 'profile', 'profile/address', 'profile/bio']);
    expect(shape(await store('GET', '/store/bob', session))).toEqual(text(200, sorted.join('\n')));
  });

  it('filters by prefix (the extension), with offset and limit', async () => {
    const session = await login('bob');
    const list = (query: string) => store('GET', `/store/bob${query}`, session);
    expect(shape(await list('?prefix=profile%2F'))).toEqual(text(200, 'profile/address\nprofile/bio'));
    expect(shape(await list('?prefix=profile'))).toEqual(text(200, 'profile\nprofile/address\nprofile/bio'));
    expect(shape(await list('?prefix=profile&offset=profile%2Fb'))).toEqual(text(200, 'profile/bio'));
    expect(shape(await list('?prefix=profile&limit=1&offset=profile%2F'))).toEqual(text(200, 'profile/address'));
    expect(shape(await list('?prefix=nothing'))).toEqual(text(200, ''));
    expect(shape(await list(`?prefix=${'p'.repeat(1025)}`))).toEqual(error(400, 'Bad Request'));
  });

  it('starts at the right key for offsets no key could equal (too long, or with NUL)', async () => {
    const list = (query: string) => store('GET', `/store/grace${query}`, grace);
    expect(shape(await list('?offset=b%00x'))).toEqual(text(200, 'c\nd'));
    expect(shape(await list('?offset=b%00x&limit=1'))).toEqual(text(200, 'c'));
    expect(shape(await list('?offset=%00'))).toEqual(text(200, 'a\nb\nc\nd'));
    expect(shape(await list(`?offset=b${'b'.repeat(1100)}`))).toEqual(text(200, 'c\nd'));
    expect(shape(await list(`?offset=a${'z'.repeat(1100)}&limit=1`))).toEqual(text(200, 'b'));
  });

  it('honours any limit, defaults to 10000, and streams a long listing', async () => {
    const session = await login('frank');
    const place = { space: 'frank', collection: 'rivet' };
    await api.collections.createCollection({ collection: place });
    const keys = Array.from({ length: 10_001 }, (_, i) => `k${String(i).padStart(5, '0')}`);
    for (const slice of [keys.slice(0, 10_000), keys.slice(10_000)]) {
      await api.records.batchPut({
        collection: place,
        entries: slice.map((key) => ({ key, value: new Uint8Array() })),
      });
    }
    const list = (query: string) => store('GET', `/store/frank${query}`, session);
    const all = await list('');
    expect(all.status).toBe(200);
    expect(all.headers['transfer-encoding']).toBe('chunked');
    expect(all.text).toBe(keys.slice(0, 10_000).join('\n'));
    for (const query of ['?limit=0', '?limit=-3', '?limit=x']) {
      expect((await list(query)).text.split('\n')).toHaveLength(10_000);
    }
    for (const query of ['?limit=10001', '?limit=50000', '?limit=9223372036854775807']) {
      expect((await list(query)).text).toBe(keys.join('\n'));
    }
    expect((await list('?limit=3&offset=k09999')).text).toBe('k09999\nk10000');
  }, 30_000);
});

describe('§6–§7 keys', () => {
  let alice: string;
  beforeAll(async () => {
    alice = await login('alice');
  });

  it('creates, overwrites, reads, replaces and deletes, with Rivet’s statuses and bodies', async () => {
    const path = '/store/alice/profile/bio';
    expect(shape(await store('GET', path, alice))).toEqual(error(404, 'Not Found'));
    expect(shape(await store('PUT', path, alice, 'never'))).toEqual(error(404, 'Not Found'));
    expect(shape(await store('GET', path, alice))).toEqual(error(404, 'Not Found'));
    expect(shape(await store('POST', path, alice, 'hello'))).toEqual(text(201, 'profile/bio'));
    expect(shape(await store('GET', path, alice))).toEqual(text(200, 'hello'));
    expect(shape(await store('POST', path, alice, 'again'))).toEqual(text(200, 'profile/bio'));
    expect(shape(await store('PUT', path, alice, 'replaced'))).toEqual(text(200, 'profile/bio'));
    expect(shape(await store('GET', path, alice))).toEqual(text(200, 'replaced'));
    expect(shape(await store('DELETE', path, alice))).toEqual(text(200, 'profile/bio'));
    expect(shape(await store('GET', path, alice))).toEqual(error(404, 'Not Found'));
    expect(shape(await store('DELETE', path, alice))).toEqual(text(200, 'profile/bio'));
  });

  it('answers the empty key as Rivet does: POST 500 key required, GET and PUT 404, DELETE 200 empty', async () => {
    expect(shape(await store('POST', '/store/alice/', alice, 'x'))).toEqual(error(500, 'key required'));
    expect(shape(await store('GET', '/store/alice/', alice))).toEqual(error(404, 'Not Found'));
    expect(shape(await store('PUT', '/store/alice/', alice, 'x'))).toEqual(error(404, 'Not Found'));
    expect(shape(await store('DELETE', '/store/alice/', alice))).toEqual(text(200, ''));
    expect(shape(await store('POST', '/store/alice/?pretty', alice))).toEqual([
      500,
      JSON_TYPE,
      '{\n  "message": "key required"\n}\n',
    ]);
  });

  it('answers a user who never wrote: GET and PUT 404, DELETE 200, and the first POST creates the store', async () => {
    const heidi = await login('heidi');
    expect(shape(await store('GET', '/store/heidi/k', heidi))).toEqual(error(404, 'Not Found'));
    expect(shape(await store('PUT', '/store/heidi/k', heidi, 'v'))).toEqual(error(404, 'Not Found'));
    expect(shape(await store('DELETE', '/store/heidi/k', heidi))).toEqual(text(200, 'k'));
    expect(shape(await store('POST', '/store/heidi/k', heidi, 'v'))).toEqual(text(201, 'k'));
  });

  it('keeps keys with slashes, trailing slashes, spaces and escapes, compared as bytes', async () => {
    const cases: Array<[string, string]> = [
      ['/store/alice/dir/', 'dir/'],
      ['/store/alice/dir//x', 'dir//x'],
      ['/store/alice/a%20b', 'a b'],
      ['/store/alice/a%2Fb', 'a/b'],
      ['/store/alice/%C3%A9t%C3%A9', 'été'],
      ['/store/alice/Case', 'Case'],
      ['/store/alice/case', 'case'],
    ];
    for (const [path, key] of cases) {
      expect([path, ...shape(await store('POST', path, alice, `value of ${key}`))]).toEqual([path, ...text(201, key)]);
    }
    for (const [path, key] of cases) {
      expect([path, ...shape(await store('GET', path, alice))]).toEqual([path, ...text(200, `value of ${key}`)]);
    }
    expect(shape(await store('GET', '/store/alice?prefix=a', alice))).toEqual(text(200, 'a b\na/b'));
  });

  it('refuses malformed escapes with 400 and writes nothing', async () => {
    for (const path of ['/store/alice/%zz', '/store/alice/%', '/store/alice/%FF', '/store/al%zzice/k']) {
      expect([path, ...shape(await store('POST', path, alice, 'x'))]).toEqual([path, ...error(400, 'Bad Request')]);
    }
    expect(shape(await store('GET', '/store/alice?prefix=%25', alice))).toEqual(text(200, ''));
  });

  it('refuses keys the store cannot hold (over 1024 bytes, NUL) with 400 and writes nothing', async () => {
    const long = 'k'.repeat(1025);
    for (const method of ['POST', 'PUT', 'GET', 'DELETE']) {
      for (const key of [long, 'a%00b']) {
        const reply = await store(method, `/store/alice/${key}`, alice, 'x');
        expect([method, key.slice(0, 8), ...shape(reply)]).toEqual([
          method,
          key.slice(0, 8),
          ...error(400, 'Bad Request'),
        ]);
      }
    }
    expect(shape(await store('POST', `/store/alice/${'k'.repeat(1024)}`, alice, 'x'))).toEqual(
      text(201, 'k'.repeat(1024)),
    );
    expect(shape(await store('GET', '/store/alice?prefix=kk', alice))).toEqual(text(200, 'k'.repeat(1024)));
    expect(shape(await store('GET', '/store/alice?prefix=a%00', alice))).toEqual(error(400, 'Bad Request'));
  });

  it('round-trips binary values byte for byte, served as text/plain', async () => {
    const value = Buffer.from(Array.from({ length: 1024 }, (_, i) => (i * 7) % 256));
    await store('POST', '/store/alice/blob', alice, value, { 'content-type': 'application/octet-stream' });
    const reply = await store('GET', '/store/alice/blob', alice);
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe(TEXT_TYPE);
    expect(reply.body.equals(value)).toBe(true);
    expect(shape(await store('POST', '/store/alice/empty', alice, ''))).toEqual(text(201, 'empty'));
    expect(shape(await store('GET', '/store/alice/empty', alice))).toEqual(text(200, ''));
  });

  it('keeps a valid Content-Type for /v1 readers, and application/octet-stream otherwise', async () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ 'content-type': 'application/json' }, 'application/json'],
      [{ 'content-type': 'text/plain; charset=utf-8' }, 'text/plain; charset=utf-8'],
      [{ 'content-type': 'not a media type' }, 'application/octet-stream'],
      [{}, 'application/octet-stream'],
    ];
    for (const [i, [headers, stored]] of cases.entries()) {
      await store('POST', `/store/alice/typed/${i}`, alice, '{"a":1}', headers);
      const reply = await v1Record('alice', `typed/${i}`, alice);
      expect([i, reply.status, reply.headers['content-type'], reply.text]).toEqual([i, 200, stored, '{"a":1}']);
      expect((await store('GET', `/store/alice/typed/${i}`, alice)).headers['content-type']).toBe(TEXT_TYPE);
    }
    await store('PUT', '/store/alice/typed/0', alice, '<a/>', { 'content-type': 'application/xml' });
    expect((await v1Record('alice', 'typed/0', alice)).headers['content-type']).toBe('application/xml');
  });

  it('undoes a gzip, deflate or br Content-Encoding before storing, and refuses others with 415', async () => {
    const gzipped = gzipSync(Buffer.from('unpacked'));
    expect(shape(await store('POST', '/store/alice/packed', alice, gzipped, { 'content-encoding': 'gzip' }))).toEqual(
      text(201, 'packed'),
    );
    expect(shape(await store('GET', '/store/alice/packed', alice))).toEqual(text(200, 'unpacked'));
    expect(shape(await store('POST', '/store/alice/packed', alice, 'x', { 'content-encoding': 'xz' }))).toEqual(
      error(415, 'Unsupported Media Type'),
    );
    expect(shape(await store('GET', '/store/alice/packed', alice))).toEqual(text(200, 'unpacked'));
  });

  it('makes what Rivet writes readable through /v1 at spaces/<user>/collections/rivet/records/<key>', async () => {
    await store('POST', '/store/alice/shared/note', alice, 'from rivet');
    const reply = await v1Record('alice', 'shared/note', alice);
    expect([reply.status, reply.text]).toEqual([200, 'from rivet']);
  });

  it("takes values up to the collection's limit (16 MiB) and refuses larger ones with 413, writing nothing", async () => {
    const limit = 16 * MiB;
    expect(shape(await store('POST', '/store/alice/big', alice, Buffer.alloc(limit + 1, 1)))).toEqual(
      error(413, 'Request Entity Too Large'),
    );
    expect(shape(await store('GET', '/store/alice/big', alice))).toEqual(error(404, 'Not Found'));
    expect(shape(await store('POST', '/store/alice/big', alice, Buffer.alloc(limit, 2)))).toEqual(text(201, 'big'));
    expect(shape(await store('PUT', '/store/alice/big', alice, Buffer.alloc(limit + 1, 3)))).toEqual(
      error(413, 'Request Entity Too Large'),
    );
    const kept = await store('GET', '/store/alice/big', alice);
    expect([kept.body.length, kept.body[0]]).toEqual([limit, 2]);
  });
});

describe('§8 other routes and methods', () => {
  it('answers 405 for methods the route lacks, before the session check', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      expect([method, ...shape(await store(method, '/store/alice', undefined, 'x'))]).toEqual([
        method,
        ...error(405, 'Method Not Allowed'),
      ]);
    }
    for (const method of ['PATCH', 'OPTIONS']) {
      const reply = await store(method, '/store/alice/k', undefined);
      expect([method, ...shape(reply)]).toEqual([method, ...error(405, 'Method Not Allowed')]);
      expect(reply.headers.allow).toBe('GET, POST, PUT, DELETE');
    }
    for (const path of ['/store/alice', '/store/alice/k']) {
      const head = await store('HEAD', path, undefined);
      expect([head.status, head.headers['content-type'], head.text]).toEqual([405, JSON_TYPE, '']);
    }
  });

  it('answers 404 below /login/ and /logout/, and leaves other paths to the rest of the app', async () => {
    for (const path of ['/login/', '/login/x', '/logout/x/y']) {
      expect([path, ...shape(await call('GET', path))]).toEqual([path, ...error(404, 'Not Found')]);
    }
    const elsewhere = await call('GET', '/storex/alice');
    expect(elsewhere.status).toBe(404);
    expect(elsewhere.text).toContain('ROUTE_NOT_FOUND');
  });

  it('indents error bodies for ?pretty, as Echo does, and sends HEAD errors without a body', async () => {
    expect(shape(await call('GET', '/login/x?pretty'))).toEqual([404, JSON_TYPE, '{\n  "message": "Not Found"\n}\n']);
    expect(shape(await store('GET', '/store/alice?pretty=1', undefined))).toEqual([
      401,
      JSON_TYPE,
      '{\n  "message": "Unauthorized"\n}\n',
    ]);
    const head = await call('HEAD', '/store');
    expect([head.status, head.text]).toEqual([401, '']);
  });

  it('answers CORS only when RIVET_ALLOW_CORS switches it on', async () => {
    const preflight = {
      origin: 'https://app.example',
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'x-session-token',
    };
    expect((await call('OPTIONS', '/store/alice/k', { headers: preflight })).status).toBe(405);
    const allowed = await call('OPTIONS', '/store/alice/k', { headers: preflight, to: corsServer });
    expect(allowed.status).toBe(200);
    expect(allowed.headers['access-control-allow-origin']).toBe('*');
    expect(allowed.headers['access-control-allow-headers']).toBe('X-Session-Token');
    const refused = await call('GET', '/store/alice', { headers: { origin: 'https://app.example' }, to: corsServer });
    expect(shape(refused)).toEqual(error(401, 'Unauthorized'));
    expect(refused.headers['access-control-allow-origin']).toBe('*');
  });
});

describe('isolation', () => {
  it("keeps alice's store out of reach of bob's session by every route", async () => {
    const alice = await login('alice');
    const bob = await login('bob');
    await store('POST', '/store/alice/secret', alice, 'mine');
    const attempts: Array<[string, string, string?]> = [
      ['GET', '/store/alice'],
      ['GET', '/store/alice?prefix=sec&limit=1&offset=a'],
      ['GET', '/store/alice?offset=a%00'],
      ['GET', '/store/alice/secret'],
      ['GET', '/store/alice/missing'],
      ['GET', '/store/alice/'],
      ['GET', `/store/alice/${'k'.repeat(1025)}`],
      ['POST', '/store/alice/secret', 'stolen'],
      ['POST', '/store/alice/new', 'planted'],
      ['POST', '/store/alice/', 'x'],
      ['POST', `/store/alice/${'k'.repeat(1025)}`, 'x'],
      ['PUT', '/store/alice/secret', 'stolen'],
      ['PUT', '/store/alice/', 'x'],
      ['DELETE', '/store/alice/secret'],
      ['DELETE', '/store/alice/missing'],
      ['DELETE', '/store/alice/'],
    ];
    for (const [method, path, body] of attempts) {
      expect([method, path, ...shape(await store(method, path, bob, body))]).toEqual([
        method,
        path,
        ...error(401, 'Unauthorized'),
      ]);
    }
    expect(shape(await store('GET', '/store/alice/secret', alice))).toEqual(text(200, 'mine'));
    expect(shape(await store('GET', '/store/alice/new', alice))).toEqual(error(404, 'Not Found'));
    expect((await v1Record('alice', 'secret', bob)).status).toBe(404);
  });
});

describe('any request', () => {
  /** Mostly requests that reach the store of `fuzz` with its session, so that writes happen too. */
  const method = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE') },
    { weight: 1, arbitrary: fc.constantFrom('HEAD', 'PATCH', 'OPTIONS') },
  );
  const user = fc.oneof(
    { weight: 4, arbitrary: fc.constant('fuzz') },
    { weight: 2, arbitrary: fc.constantFrom('alice', '', 'ghost', 'a%2Fb', '%zz', '%FF', '%00', '%C3%A9') },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }).map(encodeURIComponent) },
  );
  const segment = fc.oneof(
    { weight: 4, arbitrary: fc.stringMatching(/^[a-c]{1,2}$/) },
    { weight: 1, arbitrary: fc.constantFrom('', '%zz', '%FF', '%00', '%2F', '%C3%A9', 'k'.repeat(1025)) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }).map(encodeURIComponent) },
    { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9%._~!$&'()*+,;=:@-]{0,12}$/) },
  );
  const path = fc.oneof(
    { weight: 1, arbitrary: fc.constantFrom('/login', '/logout', '/store', '/store/', '/login/x') },
    { weight: 2, arbitrary: user.map((u) => `/store/${u}`) },
    {
      weight: 5,
      arbitrary: fc
        .tuple(user, fc.array(segment, { minLength: 1, maxLength: 3 }))
        .map(([u, k]) => `/store/${u}/${k.join('/')}`),
    },
  );
  const query = fc.oneof(
    fc.constant(''),
    fc
      .array(
        fc.tuple(
          fc.constantFrom('limit', 'offset', 'prefix', 'pretty', 'read_only', 'x'),
          fc.oneof(
            fc.string({ maxLength: 8 }).map(encodeURIComponent),
            fc.bigInt().map(String),
            fc.constantFrom('%00', '%zz', '%FF'),
          ),
        ),
        { maxLength: 3 },
      )
      .map((pairs) => `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`),
  );
  const token = fc.oneof(
    { weight: 6, arbitrary: fc.constant('own') },
    { weight: 1, arbitrary: fc.constantFrom('upper', 'none', 'empty', 'unknown', 'junk', 'other') },
  );
  const authorization = fc.oneof(
    { weight: 3, arbitrary: fc.constant('good') },
    { weight: 1, arbitrary: fc.constantFrom('none', 'wrong', 'junk', 'unknown-user') },
  );
  const contentType = fc.constantFrom(undefined, 'text/plain', 'application/json', 'nonsense', 'a/b; c="d"');

  it('never fails with a 500 (but key required), answers errors in Rivet’s shape, and writes nothing when refused', async () => {
    const place = { space: 'fuzz', collection: 'rivet' };
    const other = await login('bob');
    const count = async () => {
      try {
        return (await api.records.count({ collection: place })).count;
      } catch {
        return 0n;
      }
    };
    const seen = new Set<number>();
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          method,
          path,
          query,
          token,
          authorization,
          contentType,
          body: fc.uint8Array({ maxLength: 64 }),
        }),
        async (r) => {
          const own = await login('fuzz');
          const tokens: Record<string, string | undefined> = {
            own,
            none: undefined,
            empty: '',
            unknown: 'ab'.repeat(32),
            junk: 'zz-not-a-token',
            upper: own.toUpperCase(),
            other,
          };
          const authorizations: Record<string, string | undefined> = {
            none: undefined,
            good: basic('fuzz'),
            wrong: basic('fuzz-intruder', 'wrong-password'),
            junk: 'Basic %%%',
            'unknown-user': basic('nobody-here'),
          };
          const headers: Record<string, string> = {};
          const session = tokens[r.token];
          const auth = authorizations[r.authorization];
          if (session !== undefined) headers['x-session-token'] = session;
          if (auth !== undefined) headers.authorization = auth;
          if (r.contentType !== undefined) headers['content-type'] = r.contentType;
          const before = await count();
          const sendsBody = r.method === 'POST' || r.method === 'PUT';
          const reply = await call(r.method, `${r.path}${r.query}`, {
            headers,
            ...(sendsBody ? { body: r.body } : {}),
          });
          const after = await count();
          const label = `${r.method} ${r.path}${r.query}`;
          seen.add(reply.status);
          if (reply.status >= 500) {
            expect([label, reply.status, r.method, JSON.parse(reply.text)]).toEqual([
              label,
              500,
              'POST',
              { message: 'key required' },
            ]);
          }
          if (reply.status >= 400) {
            expect([label, reply.headers['content-type']]).toEqual([label, JSON_TYPE]);
            if (r.method !== 'HEAD') expect(Object.keys(JSON.parse(reply.text) as object)).toEqual(['message']);
            expect([label, after]).toEqual([label, before]);
          } else {
            expect([label, reply.headers['content-type']]).toEqual([label, TEXT_TYPE]);
          }
        },
      ),
      { numRuns: 200 },
    );
    expect([...seen].sort()).toEqual(expect.arrayContaining([200, 201, 400, 401, 404, 405]));
  }, 120_000);
});
