import { AsyncLocalStorage } from 'node:async_hooks';
import http2 from 'node:http2';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Code, ConnectError, createClient, type ServiceImpl } from '@connectrpc/connect';
import { wireError } from '../errors';
import { RecordService } from '../gen/rosetta/v1/records_pb';
import { createRpcTransport, type RpcTransport } from './client';
import { bind, createUnaryFastPath } from './server';

/**
 * The lean unary path's `onServerTiming`: a server whose handler sets `server-timing` on keys
 * named `timed-<ms>` (after waiting that long), and none otherwise.
 */

const impl: Partial<ServiceImpl<typeof RecordService>> = {
  async getRecord(req, context) {
    const ms = /^timed-(\d+)/.exec(req.key)?.[1];
    if (ms !== undefined) {
      await new Promise((resolve) => setTimeout(resolve, Number(ms)));
      context.responseHeader.set('server-timing', `db;dur=${ms}.00, cache;dur=0.00`);
    }
    if (req.key.endsWith('-missing')) throw wireError(Code.NotFound, 'KEY_NOT_FOUND', 'no such key');
    return { record: { key: req.key } };
  },
};

const fastPath = createUnaryFastPath([bind(RecordService, impl as ServiceImpl<typeof RecordService>)], {
  maxMessageBytes: 1024 * 1024,
});

let server: http2.Http2Server;
let url: string;
const sessions = new Set<http2.ServerHttp2Session>();
const transports: RpcTransport[] = [];

beforeAll(async () => {
  server = http2.createServer((req, res) => {
    if (!fastPath(req, res)) {
      res.writeHead(404);
      res.end();
    }
  });
  server.on('session', (session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  transports.forEach((t) => t.close());
  const closed = once(server, 'close');
  for (const session of sessions) session.close();
  server.close();
  await closed;
});

function recording(onServerTiming?: (value: string, elapsedMs: number) => void) {
  const transport = createRpcTransport({
    baseUrl: url,
    defaultTimeoutMs: 2000,
    maxMessageBytes: 1024 * 1024,
    ...(onServerTiming === undefined ? {} : { onServerTiming }),
  });
  transports.push(transport);
  return createClient(RecordService, transport);
}

describe('onServerTiming', () => {
  it("reports a response's Server-Timing and the call's duration, and hands the header on", async () => {
    const seen: Array<[string, number]> = [];
    const client = recording((value, ms) => seen.push([value, ms]));
    let header: string | null = null;
    const { record } = await client.getRecord(
      { key: 'timed-20' },
      { onHeader: (headers) => (header = headers.get('server-timing')) },
    );
    expect(record?.key).toBe('timed-20');
    expect(header).toBe('db;dur=20.00, cache;dur=0.00');
    expect(seen).toHaveLength(1);
    expect(seen[0]?.[0]).toBe('db;dur=20.00, cache;dur=0.00');
    expect(seen[0]?.[1]).toBeGreaterThanOrEqual(19);
  });

  it('reports a failed call, whose error carries the header in its metadata', async () => {
    const seen: string[] = [];
    const client = recording((value) => seen.push(value));
    const error = ConnectError.from(await client.getRecord({ key: 'timed-1-missing' }).catch((e: unknown) => e));
    expect(error.code).toBe(Code.NotFound);
    expect(error.metadata.get('server-timing')).toBe('db;dur=1.00, cache;dur=0.00');
    expect(seen).toEqual(['db;dur=1.00, cache;dur=0.00']);
  });

  it('reports nothing for a response without the header', async () => {
    const seen: string[] = [];
    const client = recording((value) => seen.push(value));
    let header: string | null | undefined;
    await client.getRecord({ key: 'plain' }, { onHeader: (headers) => (header = headers.get('server-timing')) });
    await client.getRecord({ key: 'plain-missing' }).catch(() => undefined);
    expect(seen).toEqual([]);
    expect(header).toBeNull();
  });

  it('still hands the header on without a callback', async () => {
    let header: string | null = null;
    await recording().getRecord({ key: 'timed-1' }, { onHeader: (headers) => (header = headers.get('server-timing')) });
    expect(header).toBe('db;dur=1.00, cache;dur=0.00');
  });

  it('runs in the async context of the call, whatever order the answers come in', async () => {
    const requests = new AsyncLocalStorage<string>();
    const seen: Array<[string | undefined, string]> = [];
    const client = recording((value) => seen.push([requests.getStore(), value]));
    // The slow call is made first on the shared session; the fast one answers first.
    await Promise.all([
      requests.run('slow', () => client.getRecord({ key: 'timed-40' })),
      requests.run('fast', () => client.getRecord({ key: 'timed-5' })),
    ]);
    expect(seen).toEqual([
      ['fast', 'db;dur=5.00, cache;dur=0.00'],
      ['slow', 'db;dur=40.00, cache;dur=0.00'],
    ]);
  });
});
