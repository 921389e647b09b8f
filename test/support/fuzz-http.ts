import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import fc from 'fast-check';
import { createApp, legacyOptions } from '../../apps/gateway/src';
import { readWireError } from '../../packages/proto/src';
import { silentLogger, startTestApi, type TestApi } from './api';
import { listen, portOf, readReply, type RawReply } from './raw-http';

/**
 * Property-based fuzzing of the gateway's dialects over HTTP (issue 11): 10,000 generated
 * requests per dialect, sent 8 at a time on keep-alive connections, each checked against the
 * invariants every dialect keeps — no 5xx, no stack trace or SQL in an error body, the server
 * still answering afterwards — plus the dialect's own checks (its error shape, and that a
 * multi-record write is all or nothing). The seed is fixed (FUZZ_SEED overrides it) and every
 * failure names it with the request's index, so a failure replays.
 */

export const FUZZ_RUNS = 10_000;
export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20261206);

export interface FuzzGateway {
  readonly api: TestApi;
  readonly app: ReturnType<typeof createApp>;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * A gateway on a free port over a real record service, for fuzzing: failed logins never lock an
 * account or an address here (the fuzzer sends thousands of bad credentials from 127.0.0.1, and
 * the good accounts must keep reaching the store), and bodies up to 1 MiB pass the app.
 */
export async function startFuzzGateway(
  options: { env?: Record<string, string>; legacy?: Parameters<typeof legacyOptions>[0] } = {},
): Promise<FuzzGateway> {
  const api = await startTestApi({
    env: { AUTH_MAX_FAILURES_PER_ACCOUNT: '1000000', AUTH_MAX_FAILURES_PER_ADDRESS: '1000000', ...options.env },
  });
  const app = createApp({
    api,
    logger: silentLogger,
    maxBodyBytes: 1024 * 1024,
    legacy: legacyOptions(options.legacy ?? {}),
  });
  const server = await listen(app);
  return {
    api,
    app,
    port: portOf(server),
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await api.close();
    },
  };
}

/**
 * How many records of a collection start with `prefix`, read through the record service (none
 * when the space or the collection does not exist yet): how the fuzzing checks that a
 * multi-record write was all or nothing.
 */
export async function countRecords(
  api: TestApi,
  collection: { space: string; collection: string; version?: string },
  prefix: string,
): Promise<bigint> {
  try {
    return (await api.records.count({ collection, filter: { prefix } })).count;
  } catch (error) {
    const code = readWireError(error).code;
    if (code === 'COLLECTION_NOT_FOUND' || code === 'SPACE_NOT_FOUND') return 0n;
    throw error;
  }
}

export interface FuzzRequest {
  readonly method: string;
  /** Sent exactly as written: escapes, `..`, `//`, Latin-1 bytes and all. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Buffer;
  /**
   * Bytes written on a fresh socket instead of a request the HTTP client could build: request
   * lines and headers that break HTTP itself (control characters, bad Content-Length, …).
   */
  readonly raw?: Buffer;
}

/** An answer as the raw client reads it. */
export type FuzzReply = RawReply;

/** One generated request and what the dialect checks of its answer (a problem, or undefined when fine). */
export interface FuzzCase {
  readonly request: FuzzRequest;
  check?(reply: FuzzReply): string | undefined | Promise<string | undefined>;
}

export interface FuzzReport {
  readonly sent: number;
  /** Answers by status, e.g. `{ 200: 4120, 400: 3011, … }`. */
  readonly statuses: Readonly<Record<number, number>>;
  /** At most the first 20 problems, each with the seed and index that replay it. */
  readonly failures: readonly string[];
  /** The share of answers that were 2xx. */
  readonly success: number;
  readonly seconds: number;
  /** CPU seconds of this process (client, gateway and record service together) during the run. */
  readonly cpuSeconds: number;
}

/**
 * What an error body must never show: a stack frame, a source path, SQL or a driver's error text.
 * Checked on every 4xx body (success bodies carry stored values, which may be anything).
 */
