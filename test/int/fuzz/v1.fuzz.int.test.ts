import fc from 'fast-check';
import { accountWithToken } from '../../support/accounts';
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
 * 10,000 generated requests against the native REST API (/v1, docs/compatibility.md): no 5xx,
 * errors as `{"error":{"code","message"}}`, and every batch (`POST …/batch`) written whole or not
 * at all. Batches go to a collection of their own, which no fuzzed request addresses.
 */

let gateway: FuzzGateway;
const tokens = { fuzz: '', other: '' };
const BATCHES = 'batches';

beforeAll(async () => {
  gateway = await startFuzzGateway();
  tokens.fuzz = await accountWithToken(gateway.app, 'fuzz');
  tokens.other = await accountWithToken(gateway.app, 'other');
  for (const name of ['notes', 'spare', BATCHES]) {
    const made = await rawRequest(gateway.port, 'POST', '/v1/spaces/fuzz/collections', {
      headers: { authorization: tokens.fuzz, 'content-type': 'application/json' },
      body: JSON.stringify({ name }),
    });
    expect(made.status).toBe(201);
  }
});

afterAll(() => gateway.close());

type Who = 'fuzz' | 'other' | 'admin' | 'basic' | 'junk';
const who: fc.Arbitrary<Who> = fc.oneof(
  { weight: 8, arbitrary: fc.constant<Who>('fuzz') },
  { weight: 1, arbitrary: fc.constantFrom<Who>('other', 'admin', 'basic') },
  { weight: 1, arbitrary: fc.constant<Who>('junk') },
);
function authorization(w: Who, junk: string | undefined): string | undefined {
  switch (w) {
    case 'fuzz':
    case 'other':
      return tokens[w];
    case 'admin':
      return `Bearer ${TEST_ADMIN_TOKEN}`;
    case 'basic':
      return basicAuth('fuzz', 'fuzz-password');
    case 'junk':
      return junk;
  }
}

const word = fc.stringMatching(/^[a-c]{1,2}$/);
const space = fc.oneof(
  { weight: 8, arbitrary: fc.constant('fuzz') },
  { weight: 1, arbitrary: fc.constantFrom('other', 'default', 'missing') },
  { weight: 1, arbitrary: fuzzSegment(fc.constant('fuzz')) },
);
const collection = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('notes', 'spare') },
  { weight: 1, arbitrary: fc.constantFrom('missing', 'NOTES') },
  { weight: 1, arbitrary: fuzzSegment(fc.constant('notes')) },
);
const key = fc.array(fuzzSegment(word), { minLength: 0, maxLength: 3 }).map((parts) => parts.join('/'));
/** Route shapes of /v1 with the methods fuzzed on them (none that deletes a space or an account). */
const route = fc.oneof(
  {
    weight: 10,
    arbitrary: fc
      .tuple(space, collection, key, fuzzMethod(['GET', 'HEAD', 'PUT', 'PUT', 'DELETE']))
      .map(([s, c, k, m]) => [m, `/v1/spaces/${s}/collections/${c}/records/${k}`] as const),
  },
  {
    weight: 5,
    arbitrary: fc
      .tuple(
        space,
        collection,
        fc.constantFrom('records', 'count', 'batch', 'batch-get', 'delete-matching', 'changes', 'versions', 'diff', ''),
        fuzzMethod(['GET', 'POST']),
      )
      .map(([s, c, action, m]) => [m, `/v1/spaces/${s}/collections/${c}${action === '' ? '' : `/${action}`}`] as const),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(space, fc.constantFrom('', '/collections', '/members'), fuzzMethod(['GET', 'GET', 'POST']))
      .map(([s, tail, m]) => [m, `/v1/spaces/${s}${tail}`] as const),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.constantFrom(
          '/v1/auth/whoami',
          '/v1/auth/login',
          '/v1/tokens',
          '/v1/spaces',
          '/v1/admin/accounts',
          '/v1',
          '/v1/',
          '/v1/nothing',
          '/v1/openapi.json',
        ),
        fuzzMethod(['GET', 'POST']),
      )
      .map(([p, m]) => [m, p] as const),
  },
);
const query = fuzzQuery(
  [
    'version',
    'prefix',
    'start',
    'end',
    'pattern',
    'limit',
    'cursor',
    'keysOnly',
    'reverse',
    'order',
    'format',
    'createdAfter',
    'updatedBefore',
  ],
  fc.constantFrom('a', 'a*', '*', '\\', '[', '10', 'key', 'created', 'json', 'ndjson', '2024-01-01T00:00:00Z', 'true'),
);

