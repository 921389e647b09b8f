import fc from 'fast-check';
import { TEST_ADMIN_TOKEN } from '../../support/env';
import {
  brokenHttp,
  countRecords,
  FUZZ_RUNS,
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
 * 10,000 generated requests against the DVID keyvalue dialect (specs/dvid-keyvalue.md): no 5xx,
 * errors as DVID's plain text, and every `POST /keyvalues` (protobuf KeyValues) written whole or
 * not at all. Requests carry no credentials, as DVID clients' don't (the gateway maps them to the
 * admin in the `default` space); some carry junk ones.
 */

let gateway: FuzzGateway;
let root = '';

beforeAll(async () => {
  gateway = await startFuzzGateway({ legacy: { DVID_SPACE: 'default', DVID_ANONYMOUS_TOKEN: TEST_ADMIN_TOKEN } });
  const repo = await rawRequest(gateway.port, 'POST', '/api/repos', { body: '{"alias":"fuzz"}' });
  root = (JSON.parse(repo.text) as { root: string }).root;
  // `batches` (unversioned, so a fuzzed commit cannot lock it) takes only the batch writes, and
  // no fuzzed request lists it: its keys are counted through the record service.
  for (const [name, versioned] of [
    ['kv', true],
    ['flat', false],
    ['batches', false],
  ] as const) {
    const made = await rawRequest(gateway.port, 'POST', `/api/repo/${root}/instance`, {
      body: JSON.stringify({ typename: 'keyvalue', dataname: name, versioned }),
    });
    expect(made.status).toBe(200);
  }
});

afterAll(() => gateway.close());

/** Protobuf wire format, enough for KeyValues { repeated KeyValue kvs = 1 } and Keys { repeated string keys = 1 }. */
function varint(n: number): Buffer {
  const bytes: number[] = [];
  for (let v = n; ; v = Math.floor(v / 128)) {
    if (v < 128) {
      bytes.push(v);
      return Buffer.from(bytes);
    }
    bytes.push((v % 128) | 128);
  }
}
const field = (number: number, bytes: Buffer) =>
  Buffer.concat([varint((number << 3) | 2), varint(bytes.length), bytes]);
const keyValues = (entries: ReadonlyArray<readonly [string, Buffer]>) =>
  Buffer.concat(entries.map(([key, value]) => field(1, Buffer.concat([field(1, Buffer.from(key)), field(2, value)]))));
const keysMessage = (keys: readonly string[]) => Buffer.concat(keys.map((key) => field(1, Buffer.from(key))));

const word = fc.stringMatching(/^[a-c]{1,2}$/);
const uuid = fc.oneof(
  { weight: 8, arbitrary: fc.constant('ROOT') },
  { weight: 2, arbitrary: fc.constantFrom('ROOT6', ':master', 'ffff', '', 'ROOT:x') },
  { weight: 1, arbitrary: fuzzSegment(fc.constant('ROOT')) },
);
const instance = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('kv', 'flat') },
  { weight: 1, arbitrary: fc.constantFrom('missing', 'KV') },
  { weight: 1, arbitrary: fuzzSegment(fc.constant('kv')) },
);
const keyword = fc.oneof(
  { weight: 10, arbitrary: fc.constantFrom('key', 'key', 'keys', 'keyrange', 'keyrangevalues', 'keyvalues') },
  { weight: 2, arbitrary: fc.constantFrom('info', 'tags', 'help', 'log') },
  { weight: 1, arbitrary: fuzzSegment(fc.constant('key')) },
);
const rest = fc.array(fuzzSegment(word), { maxLength: 3 });
const path = fc.oneof(
  {
    weight: 12,
    arbitrary: fc
      .tuple(uuid, instance, keyword, rest)
      .map(([u, i, k, r]) => `/api/node/${u}/${i}/${k}${r.length === 0 ? '' : `/${r.join('/')}`}`),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(uuid, fc.constantFrom('commit', 'status', 'newversion', 'branch', 'tag', 'note', 'log', 'x'))
      .map(([u, a]) => `/api/node/${u}/${a}`),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(uuid, fc.constantFrom('', '/info', '/log', '/instance', '/branch-versions/master', '/branch-versions/'))
      .map(([u, a]) => `/api/repo/${u}${a}`),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '/api/repos',
      '/api/repos/info',
      '/api/server/info',
      '/api/server/types',
      '/api/help',
      '/api/help/keyvalue',
      '/api/help/nothing',
      '/api/heartbeat',
      '/api/load',
      '/api/',
      '/api//node',
      '/api/node/',
    ),
  },
);
const query = fuzzQuery(
  ['json', 'tar', 'jsontar', 'protobuf', 'check', 'replace', 'u', 'app', 'byte_start', 'byte_end'],
  fc.constantFrom('true', 'true', 'false', '0', '3'),
);
const entries = fc.array(
  fc.tuple(
    fc.oneof(
      { weight: 20, arbitrary: fc.stringMatching(/^[a-z0-9/]{1,6}$/) },
      { weight: 1, arbitrary: fc.constantFrom('', 'nul\u0000', 'k'.repeat(2000), '\u00e9\u4e2d') },
    ),
    fc.oneof(
      { weight: 10, arbitrary: fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)) },
      { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => Buffer.from(JSON.stringify(v) ?? 'null')) },
    ),
  ),
  { maxLength: 8 },
);
const body = fc.oneof(
  { weight: 3, arbitrary: entries.map((e) => keyValues(e)) },
  { weight: 2, arbitrary: fc.array(word, { maxLength: 5 }).map((keys) => keysMessage(keys)) },
  { weight: 2, arbitrary: fc.array(word, { maxLength: 5 }).map((keys) => Buffer.from(JSON.stringify(keys))) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('{"alias":"x"}', '{"note":"n"}', '{"log":["a"]}', '{"a":"b"}').map(Buffer.from),
  },
  { weight: 3, arbitrary: garbageBody },
);
const range = fc.constantFrom(
  undefined,
  undefined,
  undefined,
  'bytes=0-3',
  'bytes=-2',
  'bytes=5-1',
  'bytes=a-b',
  'bytes=0-1,3-4',
);

