import fc from 'fast-check';
import { accountWithToken } from '../../support/accounts';
import { TEST_ADMIN_TOKEN } from '../../support/env';
import {
  brokenHttp,
  countRecords,
  FUZZ_RUNS,
  fuzzAccept,
  fuzzContentType,
  fuzzRoutes,
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
 * 10,000 generated requests against the GraphQL endpoint: no 5xx, every answer a GraphQL
 * response (`data` and/or `errors`, an error always with its message), and every `putRecords`
 * written whole or not at all. Documents mix valid operations with broken syntax, wrong variables,
 * deep nesting and alias floods; bodies mix JSON, batches, GET queries and garbage.
 */

let gateway: FuzzGateway;
const tokens = { fuzz: '', other: '' };
const BATCHES = 'batches';

beforeAll(async () => {
  gateway = await startFuzzGateway();
  tokens.fuzz = await accountWithToken(gateway.app, 'fuzz');
  tokens.other = await accountWithToken(gateway.app, 'other');
  for (const name of ['notes', BATCHES]) {
    const made = await rawRequest(gateway.port, 'POST', '/v1/spaces/fuzz/collections', {
      headers: { authorization: tokens.fuzz, 'content-type': 'application/json' },
      body: JSON.stringify({ name }),
    });
    expect(made.status).toBe(201);
  }
});

afterAll(() => gateway.close());

type Who = 'fuzz' | 'other' | 'admin' | 'junk';
const who: fc.Arbitrary<Who> = fc.oneof(
  { weight: 8, arbitrary: fc.constant<Who>('fuzz') },
  { weight: 1, arbitrary: fc.constantFrom<Who>('other', 'admin') },
  { weight: 1, arbitrary: fc.constant<Who>('junk') },
);
const authorization = (w: Who, junk: string | undefined) =>
  w === 'junk' ? junk : w === 'admin' ? `Bearer ${TEST_ADMIN_TOKEN}` : tokens[w];

const READ = 'query($k: String!) { record(space: "fuzz", collection: "notes", key: $k) { key value revision } }';
const COUNT = 'query { collection(space: "fuzz", name: "notes") { count record(key: "a") { key } } me { __typename } }';
const PUT = 'mutation($input: PutRecordInput!) { putRecord(input: $input) { created record { key revision } } }';
const DELETE = 'mutation($input: DeleteRecordInput!) { deleteRecord(input: $input) { deleted } }';
const PUT_MANY = `mutation($records: [RecordInput!]!) {
  putRecords(input: { space: "fuzz", collection: "${BATCHES}", records: $records }) { createdCount }
}`;

const word = fc.stringMatching(/^[a-c]{1,2}$/);
/** A value in exactly one form, or (rarely) in none or two, which putRecord refuses. */
const valueForm = fc.oneof(
  { weight: 6, arbitrary: fc.string({ maxLength: 20 }).map((value) => ({ value })) },
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((json) => ({ json })) },
  {
    weight: 2,
    arbitrary: fc.uint8Array({ maxLength: 12 }).map((b) => ({ valueBase64: Buffer.from(b).toString('base64') })),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom<Record<string, unknown>>({}, { value: 'a', json: 1 }, { valueBase64: '***' }),
  },
);

/** Documents that are not (quite) GraphQL, or that push its limits. */
const soup = fc
  .array(
    fc.constantFrom(
      '{',
      '}',
      '(',
      ')',
      'query',
      'mutation',
      'record',
      'me',
      '__typename',
      '$k',
      ':',
      '"x"',
      '...',
      'on',
      '@skip',
      'fragment',
      'F',
      '#',
      '\n',
      '"""',
      '1e999',
      '[',
      ']',
    ),
    { maxLength: 30 },
  )
  .map((tokens) => tokens.join(' '));
const deep = fc
  .integer({ min: 5, max: 60 })
  .map(
    (n) => `{ ${'collection(space: "fuzz", name: "notes") { record(key: "a") { '.repeat(n)}key${' } }'.repeat(n)} }`,
  );
const aliases = fc
  .oneof({ weight: 20, arbitrary: fc.integer({ min: 10, max: 200 }) }, { weight: 1, arbitrary: fc.constant(3000) })
  .map((n) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: me { __typename }`).join(' ')} }`);
