import request from 'supertest';
import { createApp } from '../../apps/gateway/src';
import { silentLogger, startTestApi, type TestApi } from '../support/api';
import { accountWithToken } from '../support/accounts';
import { TEST_ADMIN_TOKEN } from '../support/env';

/**
 * Webhooks of a collection through /v1: create, list, delete, the delivery log (seeded as the
 * worker records it), refusals in /v1's error shape, isolation between accounts, and the
 * OpenAPI document. No worker runs here: deliveries are what RecordDelivery stored.
 */

let api: TestApi;
let app: ReturnType<typeof createApp>;

const admin = `Bearer ${TEST_ADMIN_TOKEN}`;
const SECRET = 'whsec-0123456789-abcdefghij';
const BASE = '/v1/spaces/default/collections/hooks/webhooks';
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

const errorOf = (res: request.Response) => (res.body as { error: { code: string; message: string } }).error;
/** The answer as sent: the secret must never be in it, whatever its shape. */
const noSecret = (res: request.Response) => {
  expect(res.text).not.toContain(SECRET);
  return res;
};

interface WebhookJson {
  id: number;
  url: string;
  ops: string[];
  keyPrefix: string;
  format: string;
  created: string;
}

const post = (body: unknown, auth = admin, path = BASE) =>
  request(app)
    .post(path)
    .set('authorization', auth)
    .send(body as object);
const get = (path: string, auth = admin) => request(app).get(path).set('authorization', auth);
const del = (path: string, auth = admin) => request(app).delete(path).set('authorization', auth);

async function create(body: Record<string, unknown>, path = BASE): Promise<WebhookJson> {
  return noSecret(await post({ secret: SECRET, ...body }, admin, path).expect(201)).body as WebhookJson;
}

beforeAll(async () => {
  api = await startTestApi();
  app = createApp({ api, logger: silentLogger, maxBodyBytes: 1024 * 1024 });
  for (const name of ['hooks', 'quiet']) {
    await post({ name }, admin, '/v1/spaces/default/collections').expect(201);
  }
});

afterAll(() => api.close());

