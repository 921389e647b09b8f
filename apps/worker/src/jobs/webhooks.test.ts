import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import {
  ChangeEventSchema,
  WebhookSchema,
  WebhookTargetSchema,
  type ChangeEvent,
  type RecordDeliveryRequestSchema,
  type WebhookTarget,
} from '@rosetta/proto';
import { deliverWebhook, DeliveryFailed, webhookBody, webhookSignature, WebhookTargets } from './webhooks';

const event = (init: Partial<ChangeEvent> = {}): ChangeEvent =>
  create(ChangeEventSchema, {
    position: '7.3',
    revision: 42n,
    op: 'put',
    space: 'default',
    collection: 'notes',
    key: 'a/1',
    version: 'abc',
    contentType: 'text/plain',
    size: 5n,
    atUs: 1_765_000_000_123_456n,
    value: Buffer.from('hello'),
    ...init,
  });

const target = (init: Record<string, unknown> = {}, secret = 'a-long-enough-secret'): WebhookTarget =>
  create(WebhookTargetSchema, {
    webhook: create(WebhookSchema, {
      id: 1n,
      space: 'default',
      collection: 'notes',
      url: '',
      format: 'rosetta',
      ...init,
    }),
    secret,
  });

/** An in-memory WebhookService of our own: the targets it lists, the deliveries it is told of. */
function fakeWebhooks(targets: WebhookTarget[]) {
  const recorded: Array<MessageInitShape<typeof RecordDeliveryRequestSchema>['delivery']> = [];
  let lists = 0;
  return {
    recorded,
    lists: () => lists,
    client: {
      listWebhookTargets: () => {
        lists += 1;
        return Promise.resolve({ targets }) as never;
      },
      recordDelivery: (req: MessageInitShape<typeof RecordDeliveryRequestSchema>) => {
        recorded.push(req.delivery);
        return Promise.resolve({}) as never;
      },
    },
  };
}

describe('webhookBody', () => {
  it('renders the event as JSON, the value as text when it is text, Base64 otherwise', () => {
    expect(JSON.parse(webhookBody('rosetta', event()))).toEqual({
      id: '7.3',
      revision: 42,
      op: 'put',
      space: 'default',
      collection: 'notes',
      key: 'a/1',
      version: 'abc',
      contentType: 'text/plain',
      size: 5,
      at: '2025-12-06T05:46:40.123456Z',
      value: 'hello',
      encoding: 'utf8',
    });
    const binary = JSON.parse(webhookBody('rosetta', event({ contentType: 'application/octet-stream' })));
    expect(binary).toMatchObject({ value: 'aGVsbG8=', encoding: 'base64' });
    const large = JSON.parse(webhookBody('rosetta', event({ value: undefined })));
    expect(large.value).toBeUndefined();
  });

  it("renders DVID's mutation-log message for puts and deletes only", () => {
    expect(JSON.parse(webhookBody('dvid', event()))).toMatchObject({
      Action: 'postkv',
      Bytes: 5,
      Key: 'a/1',
      UUID: 'abc',
    });
    expect(JSON.parse(webhookBody('dvid', event({ op: 'delete' })))).toMatchObject({ Action: 'delete', Key: 'a/1' });
    expect(() => webhookBody('dvid', event({ op: 'collection.updated' }))).toThrow(/no DVID mutation message/);
  });
});

it('signs "<timestamp>.<body>" with HMAC-SHA256 of the secret', () => {
  const expected = createHmac('sha256', 'secret').update('1700000000.{"a":1}').digest('hex');
  expect(webhookSignature('secret', 1_700_000_000, '{"a":1}')).toBe(`t=1700000000,v1=${expected}`);
});