const fragments = fc.constantFrom(
  'query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }',
  'query { me { __typename } } query { me { __typename } }',
  '{ __schema { types { fields { type { ofType { ofType { name } } } } } } }',
  'subscription { x }',
  '{ record(space: "fuzz", collection: "notes", key: "a", version: "\\u0000") { key } }',
  '{ collection(space: "fuzz", name: "notes") { records(first: 100000) { __typename } } }',
  '{ jobs(first: -1) { __typename } }',
);
const document = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(READ, COUNT, PUT, DELETE, PUT_MANY) },
  { weight: 2, arbitrary: soup },
  { weight: 1, arbitrary: deep },
  { weight: 1, arbitrary: aliases },
  { weight: 1, arbitrary: fragments },
);
const variables = fc.oneof(
  { weight: 4, arbitrary: fc.record({ k: word }) },
  {
    weight: 4,
    arbitrary: fc
      .tuple(fc.constantFrom('fuzz', 'other', 'missing'), fc.constantFrom('notes', BATCHES, 'x'), word, valueForm)
      .map(([space, collection, key, form]) => ({ input: { space, collection, key, ...form } })),
  },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(null, 'x', [], { k: 1 }, { input: null }, { records: 'x' }) },
);

const fuzzed = fc.record({
  kind: fc.constant('fuzzed' as const),
  via: fc.constantFrom('post', 'post', 'post', 'get', 'batch', 'raw'),
  document,
  variables,
  operationName: fc.constantFrom(undefined, undefined, 'x', ''),
  who,
  junk: junkAuthorization,
  contentType: fuzzContentType(['application/json']),
  accept: fuzzAccept,
  preflight: fc.boolean(),
  raw: garbageBody,
});
/** What a client sends with its own token: reads, counts, writes and deletes of plain keys. */
const valid = fc.record({
  kind: fc.constant('valid' as const),
  document: fc.constantFrom(READ, COUNT, PUT, PUT, DELETE),
  key: word,
  value: fc.string({ maxLength: 20 }),
});
const entry = fc.record(
  {
    key: fc.oneof(
      { weight: 20, arbitrary: fc.stringMatching(/^[a-z0-9/]{1,6}$/) },
      { weight: 1, arbitrary: fc.constantFrom('', 'nul\u0000', 'k'.repeat(2000)) },
    ),
    form: valueForm,
    contentType: fc.oneof(
      { weight: 12, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.constant('bad type') },
    ),
    expectedRevision: fc.oneof(
      { weight: 30, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.constant(99) },
    ),
    createOnly: fc.constantFrom(undefined, undefined, true),
  },
  { requiredKeys: ['key', 'form'] },
);
const batch = fc.record({
  kind: fc.constant('batch' as const),
  who,
  junk: junkAuthorization,
  entries: fc.array(entry, { maxLength: 8 }),
});
const broken = fc.record({
  kind: fc.constant('broken' as const),
  raw: brokenHttp(fc.constant('/graphql'), 'Bearer x'),
});
const cases = fc.oneof(
  { weight: 7, arbitrary: valid },
  { weight: 9, arbitrary: fuzzed },
  { weight: 3, arbitrary: batch },
  { weight: 1, arbitrary: broken },
);
type Generated = typeof cases extends fc.Arbitrary<infer T> ? T : never;

interface GraphQLResponse {
  data?: Record<string, unknown> | null;
  errors?: Array<{ message?: unknown }>;
}

/** A GraphQL response: JSON with data and/or errors, every error with a message; a 4xx has errors. */
function graphqlShape(reply: FuzzReply, req: FuzzRequest): string | undefined {
  if (!req.path.startsWith('/graphql')) return undefined;
  const type = String(reply.headers['content-type']);
  if (reply.status < 300 && type.startsWith('text/html')) return undefined;
  if (req.method === 'HEAD' || reply.status === 405) return undefined;
  if (!/^application\/(graphql-response\+)?json/.test(type)) return `type ${type}: ${reply.text.slice(0, 100)}`;
  let body: GraphQLResponse | GraphQLResponse[];
  try {
    body = JSON.parse(reply.text) as GraphQLResponse;
  } catch {
    return `not JSON: ${reply.text.slice(0, 100)}`;
  }
  for (const one of Array.isArray(body) ? body : [body]) {
    if (typeof one !== 'object' || one === null || (!('data' in one) && !('errors' in one))) {
      return `not a GraphQL response: ${reply.text.slice(0, 100)}`;
    }
    if (one.errors !== undefined && !one.errors.every((e: { message?: unknown }) => typeof e.message === 'string'))
      return 'an error without message';
  }
  if (reply.status >= 400 && !Array.isArray(body) && (body.errors ?? []).length === 0) return '4xx without errors';
  return undefined;
}

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

