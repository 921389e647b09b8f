import fc from 'fast-check';
import { TEST_ADMIN_TOKEN } from '../../support/env';
import {
  basicAuth,
  brokenHttp,
  countRecords,
  FUZZ_RUNS,
  fuzzAccept,
  fuzzContentType,
  fuzzMethod,
  fuzzQuery,
  fuzzRoutes,
  fuzzSegment,
  garbageBody,
  junkAuthorization,
  startFuzzGateway,
  statusLine,
  withHeader,
  type FuzzCase,
  type FuzzGateway,
  type FuzzReply,
  type FuzzRequest,
} from '../../support/fuzz-http';
import { rawRequest } from '../../support/raw-http';

/**
 * 10,000 generated requests against the Prosody mod_data_access dialect
 * (specs/prosody-data-access.md): no 5xx, errors as Prosody's HTML pages, and every PUT or POST
 * to a fresh store either stored (201) or not stored at all.
 */

const HTML_TYPE = 'text/html; charset=utf-8';
const ME = 'fuzz@localhost';
const password = (login: string) => `${login.split('@')[0] ?? login}-password`;

let gateway: FuzzGateway;

beforeAll(async () => {
  gateway = await startFuzzGateway();
  for (const [login, admin] of [
    [ME, false],
    ['other@localhost', false],
    ['root@localhost', true],
  ] as const) {
    const [name, host] = login.split('@');
    const created = await rawRequest(gateway.port, 'POST', '/v1/admin/accounts', {
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name, host, password: password(login), admin }),
    });
    expect(created.status).toBe(201);
  }
});

afterAll(() => gateway.close());

const mine = basicAuth(ME, password(ME));
const authorization = fc.oneof(
  { weight: 8, arbitrary: fc.constant<string | undefined>(mine) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      basicAuth('other@localhost', password('other@localhost')),
      basicAuth('root@localhost', password('root@localhost')),
      basicAuth('fuzz', password(ME)),
      basicAuth(ME, 'wrong-password'),
    ),
  },
  { weight: 1, arbitrary: junkAuthorization },
);

const store = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('notes', 'other_store', 'x', 'accounts') },
  { weight: 1, arbitrary: fc.constantFrom('a1', 'with-dash', 'dot.ted', 'NOTES') },
);
const item = fuzzSegment(fc.constantFrom('localhost', 'fuzz', 'other', 'example.org', 'notes'));
const path = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .tuple(store, fc.constantFrom('', '', '/json', '/lua', '/xml', '/'))
      .map(([s, format]) => `/data/${s}${format}`),
  },
  { weight: 4, arbitrary: fc.array(item, { minLength: 1, maxLength: 5 }).map((items) => `/data/${items.join('/')}`) },
  { weight: 1, arbitrary: fc.constantFrom('/data', '/data/', '//data/notes', '/data/../notes', '/data/%2E%2E/x') },
);

