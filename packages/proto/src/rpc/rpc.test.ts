import http2 from 'node:http2';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Code, ConnectError, createClient, type ServiceImpl, type Transport } from '@connectrpc/connect';
import { connectNodeAdapter, createConnectTransport, createGrpcTransport } from '@connectrpc/connect-node';
import { readWireError, wireError } from '../errors';
import { RecordService } from '../gen/rosetta/v1/records_pb';
import { createRpcTransport, type RpcTransport } from './client';
import { bind, createUnaryFastPath } from './server';
import { CONNECTION_WINDOW_BYTES, UNARY_STREAM_WINDOW_BYTES, widenConnectionWindow } from './windows';

/**
 * The lean unary path speaks the Connect protocol: our client works against Connect's own
 * server, Connect's clients (Connect and gRPC) work against our server, and errors, streams,
 * deadlines and cancellation behave the same on every combination.
 */

let fastCalls = 0;
const WIDE_MESSAGES = 4;
const WIDE_BYTES = 100_000;

const impl: Partial<ServiceImpl<typeof RecordService>> = {
  async getRecord(req, context) {
    if (req.key === 'missing') throw wireError(Code.NotFound, 'KEY_NOT_FOUND', 'no such key');
    if (req.key === 'big') return { record: { key: 'big', value: Buffer.alloc(2048) } };
    if (req.key === 'slow') {
      // Waits until the call is over for the caller (deadline or cancellation).
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, 2000);
        context.signal.addEventListener('abort', () => resolve(clearTimeout(timer)));
      });
      return {};
    }
    if (req.key === 'boom') throw new Error('a bug');
    return { record: { key: req.key, value: Buffer.from(`value of ${req.key}`), revision: 7n } };
  },
  async *scan(req) {
    if (req.filter?.prefix === 'wide') {
      // More than a stream's window, in messages of more than the default connection window.
      for (let i = 0; i < WIDE_MESSAGES; i++) {
        yield { records: [{ key: `wide${i}`, value: Buffer.alloc(WIDE_BYTES) }], done: i === WIDE_MESSAGES - 1 };
      }
      return;
    }
    for (let i = 0; i < 3; i++) yield { records: [{ key: `${req.filter?.prefix ?? ''}${i}` }], done: i === 2 };
  },
};

const sessions = new Map<http2.Http2Server, Set<http2.ServerHttp2Session>>();

