import type { IncomingMessage, ServerResponse } from 'node:http';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import type { RecordApi, ServerLimits } from '../../apps/gateway/src';
import { startTelemetry, type Telemetry } from '../../packages/platform/src';
import type { TestApi } from '../support/api';
import { TEST_ADMIN_TOKEN } from '../support/env';
import { expectEventually } from '../support/expect-eventually';
import { startLiveGateway, type LiveGateway } from '../support/live-gateway';

/**
 * Slow and misbehaving clients against an in-process gateway on a real record service, over raw
 * sockets: slowloris headers and trickled bodies are cut by the server's timeouts while others
 * are answered; a reader that stops reading a large listing holds a bounded buffer and is cut
 * after the stall limit, closing its scan of the record service; streams past the caps (per
 * client address, then global) are refused in each dialect's shape with Retry-After.
 */

const LIMITS: ServerLimits = {
  headersTimeoutMs: 1000,
  requestTimeoutMs: 1500,
  keepAliveTimeoutMs: 500,
  maxInflight: 1024,
  maxEventLoopDelayMs: 0,
  streamStallMs: 1000,
  maxStreams: 4,
  maxStreamsPerClient: 2,
};
const SPACE = 'default';
const BIG = 'slowread';
const RECORDS = 2000;
const VALUE_BYTES = 8 * 1024;
const AUTH = `Bearer ${TEST_ADMIN_TOKEN}`;
const SMALL_RECORD = `/v1/spaces/${SPACE}/collections/small/records/one`;

let telemetry: Telemetry;
let gateway: LiveGateway;
let port: number;
/** Scans of the record service still open, and the value bytes the gateway pulled from them. */
const scans = { open: 0, pulledBytes: 0 };

/** The api with its scans counted: how many are open, how much they delivered. */
function countingScans(api: TestApi): RecordApi {
  const records = new Proxy(api.records, {
    get(target, property, receiver) {
      if (property !== 'scan') return Reflect.get(target, property, receiver) as unknown;
      return (...args: Parameters<TestApi['records']['scan']>) => {
        const stream = target.scan(...args);
        return (async function* () {
          scans.open += 1;
          try {
            for await (const chunk of stream) {
              for (const record of chunk.records) scans.pulledBytes += record.value.byteLength;
              yield chunk;
            }
          } finally {
            scans.open -= 1;
          }
        })();
      };
    },
  });
  return { ...api, records };
}

beforeAll(async () => {
  telemetry = startTelemetry({ service: 'gateway-slow-clients-test', env: {} });
  gateway = await startLiveGateway({ limits: LIMITS, wrap: countingScans });
  port = (gateway.http.server.address() as AddressInfo).port;
  const { api } = gateway;
  for (const collection of [BIG, 'small'])
    await api.collections.createCollection({ collection: { space: SPACE, collection } });
  const value = new Uint8Array(VALUE_BYTES).fill(120);
  for (let i = 0; i < RECORDS; i += 250) {
    await api.records.batchPut({
      collection: { space: SPACE, collection: BIG },
      entries: Array.from({ length: 250 }, (_, j) => ({ key: `k${String(i + j).padStart(5, '0')}`, value })),
      omitRecords: true,
    });
  }
  await api.records.putRecord({
    collection: { space: SPACE, collection: 'small' },
    key: 'one',
    value: value.slice(0, 10),
  });
  // The first request verifies the token: later ones measure the server, not that.
  expect((await timedGet(SMALL_RECORD)).status).toBe(200);
}, 30_000);

afterAll(async () => {
  await gateway.close();
  await telemetry.shutdown();
});

/** A counter's value in the scrape: the series of `name` whose labels include `labels` (0 before the first). */
async function counterValue(name: string, labels = ''): Promise<number> {
  const sample = new RegExp(`^${name}(?:\\{[^}]*${labels}[^}]*\\})? (\\S+)`, 'm').exec(await telemetry.scrape());
  return sample === null ? 0 : Number(sample[1]);
}

