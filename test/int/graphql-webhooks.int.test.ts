import request from 'supertest';
import { createApp } from '../../apps/gateway/src';
import { silentLogger, startTestApi, type TestApi } from '../support/api';
import { TEST_ADMIN_TOKEN } from '../support/env';

/**
 * Webhooks through GraphQL: createWebhook and deleteWebhook, a collection's webhooks and their
 * delivery log (seeded as the worker records it), errors with extensions.code, and the cost of
 * asking for many deliveries of many webhooks.
 */

let api: TestApi;
let app: ReturnType<typeof createApp>;

const admin = `Bearer ${TEST_ADMIN_TOKEN}`;
const SECRET = 'whsec-graphql-0123456789abcdef';
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

interface GraphQLReply {
  data?: Record<string, unknown> | null;
  errors?: Array<{ message: string; path?: string[]; extensions?: { code?: string } }>;
}

async function gql(query: string, variables: Record<string, unknown> = {}, auth: string | null = admin) {
  const req = request(app).post('/graphql').set('content-type', 'application/json');
  if (auth !== null) req.set('authorization', auth);
  const res = await req.send({ query, variables });
  expect(res.text).not.toContain(SECRET);
  return res.body as GraphQLReply;
}

/** The data of a reply that must have no errors (as loosely typed as supertest's body: tests read it by path). */
async function data(query: string, variables: Record<string, unknown> = {}, auth = admin) {
  const res = await request(app)
    .post('/graphql')
    .set('content-type', 'application/json')
    .set('authorization', auth)
    .send({ query, variables });
  expect(res.text).not.toContain(SECRET);
  expect(res.body.errors).toBeUndefined();
  return res.body.data;
}

const codesOf = (reply: GraphQLReply) => (reply.errors ?? []).map((e) => e.extensions?.code);

const CREATE = `mutation($input: CreateWebhookInput!) {
  createWebhook(input: $input) { id url ops keyPrefix format created }
}`;
const DELETE = `mutation($input: WebhookInput!) { deleteWebhook(input: $input) { deleted } }`;

beforeAll(async () => {
  api = await startTestApi();
  app = createApp({ api, logger: silentLogger, maxBodyBytes: 1024 * 1024 });
  await data(`mutation { createCollection(input: { space: "default", name: "hooks" }) { name } }`);
});

afterAll(() => api.close());

it('creates a webhook, lists it with its dead letters, and deletes it', async () => {
  const created = await data(CREATE, {
    input: {
      space: 'default',
      collection: 'hooks',
      url: 'https://receiver.example/graphql',
      secret: SECRET,
      ops: ['PUT', 'COLLECTION_DELETED'],
      keyPrefix: 'orders/',
    },
  });
  const hook = created.createWebhook as { id: number };
  expect(created.createWebhook).toEqual({
    id: expect.any(Number),
    url: 'https://receiver.example/graphql',
    ops: ['PUT', 'COLLECTION_DELETED'],
    keyPrefix: 'orders/',
    format: 'rosetta',
    created: expect.stringMatching(RFC3339),
  });
  const plain = (
    await data(CREATE, {
      input: { space: 'default', collection: 'hooks', url: 'http://127.0.0.1:9/', secret: SECRET, format: 'dvid' },
    })
  ).createWebhook as { id: number; ops: string[]; format: string };
  expect(plain).toMatchObject({ ops: [], keyPrefix: '', format: 'dvid' });

  const report = (eventId: string, state: string, fields: Record<string, unknown> = {}) =>
    api.webhooks.recordDelivery({
      delivery: {
        webhookId: BigInt(hook.id),
        eventId,
        revision: BigInt(100 + Number(eventId.slice(2))),
        op: 'put',
        key: `orders/${eventId}`,
        state,
        attempts: 1,
        ...fields,
      },
    });
  await report('e-1', 'dead', { attempts: 8, lastError: 'connect ECONNREFUSED' });
  await report('e-2', 'delivered', { lastStatus: 200 });
  await report('e-3', 'retrying', { attempts: 3, lastStatus: 502, lastError: 'HTTP 502' });
  await report('e-4', 'dead', {
    op: 'collection.deleted',
    key: '',
    attempts: 8,
    lastStatus: 500,
    lastError: 'HTTP 500',
  });

  const listed = await data(`{
    collection(space: "default", name: "hooks") {
      webhooks {
        id url ops keyPrefix format created
        dead: deliveries(state: DEAD) { eventId revision op key state attempts lastStatus lastError created updated }
        newest: deliveries(first: 2) { eventId state }
        none: deliveries(first: 0) { eventId }
      }
    }
  }`);
  const webhooks = listed.collection.webhooks as Array<Record<string, unknown>>;
  expect(webhooks.map((w) => w.id)).toEqual([hook.id, plain.id]);
  expect(webhooks[0]).toMatchObject({ ...created.createWebhook, none: [] } as object);
  expect(webhooks[0]?.newest).toEqual([
    { eventId: 'e-4', state: 'DEAD' },
    { eventId: 'e-3', state: 'RETRYING' },
  ]);
  expect(webhooks[0]?.dead).toEqual([
    {
      eventId: 'e-4',
      revision: 104,
      op: 'COLLECTION_DELETED',
      key: '',
      state: 'DEAD',
      attempts: 8,
      lastStatus: 500,
      lastError: 'HTTP 500',
      created: expect.stringMatching(RFC3339),
      updated: expect.stringMatching(RFC3339),
    },
    expect.objectContaining({ eventId: 'e-1', op: 'PUT', key: 'orders/e-1', lastStatus: null }),
  ]);
  expect(webhooks[1]).toMatchObject({ dead: [], newest: [], none: [] });

  const delivered = await data(
    `{ collection(space: "default", name: "hooks") { webhooks { deliveries(state: DELIVERED) { eventId lastError } } } }`,
  );
  expect(delivered.collection.webhooks[0].deliveries).toEqual([{ eventId: 'e-2', lastError: null }]);
  const negative = await gql(
    `{ collection(space: "default", name: "hooks") { webhooks { deliveries(first: -1) { key } } } }`,
  );
  expect(new Set(codesOf(negative))).toEqual(new Set(['BAD_USER_INPUT']));
  expect(negative.data).toEqual({ collection: null });

  expect((await data(DELETE, { input: { space: 'default', collection: 'hooks', id: hook.id } })).deleteWebhook).toEqual(
    { deleted: true },
  );
  const again = await gql(DELETE, { input: { space: 'default', collection: 'hooks', id: String(hook.id) } });
  expect(codesOf(again)).toEqual(['WEBHOOK_NOT_FOUND']);
  expect(again.data).toBeNull();
  await data(DELETE, { input: { space: 'default', collection: 'hooks', id: plain.id } });
  expect(
    (await data(`{ collection(space: "default", name: "hooks") { webhooks { id } } }`)).collection.webhooks,
  ).toEqual([]);
});

