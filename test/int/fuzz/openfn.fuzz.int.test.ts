import fc from 'fast-check';
import { TEST_ADMIN_TOKEN } from '../../support/env';
import {
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
 * 10,000 generated requests against the OpenFn collections dialect (specs/openfn-collections.md):
 * no 5xx, errors as `{"error":…}` JSON, and every batch upsert (POST items) written whole or not
 * at all. Batches go to a collection of their own that no fuzzed request can delete from.
 */

const JSON_TYPE = 'application/json; charset=utf-8';
const PROJECT = '0b6f1e2a-3c4d-4e5f-8a9b-0c1d2e3f4a5b';
const OTHER_PROJECT = '7d8e9f00-1a2b-4c3d-9e8f-a0b1c2d3e4f5';
const BATCHES = 'batches';

let gateway: FuzzGateway;
const tokens = { alice: '', bob: '', run: '' };

async function v1(method: string, path: string, body: unknown, token = TEST_ADMIN_TOKEN) {
  const reply = await rawRequest(gateway.port, method, path, {
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect([path, reply.status]).toEqual([path, expect.any(Number)]);
  expect(reply.status).toBeLessThan(300);
  return JSON.parse(reply.text || '{}') as { secret?: string };
}

beforeAll(async () => {
  gateway = await startFuzzGateway();
  for (const name of ['alice', 'bob'] as const) {
    await v1('POST', '/v1/admin/accounts', { name, password: `${name}-password-1` });
    tokens[name] = (await v1('POST', `/v1/admin/accounts/${name}/tokens`, { name: 'openfn' })).secret ?? '';
  }
  await v1('POST', '/v1/spaces', { name: 'project-a', id: PROJECT }, tokens.alice);
  await v1('POST', '/v1/spaces', { name: 'project-b', id: OTHER_PROJECT }, tokens.bob);
  tokens.run = (await v1('POST', '/v1/spaces/project-a/run-tokens', {}, tokens.alice)).secret ?? '';
  for (const name of ['fuzz', 'notes', 'shared', BATCHES]) {
    await v1('POST', '/v1/spaces/project-a/collections', { name }, tokens.alice);
  }
  await v1('POST', '/v1/spaces/project-b/collections', { name: 'shared' }, tokens.bob);
});

afterAll(() => gateway.close());

type Who = 'alice' | 'run' | 'bob' | 'junk';
const who: fc.Arbitrary<Who> = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom<Who>('alice', 'alice', 'run') },
  { weight: 1, arbitrary: fc.constant<Who>('bob') },
  { weight: 1, arbitrary: fc.constant<Who>('junk') },
);
const bearer = (w: Who, junk: string | undefined) => (w === 'junk' ? junk : `Bearer ${tokens[w]}`);

const name = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('fuzz', 'notes', 'shared') },
  { weight: 1, arbitrary: fc.constantFrom('missing', 'Fuzz', 'fu*', 'fu_z') },
  { weight: 1, arbitrary: fuzzSegment(fc.constant('fuzz')) },
);
const key = fuzzSegment(fc.stringMatching(/^[a-c:]{1,4}$/));
const path = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(name, key).map(([n, k]) => `/collections/${n}/${k}`) },
  { weight: 4, arbitrary: name.map((n) => `/collections/${n}`) },
  { weight: 1, arbitrary: fc.tuple(name, key, key).map(([n, a, b]) => `/collections/${n}/${a}/${b}`) },
  { weight: 1, arbitrary: fc.constantFrom('/collections', '/collections/', '/collections//x') },
);
const queryValue = fc.oneof(
  fc.constantFrom(
    '*',
    '_',
    '%',
    'a*',
    '10',
    'MTIz',
    'MTIz==',
    '2024-01-01T00:00:00Z',
    '202401',
    PROJECT,
    OTHER_PROJECT,
  ),
  fc.constantFrom(PROJECT.toUpperCase(), 'not-a-uuid'),
);
const query = fuzzQuery(
  [
    'key',
    'limit',
    'cursor',
    'created_after',
    'created_before',
    'updated_after',
    'updated_before',
    'project_id',
    'keys_only',
  ],
  queryValue.map(encodeURIComponent),
);

/** An item of a batch: mostly what the adaptor sends, sometimes what the spec refuses. */
const item = fc.record(
  {
    key: fc.oneof(
      { weight: 20, arbitrary: fc.stringMatching(/^[a-z0-9:]{1,8}$/) },
      { weight: 1, arbitrary: fc.constantFrom('', 'k'.repeat(300), 'nul\u0000', 5, null) },
    ),
    value: fc.oneof(
      { weight: 20, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v) ?? 'null') },
      { weight: 1, arbitrary: fc.constantFrom('', 5, null, { a: 1 }, 'v'.repeat(1_000_001)) },
    ),
  },
  { requiredKeys: [] },
);
const itemsBody = fc.oneof(
  { weight: 12, arbitrary: fc.array(item, { maxLength: 8 }).map((items) => JSON.stringify({ items })) },
  { weight: 1, arbitrary: fc.constantFrom('[]', '{}', '{"items":{}}', '{"items":null}', 'null', '') },
  { weight: 1, arbitrary: garbageBody.map((body) => body.toString('latin1')) },
);

