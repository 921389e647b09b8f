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
import { kopanoJwtEnv, kopanoToken } from '../../support/kopano-jwt';

/**
 * 10,000 generated requests against the Kopano kvs dialect (specs/kopano-kvs.md): no 5xx but the
 * designed one (GET of a document stored under a JSON type that is not JSON, as kapi answers it),
 * errors as Go's plain-text `http.Error` or empty, and every `?batch=1` written whole or not at all.
 */

const JWT_SECRET = 'kopano-fuzz-secret-0123456789abcdef0123456789';
const BASE = '/api/kvs/v1/kv/user/';
const TEXT = 'text/plain; charset=utf-8';

let gateway: FuzzGateway;
const tokens: Record<'own' | 'other', string> = { own: '', other: '' };
const SUBJECTS = { own: 'kvs-fuzz', other: 'kvs-other' } as const;

beforeAll(async () => {
  gateway = await startFuzzGateway({ env: kopanoJwtEnv(JWT_SECRET) });
  tokens.own = `Bearer ${await kopanoToken(JWT_SECRET, SUBJECTS.own)}`;
  tokens.other = `Bearer ${await kopanoToken(JWT_SECRET, SUBJECTS.other)}`;
});

afterAll(() => gateway.close());

type Who = 'own' | 'other' | 'admin' | 'unscoped' | 'junk';

const who: fc.Arbitrary<Who> = fc.oneof(
  { weight: 10, arbitrary: fc.constant<Who>('own') },
  { weight: 2, arbitrary: fc.constantFrom<Who>('other', 'admin', 'unscoped') },
  { weight: 2, arbitrary: fc.constant<Who>('junk') },
);

const word = fc.stringMatching(/^[a-d]{1,2}$/);
const keyPath = fc.array(fuzzSegment(word), { minLength: 0, maxLength: 4 }).map((parts) => parts.join('/'));
const path = fc.oneof(
  { weight: 12, arbitrary: keyPath.map((key) => BASE + key) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '/api/kvs/v1',
      '/api/kvs/v1/',
      '/api/kvs/v1/kv/user',
      '/api/kvs/v1/kv/group/a',
      '/api/kvs/v1//kv/user/a',
      '/api/kvs/v1/kv/user/../user/a',
      '/api/kvs/v1/kv/user/./a',
      '/api/kvs/v2/kv/user/a',
    ),
  },
);
const query = fuzzQuery(['batch', 'recurse', 'raw'], fc.constantFrom('1', '1', '0', 'true'));

/** A batch entry: mostly valid, sometimes with a key or value the store refuses. */
const entry = fc.record(
  {
    key: fc.oneof(
      { weight: 30, arbitrary: fc.stringMatching(/^[a-z0-9/]{0,6}$/) },
      { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 6 }) },
      { weight: 1, arbitrary: fc.constantFrom('nul\u0000', 'x'.repeat(1030), '..', '/', 12, null) },
    ),
    value: fc.oneof(
      { weight: 30, arbitrary: fc.uint8Array({ maxLength: 20 }).map((b) => Buffer.from(b).toString('base64')) },
      { weight: 10, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
      { weight: 1, arbitrary: fc.constantFrom('aGk', '***', '', 'x'.repeat(30_000)) },
    ),
    content_type: fc.oneof(
      { weight: 10, arbitrary: fc.constantFrom('', 'text/plain') },
      { weight: 1, arbitrary: fc.constantFrom('application/json', 'bad type', 'image/png; x=1') },
    ),
  },
  { requiredKeys: ['key'] },
);
const batchBody = fc.oneof(
  { weight: 8, arbitrary: fc.array(entry, { maxLength: 8 }).map((entries) => JSON.stringify(entries)) },
  { weight: 1, arbitrary: garbageBody.map((body) => body.toString('latin1')) },
);

const single = fc.record({
  kind: fc.constant('single' as const),
  method: fuzzMethod(['GET', 'GET', 'PUT', 'PUT', 'DELETE']),
  path,
  query,
  who,
  junk: junkAuthorization,
  contentType: fuzzContentType(['application/json', 'text/plain', 'application/octet-stream']),
  accept: fuzzAccept,
  body: garbageBody,
});
const batch = fc.record({
  kind: fc.constant('batch' as const),
  // The admin's documents live in a space of its own, not counted here.
  who: who.filter((w) => w !== 'admin'),
  junk: junkAuthorization,
  body: batchBody,
});
/** Requests a kvs client sends: the fuzzing's share that reaches the store and writes. */
const valid = fc.record({
  kind: fc.constant('valid' as const),
  method: fc.constantFrom('GET', 'PUT', 'PUT', 'DELETE'),
  key: fc.array(word, { minLength: 1, maxLength: 3 }).map((parts) => parts.join('/')),
  query: fc.constantFrom('', '', '', '?raw=1', '?recurse=1'),
  json: fc.boolean(),
  body: fc.jsonValue({ maxDepth: 2 }).map((value) => JSON.stringify(value) ?? 'null'),
});
const broken = fc.record({ kind: fc.constant('broken' as const), raw: brokenHttp(path, 'Bearer x') });
const cases = fc.oneof(
  { weight: 8, arbitrary: valid },
  { weight: 8, arbitrary: single },
  { weight: 3, arbitrary: batch },
  { weight: 1, arbitrary: broken },
);
type Generated = typeof cases extends fc.Arbitrary<infer T> ? T : never;

function authorization(w: Who, junk: string | undefined): string | undefined {
  switch (w) {
    case 'own':
    case 'other':
      return tokens[w];
    case 'admin':
      return `Bearer ${TEST_ADMIN_TOKEN}`;
    case 'unscoped':
      return 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJrdnMtZnV6eiJ9.c2lnbmF0dXJl';
    case 'junk':
      return junk;
  }
}