const LEAK =
  /\n\s+at \S+ \(|\.[jt]s:\d+:\d+|node_modules|\/work\/|\bSELECT\b.+\bFROM\b|\bINSERT INTO\b|\bsyntax error at or near\b|\bviolates (unique|foreign key|check|not-null) constraint\b|\brelation "[^"]+" does not exist\b|\bECONNREFUSED\b|\b(TypeError|ReferenceError|RangeError|SyntaxError): |Cannot read propert/;

const REPLY_TIMEOUT_MS = 10_000;

/** Sends requests to 127.0.0.1:port on up to `concurrency` keep-alive connections. */
export class FuzzSender {
  private readonly agent: Agent;

  constructor(
    private readonly port: number,
    concurrency: number,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  }

  send(req: FuzzRequest): Promise<FuzzReply> {
    return req.raw === undefined ? this.http(req) : this.socket(req.raw);
  }

  close(): void {
    this.agent.destroy();
  }

  private http(req: FuzzRequest): Promise<FuzzReply> {
    const length = req.body === undefined ? {} : { 'content-length': String(req.body.length) };
    return new Promise((resolve, reject) => {
      const out = request(
        {
          host: '127.0.0.1',
          port: this.port,
          method: req.method,
          path: req.path,
          headers: { ...req.headers, ...length },
          agent: this.agent,
          timeout: REPLY_TIMEOUT_MS,
        },
        (res) => void readReply(res).then(resolve, reject),
      );
      out.on('timeout', () => out.destroy(new Error(`no answer within ${REPLY_TIMEOUT_MS} ms`)));
      out.on('error', reject);
      out.end(req.body);
    });
  }

  /**
   * The raw bytes on a fresh connection, read to the server's close (the requests ask for it with
   * `Connection: close`). The socket is not half-closed: Node's server drops a request whose
   * client ends its side before the answer is ready, as no real client does.
   */
  private socket(bytes: Buffer): Promise<FuzzReply> {
    return new Promise((resolve, reject) => {
      const socket = connect(this.port, '127.0.0.1', () => socket.write(bytes));
      const chunks: Buffer[] = [];
      socket.setTimeout(REPLY_TIMEOUT_MS, () => socket.destroy(new Error(`no answer within ${REPLY_TIMEOUT_MS} ms`)));
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('end', () => {
        const all = Buffer.concat(chunks);
        const split = all.indexOf('\r\n\r\n');
        const head = all.subarray(0, split === -1 ? all.length : split).toString('latin1');
        const body = split === -1 ? Buffer.alloc(0) : all.subarray(split + 4);
        const status = /^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1];
        const headers: IncomingHttpHeaders = {};
        for (const line of head.split('\r\n').slice(1)) {
          const colon = line.indexOf(':');
          if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
        }
        resolve({ status: status === undefined ? 0 : Number(status), headers, body, text: body.toString('utf8') });
      });
      socket.on('error', reject);
    });
  }
}

/**
 * Node's HTTP parser refuses what is not HTTP (bytes outside the request-target grammar, headers
 * over 16 KB, bad lengths) before any route runs: a bare 400 or 431 without a body or type.
 */
const refusedByHttp = (reply: FuzzReply) =>
  (reply.status === 400 || reply.status === 431) &&
  reply.body.length === 0 &&
  reply.headers['content-type'] === undefined;

/** The request as one line for a failure message, long parts cut. */
export function describeRequest(req: FuzzRequest): string {
  const cut = (text: string) => (text.length > 200 ? `${text.slice(0, 200)}…(${text.length})` : text);
  if (req.raw !== undefined) return `raw ${JSON.stringify(cut(req.raw.toString('latin1')))}`;
  const body = req.body === undefined ? '' : ` body ${JSON.stringify(cut(req.body.toString('latin1')))}`;
  return `${req.method} ${cut(req.path)} ${JSON.stringify(req.headers, (_, v: unknown) => (typeof v === 'string' ? cut(v) : v))}${body}`;
}

/**
 * Generates `runs` cases from `cases` (with the fixed seed), turns each into a request with
 * `prepare` (given its index, for keys unique to the request), sends them `concurrency` at a
 * time and checks every answer: a status below 500 (the backends are up, so a 503 fails too),
 * no leak in an error body, then the case's own check. Afterwards `alive` must still answer 2xx.
 */