it('has no field that could show a secret', async () => {
  const type = await data(`{ __type(name: "Webhook") { fields { name } } }`);
  expect((type.__type.fields as Array<{ name: string }>).map((f) => f.name)).toEqual([
    'id',
    'url',
    'ops',
    'keyPrefix',
    'format',
    'created',
    'deliveries',
  ]);
});

it('answers refusals with extensions.code, and writes nothing', async () => {
  const input = { space: 'default', collection: 'hooks', url: 'https://receiver.example/x', secret: SECRET };
  const refusals: Array<[Record<string, unknown>, string]> = [
    [{ ...input, secret: 'too-short' }, 'BAD_USER_INPUT'],
    [{ ...input, url: 'mailto:someone@example.com' }, 'BAD_USER_INPUT'],
    [{ ...input, format: 'xml' }, 'BAD_USER_INPUT'],
    [{ ...input, ops: ['PUT', 'PUT'] }, 'BAD_USER_INPUT'],
    [{ ...input, ops: ['UPSERT'] }, 'BAD_USER_INPUT'],
    [{ ...input, collection: 'ghost' }, 'COLLECTION_NOT_FOUND'],
    [{ ...input, space: 'ghost' }, 'SPACE_NOT_FOUND'],
  ];
  for (const [variables, code] of refusals) {
    expect([variables, codesOf(await gql(CREATE, { input: variables }))]).toEqual([variables, [code]]);
  }
  expect(codesOf(await gql(CREATE, { input }, null))).toEqual(['UNAUTHENTICATED']);
  const literal = await gql(
    `mutation { createWebhook(input: { space: "default", collection: "hooks", url: "https://r.example/", secret: "${SECRET}", ops: [upsert] }) { id } }`,
  );
  expect(codesOf(literal)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
  expect(
    codesOf(
      await gql(`{ collection(space: "default", name: "hooks") { webhooks { deliveries(state: LOST) { key } } } }`),
    ),
  ).toEqual(['GRAPHQL_VALIDATION_FAILED']);
  expect(codesOf(await gql(DELETE, { input: { space: 'default', collection: 'hooks', id: 424242 } }))).toEqual([
    'WEBHOOK_NOT_FOUND',
  ]);
  expect(
    (await data(`{ collection(space: "default", name: "hooks") { webhooks { id } } }`)).collection.webhooks,
  ).toEqual([]);
});

it("keeps another account's webhooks out of reach", async () => {
  const { id } = (
    await data(CREATE, {
      input: { space: 'default', collection: 'hooks', url: 'https://receiver.example/kept', secret: SECRET },
    })
  ).createWebhook as { id: number };
  await request(app)
    .post('/v1/admin/accounts')
    .set('authorization', admin)
    .send({ name: 'mallory', password: 'mallory-password' })
    .expect(201);
  const token = await request(app)
    .post('/v1/tokens')
    .set('authorization', `Basic ${Buffer.from('mallory:mallory-password').toString('base64')}`)
    .send({})
    .expect(201);
  const mallory = `Bearer ${(token.body as { secret: string }).secret}`;

  const seen = await gql(`{ collection(space: "default", name: "hooks") { webhooks { id url } } }`, {}, mallory);
  expect(seen).toEqual({ data: { collection: null } });
  const create = await gql(
    CREATE,
    { input: { space: 'default', collection: 'hooks', url: 'https://evil.example/', secret: SECRET } },
    mallory,
  );
  expect(codesOf(create)).toEqual(['SPACE_NOT_FOUND']);
  const remove = await gql(DELETE, { input: { space: 'default', collection: 'hooks', id } }, mallory);
  expect(codesOf(remove)).toEqual(['SPACE_NOT_FOUND']);
  expect(
    (await data(`{ collection(space: "default", name: "hooks") { webhooks { id url } } }`)).collection.webhooks,
  ).toEqual([{ id, url: 'https://receiver.example/kept' }]);
  await data(DELETE, { input: { space: 'default', collection: 'hooks', id } });
});

it('costs deliveries by their page size, for every webhook a collection may have', async () => {
  const query = (first: number) =>
    `{ collection(space: "default", name: "hooks") { webhooks { deliveries(first: ${first}) { eventId state } } } }`;
  expect(codesOf(await gql(query(100)))).toEqual([]);
  const costly = await gql(query(1000));
  expect(codesOf(costly)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
  expect(costly.errors?.[0]?.message).toMatch(/estimated cost/);
});