describe('WebhookTargets', () => {
  it("matches an event's collection, ops and key prefix, and DVID webhooks only to record events", async () => {
    const all = [
      target({ id: 1n }),
      target({ id: 2n, ops: ['delete'] }),
      target({ id: 3n, keyPrefix: 'b/' }),
      target({ id: 4n, collection: 'other' }),
      target({ id: 5n, format: 'dvid' }),
    ];
    const targets = new WebhookTargets(fakeWebhooks(all).client);
    const ids = async (e: ChangeEvent) => (await targets.of(e)).map((t) => t.webhook?.id);
    expect(await ids(event())).toEqual([1n, 5n]);
    expect(await ids(event({ op: 'delete' }))).toEqual([1n, 2n, 5n]);
    expect(await ids(event({ key: 'b/1' }))).toEqual([1n, 3n, 5n]);
    expect(await ids(event({ op: 'collection.updated', key: '' }))).toEqual([1n, 3n]);
    expect((await targets.byId(4n))?.webhook?.collection).toBe('other');
  });

  it("watches a collection whatever an event's key and op, and only the webhooks' collections", async () => {
    const targets = new WebhookTargets(
      fakeWebhooks([target({ id: 1n, ops: ['delete'], keyPrefix: 'b/' }), target({ id: 2n, space: 'team' })]).client,
    );
    expect(await targets.watchAny([event({ collection: 'elsewhere' }), event({ op: 'put', key: 'a/1' })])).toBe(true);
    expect(await targets.watchAny([event({ space: 'team', collection: 'notes', key: '' })])).toBe(true);
    expect(await targets.watchAny([event({ collection: 'elsewhere' }), event({ space: 'other' })])).toBe(false);
    expect(await targets.watchAny([])).toBe(false);
    expect(await new WebhookTargets(fakeWebhooks([]).client).watchAny([event()])).toBe(false);
  });

  it('reads the list once for many events within its lifetime', async () => {
    const fake = fakeWebhooks([target()]);
    const targets = new WebhookTargets(fake.client);
    await Promise.all([targets.of(event()), targets.of(event()), targets.byId(1n)]);
    await targets.of(event());
    expect(fake.lists()).toBe(1);
  });
});

describe('deliverWebhook', () => {
  let server: Server;
  let url: string;
  const received: Array<{ headers: IncomingMessage['headers']; body: string }> = [];
  let answer = 200;

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.writeHead(answer).end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  });

  afterAll(() => new Promise((resolve) => server.close(resolve)));

  beforeEach(() => {
    received.length = 0;
    answer = 200;
  });

  it('POSTs the signed event and records it delivered', async () => {
    const fake = fakeWebhooks([]);
    await deliverWebhook({
      target: target({ url }),
      event: event(),
      attempt: 1,
      final: false,
      webhooks: fake.client,
      now: () => 1_700_000_000_000,
    });
    const [request] = received;
    expect(request?.headers['rosetta-event-id']).toBe('7.3');
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.headers['rosetta-signature']).toBe(
      webhookSignature('a-long-enough-secret', 1_700_000_000, request?.body ?? ''),
    );
    expect(fake.recorded).toEqual([
      expect.objectContaining({
        webhookId: 1n,
        eventId: '7.3',
        revision: 42n,
        state: 'delivered',
        attempts: 1,
        lastStatus: 200,
      }),
    ]);
  });

  it('records a refusal as retrying, and as dead on the last attempt, and throws for a retry', async () => {
    answer = 503;
    const fake = fakeWebhooks([]);
    const attempt = (n: number, final: boolean) =>
      deliverWebhook({ target: target({ url }), event: event(), attempt: n, final, webhooks: fake.client });
    await expect(attempt(1, false)).rejects.toBeInstanceOf(DeliveryFailed);
    await expect(attempt(2, true)).rejects.toBeInstanceOf(DeliveryFailed);
    expect(fake.recorded.map((d) => [d?.state, d?.attempts, d?.lastStatus, d?.lastError])).toEqual([
      ['retrying', 1, 503, 'the receiver answered 503'],
      ['dead', 2, 503, 'the receiver answered 503'],
    ]);
  });

  it('records an unreachable receiver with status 0 and the reason', async () => {
    const fake = fakeWebhooks([]);
    const closed = await new Promise<string>((resolve) => {
      const spare = createServer();
      spare.listen(0, '127.0.0.1', () => {
        const port = (spare.address() as AddressInfo).port;
        spare.close(() => resolve(`http://127.0.0.1:${port}/`));
      });
    });
    await expect(
      deliverWebhook({
        target: target({ url: closed }),
        event: event(),
        attempt: 1,
        final: false,
        webhooks: fake.client,
      }),
    ).rejects.toBeInstanceOf(DeliveryFailed);
    expect(fake.recorded[0]).toMatchObject({ state: 'retrying', lastStatus: 0 });
    expect(fake.recorded[0]?.lastError).not.toBe('');
  });
});