/** A raw connection to the gateway (from `localAddress`, any loopback address). */
async function rawSocket(localAddress = '127.0.0.1'): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port, localAddress });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return socket;
}

/** Everything a socket receives until the server closes it, and how long that took. */
function untilClosed(socket: Socket): Promise<{ text: string; ms: number }> {
  const start = performance.now();
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  return new Promise((resolve) => {
    socket.once('close', () =>
      resolve({ text: Buffer.concat(chunks).toString('latin1'), ms: performance.now() - start }),
    );
  });
}

/** A well-behaved GET: its status and how long it took. */
async function timedGet(path: string): Promise<{ status: number; ms: number }> {
  const start = performance.now();
  const res = await fetch(`${gateway.http.url}${path}`, { headers: { authorization: AUTH } });
  await res.arrayBuffer();
  return { status: res.status, ms: performance.now() - start };
}

describe('slowloris', () => {
  it('cuts clients whose headers trickle in, and answers others promptly while 120 of them are open', async () => {
    const sockets = await Promise.all(Array.from({ length: 120 }, () => rawSocket()));
    const closed = sockets.map((socket) => untilClosed(socket));
    for (const socket of sockets) socket.write(`GET ${SMALL_RECORD} HTTP/1.1\r\nHost: gateway\r\n`);
    const header = 'X-Slow: abcdefghijklmnopqrstuvwxyz\r\n';
    let sent = 0;
    const trickle = setInterval(() => {
      const byte = header[sent % header.length] ?? 'x';
      sent += 1;
      for (const socket of sockets) if (!socket.destroyed) socket.write(byte);
    }, 100);
    try {
      const normal = await timedGet(SMALL_RECORD);
      expect(normal.status).toBe(200);
      expect(normal.ms).toBeLessThan(800);
      // Answered while the slow clients were still connected.
      expect(sockets.filter((socket) => !socket.destroyed).length).toBeGreaterThanOrEqual(100);
      const results = await Promise.all(closed);
      for (const { text, ms } of results) {
        expect(text === '' || text.startsWith('HTTP/1.1 408')).toBe(true);
        expect(ms).toBeLessThan(LIMITS.headersTimeoutMs + 1500);
      }
      expect(results.some(({ text }) => text.startsWith('HTTP/1.1 408'))).toBe(true);
    } finally {
      clearInterval(trickle);
      for (const socket of sockets) socket.destroy();
    }
  }, 10_000);

  it('cuts an upload whose body trickles in past the request timeout', async () => {
    const socket = await rawSocket();
    const closed = untilClosed(socket);
    socket.write(
      `PUT /v1/spaces/${SPACE}/collections/small/records/trickled HTTP/1.1\r\nHost: gateway\r\n` +
        `Authorization: ${AUTH}\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n`,
    );
    const trickle = setInterval(() => {
      if (!socket.destroyed) socket.write('x');
    }, 100);
    try {
      const { text, ms } = await closed;
      expect(text.startsWith('HTTP/1.1 408')).toBe(true);
      expect(ms).toBeLessThan(LIMITS.requestTimeoutMs + 1500);
    } finally {
      clearInterval(trickle);
    }
    const stored = await timedGet(`/v1/spaces/${SPACE}/collections/small/records/trickled`);
    expect(stored.status).toBe(404);
  });

  it('closes an idle keep-alive connection after the keep-alive timeout', async () => {
    const socket = await rawSocket();
    const closed = untilClosed(socket);
    socket.write(`GET ${SMALL_RECORD} HTTP/1.1\r\nHost: gateway\r\nAuthorization: ${AUTH}\r\n\r\n`);
    const { text, ms } = await closed;
    expect(text.startsWith('HTTP/1.1 200')).toBe(true);
    // Node keeps an idle connection a second longer than the Keep-Alive header it announces.
    expect(text).toContain('Keep-Alive: timeout=0');
    expect(ms).toBeGreaterThanOrEqual(LIMITS.keepAliveTimeoutMs - 50);
    expect(ms).toBeLessThan(LIMITS.keepAliveTimeoutMs + 2500);
  });
});

