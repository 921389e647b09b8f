import type { MessageInitShape } from '@bufbuild/protobuf';
import type { Client } from '@connectrpc/connect';
import {
  AdminService,
  createDirectClient,
  GRANT_HEADER,
  WebhookService,
  withHeaders,
  type CredentialSchema,
  type ScopeSchema,
} from '../../packages/proto/src';
import { startTestApi, type TestApi } from '../support/api';
import { TEST_ADMIN_TOKEN } from '../support/env';
import { wireCodeOf as codeOf } from '../support/errors';

/**
 * The WebhookService contract against the real record service (direct binding, real Postgres):
 * managing webhooks, their validation and limit, who may do what, secrets, the delivery log.
 */

let api: TestApi;
const SPACE = 'hooks-team';
const SECRET = 'sixteen-chars-ok';

type Webhooks = Client<typeof WebhookService>;
type CredentialInit = MessageInitShape<typeof CredentialSchema>;
type WebhookFields = { url?: string; secret?: string; ops?: string[]; keyPrefix?: string; format?: string };

/** A WebhookService client whose every call carries a fresh grant for `credential`. */
function webhooksAs(credential: CredentialInit): Webhooks {
  return withHeaders(WebhookService, createDirectClient(WebhookService, api.runtime.impls.webhooks), async () => {
    const { grant } = await api.auth.authenticate({ credential });
    return { [GRANT_HEADER]: grant };
  });
}

const password = (name: string): CredentialInit => ({
  kind: { case: 'password', value: { name, password: `${name}-password` } },
});

async function tokenOf(
  name: string,
  options: { readOnly?: boolean; scopes?: MessageInitShape<typeof ScopeSchema>[] } = {},
) {
  const { secret } = await api.admin.createToken({ account: { name }, name: 'test', ...options });
  const credential: CredentialInit = { kind: { case: 'token', value: secret } };
  return credential;
}

const ref = (collection: string, space = SPACE) => ({ space, collection });

async function collection(name: string, space = SPACE) {
  await api.collections.createCollection({ collection: ref(name, space) });
  return ref(name, space);
}

const hook = (collectionRef: { space: string; collection: string }, extra: WebhookFields = {}) =>
  api.webhooks.createWebhook({ collection: collectionRef, url: 'https://example.com/hook', secret: SECRET, ...extra });

/** JSON of a message with int64 fields, to look for text anywhere in it. */
const json = (value: unknown) => JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));

let writer: Webhooks;
let reader: Webhooks;
let stranger: Webhooks;

beforeAll(async () => {
  api = await startTestApi();
  for (const name of ['wendy', 'rita', 'sam']) {
    await api.admin.createAccount({ name, password: `${name}-password` });
  }
  // Spaces are an account's: the admin account (its token) creates this one.
  const admin = withHeaders(AdminService, createDirectClient(AdminService, api.runtime.impls.admin), async () => {
    const { grant } = await api.auth.authenticate({ credential: { kind: { case: 'token', value: TEST_ADMIN_TOKEN } } });
    return { [GRANT_HEADER]: grant };
  });
  await admin.createSpace({ name: SPACE });
  await api.admin.setMember({ space: SPACE, account: { name: 'wendy' }, role: 'writer' });
  await api.admin.setMember({ space: SPACE, account: { name: 'rita' }, role: 'reader' });
  writer = webhooksAs(password('wendy'));
  reader = webhooksAs(password('rita'));
  stranger = webhooksAs(password('sam'));
});

afterAll(() => api.close());

