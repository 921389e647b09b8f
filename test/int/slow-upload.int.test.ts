import { request, type Server as HttpServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { createApp, legacyOptions } from '../../apps/gateway/src';
import { listen, portOf } from '../support/raw-http';
import { silentLogger, startTestApi, type TestApi } from '../support/api';
import { TEST_ADMIN_TOKEN } from '../support/env';

/**
 * A request holds its caller while its body arrives; grants live about a second. Bodies that
 * take longer than that to upload must still be written with the caller's rights, on every kind
 * of route: the single-record fast path, an Express route, a dialect.
 */

let api: TestApi;
let server: HttpServer;

beforeAll(async () => {
  api = await startTestApi();
  server = await listen(
    createApp({
      api,
      logger: silentLogger,
      maxBodyBytes: 1024 * 1024,
      legacy: legacyOptions({ DVID_SPACE: 'default' }),
    }),
  );
  await api.collections.createCollection({ collection: { space: 'default', collection: 'slow' } });
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await api.close();
});

/** Sends the body in two halves, `pauseMs` apart. */
function slowly(method: string, path: string, body: string, pauseMs: number, type = 'application/json') {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request(
      {
        port: portOf(server),
        method,
        path,
        headers: {
          authorization: `Bearer ${TEST_ADMIN_TOKEN}`,
          'content-type': type,
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    const half = Math.floor(body.length / 2);
    req.write(body.slice(0, half));
    void sleep(pauseMs).then(() => req.end(body.slice(half)));
  });
}

it('writes bodies that take longer to arrive than a grant lives', async () => {
  const base = '/v1/spaces/default/collections/slow/records';
  expect(await slowly('PUT', `${base}/one`, '"a slow value"', 1500)).toMatchObject({ status: 201 });
  const batch = await slowly(
    'POST',
    '/v1/spaces/default/collections/slow/batch',
    JSON.stringify({ records: [{ key: 'two', value: 'v' }] }),
    1500,
  );
  expect(batch.status).toBe(200);
  const repo = await slowly('POST', '/api/repos', '{"alias":"slow"}', 1500);
  expect(repo.status).toBe(200);
  expect(
    (await api.records.getRecord({ collection: { space: 'default', collection: 'slow' }, key: 'two' })).record,
  ).toBeDefined();
}, 20_000);
