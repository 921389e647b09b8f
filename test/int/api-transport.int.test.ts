import http2 from 'node:http2';
import { once } from 'node:events';
import type { RpcServer } from '../../apps/api/src/transport/server';
import { CONNECTION_WINDOW_BYTES, UNARY_STREAM_WINDOW_BYTES } from '../../packages/proto/src';
import { serveRpc, startTestApi, type TestApi } from '../support/api';

/** The api's HTTP/2 server as its callers' connections see it. */

let api: TestApi;
let rpc: RpcServer;
let baseUrl: string;

beforeAll(async () => {
  api = await startTestApi();
  ({ server: rpc, url: baseUrl } = await serveRpc(api.runtime, { maxMessageBytes: 1024 * 1024 }));
});

afterAll(async () => {
  await rpc.close();
  await api.close();
});

it('lets a caller send a whole batch per stream, and many at once per connection, before acknowledging', async () => {
  const session = http2.connect(baseUrl);
  try {
    await once(session, 'remoteSettings');
    // The connection's window comes in a WINDOW_UPDATE after the settings: a ping's answer follows it.
    await new Promise((resolve) => session.ping(resolve));
    expect(session.remoteSettings.initialWindowSize).toBe(UNARY_STREAM_WINDOW_BYTES);
    expect(session.state.remoteWindowSize).toBe(CONNECTION_WINDOW_BYTES);
  } finally {
    session.close();
  }
});