describe('a reader that stops reading', () => {
  it('holds a bounded buffer, is cut after the stall limit and its scan closed, while others are served', async () => {
    let response: ServerResponse | undefined;
    const capture = (req: IncomingMessage, res: ServerResponse) => {
      if (req.url?.includes(`/collections/${BIG}/records`) === true) response = res;
    };
    gateway.http.server.on('request', capture);
    const stallsBefore = await counterValue('rosetta_gateway_stream_stalls_total');
    const socket = await rawSocket();
    scans.pulledBytes = 0;
    try {
      socket.write(
        `GET /v1/spaces/${SPACE}/collections/${BIG}/records?limit=${RECORDS} HTTP/1.1\r\n` +
          `Host: gateway\r\nAuthorization: ${AUTH}\r\n\r\n`,
      );
      const first = await new Promise<Buffer>((resolve) => socket.once('data', resolve));
      expect(first.toString('latin1').startsWith('HTTP/1.1 200')).toBe(true);
      socket.pause();
      const res = await expectEventually(() => {
        expect(response).toBeDefined();
        return response as ServerResponse;
      });
      const closed = new Promise<number>((resolve) => {
        const start = performance.now();
        res.once('close', () => resolve(performance.now() - start));
      });
      // While it stalls, its buffered bytes stay under a chunk or two and others are answered.
      let largest = 0;
      const sample = setInterval(() => {
        largest = Math.max(largest, res.socket?.writableLength ?? 0);
      }, 20);
      const other = await timedGet(SMALL_RECORD);
      expect(other.status).toBe(200);
      expect(other.ms).toBeLessThan(800);
      const stalledFor = await closed;
      clearInterval(sample);
      expect(stalledFor).toBeLessThan(LIMITS.streamStallMs + 1500);
      expect(largest).toBeLessThan(4 * 1024 * 1024);
      expect(scans.pulledBytes).toBeLessThan((RECORDS * VALUE_BYTES) / 2);
      await expectEventually(() => expect(scans.open).toBe(0));
      expect(await counterValue('rosetta_gateway_stream_stalls_total')).toBe(stallsBefore + 1);
    } finally {
      gateway.http.server.off('request', capture);
      socket.destroy();
    }
    const after = await timedGet(`/v1/spaces/${SPACE}/collections/${BIG}/records?limit=10&keysOnly=true`);
    expect(after.status).toBe(200);
  }, 10_000);
});

