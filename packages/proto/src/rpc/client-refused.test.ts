import http2 from 'node:http2';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { Code, ConnectError, createClient, type ServiceImpl } from '@connectrpc/connect';
import { RecordService } from '../gen/rosetta/v1/records_pb';
import { createRpcTransport, type RpcTransport } from './client';
import { bind, createUnaryFastPath } from './server';

/**
 * The lean unary path sends a call again, within `refusedRetryMs`, when the service never
 * processed it: no connection (an api restarting on its port), a stream refused
 * (REFUSED_STREAM, what a GOAWAY does to the streams past its last). Any other failure is the
 * caller's, once.
 */

let handled = 0;
const impl: Partial<ServiceImpl<typeof RecordService>> = {
  getRecord(req) {
    handled += 1;
    return { record: { key: req.key } };
  },
};
const fastPath = createUnaryFastPath([bind(RecordService, impl as ServiceImpl<typeof RecordService>)], {
  maxMessageBytes: 1024 * 1024,
});

/** What the server does with the next streams, one entry each; then it serves them. */
let next: ('refuse' | 'reset')[] = [];
const servers: { server: http2.Http2Server; sessions: Set<http2.ServerHttp2Session> }[] = [];
const transports: RpcTransport[] = [];

function serve(port = 0): Promise<number> {
  const server = http2.createServer((req, res) => {
    const action = next.shift();
    if (action === 'refuse') req.stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    else if (action === 'reset') req.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    else if (!fastPath(req, res)) res.writeHead(404).end();
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  servers.push({ server, sessions });
  server.listen(port, '127.0.0.1');
  return once(server, 'listening').then(() => (server.address() as AddressInfo).port);
}

/** A port nothing listens on (yet). */
async function unusedPort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

function client(port: number, refusedRetryMs?: number) {
  const transport = createRpcTransport({
    baseUrl: `http://127.0.0.1:${port}`,
    defaultTimeoutMs: 5_000,
    maxMessageBytes: 1024 * 1024,
    ...(refusedRetryMs === undefined ? {} : { refusedRetryMs }),
  });
  transports.push(transport);
  return createClient(RecordService, transport);
}

beforeEach(() => {
  handled = 0;
  next = [];
});

afterAll(async () => {
  transports.forEach((t) => t.close());
  await Promise.all(
    servers.map(async ({ server, sessions }) => {
      const closed = once(server, 'close');
      for (const session of sessions) session.close();
      server.close();
      await closed;
    }),
  );
});

it('waits for a service that starts listening within the window', async () => {
  const port = await unusedPort();
  const call = client(port).getRecord({ collection: {}, key: 'late' });
  await new Promise((resolve) => setTimeout(resolve, 300));
  await serve(port);
  await expect(call).resolves.toMatchObject({ record: { key: 'late' } });
  expect(handled).toBe(1);
});

it('sends a refused stream again, and the service runs it once', async () => {
  const port = await serve();
  next = ['refuse', 'refuse'];
  await expect(client(port).getRecord({ collection: {}, key: 'refused' })).resolves.toMatchObject({
    record: { key: 'refused' },
  });
  expect(next).toEqual([]);
  expect(handled).toBe(1);
});

it('sends again a call the service was closing (GOAWAY) before it read it', async () => {
  const port = await serve();
  const records = client(port);
  await records.getRecord({ collection: {}, key: 'first' });
  // The session is told to go away as the next call leaves: the call finds it closing or is refused.
  for (const session of servers.at(-1)?.sessions ?? []) session.goaway(http2.constants.NGHTTP2_NO_ERROR, 0);
  await expect(records.getRecord({ collection: {}, key: 'after' })).resolves.toMatchObject({
    record: { key: 'after' },
  });
  expect(handled).toBe(2);
});

it('fails a stream reset after the service read it, without sending it again', async () => {
  const port = await serve();
  next = ['reset'];
  const error = await client(port)
    .getRecord({ collection: {}, key: 'reset' })
    .catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ConnectError);
  expect((error as ConnectError).code).toBe(Code.Unavailable);
  expect(next).toEqual([]);
  expect(handled).toBe(0);
  // The next call is served: the reset one was not queued again.
  await expect(client(port).getRecord({ collection: {}, key: 'next' })).resolves.toBeDefined();
  expect(handled).toBe(1);
});

it('gives up with UNAVAILABLE once the window has passed, and at once with no window', async () => {
  const port = await unusedPort();
  const started = performance.now();
  await expect(client(port, 300).getRecord({ collection: {}, key: 'nobody' })).rejects.toMatchObject({
    code: Code.Unavailable,
  });
  const waited = performance.now() - started;
  expect(waited).toBeGreaterThanOrEqual(300);
  expect(waited).toBeLessThan(2_000);

  const at = performance.now();
  await expect(client(port, 0).getRecord({ collection: {}, key: 'nobody' })).rejects.toMatchObject({
    code: Code.Unavailable,
  });
  expect(performance.now() - at).toBeLessThan(300);
});

it('keeps to the call deadline while it retries, and fails as refused, not as timed out', async () => {
  const port = await unusedPort();
  const started = performance.now();
  // The service never had the call: UNAVAILABLE, before the deadline rather than at it.
  await expect(
    client(port, 5_000).getRecord({ collection: {}, key: 'nobody' }, { timeoutMs: 200 }),
  ).rejects.toMatchObject({ code: Code.Unavailable });
  expect(performance.now() - started).toBeLessThan(1_000);
});