const fuzzed = fc.record({
  kind: fc.constant('fuzzed' as const),
  method: fuzzMethod(['GET', 'GET', 'PUT', 'POST', 'DELETE']),
  path,
  query,
  who,
  junk: junkAuthorization,
  contentType: fuzzContentType(['application/json']),
  accept: fuzzAccept,
  body: fc.oneof(
    { weight: 1, arbitrary: itemsBody.map((text) => Buffer.from(text, 'latin1')) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((value) => Buffer.from(JSON.stringify({ value }))) },
    { weight: 1, arbitrary: garbageBody },
  ),
});
/** What the adaptor sends with a good token: gets, lists, upserts and deletes of plain keys. */
const valid = fc.record({
  kind: fc.constant('valid' as const),
  method: fc.constantFrom('GET', 'LIST', 'PUT', 'PUT', 'DELETE'),
  key: fc.stringMatching(/^[a-c:]{1,4}$/),
  value: fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v) ?? 'null'),
});
const batch = fc.record({ kind: fc.constant('batch' as const), who, junk: junkAuthorization, body: itemsBody });
const broken = fc.record({ kind: fc.constant('broken' as const), raw: brokenHttp(path, `Bearer x`) });
const cases = fc.oneof(
  { weight: 7, arbitrary: valid },
  { weight: 8, arbitrary: fuzzed },
  { weight: 4, arbitrary: batch },
  { weight: 1, arbitrary: broken },
);
type Generated = typeof cases extends fc.Arbitrary<infer T> ? T : never;

/** OpenFn's errors under /collections: `{"error":…}` JSON (HEAD's without a body). */
function openfnShape(reply: FuzzReply, req: FuzzRequest): string | undefined {
  if (!req.path.startsWith('/collections') || reply.status < 400) return undefined;
  if (req.method === 'HEAD' && reply.body.length === 0) return undefined;
  if (reply.headers['content-type'] !== JSON_TYPE) return `error type ${String(reply.headers['content-type'])}`;
  try {
    const body = JSON.parse(reply.text) as Record<string, unknown>;
    return typeof body === 'object' && body !== null && 'error' in body ? undefined : `error body ${reply.text}`;
  } catch {
    return `error body not JSON: ${reply.text.slice(0, 100)}`;
  }
}

function parsedItems(body: string): unknown[] | undefined {
  try {
    const items = (JSON.parse(body) as { items?: unknown }).items;
    return Array.isArray(items) ? items : undefined;
  } catch {
    return undefined;
  }
}

/** How many batches were checked after a success and after a refusal: both must be many. */
const batches = { written: 0, refused: 0 };

function prepare(c: Generated, index: number): FuzzCase {
  if (c.kind === 'broken') return { request: { method: 'GET', path: '/', headers: {}, raw: c.raw } };
  if (c.kind === 'valid') {
    const headers = { authorization: `Bearer ${tokens.alice}`, 'content-type': 'application/json' };
    const request =
      c.method === 'LIST'
        ? { method: 'GET', path: `/collections/fuzz?key=${encodeURIComponent(`${c.key}*`)}&limit=20`, headers }
        : c.method === 'PUT'
          ? {
              method: 'PUT',
              path: `/collections/fuzz/${encodeURIComponent(c.key)}`,
              headers,
              body: Buffer.from(JSON.stringify({ value: c.value })),
            }
          : { method: c.method, path: `/collections/fuzz/${encodeURIComponent(c.key)}`, headers };
    return { request, check: (reply) => openfnShape(reply, request) };
  }
  const headers: Record<string, string> = {};
  withHeader(headers, 'authorization', bearer(c.who, c.junk));
  if (c.kind === 'batch') {
    // Keys unique to this request: `b<index>-<key>`, counted by that prefix afterwards.
    const prefix = `b${index}-`;
    const items = parsedItems(c.body);
    const body =
      items === undefined
        ? c.body
        : JSON.stringify({
            items: items.map((i) => {
              const it = i as { key?: unknown };
              return typeof it.key === 'string' && it.key !== '' ? { ...it, key: `${prefix}${it.key}` } : it;
            }),
          });
    const request = {
      method: 'POST',
      path: `/collections/${BATCHES}`,
      headers: { ...headers, 'content-type': 'application/json' },
      body: Buffer.from(body, 'latin1'),
    };
    return {
      request,
      async check(reply) {
        const shape = openfnShape(reply, request);
        if (shape !== undefined) return shape;
        const stored = await countRecords(gateway.api, { space: 'project-a', collection: BATCHES }, prefix);
        const upserted = reply.status === 200 ? (JSON.parse(reply.text) as { upserted?: unknown }).upserted : 0;
        batches[upserted === 0 ? 'refused' : 'written']++;
        if (upserted === 0) return stored === 0n ? undefined : `nothing upserted, yet ${stored} items were written`;
        return stored === BigInt(items?.length ?? -1) && upserted === items?.length
          ? undefined
          : `${String(upserted)} upserted, ${stored} of ${items?.length ?? 0} items written`;
      },
    };
  }
  withHeader(headers, 'content-type', c.contentType);
  withHeader(headers, 'accept', c.accept);
  const sendsBody = c.method !== 'GET' && c.method !== 'HEAD';
  const request = { method: c.method, path: c.path + c.query, headers, ...(sendsBody ? { body: c.body } : {}) };
  return { request, check: (reply) => openfnShape(reply, request) };
}

it(`answers ${FUZZ_RUNS} generated requests with OpenFn's errors, and upserts batches whole or not at all`, async () => {
  const report = await fuzzRoutes({
    port: gateway.port,
    cases,
    prepare,
    alive: { method: 'GET', path: '/collections/fuzz?limit=1', headers: { authorization: `Bearer ${tokens.alice}` } },
  });
  console.log(`openfn: ${statusLine(report)}; batches ${batches.written} written, ${batches.refused} refused`);
  expect(report.failures).toEqual([]);
  expect(Math.min(batches.written, batches.refused)).toBeGreaterThan(100);
  expect(report.sent).toBeGreaterThanOrEqual(FUZZ_RUNS);
  expect(report.success).toBeGreaterThan(0.3);
}, 120_000);
