import WebSocket from 'ws';
import { rawRequest } from '../support/raw-http';
import { startLiveGateway, type LiveGateway } from '../support/live-gateway';
import { TEST_ADMIN_TOKEN } from '../support/env';
import { expectEventually } from '../support/expect-eventually';

/**
 * Rivet's WebSocket watch (the second item of its to-do list): `GET /store/<user>` upgraded,
 * one JSON message per change of the store, resumable with `?since=`, refusals in Rivet's shape.
 */

let gateway: LiveGateway;
let port: number;
const sockets: WebSocket[] = [];

interface Change {
  op: string;
  key: string;
  revision: number;
  value?: string;
  encoding?: string;
}

async function session(user: string): Promise<string> {
  const reply = await rawRequest(port, 'GET', '/login', {
    headers: { authorization: `Basic ${Buffer.from(`${user}:${user}-password`).toString('base64')}` },
  });
  expect(reply.status).toBe(200);
  return reply.text;
}

const put = async (user: string, token: string, key: string, value: string) => {
  const reply = await rawRequest(port, 'POST', `/store/${user}/${key}`, {
    headers: { 'x-session-token': token },
    body: value,
  });
  expect(reply.status).toBeLessThan(300);
};

/** Opens a watch; resolves with the messages it collects once open, or with the refusal's status. */
function watch(path: string, headers: Record<string, string> = {}) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { headers });
  sockets.push(ws);
  const changes: Change[] = [];
  ws.on('message', (data: Buffer) => changes.push(JSON.parse(data.toString('utf8')) as Change));
  const opened = new Promise<{ status: number; body: string }>((resolve) => {
    ws.on('open', () => resolve({ status: 101, body: '' }));
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.on('error', () => undefined);
  });
  return { ws, changes, opened };
}

beforeAll(async () => {
  gateway = await startLiveGateway();
  port = Number(new URL(gateway.http.url).port);
  for (const name of ['alice', 'bob']) {
    const created = await rawRequest(port, 'POST', '/v1/admin/accounts', {
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name, password: `${name}-password` }),
    });
    expect(created.status).toBe(201);
  }
});

afterAll(async () => {
  for (const ws of sockets) ws.terminate();
  await gateway.close();
});

it('streams the changes of a store, and resumes after a revision without a gap', async () => {
  const alice = await session('alice');
  const live = watch('/store/alice?prefix=notes/', { 'x-session-token': alice });
  expect((await live.opened).status).toBe(101);
  await put('alice', alice, 'other', 'not watched');
  await put('alice', alice, 'notes/1', 'one');
  await put('alice', alice, 'notes/2', 'two');
  await expectEventually(() => expect(live.changes.map((c) => c.key)).toEqual(['notes/1', 'notes/2']));
  // Rivet stores raw bytes (application/octet-stream unless a Content-Type says otherwise): Base64.
  expect(live.changes[0]).toMatchObject({
    op: 'put',
    value: Buffer.from('one').toString('base64'),
    encoding: 'base64',
  });
  live.ws.close();

  const since = live.changes[0]?.revision ?? 0;
  await put('alice', alice, 'notes/3', 'three');
  const again = watch(`/store/alice?prefix=notes/&since=${since}&session=${alice}`);
  expect((await again.opened).status).toBe(101);
  await expectEventually(() => expect(again.changes.map((c) => c.key)).toEqual(['notes/2', 'notes/3']));
  const deleted = await rawRequest(port, 'DELETE', '/store/alice/notes/1', { headers: { 'x-session-token': alice } });
  expect(deleted.status).toBe(200);
  await expectEventually(() =>
    expect(again.changes.map((c) => [c.op, c.key])).toEqual([
      ['put', 'notes/2'],
      ['put', 'notes/3'],
      ['delete', 'notes/1'],
    ]),
  );
});

it("refuses a watch without a session, with a malformed one, or on another user's store, in Rivet's shape", async () => {
  const alice = await session('alice');
  const bob = await session('bob');
  const cases: Array<[string, Record<string, string>, number, string]> = [
    ['/store/alice', {}, 401, 'Unauthorized'],
    ['/store/alice', { 'x-session-token': 'nope' }, 400, 'Bad Request'],
    ['/store/alice', { 'x-session-token': bob }, 401, 'Unauthorized'],
    ['/store/alice?since=yesterday', { 'x-session-token': alice }, 400, 'Bad Request'],
  ];
  for (const [path, headers, status, message] of cases) {
    const refused = await watch(path, headers).opened;
    expect([path, refused]).toEqual([path, { status, body: `{"message":"${message}"}\n` }]);
  }
  // A store with nothing in it yet is watched from its creation on.
  const fresh = watch('/store/bob', { 'x-session-token': bob });
  expect((await fresh.opened).status).toBe(101);
  await put('bob', bob, 'first', 'hello');
  await expectEventually(() => expect(fresh.changes.map((c) => c.key)).toEqual(['first']));
});
