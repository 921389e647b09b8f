import { createHmac } from 'node:crypto';
import type { Client } from '@connectrpc/connect';
import { dvidMutationMessage, formatMicros, valueAsText } from '@rosetta/core';
import type { ChangeEvent, WebhookService, WebhookTarget } from '@rosetta/proto';
import { recordDelivery } from '../metrics';

/** How long the list of webhooks is trusted before it is read again (ms). */
const TARGETS_TTL_MS = 5000;
/** A receiver that answers nothing within this fails the attempt (ms). */
const DELIVERY_TIMEOUT_MS = 10_000;

type Webhooks = Pick<Client<typeof WebhookService>, 'listWebhookTargets' | 'recordDelivery'>;

/**
 * Every webhook, read through the record service at most every TARGETS_TTL_MS: the relay asks
 * which webhooks an event goes to, the delivery looks its webhook up (a webhook deleted since
 * is delivered to no more).
 */
export class WebhookTargets {
  private cached: { at: number; targets: readonly WebhookTarget[] } | undefined;
  private pending: Promise<readonly WebhookTarget[]> | undefined;

  constructor(private readonly webhooks: Webhooks) {}

  private async all(): Promise<readonly WebhookTarget[]> {
    if (this.cached !== undefined && performance.now() - this.cached.at < TARGETS_TTL_MS) return this.cached.targets;
    this.pending ??= this.webhooks
      .listWebhookTargets({})
      .then(({ targets }) => {
        this.cached = { at: performance.now(), targets };
        return targets;
      })
      .finally(() => {
        this.pending = undefined;
      });
    return this.pending;
  }

  /** The webhooks an event goes to: its collection's, whose ops and key prefix it passes. */
  async of(event: ChangeEvent): Promise<WebhookTarget[]> {
    return (await this.all()).filter(({ webhook }) => webhook !== undefined && matches(webhook, event));
  }

  /** Whether a webhook watches the collection of any of the events. */
  async watchAny(events: readonly ChangeEvent[]): Promise<boolean> {
    const targets = await this.all();
    return events.some((event) =>
      targets.some(({ webhook }) => webhook?.space === event.space && webhook.collection === event.collection),
    );
  }

  async byId(id: bigint): Promise<WebhookTarget | undefined> {
    return (await this.all()).find((t) => t.webhook?.id === id);
  }
}

function matches(webhook: NonNullable<WebhookTarget['webhook']>, event: ChangeEvent): boolean {
  if (webhook.space !== event.space || webhook.collection !== event.collection) return false;
  if (webhook.ops.length > 0 && !webhook.ops.includes(event.op)) return false;
  if (event.op.startsWith('collection.')) return webhook.format !== 'dvid' && event.op !== 'collection.created';
  return event.key.startsWith(webhook.keyPrefix);
}

/** What a delivery POSTs: the event as JSON, or DVID's mutation-log message. */
export function webhookBody(format: string, event: ChangeEvent): string {
  if (format === 'dvid') {
    const message = dvidMutationMessage({
      op: event.op as 'put',
      key: event.key,
      size: Number(event.size),
      version: event.version,
      at: Number(event.atUs),
    });
    if (message === undefined) throw new Error(`a ${event.op} event has no DVID mutation message`);
    return message;
  }
  const value = event.value;
  const text = value === undefined ? undefined : valueAsText(event.contentType, value);
  return JSON.stringify({
    id: event.position,
    revision: Number(event.revision),
    op: event.op,
    space: event.space,
    collection: event.collection,
    key: event.key,
    version: event.version,
    contentType: event.contentType,
    size: Number(event.size),
    at: formatMicros(Number(event.atUs)),
    ...(value === undefined
      ? {}
      : text === undefined
        ? { value: Buffer.from(value).toString('base64'), encoding: 'base64' }
        : { value: text, encoding: 'utf8' }),
  });
}

/**
 * `Rosetta-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` (Stripe's scheme):
 * the receiver recomputes it with the secret, and refuses old timestamps to stop replays.
 */
export function webhookSignature(secret: string, timestamp: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
  return `t=${timestamp},v1=${mac}`;
}

export interface DeliveryAttempt {
  readonly target: WebhookTarget;
  readonly event: ChangeEvent;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** The last attempt: a failure makes the delivery dead (the dead-letter list). */
  readonly final: boolean;
  readonly webhooks: Webhooks;
  readonly signal?: AbortSignal | undefined;
  /** The clock (ms since the epoch), for the signature's timestamp. */
  readonly now?: () => number;
}

/** A receiver's refusal (or silence): the attempt failed and is retried unless it was the last. */
export class DeliveryFailed extends Error {}

/**
 * POSTs an event to a webhook once, and records the outcome in the delivery log: delivered on
 * any 2xx, else retrying (throwing DeliveryFailed, so that the queue retries with backoff) or,
 * on the last attempt, dead.
 */
export async function deliverWebhook(attempt: DeliveryAttempt): Promise<void> {
  const { target, event } = attempt;
  const webhook = target.webhook;
  if (webhook === undefined) throw new Error('a webhook target without its webhook');
  const body = webhookBody(webhook.format, event);
  const timestamp = Math.floor((attempt.now ?? Date.now)() / 1000);
  let status = 0;
  let error = '';
  const started = performance.now();
  try {
    const signals = [AbortSignal.timeout(DELIVERY_TIMEOUT_MS), ...(attempt.signal ? [attempt.signal] : [])];
    const response = await fetch(webhook.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Rosetta-Webhooks/1',
        'rosetta-event-id': event.position,
        'rosetta-signature': webhookSignature(target.secret, timestamp, body),
      },
      body,
      redirect: 'manual',
      signal: AbortSignal.any(signals),
    });
    status = response.status;
    await response.body?.cancel();
    if (status < 200 || status >= 300) error = `the receiver answered ${status}`;
  } catch (failure) {
    error = failure instanceof Error ? failure.message : String(failure);
  }
  const state = error === '' ? 'delivered' : attempt.final ? 'dead' : 'retrying';
  recordDelivery(state, (performance.now() - started) / 1000);
  await attempt.webhooks.recordDelivery({
    delivery: {
      webhookId: webhook.id,
      eventId: event.position,
      revision: event.revision,
      op: event.op,
      key: event.key,
      state,
      attempts: attempt.attempt,
      lastStatus: status,
      lastError: error.slice(0, 500),
    },
  });
  if (error !== '') throw new DeliveryFailed(`webhook ${webhook.id}: ${error}`);
}

/** Where the relay hands each page of events for webhooks: a queue, or in-process deliveries. */
export interface WebhookDispatcher {
  /**
   * Whether a webhook watches the collection of any of the events (then the relay reads the
   * page's events, values included, and dispatches them).
   */
  watches(events: readonly ChangeEvent[]): Promise<boolean>;
  /** Resolves once every delivery of the events is queued (not delivered). */
  dispatch(events: readonly ChangeEvent[]): Promise<void>;
}