const fuzzed = fc.record({
  kind: fc.constant('fuzzed' as const),
  method: fuzzMethod(['GET', 'GET', 'POST', 'POST', 'DELETE', 'HEAD']),
  path,
  query,
  junk: fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: junkAuthorization }),
  contentType: fc.constantFrom(undefined, 'application/octet-stream', 'application/json', 'text/plain'),
  range,
  body,
});
/** What neuclease and libdvid send: key reads and writes, listings and batch reads on the live instances. */
const valid = fc.record({
  kind: fc.constant('valid' as const),
  method: fc.constantFrom('GET', 'POST', 'POST', 'DELETE', 'KEYS', 'BATCH-GET'),
  instance: fc.constantFrom('kv', 'flat'),
  key: word,
  value: fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
});
/** A batch write of keys unique to the request; sometimes a key the store refuses, sometimes cut short. */
const batch = fc.record({
  kind: fc.constant('batch' as const),
  entries,
  cut: fc.oneof({ weight: 8, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.nat() }),
});
const broken = fc.record({ kind: fc.constant('broken' as const), raw: brokenHttp(path, 'Bearer x') });
const cases = fc.oneof(
  { weight: 7, arbitrary: valid },
  { weight: 9, arbitrary: fuzzed },
  { weight: 3, arbitrary: batch },
  { weight: 1, arbitrary: broken },
);
type Generated = typeof cases extends fc.Arbitrary<infer T> ? T : never;

/** A length that ends inside one of the entries (never on a boundary, where the cut message would still be whole). */
function cutInside(encoded: readonly Buffer[], seed: number): number {
  const total = encoded.reduce((sum, entry) => sum + entry.length, 0);
  const boundaries = new Set(
    encoded.map((_, i) => encoded.slice(0, i + 1).reduce((sum, entry) => sum + entry.length, 0)),
  );
  const cut = seed % total;
  return cut === 0 || boundaries.has(cut) ? cut + 1 : cut;
}