/** A record of a batch: mostly valid, sometimes one that fails the whole batch. */
const entry = fc.record(
  {
    key: fc.oneof(
      { weight: 20, arbitrary: fc.stringMatching(/^[a-z0-9/]{1,6}$/) },
      { weight: 1, arbitrary: fc.constantFrom('', 'nul\u0000', 'k'.repeat(2000), 7) },
    ),
    value: fc.oneof(
      { weight: 10, arbitrary: fc.string({ maxLength: 20 }) },
      { weight: 5, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
      { weight: 1, arbitrary: fc.constantFrom('aGk=', '***') },
    ),
    encoding: fc.oneof(
      { weight: 12, arbitrary: fc.constantFrom(undefined, undefined, 'utf8', 'json') },
      { weight: 1, arbitrary: fc.constantFrom('base64', 'hex') },
    ),
    contentType: fc.oneof(
      { weight: 12, arbitrary: fc.constantFrom(undefined, 'text/plain') },
      { weight: 1, arbitrary: fc.constant('bad type') },
    ),
    ifAbsent: fc.oneof({ weight: 12, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constant(true) }),
    ifPresent: fc.oneof({ weight: 30, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constant(true) }),
    ifRevision: fc.oneof(
      { weight: 30, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.constantFrom(1, 0) },
    ),
  },
  { requiredKeys: ['key'] },
);
const batchBody = fc.oneof(
  { weight: 12, arbitrary: fc.array(entry, { maxLength: 8 }).map((records) => ({ records })) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>({}, { records: {} }, { records: [], extra: 1 }, [], null) },
);

const fuzzed = fc.record({
  kind: fc.constant('fuzzed' as const),
  route,
  query,
  who,
  junk: junkAuthorization,
  contentType: fuzzContentType(['application/json', 'text/plain', 'application/octet-stream']),
  accept: fuzzAccept,
  ifMatch: fc.constantFrom(undefined, undefined, undefined, '"1"', '*', 'W/"x"', 'garbage'),
  body: fc.oneof(
    { weight: 2, arbitrary: batchBody.map((b) => Buffer.from(JSON.stringify(b))) },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom('{"name":"made"}', '{"keys":["a","b"]}', '{"prefix":"zz"}', '{"name":"a/b"}')
        .map(Buffer.from),
    },
    { weight: 3, arbitrary: garbageBody },
  ),
});
/** What a client of /v1 sends with its own token: reads, lists, writes and deletes of plain keys. */
const valid = fc.record({
  kind: fc.constant('valid' as const),
  method: fc.constantFrom('GET', 'PUT', 'PUT', 'DELETE', 'LIST', 'COUNT'),
  key: fc.array(word, { minLength: 1, maxLength: 2 }).map((parts) => parts.join('/')),
  json: fc.boolean(),
  value: fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v) ?? 'null'),
});
const batch = fc.record({ kind: fc.constant('batch' as const), who, junk: junkAuthorization, body: batchBody });
const broken = fc.record({
  kind: fc.constant('broken' as const),
  raw: brokenHttp(fc.constantFrom('/v1/spaces/fuzz/collections/notes/records/a', '/v1/spaces'), 'Bearer x'),
});
const cases = fc.oneof(
  { weight: 7, arbitrary: valid },
  { weight: 9, arbitrary: fuzzed },
  { weight: 3, arbitrary: batch },
  { weight: 1, arbitrary: broken },
);
type Generated = typeof cases extends fc.Arbitrary<infer T> ? T : never;

/** /v1's errors: `{"error":{"code":…,"message":…}}` JSON (HEAD's without a body). */
function v1Shape(reply: FuzzReply, req: FuzzRequest): string | undefined {
  if (reply.status < 400 || (req.method === 'HEAD' && reply.body.length === 0)) return undefined;
  if (!String(reply.headers['content-type']).startsWith('application/json')) {
    return `error type ${String(reply.headers['content-type'])}`;
  }
  try {
    const { error } = JSON.parse(reply.text) as { error?: { code?: unknown; message?: unknown } };
    return typeof error?.code === 'string' && typeof error.message === 'string'
      ? undefined
      : `error body ${reply.text}`;
  } catch {
    return `error body not JSON: ${reply.text.slice(0, 100)}`;
  }
}