describe('webhooks', () => {
  it('creates, lists and deletes webhooks, and never shows their secret', async () => {
    const full = await create({
      url: 'https://receiver.example/hooks?team=1',
      ops: ['put', 'collection.deleted'],
      keyPrefix: 'orders/',
      format: 'dvid',
    });
    expect(full).toEqual({
      id: expect.any(Number),
      url: 'https://receiver.example/hooks?team=1',
      ops: ['put', 'collection.deleted'],
      keyPrefix: 'orders/',
      format: 'dvid',
      created: expect.stringMatching(RFC3339),
    });
    const plain = await create({ url: 'http://127.0.0.1:9/plain' });
    expect(plain).toMatchObject({ ops: [], keyPrefix: '', format: 'rosetta' });
    expect(plain.id).toBeGreaterThan(full.id);

    const listed = noSecret(await get(BASE).expect(200));
    expect(listed.body).toEqual({ webhooks: [full, plain] });
    expect(noSecret(await get('/v1/spaces/default/collections/quiet/webhooks').expect(200)).body).toEqual({
      webhooks: [],
    });

    const deleted = await del(`${BASE}/${full.id}`).expect(204);
    expect(deleted.text).toBe('');
    expect((await get(BASE).expect(200)).body).toEqual({ webhooks: [plain] });
    expect(errorOf(await del(`${BASE}/${full.id}`).expect(404))).toMatchObject({ code: 'WEBHOOK_NOT_FOUND' });
    // A webhook is addressed through its own collection only.
    expect(errorOf(await del(`/v1/spaces/default/collections/quiet/webhooks/${plain.id}`).expect(404)).code).toBe(
      'WEBHOOK_NOT_FOUND',
    );
    await del(`${BASE}/${plain.id}`).expect(204);
    expect((await get(BASE).expect(200)).body).toEqual({ webhooks: [] });
  });

  it("refuses bad webhooks in /v1's error shape, and writes nothing", async () => {
    const refusals: Array<[unknown, number, string, RegExp]> = [
      [{ url: 'https://r.example/' }, 400, 'INVALID_ARGUMENT', /secret/],
      [{ secret: SECRET }, 400, 'INVALID_ARGUMENT', /url/],
      [{ url: 'https://r.example/', secret: SECRET, colour: 'red' }, 400, 'INVALID_ARGUMENT', /colour/],
      [{ url: 'https://r.example/', secret: SECRET, ops: ['put', 'upsert'] }, 400, 'INVALID_ARGUMENT', /ops/],
      [{ url: 'https://r.example/', secret: SECRET, format: 'xml' }, 400, 'INVALID_ARGUMENT', /format/],
      [{ url: 'https://r.example/', secret: SECRET, keyPrefix: 7 }, 400, 'INVALID_ARGUMENT', /keyPrefix/],
      [{ url: 'ftp://r.example/', secret: SECRET }, 400, 'INVALID_ARGUMENT', /http/],
      [{ url: 'not a url', secret: SECRET }, 400, 'INVALID_ARGUMENT', /url/],
      [{ url: 'https://r.example/', secret: 'short' }, 400, 'INVALID_ARGUMENT', /secret/],
      [{ url: 'https://r.example/', secret: SECRET, ops: ['put', 'put'] }, 400, 'INVALID_ARGUMENT', /put/],
    ];
    for (const [body, status, code, message] of refusals) {
      const res = noSecret(await post(body).expect(status));
      expect([body, res.body]).toEqual([
        body,
        { error: { code, message: expect.stringMatching(message) as unknown as string } },
      ]);
    }
    const notJson = await request(app)
      .post(BASE)
      .set('authorization', admin)
      .type('text/plain')
      .send(JSON.stringify({ url: 'https://r.example/', secret: SECRET }))
      .expect(415);
    expect(errorOf(notJson).code).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(errorOf(await post('{"url":', admin).type('json').expect(400)).code).toBe('INVALID_ARGUMENT');
    const missing = '/v1/spaces/default/collections/ghost/webhooks';
    expect(errorOf(await post({ url: 'https://r.example/', secret: SECRET }, admin, missing).expect(404)).code).toBe(
      'COLLECTION_NOT_FOUND',
    );
    expect(errorOf(await get(missing).expect(404)).code).toBe('COLLECTION_NOT_FOUND');
    expect(errorOf(await get('/v1/spaces/ghost/collections/hooks/webhooks').expect(404)).code).toBe('SPACE_NOT_FOUND');
    expect(errorOf(await del(`${BASE}/abc`).expect(400)).code).toBe('INVALID_ARGUMENT');
    expect(errorOf(await del(`${BASE}/999999`).expect(404)).code).toBe('WEBHOOK_NOT_FOUND');
    expect((await get(BASE).expect(200)).body).toEqual({ webhooks: [] });
  });

  it('lists the delivery log newest first, by state, with times as RFC 3339', async () => {
    const hook = await create({ url: 'https://receiver.example/log' });
    const other = await create({ url: 'https://receiver.example/other' });
    const report = (eventId: string, state: string, fields: Record<string, unknown> = {}) =>
      api.webhooks.recordDelivery({
        delivery: {
          webhookId: BigInt(hook.id),
          eventId,
          revision: BigInt(40 + Number(eventId.slice(2))),
          op: 'put',
          key: `k/${eventId}`,
          state,
          attempts: 1,
          ...fields,
        },
      });
    await report('e-1', 'delivered', { lastStatus: 204 });
    await report('e-2', 'retrying', { attempts: 2, lastStatus: 503, lastError: 'HTTP 503' });
    await report('e-3', 'dead', { attempts: 8, lastError: 'connect ECONNREFUSED' });
    await report('e-4', 'delivered', { op: 'collection.updated', key: '', lastStatus: 200 });
    // A later report of the same event replaces it: one entry per event.
    await report('e-2', 'dead', { attempts: 8, lastStatus: 500, lastError: 'HTTP 500' });

    const all = noSecret(await get(`${BASE}/${hook.id}/deliveries`).expect(200)).body as {
      deliveries: Array<Record<string, unknown>>;
    };
    expect(all.deliveries.map((d) => [d.eventId, d.state])).toEqual([
      ['e-2', 'dead'],
      ['e-4', 'delivered'],
      ['e-3', 'dead'],
      ['e-1', 'delivered'],
    ]);
    expect(all.deliveries[0]).toEqual({
      eventId: 'e-2',
      revision: 42,
      op: 'put',
      key: 'k/e-2',
      state: 'dead',
      attempts: 8,
      lastStatus: 500,
      lastError: 'HTTP 500',
      created: expect.stringMatching(RFC3339),
      updated: expect.stringMatching(RFC3339),
    });
    expect(all.deliveries[0]?.updated).not.toBe(all.deliveries[0]?.created);
    expect(all.deliveries[1]).toMatchObject({ op: 'collection.updated', key: '', lastStatus: 200, lastError: null });
    // No status when the receiver gave none.
    expect(all.deliveries[2]).toMatchObject({ lastStatus: null, lastError: 'connect ECONNREFUSED' });

    const dead = (await get(`${BASE}/${hook.id}/deliveries?state=dead`).expect(200)).body as typeof all;
    expect(dead.deliveries.map((d) => d.eventId)).toEqual(['e-2', 'e-3']);
    const newest = (await get(`${BASE}/${hook.id}/deliveries?state=delivered&limit=1`).expect(200)).body as typeof all;
    expect(newest.deliveries.map((d) => d.eventId)).toEqual(['e-4']);
    expect((await get(`${BASE}/${other.id}/deliveries`).expect(200)).body).toEqual({ deliveries: [] });

    for (const query of ['state=lost', 'limit=ten', 'limit=-1', 'limit=99999999999', 'since=1']) {
      const res = await get(`${BASE}/${hook.id}/deliveries?${query}`).expect(400);
      expect([query, errorOf(res).code]).toEqual([query, 'INVALID_ARGUMENT']);
    }
    expect(errorOf(await get(`${BASE}/999999/deliveries`).expect(404)).code).toBe('WEBHOOK_NOT_FOUND');
    expect(errorOf(await get(`${BASE}/x1/deliveries`).expect(400)).code).toBe('INVALID_ARGUMENT');

    // Deleting a webhook takes its log with it.
    await del(`${BASE}/${hook.id}`).expect(204);
    expect(errorOf(await get(`${BASE}/${hook.id}/deliveries`).expect(404)).code).toBe('WEBHOOK_NOT_FOUND');
    await del(`${BASE}/${other.id}`).expect(204);
  });

  it("keeps a space's webhooks out of other accounts' reach", async () => {
    const hook = await create({ url: 'https://receiver.example/private' });
    const mallory = await accountWithToken(app, 'mallory');
    const refusals = [
      await get(BASE, mallory),
      await post({ url: 'https://evil.example/', secret: SECRET }, mallory),
      await del(`${BASE}/${hook.id}`, mallory),
      await get(`${BASE}/${hook.id}/deliveries`, mallory),
    ];
    expect(refusals.map((res) => [res.status, errorOf(res).code])).toEqual(
      Array.from({ length: 4 }, () => [404, 'SPACE_NOT_FOUND']),
    );
    for (const res of refusals) noSecret(res);
    expect(noSecret(await get(BASE).expect(200)).body).toEqual({ webhooks: [hook] });
    expect(errorOf(await request(app).get(BASE).expect(401)).code).toBe('UNAUTHENTICATED');
    await del(`${BASE}/${hook.id}`).expect(204);
  });

  it('lets readers of a space see its webhooks, and only writers manage them', async () => {
    const owner = await accountWithToken(app, 'olive');
    const reader = await accountWithToken(app, 'rita');
    const team = '/v1/spaces/webhook-team';
    const hooks = `${team}/collections/c/webhooks`;
    await post({ name: 'webhook-team' }, owner, '/v1/spaces').expect(201);
    await post({ name: 'c' }, owner, `${team}/collections`).expect(201);
    await request(app).put(`${team}/members/rita`).set('authorization', owner).send({ role: 'reader' }).expect(200);

    const hook = noSecret(
      await post({ url: 'https://receiver.example/team', secret: SECRET }, owner, hooks).expect(201),
    ).body as WebhookJson;
    expect(noSecret(await get(hooks, reader).expect(200)).body).toEqual({ webhooks: [hook] });
    await get(`${hooks}/${hook.id}/deliveries`, reader).expect(200);
    const refused = [
      await post({ url: 'https://receiver.example/mine', secret: SECRET }, reader, hooks),
      await del(`${hooks}/${hook.id}`, reader),
    ];
    expect(refused.map((res) => [res.status, errorOf(res).code])).toEqual([
      [403, 'PERMISSION_DENIED'],
      [403, 'PERMISSION_DENIED'],
    ]);
    expect((await get(hooks, owner).expect(200)).body).toEqual({ webhooks: [hook] });
  });

  it('describes its routes in the OpenAPI document', async () => {
    const doc = (await request(app).get('/v1/openapi.json').expect(200)).body as {
      paths: Record<string, Record<string, { requestBody?: unknown; responses: Record<string, unknown> }>>;
      components: { schemas: Record<string, { properties?: Record<string, unknown>; required?: string[] }> };
    };
    const path = '/v1/spaces/{space}/collections/{collection}/webhooks';
    expect(Object.keys(doc.paths[path] ?? {}).sort()).toEqual(['get', 'post']);
    expect(Object.keys(doc.paths[`${path}/{id}`] ?? {})).toEqual(['delete']);
    expect(Object.keys(doc.paths[`${path}/{id}/deliveries`] ?? {})).toEqual(['get']);
    expect(Object.keys(doc.paths[path]?.post?.responses ?? {})).toEqual(expect.arrayContaining(['201', '400', '404']));
    const { CreateWebhook, Webhook, Delivery } = doc.components.schemas;
    expect(CreateWebhook?.required?.sort()).toEqual(['secret', 'url']);
    expect(Object.keys(Webhook?.properties ?? {}).sort()).toEqual(
      ['created', 'format', 'id', 'keyPrefix', 'ops', 'url'].sort(),
    );
    expect(Object.keys(Delivery?.properties ?? {})).toEqual([
      'eventId',
      'revision',
      'op',
      'key',
      'state',
      'attempts',
      'lastStatus',
      'lastError',
      'created',
      'updated',
    ]);
    expect(app.routes.filter((r) => r.openapiPath.startsWith(path)).map((r) => `${r.method} ${r.openapiPath}`)).toEqual(
      [`post ${path}`, `get ${path}`, `delete ${path}/{id}`, `get ${path}/{id}/deliveries`],
    );
  });
});
