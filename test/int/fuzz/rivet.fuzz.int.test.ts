import fc from 'fast-check';
import { TEST_ADMIN_TOKEN } from '../../support/env';
import {
  basicAuth,
  brokenHttp,
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
 * 10,000 generated requests against the Rivet dialect (specs/rivet.md): no 5xx but Rivet's own
 * (POST of an empty key: 500 `key required`), errors as Echo's `{"message":…}` JSON, successes as
 * text, and every write to a fresh key either stored with its body (2xx) or not stored at all.
 */

const JSON_TYPE = 'application/json; charset=UTF-8';
const TEXT_TYPE = 'text/plain; charset=UTF-8';
/** `fuzz` owns the store under test; `other` is a second account; `gate` is who /login and /logout are fuzzed with (a logout ends the one session of its account). */
const ACCOUNTS = ['fuzz', 'other', 'gate'] as const;
const password = (name: string) => `${name}-password`;

let gateway: FuzzGateway;
const sessions: Record<string, string> = {};

beforeAll(async () => {
  gateway = await startFuzzGateway();
  for (const name of ACCOUNTS) {
    const created = await rawRequest(gateway.port, 'POST', '/v1/admin/accounts', {
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name, password: password(name) }),
    });
    expect(created.status).toBe(201);
    const login = await rawRequest(gateway.port, 'GET', '/login', {
      headers: { authorization: basicAuth(name, password(name)) },
    });
    expect(login.status).toBe(200);
    sessions[name] = login.text;
  }
});

afterAll(() => gateway.close());

type Session = 'own' | 'other' | 'upper' | 'none' | 'junk' | 'unknown';
const session: fc.Arbitrary<Session> = fc.oneof(
  { weight: 8, arbitrary: fc.constant<Session>('own') },
  { weight: 1, arbitrary: fc.constantFrom<Session>('other', 'upper', 'none', 'junk', 'unknown') },
);
const sessionHeader = (s: Session): string | undefined =>
  ({
    own: sessions.fuzz,
    other: sessions.other,
    upper: sessions.fuzz?.toUpperCase(),
    none: undefined,
    junk: 'zz-not-a-token',
    unknown: 'ab'.repeat(32),
  })[s];

const word = fc.stringMatching(/^[a-c]{1,2}$/);
const user = fc.oneof(
  { weight: 8, arbitrary: fc.constant('fuzz') },
  { weight: 1, arbitrary: fc.constantFrom('other', 'gate', 'ghost', '', 'FUZZ') },
  { weight: 1, arbitrary: fuzzSegment(fc.constant('fuzz')) },
);
const key = fc.array(fuzzSegment(word), { minLength: 0, maxLength: 3 }).map((parts) => parts.join('/'));
const path = fc.oneof(
  { weight: 10, arbitrary: fc.tuple(user, key).map(([u, k]) => `/store/${u}/${k}`) },
  { weight: 2, arbitrary: user.map((u) => `/store/${u}`) },
  { weight: 1, arbitrary: fc.constantFrom('/store', '/store/', '/login', '/logout', '/login/x', '/', '/storex/fuzz') },
);

const fuzzed = fc.record({
  kind: fc.constant('fuzzed' as const),
  method: fuzzMethod(['GET', 'GET', 'POST', 'PUT', 'DELETE']),
  path,
  query: fuzzQuery(['limit', 'offset', 'pretty']),
  session,
  basic: fc.oneof(
    { weight: 3, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constant(basicAuth('gate', password('gate'))) },
    { weight: 1, arbitrary: fc.constant(basicAuth('fuzz', 'wrong-password')) },
    { weight: 2, arbitrary: junkAuthorization },
  ),
  contentType: fuzzContentType(['text/plain', 'application/octet-stream']),
  accept: fuzzAccept,
  body: garbageBody,
});
/** What Rivet clients send with the right session: reads, lists and writes, some to a key of their own. */
const valid = fc.record({
  kind: fc.constant('valid' as const),
  method: fc.constantFrom('GET', 'POST', 'POST', 'PUT', 'DELETE', 'LIST'),
  key: fc.array(word, { minLength: 1, maxLength: 2 }).map((parts) => parts.join('/')),
  fresh: fc.boolean(),
  body: fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
});
const broken = fc.record({ kind: fc.constant('broken' as const), raw: brokenHttp(path, 'Basic x') });
const cases = fc.oneof(
  { weight: 9, arbitrary: valid },
  { weight: 10, arbitrary: fuzzed },
  { weight: 1, arbitrary: broken },
);
type Generated = typeof cases extends fc.Arbitrary<infer T> ? T : never;