const resolve = (p: string) => p.replaceAll('ROOT6', root.slice(0, 6)).replaceAll('ROOT', root);

/** DVID's errors: plain text ending in a newline (HEAD's without a body). */
function dvidShape(reply: FuzzReply, req: FuzzRequest): string | undefined {
  if (!req.path.startsWith('/api/') || reply.status < 400) return undefined;
  if (req.method === 'HEAD' && reply.body.length === 0) return undefined;
  const type = String(reply.headers['content-type']);
  if (!type.startsWith('text/plain')) return `error type ${type}`;
  return reply.text.endsWith('\n') ? undefined : `error body ${JSON.stringify(reply.text.slice(0, 100))}`;
}

/** How many batches were checked after a success and after a refusal: both must be many. */
const batches = { written: 0, refused: 0 };

function prepare(c: Generated, index: number): FuzzCase {
  if (c.kind === 'broken')
    return {
      request: { method: 'GET', path: '/', headers: {}, raw: Buffer.from(resolve(c.raw.toString('latin1')), 'latin1') },
    };
  if (c.kind === 'valid') {
    const base = `/api/node/${root}/${c.instance}`;
    const request =
      c.method === 'KEYS'
        ? { method: 'GET', path: `${base}/keyrange/a/c`, headers: {} }
        : c.method === 'BATCH-GET'
          ? {
              method: 'GET',
              path: `${base}/keyvalues?json=true`,
              headers: {},
              body: Buffer.from(JSON.stringify([c.key, 'a'])),
            }
          : {
              method: c.method,
              path: `${base}/key/${c.key}`,
              headers: {},
              ...(c.method === 'POST' ? { body: c.value } : {}),
            };
    return { request, check: (reply) => dvidShape(reply, request) };
  }
  if (c.kind === 'batch') {
    const prefix = `b${index}-`;
    const encoded = c.entries.map(([key, value]) => keyValues([[`${prefix}${key}`, value]]));
    const message = Buffer.concat(encoded);
    const sent = c.cut === undefined || message.length === 0 ? message : message.subarray(0, cutInside(encoded, c.cut));
    const request = { method: 'POST', path: `/api/node/${root}/batches/keyvalues`, headers: {}, body: sent };
    return {
      request,
      async check(reply) {
        const shape = dvidShape(reply, request);
        if (shape !== undefined) return shape;
        const stored = await countRecords(gateway.api, { space: 'default', collection: `batches@${root}` }, prefix);
        batches[reply.status === 200 ? 'written' : 'refused']++;
        if (reply.status !== 200) return stored === 0n ? undefined : `refused, yet ${stored} keys were written`;
        if (sent.length < message.length) return `a cut message was acknowledged (${stored} keys written)`;
        const keys = new Set(c.entries.map(([key]) => key));
        return stored === BigInt(keys.size) ? undefined : `${stored} of ${keys.size} keys written`;
      },
    };
  }
  const headers: Record<string, string> = {};
  withHeader(headers, 'authorization', c.junk);
  withHeader(headers, 'content-type', c.contentType);
  withHeader(headers, 'range', c.range);
  const request = {
    method: c.method,
    path: resolve(c.path + c.query),
    headers,
    ...(c.method === 'HEAD' ? {} : { body: c.body }),
  };
  return { request, check: (reply) => dvidShape(reply, request) };
}

it(`answers ${FUZZ_RUNS} generated requests with DVID's errors, and writes each POST /keyvalues whole or not at all`, async () => {
  const report = await fuzzRoutes({
    port: gateway.port,
    cases,
    prepare,
    alive: { method: 'GET', path: '/api/repos/info', headers: {} },
  });
  console.log(`dvid: ${statusLine(report)}; batches ${batches.written} written, ${batches.refused} refused`);
  expect(report.failures).toEqual([]);
  expect(Math.min(batches.written, batches.refused)).toBeGreaterThan(100);
  expect(report.sent).toBeGreaterThanOrEqual(FUZZ_RUNS);
  expect(report.success).toBeGreaterThan(0.3);
}, 120_000);
