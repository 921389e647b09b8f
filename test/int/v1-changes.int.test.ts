import { request as httpRequest, type IncomingMessage } from 'node:http';
import pg from 'pg';
import request from 'supertest';
import { startLiveGateway, type LiveGateway } from '../support/live-gateway';
import { TEST_ADMIN_TOKEN } from '../support/env';
import { expectEventually } from '../support/expect-eventually';

/**
 * A collection's changes through /v1: the long-poll (`?since=&wait=`) and Server-Sent Events
 * (Last-Event-ID), resumed from revisions without a gap or a repeat, a slow transaction that
 * took an earlier revision, prefixes and scoped tokens, and 410 for a compacted revision.
 */

let gateway: LiveGateway;
let api: LiveGateway['api'];
let app: LiveGateway['app'];
let http: LiveGateway['http'];
const admin = `Bearer ${TEST_ADMIN_TOKEN}`;
const BASE = '/v1/spaces/default/collections/feed';

interface ChangeJson {
  revision: number;
  op: string;
  key: string;
  value?: string;
  encoding?: string;
}

beforeAll(async () => {
  gateway = await startLiveGateway();
  ({ api, app, http } = gateway);
  await request(app)
    .post('/v1/spaces/default/collections')
    .set('authorization', admin)
    .send({ name: 'feed' })
    .expect(201);
});

afterAll(() => gateway.close());

const put = (key: string, value: string) =>
  request(app)
    .put(`${BASE}/records/${key}`)
    .set('authorization', admin)
    .type('text/plain')
    .send(value)
    .expect((res) => {
      expect(res.status).toBeLessThan(300);
    });

async function poll(query: string, auth = admin) {
  const res = await request(app).get(`${BASE}/changes${query}`).set('authorization', auth);
  return {
    status: res.status,
    body: res.body as {
      events: ChangeJson[];
      revision: number;
      error?: { code: string; oldestRevision: number | null };
    },
    header: res.headers['x-rosetta-revision'],
  };
}

/** Reads every change after `since` to the end, page by page. */
async function drain(since: number) {
  const seen: ChangeJson[] = [];
  let revision = since;
  for (;;) {
    const page = await poll(`?since=${revision}&wait=0`);
    expect(page.status).toBe(200);
    if (page.body.events.length === 0) return { seen, revision };
    seen.push(...page.body.events);
    revision = page.body.revision;
  }
}

describe('long-poll', () => {
  it('answers at once without since, and waits with it for the next change', async () => {
    const now = await poll('');
    expect(now.status).toBe(200);
    expect(now.body.events).toEqual([]);
    expect(now.header).toBe(String(now.body.revision));

    const started = Date.now();
    const waiting = poll(`?since=${now.body.revision}&wait=10s`);
    await new Promise((resolve) => setTimeout(resolve, 150));
    await put('a', 'one');
    const woke = await waiting;
    expect(woke.body.events.map((e) => [e.op, e.key, e.value, e.encoding])).toEqual([['put', 'a', 'one', 'utf8']]);
    expect(woke.body.revision).toBe(woke.body.events[0]?.revision);
    expect(Date.now() - started).toBeLessThan(5000);

    const idle = await poll(`?since=${woke.body.revision}&wait=200ms`);
    expect(idle.body).toEqual({ events: [], revision: woke.body.revision });
  });

  it('resumes from any revision in commit-safe order, without repeats, and filters by prefix', async () => {
    const { revision: start } = await drain((await poll('')).body.revision);
    for (const key of ['p/1', 'q/1', 'p/2']) await put(key, key);
    await request(app).delete(`${BASE}/records/p/1`).set('authorization', admin).expect(204);
    const { seen } = await drain(start);
    expect(seen.map((e) => [e.op, e.key])).toEqual([
      ['put', 'p/1'],
      ['put', 'q/1'],
      ['put', 'p/2'],
      ['delete', 'p/1'],
    ]);
    // From the middle: exactly what followed.
    const middle = seen[1]?.revision ?? 0;
    expect((await drain(middle)).seen.map((e) => e.key)).toEqual(['p/2', 'p/1']);
    const prefixed = await poll(`?since=${start}&wait=0&prefix=p/`);
    expect(prefixed.body.events.map((e) => e.key)).toEqual(['p/1', 'p/2', 'p/1']);
  });

  it('does not skip a transaction that took an earlier revision but committed later', async () => {
    const { revision: start } = await drain((await poll('')).body.revision);
    const client = new pg.Client({ connectionString: api.db.url });
    await client.connect();
    try {
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO change_events (revision, op, space, collection, collection_id, node_id, version, key)
         VALUES (nextval('revision_seq'), 'put', 'default', 'feed', 0, 0, '', 'slow')`,
      );
      await put('fast', 'x');
      // While the slow transaction is open, the reader sees neither: it must not pass it.
      expect((await poll(`?since=${start}&wait=300ms`)).body.events).toEqual([]);
      const waiting = poll(`?since=${start}&wait=10s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
      await client.query('COMMIT');
      const both = await waiting;
      expect(both.body.events.map((e) => e.key)).toEqual(['slow', 'fast']);
      const [slow, fast] = both.body.events as [ChangeJson, ChangeJson];
      expect(slow.revision).toBeLessThan(fast.revision);
      // Resuming after `fast`, whose revision is the larger, skips nothing and repeats nothing.
      expect((await poll(`?since=${fast.revision}&wait=0`)).body.events).toEqual([]);
      expect((await drain(start)).seen.map((e) => e.key)).toEqual(['slow', 'fast']);
    } finally {
      await client.end();
    }
  });

  it('answers 410 with the oldest revision kept for a compacted revision, and 400 for an unknown one', async () => {
    await put('old', 'x');
    const { revision } = await drain(0);
    const oldest = (await api.runtime.db.query<{ r: number }>('SELECT min(revision) AS r FROM change_events')).rows[0]
      ?.r;
    await api.runtime.db.query('DELETE FROM change_events WHERE revision < $1', [revision]);
    const gone = await poll(`?since=${oldest}`);
    expect(gone.status).toBe(410);
    expect(gone.body.error).toMatchObject({ code: 'REVISION_EXPIRED', oldestRevision: revision });
    const ahead = await poll(`?since=${revision + 1_000_000}`);
    expect(ahead.status).toBe(400);
    expect(ahead.body.error?.code).toBe('INVALID_CURSOR');
    expect((await poll('?since=yesterday')).status).toBe(400);
    expect((await poll('?since=1&wait=forever')).status).toBe(400);
  });

  it('shows a scoped token only its keys, and refuses those who may not read', async () => {
    const scoped = await request(app)
      .post('/v1/tokens')
      .set('authorization', admin)
      .send({ scopes: [{ space: 'default', collection: 'feed', keyPrefix: 'pub/' }] })
      .expect(201);
    const token = `Bearer ${(scoped.body as { secret: string }).secret}`;
    const start = (await poll('', token)).body.revision;
    await put('priv/1', 'hidden');
    await put('pub/1', 'shown');
    const page = await poll(`?since=${start}&wait=2s`, token);
    expect(page.body.events.map((e) => e.key)).toEqual(['pub/1']);
    const none = await request(app).get('/v1/spaces/default/collections/missing/changes').set('authorization', admin);
    expect(none.status).toBe(404);
    expect((await request(app).get(`${BASE}/changes`)).status).toBe(401);
  });
});