/** Documents PUT under a JSON type with a body that is not JSON: a GET of one answers 500 by design. */
const poisoned = new Set<string>();

function decodedKey(pathAndQuery: string): string | undefined {
  const rawPath = pathAndQuery.split('?')[0] ?? '';
  if (!rawPath.startsWith(BASE)) return undefined;
  try {
    return decodeURIComponent(rawPath.slice(BASE.length));
  } catch {
    return undefined;
  }
}

const isJson = (body: Buffer) => {
  try {
    JSON.parse(body.toString('utf8'));
    return true;
  } catch {
    return false;
  }
};

/** kapi's error answers: Go's `http.Error` (text, nosniff, one line) or an empty body. */
function kopanoShape(reply: FuzzReply): string | undefined {
  if (reply.status < 300 || reply.status === 301) return undefined;
  if (reply.body.length === 0) return undefined;
  if (reply.headers['content-type'] !== TEXT) return `error type ${String(reply.headers['content-type'])}`;
  if (!/^[^\n]*\n$/.test(reply.text)) return `error body ${JSON.stringify(reply.text.slice(0, 100))}`;
  return undefined;
}

/**
 * kapi's own 5xx: 501 (an empty error) for a method other than GET, PUT and DELETE, and 500 for
 * a GET of a document stored under a JSON type that is not JSON (raw=1 and recurse=1 aside).
 */
function designed5xx(reply: FuzzReply, req: FuzzRequest): boolean {
  if (reply.text !== (req.method === 'HEAD' ? '' : '\n')) return false;
  if (reply.status === 501) return !['GET', 'PUT', 'DELETE'].includes(req.method);
  const query = new URLSearchParams(req.path.split('?')[1] ?? '');
  if (reply.status !== 500 || req.method !== 'GET' || query.get('raw') === '1' || query.get('recurse') === '1') {
    return false;
  }
  const w =
    req.headers.authorization === tokens.own ? 'own' : req.headers.authorization === tokens.other ? 'other' : 'admin';
  return poisoned.has(`${w}:${decodedKey(req.path) ?? ''}`);
}

/** How many batches were checked after a success and after a refusal: both must be many. */
const batches = { written: 0, refused: 0 };

function prepare(c: Generated, index: number): FuzzCase {
  if (c.kind === 'broken') return { request: { method: 'GET', path: '/', headers: {}, raw: c.raw } };
  if (c.kind === 'valid') {
    const write = c.method === 'PUT';
    return {
      request: {
        method: c.method,
        path: BASE + c.key + (write ? '' : c.query),
        headers: {
          authorization: tokens.own,
          ...(write ? { 'content-type': c.json ? 'application/json' : 'text/plain' } : {}),
        },
        ...(write ? { body: Buffer.from(c.body) } : {}),
      },
      check: kopanoShape,
    };
  }
  const headers: Record<string, string> = {};
  withHeader(headers, 'authorization', authorization(c.who, c.junk));
  if (c.kind === 'batch') {
    const prefix = `fzb${index}`;
    const entries = (() => {
      try {
        return JSON.parse(c.body) as unknown;
      } catch {
        return undefined;
      }
    })();
    return {
      request: { method: 'PUT', path: `${BASE}${prefix}?batch=1`, headers, body: Buffer.from(c.body, 'latin1') },
      async check(reply) {
        const shape = kopanoShape(reply);
        if (shape !== undefined) return shape;
        const space = c.who === 'own' || c.who === 'other' ? SUBJECTS[c.who] : SUBJECTS.own;
        const stored = await countRecords(gateway.api, { space, collection: 'kvs' }, `${prefix}/`);
        batches[reply.status === 200 ? 'written' : 'refused']++;
        if (reply.status !== 200) return stored === 0n ? undefined : `refused, yet ${stored} entries were written`;
        const keys = Array.isArray(entries)
          ? new Set(entries.map((e) => `${String((e as { key: unknown }).key)}`))
          : new Set();
        return stored === BigInt(keys.size) ? undefined : `${stored} of ${keys.size} entries written`;
      },
    };
  }
  withHeader(headers, 'content-type', c.contentType);
  withHeader(headers, 'accept', c.accept);
  const pathAndQuery = c.path + c.query;
  const sendsBody = c.method !== 'GET' && c.method !== 'HEAD';
  const key = decodedKey(pathAndQuery);
  if (c.method === 'PUT' && key !== undefined && (c.contentType ?? '').includes('json') && !isJson(c.body)) {
    poisoned.add(`${c.who}:${key}`);
  }
  return {
    request: { method: c.method, path: pathAndQuery, headers, ...(sendsBody ? { body: c.body } : {}) },
    check(reply) {
      if (reply.status === 301) return reply.headers.location === undefined ? '301 without Location' : undefined;
      return kopanoShape(reply);
    },
  };
}

it(`answers ${FUZZ_RUNS} generated requests without a failure of its own, and writes batches whole or not at all`, async () => {
  const report = await fuzzRoutes({
    port: gateway.port,
    cases,
    prepare,
    alive: { method: 'GET', path: `${BASE}?recurse=1`, headers: { authorization: tokens.own } },
    designed5xx,
  });
  console.log(`kopano: ${statusLine(report)}; batches ${batches.written} written, ${batches.refused} refused`);
  expect(report.failures).toEqual([]);
  expect(Math.min(batches.written, batches.refused)).toBeGreaterThan(100);
  expect(report.sent).toBeGreaterThanOrEqual(FUZZ_RUNS);
  expect(report.success).toBeGreaterThan(0.3);
}, 120_000);