describe('managing webhooks', () => {
  it('creates, lists and deletes the webhooks of a collection', async () => {
    const c = await collection('manage');
    const before = Date.now() * 1000;
    const { webhook: first } = await hook(c);
    expect(first).toMatchObject({
      space: SPACE,
      collection: 'manage',
      url: 'https://example.com/hook',
      ops: [],
      keyPrefix: '',
      format: 'rosetta',
    });
    expect(first?.id).toBeGreaterThan(0n);
    expect(Number(first?.createdUs)).toBeGreaterThanOrEqual(before - 5_000_000);
    const { webhook: second } = await hook(c, {
      url: 'http://receiver.internal:8080/dvid?x=1',
      ops: ['put', 'delete'],
      keyPrefix: 'users/',
      format: 'dvid',
    });
    expect(second).toMatchObject({ ops: ['put', 'delete'], keyPrefix: 'users/', format: 'dvid' });

    const listed = (await api.webhooks.listWebhooks({ collection: c })).webhooks;
    expect(listed.map((w) => w.id)).toEqual([first?.id, second?.id]);
    expect(listed[1]).toEqual(second);

    await api.webhooks.deleteWebhook({ collection: c, id: first?.id ?? 0n });
    expect((await api.webhooks.listWebhooks({ collection: c })).webhooks.map((w) => w.id)).toEqual([second?.id]);
    // Gone: deleting again, or deleting it through another collection, finds nothing.
    expect(await codeOf(api.webhooks.deleteWebhook({ collection: c, id: first?.id ?? 0n }))).toBe('WEBHOOK_NOT_FOUND');
    const other = await collection('manage-other');
    expect(await codeOf(api.webhooks.deleteWebhook({ collection: other, id: second?.id ?? 0n }))).toBe(
      'WEBHOOK_NOT_FOUND',
    );
    expect(await codeOf(api.webhooks.deleteWebhook({ collection: c, id: 2n ** 62n }))).toBe('WEBHOOK_NOT_FOUND');
    expect(await codeOf(api.webhooks.deleteWebhook({ collection: c, id: 0n }))).toBe('INVALID_ARGUMENT');
    expect((await api.webhooks.listWebhooks({ collection: c })).webhooks).toHaveLength(1);
  });

  it('answers for missing collections and spaces as every collection call does', async () => {
    expect(await codeOf(hook(ref('no-such-collection')))).toBe('COLLECTION_NOT_FOUND');
    expect(await codeOf(api.webhooks.listWebhooks({ collection: ref('no-such-collection') }))).toBe(
      'COLLECTION_NOT_FOUND',
    );
    expect(await codeOf(api.webhooks.listWebhooks({ collection: ref('x', 'no-such-space') }))).toBe('SPACE_NOT_FOUND');
    expect(await codeOf(api.webhooks.deleteWebhook({ collection: ref('no-such-collection'), id: 1n }))).toBe(
      'COLLECTION_NOT_FOUND',
    );
    expect(await codeOf(api.webhooks.listWebhooks({}))).toBe('INVALID_NAME');
  });

  it('refuses every malformed field with INVALID_ARGUMENT, and creates nothing', async () => {
    const c = await collection('validation');
    const bad: Array<WebhookFields> = [
      { url: '' },
      { url: 'ftp://example.com/hook' },
      { url: 'file:///etc/passwd' },
      { url: 'javascript:alert(1)' },
      { url: 'example.com/hook' },
      { url: '/relative' },
      { url: 'http://' },
      { url: 'https://exa mple.com/' },
      { url: 'https://example.com/\u0000' },
      { url: `https://example.com/${'a'.repeat(2100)}` },
      { secret: '' },
      { secret: 'fifteen-chars!!' },
      { secret: 'x'.repeat(257) },
      { secret: `${SECRET}\u0000` },
      { ops: ['upsert'] },
      { ops: ['put', 'put'] },
      { ops: ['collection.created'] },
      { keyPrefix: 'x'.repeat(1025) },
      { keyPrefix: 'a\u0000' },
      { format: 'json' },
      { format: 'ROSETTA' },
    ];
    for (const fields of bad) {
      expect([fields, await codeOf(hook(c, fields))]).toEqual([fields, 'INVALID_ARGUMENT']);
    }
    expect((await api.webhooks.listWebhooks({ collection: c })).webhooks).toEqual([]);
    // The bounds themselves are fine.
    await hook(c, { secret: 'x'.repeat(16) });
    await hook(c, { secret: 'x'.repeat(256), keyPrefix: 'é'.repeat(512) });
    await hook(c, { ops: ['put', 'delete', 'collection.updated', 'collection.deleted'] });
    expect((await api.webhooks.listWebhooks({ collection: c })).webhooks).toHaveLength(3);
  });

  it('allows at most 20 webhooks per collection, even when created all at once', async () => {
    const c = await collection('limit');
    const results = await Promise.all(
      Array.from({ length: 25 }, (_, i) => codeOf(hook(c, { url: `https://example.com/${i}` }))),
    );
    expect(results.filter((r) => r === undefined)).toHaveLength(20);
    expect(results.filter((r) => r === 'INVALID_ARGUMENT')).toHaveLength(5);
    const listed = (await api.webhooks.listWebhooks({ collection: c })).webhooks;
    expect(listed).toHaveLength(20);
    const refused = await hook(c).catch((error: Error) => error.message);
    expect(refused).toMatch(/already has 20 webhooks/);
    // Another collection has its own 20.
    await hook(await collection('limit-other'));
    // Deleting one makes room for one.
    await api.webhooks.deleteWebhook({ collection: c, id: listed[0]?.id ?? 0n });
    await hook(c);
    expect(await codeOf(hook(c))).toBe('INVALID_ARGUMENT');
  });

  it('goes with its collection, deliveries and all', async () => {
    const c = await collection('cascade');
    const { webhook } = await hook(c);
    const id = webhook?.id ?? 0n;
    await api.webhooks.recordDelivery({ delivery: delivery(id, '1.1') });
    const targetIds = async () => (await api.webhooks.listWebhookTargets({})).targets.map((t) => t.webhook?.id);
    expect(await targetIds()).toContain(id);

    await api.collections.deleteCollection({ collection: c });
    expect(await targetIds()).not.toContain(id);
    const { rows } = await api.runtime.db.query<{ n: number }>(
      'SELECT count(*)::int8 AS n FROM webhook_deliveries WHERE webhook_id = $1',
      [Number(id)],
    );
    expect(rows[0]?.n).toBe(0);
    // A collection created again under the name starts without webhooks.
    await collection('cascade');
    expect((await api.webhooks.listWebhooks({ collection: c })).webhooks).toEqual([]);
    // The worker may still report on the old one: dropped without an error.
    await api.webhooks.recordDelivery({ delivery: delivery(id, '1.2') });
  });
});