describe('caps on open streams', () => {
  /** An SSE change stream from `localAddress`, open until aborted: its status and headers. */
  function openEvents(localAddress: string) {
    const controller = new AbortController();
    const response = new Promise<IncomingMessage>((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port,
          localAddress,
          agent: false,
          path: `/v1/spaces/${SPACE}/collections/small/changes`,
          headers: { authorization: AUTH, accept: 'text/event-stream' },
          signal: controller.signal,
        },
        (res) => {
          res.resume();
          resolve(res);
        },
      );
      req.on('error', reject);
      req.end();
    });
    return {
      response,
      close: () => {
        controller.abort();
      },
    };
  }

  it('refuses streams past the per-client cap with 429 and past the global cap with 503, in the dialect shape', async () => {
    const refusedBefore = await counterValue('rosetta_gateway_shed_total', 'reason="client_streams"');
    const held = [openEvents('127.0.0.1'), openEvents('127.0.0.1')];
    try {
      for (const stream of held) expect((await stream.response).statusCode).toBe(200);
      const third = openEvents('127.0.0.1');
      const refused = await third.response;
      expect(refused.statusCode).toBe(429);
      expect(refused.headers['retry-after']).toBe('1');
      expect(await counterValue('rosetta_gateway_shed_total', 'reason="client_streams"')).toBe(refusedBefore + 1);
      // A long-poll that waits counts as a stream; one that answers at once does not.
      const poll = await fetchFrom('127.0.0.1', `/v1/spaces/${SPACE}/collections/small/changes?since=0&wait=1s`);
      expect(poll.status).toBe(429);
      expect(JSON.parse(poll.text)).toMatchObject({ error: { code: 'RATE_LIMITED' } });
      const now = await fetchFrom('127.0.0.1', `/v1/spaces/${SPACE}/collections/small/changes`);
      expect(now.status).toBe(200);
      // Another address still has its own slots, up to the global cap.
      held.push(openEvents('127.0.0.2'), openEvents('127.0.0.2'));
      for (const stream of held.slice(2)) expect((await stream.response).statusCode).toBe(200);
      const overGlobal = await fetchFrom('127.0.0.3', `/v1/spaces/${SPACE}/collections/${BIG}/records?limit=5`);
      expect(overGlobal.status).toBe(503);
      expect(overGlobal.headers['retry-after']).toBe('1');
      expect(JSON.parse(overGlobal.text)).toMatchObject({ error: { code: 'UNAVAILABLE' } });
      // OpenFn renders the refusal its own way, with the same Retry-After.
      const openfn = await fetchFrom('127.0.0.3', `/collections/${BIG}`);
      expect(openfn.status).toBe(503);
      expect(openfn.headers['retry-after']).toBe('1');
      // Requests that are not streams are not held up by the cap.
      const plain = await timedGet(SMALL_RECORD);
      expect(plain.status).toBe(200);
      // Once a stream ends, its slot is free again.
      held.shift()?.close();
      await expectEventually(async () => {
        const listing = await fetchFrom('127.0.0.1', `/v1/spaces/${SPACE}/collections/${BIG}/records?limit=5`);
        expect(listing.status).toBe(200);
      });
    } finally {
      for (const stream of held) stream.close();
    }
  });

  it('counts WebSockets against the same caps, refusing the handshake past them, and frees a slot on close', async () => {
    /** A GraphQL WebSocket from `localAddress`: open (101), or the refused handshake's status and headers. */
    const socket = (localAddress: string) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/graphql`, 'graphql-transport-ws', { localAddress });
      ws.on('error', () => undefined);
      const opened = new Promise<{ status: number; retryAfter?: string | string[]; body: string }>((resolve) => {
        ws.on('open', () => resolve({ status: 101, body: '' }));
        ws.on('unexpected-response', (_req, res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], body }));
        });
      });
      return { ws, opened };
    };
    const refusedBefore = await counterValue('rosetta_gateway_shed_total', 'reason="client_streams"');
    const sockets = [socket('127.0.0.4'), socket('127.0.0.4')];
    try {
      for (const { opened } of sockets) expect((await opened).status).toBe(101);
      // A third from the same address, WebSocket or SSE, is over its cap.
      const third = socket('127.0.0.4');
      sockets.push(third);
      expect(await third.opened).toEqual({
        status: 429,
        retryAfter: '1',
        body: expect.stringContaining('"code":"RATE_LIMITED"') as unknown as string,
      });
      const events = await fetchFrom('127.0.0.4', `/v1/spaces/${SPACE}/collections/small/changes?since=0&wait=1s`);
      expect(events.status).toBe(429);
      expect(await counterValue('rosetta_gateway_shed_total', 'reason="client_streams"')).toBe(refusedBefore + 2);
      // Closing one frees its slot.
      sockets[0]?.ws.close();
      await expectEventually(async () => {
        const next = socket('127.0.0.4');
        sockets.push(next);
        expect((await next.opened).status).toBe(101);
      });
    } finally {
      for (const { ws } of sockets) ws.terminate();
    }
  });
});

/** A GET from a given loopback address: status, headers and body. */
function fetchFrom(localAddress: string, path: string) {
  return new Promise<{ status: number; headers: IncomingMessage['headers']; text: string }>((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, localAddress, agent: false, path, headers: { authorization: AUTH } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString() }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}