/** How many batches were checked after a 2xx and after a refusal: both must be many. */
const batches = { written: 0, refused: 0 };

function prepare(c: Generated, index: number): FuzzCase {
  if (c.kind === 'broken') return { request: { method: 'GET', path: '/', headers: {}, raw: c.raw } };
  if (c.kind === 'valid') {
    const base = '/v1/spaces/fuzz/collections/notes';
    const headers = { authorization: tokens.fuzz };
    const request =
      c.method === 'LIST'
        ? { method: 'GET', path: `${base}/records?prefix=${c.key}&limit=20`, headers }
        : c.method === 'COUNT'
          ? { method: 'GET', path: `${base}/count?prefix=${c.key}`, headers }
          : c.method === 'PUT'
            ? {
                method: 'PUT',
                path: `${base}/records/${c.key}`,
                headers: { ...headers, 'content-type': c.json ? 'application/json' : 'text/plain' },
                body: Buffer.from(c.value),
              }
            : { method: c.method, path: `${base}/records/${c.key}`, headers };
    return { request, check: (reply) => v1Shape(reply, request) };
  }
  const headers: Record<string, string> = {};
  withHeader(headers, 'authorization', authorization(c.who, c.junk));
  if (c.kind === 'batch') {
    const prefix = `b${index}-`;
    const body = c.body as { records?: unknown };
    const records = Array.isArray(body?.records) ? (body.records as Array<{ key: unknown }>) : undefined;
    const sent =
      records === undefined
        ? c.body
        : {
            ...body,
            records: records.map((r) => (typeof r.key === 'string' ? { ...r, key: `${prefix}${r.key}` } : r)),
          };
    const request = {
      method: 'POST',
      path: `/v1/spaces/fuzz/collections/${BATCHES}/batch`,
      headers: { ...headers, 'content-type': 'application/json' },
      body: Buffer.from(JSON.stringify(sent)),
    };
    return {
      request,
      async check(reply) {
        const shape = v1Shape(reply, request);
        if (shape !== undefined) return shape;
        const stored = await countRecords(gateway.api, { space: 'fuzz', collection: BATCHES }, prefix);
        batches[reply.status < 300 ? 'written' : 'refused']++;
        if (reply.status >= 300) return stored === 0n ? undefined : `refused, yet ${stored} records were written`;
        const keys = new Set(records?.map((r) => r.key));
        return stored === BigInt(keys.size) ? undefined : `${stored} of ${keys.size} records written`;
      },
    };
  }
  const method: string = c.route[0];
  const path: string = c.route[1];
  withHeader(headers, 'content-type', c.contentType);
  // An Accept that admits text/event-stream (`text/*`, `*/*;q=…`) rightly opens an endless change
  // stream, which a request-and-answer fuzzer would wait on: /changes is fuzzed without Accept.
  if (!path.endsWith('/changes')) withHeader(headers, 'accept', c.accept);
  withHeader(headers, 'if-match', c.ifMatch);
  const sendsBody = method !== 'GET' && method !== 'HEAD';
  const request = { method, path: path + c.query, headers, ...(sendsBody ? { body: c.body } : {}) };
  return { request, check: (reply) => v1Shape(reply, request) };
}

it(`answers ${FUZZ_RUNS} generated requests with /v1's errors, and writes batches whole or not at all`, async () => {
  const report = await fuzzRoutes({
    port: gateway.port,
    cases,
    prepare,
    alive: { method: 'GET', path: '/v1/auth/whoami', headers: { authorization: tokens.fuzz } },
  });
  console.log(`v1: ${statusLine(report)}; batches ${batches.written} written, ${batches.refused} refused`);
  expect(report.failures).toEqual([]);
  expect(Math.min(batches.written, batches.refused)).toBeGreaterThan(100);
  expect(report.sent).toBeGreaterThanOrEqual(FUZZ_RUNS);
  expect(report.success).toBeGreaterThan(0.3);
}, 120_000);