export async function fuzzRoutes<C>(options: {
  readonly port: number;
  readonly cases: fc.Arbitrary<C>;
  readonly prepare: (generated: C, index: number) => FuzzCase;
  /** A request the server answers with 2xx when it is well: sent after the run. */
  readonly alive: FuzzRequest;
  /**
   * Whether a 5xx is one the dialect's specification prescribes (Kopano's 501 for unknown
   * methods, say): those pass, and are counted under their status like any other answer.
   */
  readonly designed5xx?: (reply: FuzzReply, req: FuzzRequest) => boolean;
  readonly runs?: number;
  readonly seed?: number;
  readonly concurrency?: number;
}): Promise<FuzzReport> {
  const runs = options.runs ?? FUZZ_RUNS;
  const seed = options.seed ?? FUZZ_SEED;
  const concurrency = options.concurrency ?? 8;
  const started = Date.now();
  const cpu = process.cpuUsage();
  const generated = fc.sample(options.cases, { numRuns: runs, seed });
  const sender = new FuzzSender(options.port, concurrency);
  const statuses: Record<number, number> = {};
  const failures: string[] = [];
  let sent = 0;
  let next = 0;
  const fail = (index: number, req: FuzzRequest, problem: string) => {
    if (failures.length < 20) failures.push(`seed ${seed} #${index}: ${problem} — ${describeRequest(req)}`);
  };
  const lane = async () => {
    for (let index = next++; index < generated.length; index = next++) {
      const fuzzCase = options.prepare(generated[index] as C, index);
      const req = fuzzCase.request;
      let reply: FuzzReply;
      try {
        reply = await sender.send(req);
      } catch (error) {
        fail(index, req, `no answer (${String(error)})`);
        continue;
      }
      sent++;
      statuses[reply.status] = (statuses[reply.status] ?? 0) + 1;
      if (reply.status < 100 || (reply.status >= 500 && options.designed5xx?.(reply, req) !== true)) {
        fail(index, req, `answered ${reply.status}: ${reply.text.slice(0, 300)}`);
        continue;
      }
      if (reply.status >= 400 && LEAK.test(reply.text)) {
        fail(index, req, `error body leaks internals: ${reply.text.slice(0, 300)}`);
        continue;
      }
      if (refusedByHttp(reply)) continue;
      try {
        const problem = await fuzzCase.check?.(reply);
        if (problem !== undefined) fail(index, req, `answered ${reply.status}: ${problem}`);
      } catch (error) {
        fail(index, req, `answered ${reply.status}, and its check failed: ${String(error)}`);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, lane));
    const after = await sender.send(options.alive);
    if (after.status < 200 || after.status >= 300) {
      failures.push(`after the run, ${describeRequest(options.alive)} answered ${after.status}`);
    }
  } finally {
    sender.close();
  }
  const ok = Object.entries(statuses).reduce((sum, [status, n]) => (Number(status) < 300 ? sum + n : sum), 0);
  return {
    sent,
    statuses,
    failures,
    success: sent === 0 ? 0 : ok / sent,
    seconds: (Date.now() - started) / 1000,
    cpuSeconds: (({ user, system }) => (user + system) / 1e6)(process.cpuUsage(cpu)),
  };
}

/** `200×4120 400×3011 …`, for the test's output. */
export const statusLine = (report: FuzzReport): string =>
  `${report.sent} requests: ${Object.entries(report.statuses)
    .map(([status, n]) => `${status}×${n}`)
    .join(' ')} in ${report.seconds.toFixed(1)} s (${report.cpuSeconds.toFixed(1)} s of CPU)`;

// Building blocks of the dialects' request arbitraries.

/** Methods, mostly the dialects' own, sometimes ones no route knows (HTTP's and WebDAV's). */
export const fuzzMethod = (main: readonly string[]): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 12, arbitrary: fc.constantFrom(...main) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        'GET',
        'PUT',
        'POST',
        'DELETE',
        'HEAD',
        'PATCH',
        'OPTIONS',
        'TRACE',
        'PROPFIND',
        'MKCOL',
        'PURGE',
        'LOCK',
        'SEARCH',
        'REPORT',
      ),
    },
  );