/** Echo's answers under Rivet's paths: errors `{"message":…}` JSON (no body for HEAD), successes text. */
function rivetShape(reply: FuzzReply, req: FuzzRequest): string | undefined {
  if (!/^\/(store|login|logout)(\/|\?|$)/.test(req.path)) return undefined;
  const type = reply.headers['content-type'];
  if (reply.status < 400)
    return type === TEXT_TYPE || reply.body.length === 0 ? undefined : `success type ${String(type)}`;
  if (req.method === 'HEAD' && reply.body.length === 0) return undefined;
  if (type !== JSON_TYPE) return `error type ${String(type)}`;
  try {
    const body = JSON.parse(reply.text) as unknown;
    const ok = typeof body === 'object' && body !== null && Object.keys(body).join() === 'message';
    return ok ? undefined : `error body ${reply.text.slice(0, 100)}`;
  } catch {
    return `error body not JSON: ${reply.text.slice(0, 100)}`;
  }
}

/** Rivet's own 500: POST of an empty key (indented under `?pretty`). */
function designed5xx(reply: FuzzReply, req: FuzzRequest): boolean {
  if (reply.status !== 500 || req.method !== 'POST') return false;
  try {
    return (JSON.parse(reply.text) as { message?: unknown }).message === 'key required';
  } catch {
    return false;
  }
}

async function stored(k: string): Promise<Buffer | undefined> {
  try {
    const { record } = await gateway.api.records.getRecord({
      collection: { space: 'fuzz', collection: 'rivet' },
      key: k,
    });
    return record === undefined ? undefined : Buffer.from(record.value);
  } catch {
    return undefined;
  }
}

function prepare(c: Generated, index: number): FuzzCase {
  if (c.kind === 'broken') return { request: { method: 'GET', path: '/', headers: {}, raw: c.raw } };
  if (c.kind === 'valid') {
    const headers = { 'x-session-token': sessions.fuzz ?? '' };
    if (c.method === 'LIST') {
      const request = { method: 'GET', path: `/store/fuzz?limit=20&offset=${c.key}`, headers };
      return { request, check: (reply) => rivetShape(reply, request) };
    }
    const k = c.fresh ? `fresh/${index}` : c.key;
    const writes = c.method === 'POST' || c.method === 'PUT';
    const request = { method: c.method, path: `/store/fuzz/${k}`, headers, ...(writes ? { body: c.body } : {}) };
    return {
      request,
      async check(reply) {
        const shape = rivetShape(reply, request);
        if (shape !== undefined || !c.fresh || !writes) return shape;
        const value = await stored(k);
        if (reply.status < 300) return value?.equals(c.body) === true ? undefined : 'acknowledged, not stored';
        return value === undefined ? undefined : 'refused, yet stored';
      },
    };
  }
  const headers: Record<string, string> = {};
  withHeader(headers, 'x-session-token', sessionHeader(c.session));
  withHeader(headers, 'authorization', c.basic);
  withHeader(headers, 'content-type', c.contentType);
  withHeader(headers, 'accept', c.accept);
  const sendsBody = c.method !== 'GET' && c.method !== 'HEAD';
  const request = { method: c.method, path: c.path + c.query, headers, ...(sendsBody ? { body: c.body } : {}) };
  return { request, check: (reply) => rivetShape(reply, request) };
}

it(`answers ${FUZZ_RUNS} generated requests in Rivet's shapes, without a failure of its own`, async () => {
  const report = await fuzzRoutes({
    port: gateway.port,
    cases,
    prepare,
    designed5xx,
    alive: { method: 'GET', path: '/store/fuzz?limit=1', headers: { 'x-session-token': sessions.fuzz ?? '' } },
  });
  console.log(`rivet: ${statusLine(report)}`);
  expect(report.failures).toEqual([]);
  expect(report.sent).toBeGreaterThanOrEqual(FUZZ_RUNS);
  expect(report.success).toBeGreaterThan(0.3);
}, 120_000);