/** A Server-Sent Events reader over a real socket, collecting the events it parses. */
function openStream(headers: Record<string, string> = {}) {
  const events: Array<{ id?: string; event?: string; data?: string }> = [];
  let response: IncomingMessage | undefined;
  const req = httpRequest(`${http.url}${BASE}/changes`, {
    headers: { authorization: admin, accept: 'text/event-stream', ...headers },
  });
  const opened = new Promise<IncomingMessage>((resolve, reject) => {
    req.on('response', (res) => {
      response = res;
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields: Record<string, string> = {};
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) continue;
            const colon = line.indexOf(': ');
            if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 2);
          }
          if (Object.keys(fields).length > 0) events.push(fields);
        }
      });
      resolve(res);
    });
    req.on('error', reject);
  });
  req.end();
  return {
    events,
    opened,
    status: () => response?.statusCode,
    close: () => req.destroy(),
    changes: () => events.filter((e) => e.event === 'change').map((e) => JSON.parse(e.data ?? '{}') as ChangeJson),
  };
}

describe('Server-Sent Events', () => {
  it('streams changes, and a reconnection with Last-Event-ID misses nothing and repeats nothing', async () => {
    const first = openStream();
    await first.opened;
    await expectEventually(() => expect(first.events[0]?.event).toBe('ready'));
    expect(first.status()).toBe(200);
    await put('s/1', 'one');
    await put('s/2', 'two');
    await expectEventually(() => expect(first.changes().map((e) => e.key)).toEqual(['s/1', 's/2']));
    const lastId = first.events.filter((e) => e.event === 'change').at(-1)?.id as string;
    expect(lastId).toBe(String(first.changes()[1]?.revision));
    first.close();

    await put('s/3', 'while away');
    await put('s/4', 'still away');
    const second = openStream({ 'last-event-id': lastId });
    await second.opened;
    await expectEventually(() => expect(second.changes().map((e) => e.key)).toEqual(['s/3', 's/4']));
    await put('s/5', 'live again');
    await expectEventually(() => expect(second.changes().map((e) => e.key)).toEqual(['s/3', 's/4', 's/5']));
    second.close();
  });

  it('answers 410 before streaming for a compacted Last-Event-ID', async () => {
    const stream = openStream({ 'last-event-id': '1' });
    const res = await stream.opened;
    expect(res.statusCode).toBe(410);
    stream.close();
  });
});