/** Percent-encodings the dialects must refuse or take literally: malformed, overlong, NUL, dot segments. */
export const BAD_ESCAPES = [
  '%',
  '%z',
  '%zz',
  '%FF',
  '%C3',
  '%C3%28',
  '%E2%82',
  '%C0%AF',
  '%ED%A0%80',
  '%00',
  '%2F',
  '%2f',
  '%5C',
  '%2E%2E',
  '%2e',
  '..',
  '.',
  '',
  '%20',
  '+',
  ';x=1',
  '\u00e9',
  '\u00ff',
] as const;

/**
 * One path segment: mostly (3 in 4) a short ordinary word from `words`, else unicode
 * (percent-encoded), bad escapes, RFC 3986 punctuation, or a long run (up to a few KB; about one
 * in a hundred over the 16 KB header limit).
 */
export const fuzzSegment = (words: fc.Arbitrary<string>): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 80, arbitrary: words },
    { weight: 8, arbitrary: fc.string({ unit: 'grapheme', maxLength: 10 }).map(encodeURIComponent) },
    { weight: 6, arbitrary: fc.constantFrom(...BAD_ESCAPES) },
    { weight: 4, arbitrary: fc.stringMatching(/^[A-Za-z0-9%._~!$&'()*+,;=:@-]{0,12}$/) },
    { weight: 4, arbitrary: fc.tuple(words, fc.constantFrom(...BAD_ESCAPES)).map(([w, e]) => `${w}${e}${w}`) },
    { weight: 2, arbitrary: fc.integer({ min: 200, max: 4000 }).map((n) => 'k'.repeat(n)) },
    { weight: 1, arbitrary: fc.constant('x'.repeat(17_000)) },
  );

/** A query string: none, or known and unknown names (duplicated at times) with odd values. */
export const fuzzQuery = (
  names: readonly string[],
  values: fc.Arbitrary<string> = fc.constant(''),
): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constant('') },
    {
      weight: 4,
      arbitrary: fc
        .array(
          fc.tuple(
            fc.oneof(
              { weight: 6, arbitrary: fc.constantFrom(...names) },
              { weight: 1, arbitrary: fc.constantFrom('x', '', '%zz', 'a[b]', '__proto__', 'constructor') },
            ),
            fc.option(
              fc.oneof(
                { weight: 4, arbitrary: values },
                {
                  weight: 3,
                  arbitrary: fc.constantFrom(
                    '1',
                    '0',
                    '-1',
                    'true',
                    'false',
                    'NaN',
                    '1e309',
                    '0x10',
                    '1.5',
                    '%201',
                    '+1',
                    '99999999999999999999999',
                    '%zz',
                    '%FF',
                    '%00',
                  ),
                },
                { weight: 1, arbitrary: fc.string({ maxLength: 12 }).map(encodeURIComponent) },
                { weight: 1, arbitrary: fc.constant('q'.repeat(3000)) },
              ),
              { freq: 8 },
            ),
          ),
          { minLength: 1, maxLength: 4 },
        )
        .map((pairs) => `?${pairs.map(([k, v]) => (v === null ? k : `${k}=${v}`)).join('&')}`),
    },
  );

/** Content types: JSON (sometimes with odd parameters), text, form, binary, and malformed ones. */
export const fuzzContentType = (main: readonly string[]): fc.Arbitrary<string | undefined> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...main) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        undefined,
        'text/plain',
        'application/json; charset=utf-8',
        'application/json; charset=latin1',
        'application/octet-stream',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/json; charset="x',
        'no type',
        '',
        '*/*',
        'application/json, text/plain',
      ),
    },
  );

export const fuzzAccept: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 4, arbitrary: fc.constant(undefined) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '*/*',
      'application/json',
      'text/plain',
      'text/html',
      'image/png',
      'application/json;q=0',
      'text/*;q=0.5, */*;q=0.1',
      'application/x-ndjson',
      ';;;',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }).filter(headerSafe) },
);