const luaText = fc.oneof(
  fc.constantFrom('{}', 'nil', '{ 1, 2, x = "y" }', '(0/0)', '-0x7fffffffffffffff', '[==[long]==]', '{ [{}] = 1 }'),
  fc.stringMatching(/^[{}[\]=;,"'\\ ()\-+/.0-9a-z_\n\t]{0,24}$/),
);
const documentBody = fc.oneof({ weight: 4, arbitrary: fc.json({ maxDepth: 3 }) }, { weight: 2, arbitrary: luaText });

const fuzzed = fc.record({
  kind: fc.constant('fuzzed' as const),
  method: fuzzMethod(['GET', 'PUT', 'POST', 'DELETE', 'OPTIONS']),
  path,
  query: fuzzQuery(['format', 'x']),
  authorization,
  contentType: fuzzContentType(['application/json', 'text/x-lua']),
  accept: fuzzAccept,
  body: fc.oneof(
    { weight: 2, arbitrary: documentBody.map((text) => Buffer.from(text)) },
    { weight: 1, arbitrary: garbageBody },
  ),
});
/** What Prosody clients send as the owner: documents in both formats, some to a store of their own. */
const valid = fc.record({
  kind: fc.constant('valid' as const),
  method: fc.constantFrom('GET', 'PUT', 'PUT', 'POST', 'DELETE'),
  store: fc.constantFrom('notes', 'other_store', 'x'),
  format: fc.constantFrom('', '/json', '/lua'),
  fresh: fc.boolean(),
  lua: fc.boolean(),
  body: fc.oneof(fc.json({ maxDepth: 3 }), luaText),
  /** For a fresh store: a document that is not empty, which PUT must store (an empty table stores nothing). */
  document: fc
    .dictionary(fc.stringMatching(/^[a-z]{1,6}$/), fc.oneof(fc.integer(), fc.string({ maxLength: 8 }), fc.boolean()), {
      minKeys: 1,
      maxKeys: 4,
    })
    .map((value) => JSON.stringify(value)),
});
const broken = fc.record({ kind: fc.constant('broken' as const), raw: brokenHttp(path, mine) });
const cases = fc.oneof(
  { weight: 9, arbitrary: valid },
  { weight: 10, arbitrary: fuzzed },
  { weight: 1, arbitrary: broken },
);
type Generated = typeof cases extends fc.Arbitrary<infer T> ? T : never;

/** A store name of letters only, unique to the request. */
const freshStore = (index: number) =>
  `fresh_${index
    .toString(26)
    .split('')
    .map((digit) => String.fromCharCode(97 + parseInt(digit, 26)))
    .join('')}`;

/** Prosody's answers under /data: errors are HTML pages (HEAD's without a body), whose length is right. */
function prosodyShape(reply: FuzzReply, req: FuzzRequest): string | undefined {
  if (!/^\/+data(\/|\?|$)/.test(req.path) || reply.status < 400) return undefined;
  if (req.method === 'HEAD' && reply.body.length === 0) return undefined;
  if (reply.headers['content-type'] !== HTML_TYPE) return `error type ${String(reply.headers['content-type'])}`;
  if (!reply.text.includes(`<title>${reply.status} `)) return `error page ${reply.text.slice(0, 100)}`;
  return undefined;
}

/** Whether the store's document (PUT) or an item of its list (POST) is stored. */
async function stored(store: string, method: string): Promise<boolean> {
  const place = { space: ME, collection: 'prosody' };
  if (method === 'POST') return (await countRecords(gateway.api, place, `${store}/`)) > 0n;
  const { record } = await gateway.api.records.getRecord({ collection: place, key: store });
  return record !== undefined;
}

function prepare(c: Generated, index: number): FuzzCase {
  if (c.kind === 'broken') return { request: { method: 'GET', path: '/', headers: {}, raw: c.raw } };
  if (c.kind === 'valid') {
    const writes = c.method === 'PUT' || c.method === 'POST';
    const fresh = c.fresh && writes;
    const s = fresh ? freshStore(index) : c.store;
    const request = {
      method: c.method,
      path: `/data/${s}${writes ? '' : c.format}`,
      headers: {
        authorization: mine,
        ...(writes ? { 'content-type': c.lua && !fresh ? 'text/x-lua' : 'application/json' } : {}),
      },
      ...(writes ? { body: Buffer.from(fresh ? c.document : c.body) } : {}),
    };
    return {
      request,
      async check(reply) {
        const shape = prosodyShape(reply, request);
        if (shape !== undefined || !fresh) return shape;
        const present = await stored(s, c.method);
        if (reply.status === 201) return present ? undefined : 'acknowledged, not stored';
        return present ? 'refused, yet stored' : undefined;
      },
    };
  }
  const headers: Record<string, string> = {};
  withHeader(headers, 'authorization', c.authorization);
  withHeader(headers, 'content-type', c.contentType);
  withHeader(headers, 'accept', c.accept);
  const sendsBody = c.method !== 'GET' && c.method !== 'HEAD';
  const request = { method: c.method, path: c.path + c.query, headers, ...(sendsBody ? { body: c.body } : {}) };
  return { request, check: (reply) => prosodyShape(reply, request) };
}

it(`answers ${FUZZ_RUNS} generated requests with Prosody's pages, without a failure of its own`, async () => {
  const report = await fuzzRoutes({
    port: gateway.port,
    cases,
    prepare,
    alive: { method: 'GET', path: '/data/accounts', headers: { authorization: mine } },
  });
  console.log(`prosody: ${statusLine(report)}`);
  expect(report.failures).toEqual([]);
  expect(report.sent).toBeGreaterThanOrEqual(FUZZ_RUNS);
  expect(report.success).toBeGreaterThan(0.3);
}, 120_000);