async function listen(handler: (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void) {
  const server = http2.createServer(handler);
  const open = new Set<http2.ServerHttp2Session>();
  sessions.set(server, open);
  server.on('session', (session) => {
    open.add(session);
    session.once('close', () => open.delete(session));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const connectHandler = connectNodeAdapter({
  routes: (router) => router.service(RecordService, impl as ServiceImpl<typeof RecordService>),
});
const fastPath = createUnaryFastPath([bind(RecordService, impl as ServiceImpl<typeof RecordService>)], {
  maxMessageBytes: 1024 * 1024,
});

let ours: { server: http2.Http2Server; url: string };
let theirs: { server: http2.Http2Server; url: string };
const transports: RpcTransport[] = [];

beforeAll(async () => {
  ours = await listen((req, res) => {
    if (fastPath(req, res)) fastCalls++;
    else connectHandler(req, res);
  });
  theirs = await listen(connectHandler);
});

afterAll(async () => {
  transports.forEach((t) => t.close());
  for (const { server } of [ours, theirs]) {
    const closed = once(server, 'close');
    for (const session of sessions.get(server) ?? []) session.close();
    server.close();
    await closed;
  }
});

function lean(url: string, maxMessageBytes = 1024 * 1024): Transport {
  const transport = createRpcTransport({ baseUrl: url, defaultTimeoutMs: 1000, maxMessageBytes });
  transports.push(transport);
  return transport;
}

describe.each([
  ['our client → our server', () => lean(ours.url), true],
  ['our client → Connect’s server', () => lean(theirs.url), false],
  [
    'Connect’s client → our server',
    () => createConnectTransport({ httpVersion: '2', baseUrl: ours.url, useBinaryFormat: true }),
    true,
  ],
  ['gRPC client → our server', () => createGrpcTransport({ baseUrl: ours.url }), false],
])('%s', (_, makeTransport, fast) => {
  const client = () => createClient(RecordService, makeTransport());

  it('answers unary calls', async () => {
    const before = fastCalls;
    const { record } = await client().getRecord({ key: 'k1' });
    expect(record?.key).toBe('k1');
    expect(Buffer.from(record?.value ?? []).toString()).toBe('value of k1');
    expect(record?.revision).toBe(7n);
    expect(fastCalls - before).toBe(fast ? 1 : 0);
  });

  it('carries the domain error code and message', async () => {
    const error = await client()
      .getRecord({ key: 'missing' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectError);
    expect(readWireError(error)).toEqual({
      code: 'KEY_NOT_FOUND',
      publicMessage: 'no such key',
      connectCode: Code.NotFound,
    });
  });

  it('turns an unexpected failure into an internal error', async () => {
    const error = await client()
      .getRecord({ key: 'boom' })
      .catch((e: unknown) => e);
    expect(ConnectError.from(error).code).toBe(Code.Internal);
  });

  it('streams', async () => {
    const keys: string[] = [];
    for await (const chunk of client().scan({ filter: { prefix: 'p' } })) keys.push(...chunk.records.map((r) => r.key));
    expect(keys).toEqual(['p0', 'p1', 'p2']);
  });

  it('gives up at the deadline', async () => {
    const error = await client()
      .getRecord({ key: 'slow' }, { timeoutMs: 100 })
      .catch((e: unknown) => e);
    expect(ConnectError.from(error).code).toBe(Code.DeadlineExceeded);
  });

  it('can be cancelled', async () => {
    const controller = new AbortController();
    const call = client().getRecord({ key: 'slow' }, { signal: controller.signal });
    // An explicit reason: Jest's realm has its own DOMException, which Connect's clients would
    // not recognize as an abort.
    setTimeout(() => controller.abort(new ConnectError('stopped', Code.Canceled)), 50);
    expect(ConnectError.from(await call.catch((e: unknown) => e)).code).toBe(Code.Canceled);
  });
});

describe('our client', () => {
  it('refuses a response larger than its limit', async () => {
    const error = await createClient(RecordService, lean(ours.url, 1024))
      .getRecord({ key: 'big' })
      .catch((e: unknown) => e);
    expect(ConnectError.from(error).code).toBe(Code.ResourceExhausted);
  });

  it('reconnects after the server drops the connection', async () => {
    const transport = lean(ours.url);
    const client = createClient(RecordService, transport);
    await client.getRecord({ key: 'a' });
    for (const session of sessions.get(ours.server) ?? []) session.destroy();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const { record } = await client.getRecord({ key: 'b' });
    expect(record?.key).toBe('b');
  });

  it('opens its connections with wide receive windows (./windows.ts)', async () => {
    const before = new Set(sessions.get(ours.server));
    const client = createClient(RecordService, lean(ours.url));
    await client.getRecord({ key: 'k' });
    for await (const chunk of client.scan({ filter: { prefix: 'wide' } })) expect(chunk.records).toHaveLength(1);
    // What the server may send: the client's windows, as its sessions see them.
    const opened = [...(sessions.get(ours.server) ?? [])].filter((session) => !before.has(session));
    const windows = opened.map((session) => ({
      connection: (session.state.remoteWindowSize ?? 0) > CONNECTION_WINDOW_BYTES / 2,
      stream: session.remoteSettings.initialWindowSize,
    }));
    // The unary session reads messages whole; the scans' session keeps the default per stream.
    expect(windows).toEqual(
      expect.arrayContaining([
        { connection: true, stream: UNARY_STREAM_WINDOW_BYTES },
        { connection: true, stream: 65_535 },
      ]),
    );
    expect(windows).toHaveLength(2);
  });

  it('gives its sessions, and the server its own, the wide connection window', async () => {
    const server = http2.createServer();
    server.on('session', widenConnectionWindow);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const serverSessions: http2.ServerHttp2Session[] = [];
    server.on('session', (session) => serverSessions.push(session));
    // Widened while still connecting, then once connected.
    const client = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    expect(client.connecting).toBe(true);
    widenConnectionWindow(client);
    await once(client, 'connect');
    await new Promise((resolve) => client.ping(resolve));
    expect(client.state.localWindowSize).toBe(CONNECTION_WINDOW_BYTES);
    expect(serverSessions.map((session) => session.state.localWindowSize)).toEqual([CONNECTION_WINDOW_BYTES]);
    client.close();
    const closed = once(server, 'close');
    server.close();
    await closed;
  });

  it('fails fast when nothing listens', async () => {
    const closed = await listen(connectHandler);
    closed.server.close();
    await once(closed.server, 'close');
    const error = await createClient(RecordService, lean(closed.url))
      .getRecord({ key: 'a' })
      .catch((e: unknown) => e);
    expect(ConnectError.from(error).code).toBe(Code.Unavailable);
  });
});