/** Whether Node's HTTP client would send this as a header value. */
export function headerSafe(value: string): boolean {
  return /^[\t\x20-\x7e\x80-\xff]*$/.test(value) && value.trim() === value;
}

/** Garbage and edge bodies: random bytes, random JSON, empty, deep nesting, a few hundred KB. */
export const garbageBody: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 12, arbitrary: fc.uint8Array({ maxLength: 80 }).map((bytes) => Buffer.from(bytes)) },
  { weight: 12, arbitrary: fc.json({ maxDepth: 3 }).map((text) => Buffer.from(text)) },
  { weight: 6, arbitrary: fc.constant(Buffer.alloc(0)) },
  { weight: 3, arbitrary: fc.string({ maxLength: 40 }).map((text) => Buffer.from(text)) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      Buffer.from('['.repeat(5000) + ']'.repeat(5000)),
      Buffer.from('{"a":'.repeat(3000) + '1' + '}'.repeat(3000)),
      Buffer.from('{"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}}}'),
      Buffer.from('\ufeff{}'),
      Buffer.from('null'),
      Buffer.from('"\\ud800"'),
    ),
  },
  { weight: 1, arbitrary: fc.constant(Buffer.alloc(300_000, 'a')) },
);

/**
 * Raw requests that break HTTP/1.1 itself: control characters and spaces in the target, NUL in
 * headers, bad or doubled Content-Length, bad chunked encoding, obsolete line folding.
 */
export const brokenHttp = (paths: fc.Arbitrary<string>, auth: string): fc.Arbitrary<Buffer> =>
  fc
    .tuple(
      paths,
      fc.constantFrom(
        (p: string) => `GET ${p}\u0000x HTTP/1.1\r\nHost: x\r\n\r\n`,
        (p: string) => `GET ${p} with spaces HTTP/1.1\r\nHost: x\r\n\r\n`,
        (p: string) => `GET ${p}/\u00e9\u4e2d HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth}\r\n\r\n`,
        (p: string) => `PUT ${p} HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth}\r\nContent-Length: abc\r\n\r\nhello`,
        (p: string) =>
          `PUT ${p} HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth}\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nhello`,
        (p: string) =>
          `POST ${p} HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n`,
        (p: string) =>
          `POST ${p} HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth}\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
        (p: string) => `GET ${p} HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n`,
        (p: string) => `GET ${p} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \u0000\u0001\r\n\r\n`,
        (p: string) => `GET ${p} HTTP/1.1\r\nHost: x\r\nBad Header: x\r\n\r\n`,
        (p: string) => `GET ${p} HTTP/9.9\r\nHost: x\r\n\r\n`,
        (p: string) => `G\u00c9T ${p} HTTP/1.1\r\nHost: x\r\n\r\n`,
        (p: string) =>
          `GET ${p} HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth}\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nnope`,
      ),
    )
    .map(([path, build]) =>
      Buffer.from(build(path).replace('Host: x\r\n', 'Host: x\r\nConnection: close\r\n'), 'latin1'),
    );

/** Basic credentials as an Authorization value. */
export const basicAuth = (user: string, password: string): string =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** Authorization values no dialect accepts: malformed schemes, junk tokens, forged JWTs, odd bytes. */
export const junkAuthorization: fc.Arbitrary<string | undefined> = fc.oneof(
  fc.constantFrom(
    undefined,
    '',
    'Bearer',
    'Bearer ',
    'Basic',
    'Basic %%%',
    'Basic ' + Buffer.from('no-colon').toString('base64'),
    'Bearer rst_not-a-token-000000000000',
    'Bearer a.b.c',
    'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.',
    'bearer x',
    'Digest username="x"',
    'Bearer ' + 'x'.repeat(5000),
  ),
  fc.string({ maxLength: 30 }).filter(headerSafe),
  fc.string({ maxLength: 30 }).map((text) => `Basic ${Buffer.from(text).toString('base64')}`),
);

/** Sets a header when the value is defined. */
export function withHeader(
  headers: Record<string, string>,
  name: string,
  value: string | undefined,
): Record<string, string> {
  if (value !== undefined) headers[name] = value;
  return headers;
}