describe('who may do what', () => {
  let c: { space: string; collection: string };
  let existing: bigint;

  beforeAll(async () => {
    c = await collection('access');
    existing = (await hook(c, { keyPrefix: 'users/' })).webhook?.id ?? 0n;
  });

  it('lets a writer manage webhooks', async () => {
    const { webhook } = await writer.createWebhook({ collection: c, url: 'https://example.com/w', secret: SECRET });
    expect((await writer.listWebhooks({ collection: c })).webhooks.map((w) => w.id)).toContain(webhook?.id);
    await writer.listDeliveries({ webhook: { collection: c, id: webhook?.id ?? 0n } });
    await writer.deleteWebhook({ collection: c, id: webhook?.id ?? 0n });
  });

  it('lets a reader list webhooks and deliveries, not create or delete them', async () => {
    expect((await reader.listWebhooks({ collection: c })).webhooks.map((w) => w.id)).toContain(existing);
    await reader.listDeliveries({ webhook: { collection: c, id: existing } });
    expect(await codeOf(reader.createWebhook({ collection: c, url: 'https://example.com/r', secret: SECRET }))).toBe(
      'PERMISSION_DENIED',
    );
    expect(await codeOf(reader.deleteWebhook({ collection: c, id: existing }))).toBe('PERMISSION_DENIED');
  });

  it('hides the space from a stranger', async () => {
    const calls = [
      stranger.listWebhooks({ collection: c }),
      stranger.createWebhook({ collection: c, url: 'https://example.com/s', secret: SECRET }),
      stranger.deleteWebhook({ collection: c, id: existing }),
      stranger.listDeliveries({ webhook: { collection: c, id: existing } }),
    ];
    for (const call of calls) expect(await codeOf(call)).toBe('SPACE_NOT_FOUND');
    expect((await api.webhooks.listWebhooks({ collection: c })).webhooks.map((w) => w.id)).toContain(existing);
  });

  it('refuses unauthenticated calls', async () => {
    const anonymous = createDirectClient(WebhookService, api.runtime.impls.webhooks);
    expect(await codeOf(anonymous.listWebhooks({ collection: c }))).toBe('UNAUTHENTICATED');
    expect(await codeOf(anonymous.listWebhookTargets({}))).toBe('UNAUTHENTICATED');
  });

  it('keeps targets and delivery reports to admins (the worker)', async () => {
    for (const client of [writer, reader, stranger]) {
      expect(await codeOf(client.listWebhookTargets({}))).toBe('PERMISSION_DENIED');
      expect(await codeOf(client.recordDelivery({ delivery: delivery(existing, '9.9') }))).toBe('PERMISSION_DENIED');
    }
    expect((await api.webhooks.listDeliveries({ webhook: { collection: c, id: existing } })).deliveries).toEqual([]);
    // An admin's own token passes.
    const admin = webhooksAs(await tokenOf('admin'));
    expect((await admin.listWebhookTargets({})).targets.length).toBeGreaterThan(0);
  });

  it('refuses changes through a read-only credential', async () => {
    const readOnly = webhooksAs(await tokenOf('wendy', { readOnly: true }));
    await readOnly.listWebhooks({ collection: c });
    expect(await codeOf(readOnly.createWebhook({ collection: c, url: 'https://example.com/ro', secret: SECRET }))).toBe(
      'PERMISSION_DENIED',
    );
    expect(await codeOf(readOnly.deleteWebhook({ collection: c, id: existing }))).toBe('PERMISSION_DENIED');
  });

  it('keeps a key-scoped token to webhooks within its keys', async () => {
    const scoped = webhooksAs(
      await tokenOf('wendy', { scopes: [{ space: SPACE, collection: 'access', write: true, keyPrefix: 'users/1' }] }),
    );
    const create = (keyPrefix: string) =>
      scoped.createWebhook({ collection: c, url: 'https://example.com/scoped', secret: SECRET, keyPrefix });
    // A broader webhook would deliver keys the token may not read.
    expect(await codeOf(create(''))).toBe('PERMISSION_DENIED');
    expect(await codeOf(create('users/'))).toBe('PERMISSION_DENIED');
    const own = (await create('users/12')).webhook?.id ?? 0n;
    expect((await scoped.listWebhooks({ collection: c })).webhooks.map((w) => w.id)).toEqual([own]);
    expect(await codeOf(scoped.deleteWebhook({ collection: c, id: existing }))).toBe('PERMISSION_DENIED');
    expect(await codeOf(scoped.listDeliveries({ webhook: { collection: c, id: existing } }))).toBe('PERMISSION_DENIED');
    await scoped.listDeliveries({ webhook: { collection: c, id: own } });
    await scoped.deleteWebhook({ collection: c, id: own });
    // A token for another collection sees none of this one's.
    const elsewhere = webhooksAs(
      await tokenOf('wendy', { scopes: [{ space: SPACE, collection: 'other', write: true, keyPrefix: '' }] }),
    );
    expect(await codeOf(elsewhere.listWebhooks({ collection: c }))).toBe('PERMISSION_DENIED');
  });
});