function prepare(c: Generated, index: number): FuzzCase {
  if (c.kind === 'broken') return { request: { method: 'GET', path: '/', headers: {}, raw: c.raw } };
  if (c.kind === 'valid') {
    const input = { space: 'fuzz', collection: 'notes', key: c.key };
    const variables =
      c.document === PUT ? { input: { ...input, value: c.value } } : c.document === DELETE ? { input } : { k: c.key };
    const request = {
      method: 'POST',
      path: '/graphql',
      headers: { authorization: tokens.fuzz, 'content-type': 'application/json' },
      body: json({ query: c.document, variables }),
    };
    return {
      request,
      check(reply) {
        const shape = graphqlShape(reply, request);
        if (shape !== undefined) return shape;
        const errors = (JSON.parse(reply.text) as GraphQLResponse).errors ?? [];
        return errors.length === 0 ? undefined : `a valid request failed: ${JSON.stringify(errors).slice(0, 200)}`;
      },
    };
  }
  const headers: Record<string, string> = {};
  withHeader(headers, 'authorization', authorization(c.who, c.junk));
  if (c.kind === 'batch') {
    const prefix = `b${index}-`;
    const records = c.entries.map(({ key, form, ...rest }) => ({ key: `${prefix}${key}`, ...form, ...rest }));
    const request = {
      method: 'POST',
      path: '/graphql',
      headers: { ...headers, 'content-type': 'application/json' },
      body: json({ query: PUT_MANY, variables: { records } }),
    };
    return {
      request,
      async check(reply) {
        const shape = graphqlShape(reply, request);
        if (shape !== undefined) return shape;
        const body = JSON.parse(reply.text) as GraphQLResponse;
        const stored = await countRecords(gateway.api, { space: 'fuzz', collection: BATCHES }, prefix);
        const written = body.data?.putRecords !== undefined && body.data.putRecords !== null;
        batches[written ? 'written' : 'refused']++;
        if (!written) return stored === 0n ? undefined : `refused, yet ${stored} records were written`;
        const keys = new Set(records.map((r) => r.key));
        return stored === BigInt(keys.size) ? undefined : `${stored} of ${keys.size} records written`;
      },
    };
  }
  withHeader(headers, 'accept', c.accept);
  if (c.preflight) headers['apollo-require-preflight'] = 'true';
  const operation = {
    query: c.document,
    variables: c.variables,
    ...(c.operationName === undefined ? {} : { operationName: c.operationName }),
  };
  let request: FuzzRequest;
  if (c.via === 'get') {
    const query = new URLSearchParams({ query: c.document, variables: JSON.stringify(c.variables) ?? '' });
    request = { method: 'GET', path: `/graphql?${query.toString()}`, headers };
  } else {
    withHeader(headers, 'content-type', c.contentType);
    const body = c.via === 'batch' ? json([operation, operation]) : c.via === 'raw' ? c.raw : json(operation);
    request = { method: 'POST', path: '/graphql', headers, body };
  }
  return { request, check: (reply) => graphqlShape(reply, request) };
}

/** How many putRecords were checked after a success and after a refusal: both must be many. */
const batches = { written: 0, refused: 0 };

it(`answers ${FUZZ_RUNS} generated requests with GraphQL responses, and writes putRecords whole or not at all`, async () => {
  const report = await fuzzRoutes({
    port: gateway.port,
    cases,
    prepare,
    alive: {
      method: 'POST',
      path: '/graphql',
      headers: { authorization: tokens.fuzz, 'content-type': 'application/json' },
      body: json({ query: '{ me { __typename } }' }),
    },
  });
  console.log(`graphql: ${statusLine(report)}; putRecords ${batches.written} written, ${batches.refused} refused`);
  expect(report.failures).toEqual([]);
  expect(report.sent).toBeGreaterThanOrEqual(FUZZ_RUNS);
  expect(report.success).toBeGreaterThan(0.3);
  expect(Math.min(batches.written, batches.refused)).toBeGreaterThan(100);
}, 120_000);