describe('secrets', () => {
  it('never come back from Create or List, only in the targets given to admins', async () => {
    const c = await collection('secrets');
    const secret = 'a-very-particular-secret-value';
    const created = await hook(c, { secret });
    expect(json(created)).not.toContain(secret);
    const listed = await api.webhooks.listWebhooks({ collection: c });
    expect(json(listed)).not.toContain(secret);
    expect(json(await writer.listWebhooks({ collection: c }))).not.toContain(secret);
    const { targets } = await api.webhooks.listWebhookTargets({});
    const target = targets.find((t) => t.webhook?.id === created.webhook?.id);
    expect(target).toMatchObject({ secret, webhook: { space: SPACE, collection: 'secrets', format: 'rosetta' } });
    expect(target?.webhook).toEqual(created.webhook);
    // Every webhook of every collection, by id.
    const ids = targets.map((t) => t.webhook?.id ?? 0n);
    expect([...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(ids);
    expect(new Set(targets.map((t) => t.webhook?.collection)).size).toBeGreaterThan(1);
  });
});

function delivery(webhookId: bigint, eventId: string, fields: Record<string, unknown> = {}) {
  return {
    webhookId,
    eventId,
    revision: 10n,
    op: 'put',
    key: 'k',
    state: 'retrying',
    attempts: 1,
    lastStatus: 503,
    lastError: 'Service Unavailable',
    ...fields,
  };
}

describe('the delivery log', () => {
  let c: { space: string; collection: string };
  let id: bigint;
  const list = (options: { state?: string; limit?: number } = {}) =>
    api.webhooks.listDeliveries({ webhook: { collection: c, id }, ...options }).then((r) => r.deliveries);

  beforeAll(async () => {
    c = await collection('log');
    id = (await hook(c)).webhook?.id ?? 0n;
  });

  it('keeps one entry per event: a later report replaces it, keeping its creation time', async () => {
    await api.webhooks.recordDelivery({ delivery: delivery(id, '100.1') });
    const [first] = await list();
    expect(first).toMatchObject({
      webhookId: id,
      eventId: '100.1',
      revision: 10n,
      op: 'put',
      key: 'k',
      state: 'retrying',
      attempts: 1,
      lastStatus: 503,
      lastError: 'Service Unavailable',
    });
    expect(first?.createdUs).toBe(first?.updatedUs);

    await api.webhooks.recordDelivery({
      // Times sent by the worker are ignored: the service keeps its own.
      delivery: {
        ...delivery(id, '100.1', { state: 'delivered', attempts: 2, lastStatus: 204, lastError: '' }),
        createdUs: 1n,
      },
    });
    const after = await list();
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ state: 'delivered', attempts: 2, lastStatus: 204, lastError: '' });
    expect(after[0]?.createdUs).toBe(first?.createdUs);
    expect(after[0]?.updatedUs).toBeGreaterThan(first?.updatedUs ?? 0n);
  });

  it('lists newest first, by state, up to a limit', async () => {
    await api.webhooks.recordDelivery({
      delivery: delivery(id, '200.1', { state: 'dead', attempts: 8, lastStatus: 0, lastError: 'ECONNREFUSED' }),
    });
    await api.webhooks.recordDelivery({ delivery: delivery(id, '200.2', { op: 'delete', key: 'gone' }) });
    await api.webhooks.recordDelivery({ delivery: delivery(id, '200.3', { op: 'collection.updated', key: '' }) });
    // Reporting again moves an entry to the front.
    await api.webhooks.recordDelivery({ delivery: delivery(id, '200.2', { attempts: 2 }) });

    expect((await list()).map((d) => d.eventId)).toEqual(['200.2', '200.3', '200.1', '100.1']);
    const updated = (await list()).map((d) => d.updatedUs);
    expect([...updated].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0))).toEqual(updated);
    expect((await list({ state: 'retrying' })).map((d) => d.eventId)).toEqual(['200.2', '200.3']);
    expect((await list({ state: 'dead' })).map((d) => d.eventId)).toEqual(['200.1']);
    expect((await list({ state: 'delivered' })).map((d) => d.eventId)).toEqual(['100.1']);
    expect((await list({ limit: 2 })).map((d) => d.eventId)).toEqual(['200.2', '200.3']);
    expect((await list({ limit: 1000 })).length).toBe(4);
    expect(await codeOf(list({ state: 'failed' }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(list({ limit: 1001 }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(list({ limit: -1 }))).toBe('INVALID_ARGUMENT');
  });

  it('lists 100 by default', async () => {
    const c2 = await collection('log-many');
    const id2 = (await hook(c2)).webhook?.id ?? 0n;
    for (let i = 0; i < 105; i++) await api.webhooks.recordDelivery({ delivery: delivery(id2, `300.${i}`) });
    const page = (await api.webhooks.listDeliveries({ webhook: { collection: c2, id: id2 } })).deliveries;
    expect(page).toHaveLength(100);
    expect(page[0]?.eventId).toBe('300.104');
  });

  it("finds only the collection's own webhooks", async () => {
    const other = await collection('log-other');
    expect(await codeOf(api.webhooks.listDeliveries({ webhook: { collection: other, id } }))).toBe('WEBHOOK_NOT_FOUND');
    expect(await codeOf(api.webhooks.listDeliveries({ webhook: { collection: c, id: 2n ** 62n } }))).toBe(
      'WEBHOOK_NOT_FOUND',
    );
    expect(await codeOf(api.webhooks.listDeliveries({ webhook: { collection: c } }))).toBe('INVALID_ARGUMENT');
  });

  it('drops reports for webhooks that are gone, and refuses malformed ones', async () => {
    const { webhook } = await hook(c);
    const gone = webhook?.id ?? 0n;
    await api.webhooks.deleteWebhook({ collection: c, id: gone });
    await api.webhooks.recordDelivery({ delivery: delivery(gone, '400.1') });
    await api.webhooks.recordDelivery({ delivery: delivery(2n ** 62n, '400.1') });
    const { rows } = await api.runtime.db.query<{ n: number }>(
      'SELECT count(*)::int8 AS n FROM webhook_deliveries WHERE webhook_id = $1',
      [Number(gone)],
    );
    expect(rows[0]?.n).toBe(0);

    expect(await codeOf(api.webhooks.recordDelivery({}))).toBe('INVALID_ARGUMENT');
    for (const bad of [
      { webhookId: 0n },
      { eventId: '' },
      { state: '' },
      { state: 'failed' },
      { op: 'upsert' },
      { key: 'a\u0000' },
      { attempts: -1 },
      { lastStatus: 1000 },
    ]) {
      expect([bad, await codeOf(api.webhooks.recordDelivery({ delivery: delivery(id, '500.1', bad) }))]).toEqual([
        bad,
        'INVALID_ARGUMENT',
      ]);
    }
    expect((await list()).map((d) => d.eventId)).not.toContain('500.1');
  });
});
