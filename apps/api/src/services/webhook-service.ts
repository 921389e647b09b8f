import {
  DomainError,
  invalid,
  isDeliveryState,
  MAX_KEY_BYTES,
  MAX_WEBHOOKS_PER_COLLECTION,
  utf8ByteLength,
  validateDeliveryStateFilter,
  validateWebhook,
  type ChangeOp,
  type Collection,
  type WebhookInput,
} from '@rosetta/core';
import type { CollectionAddress, CollectionResolver } from './collection-resolver';
import type { DeliveryInput, DeliveryRecord, WebhookRecord, WebhooksRepository } from './ports';

export const DEFAULT_DELIVERIES_PAGE = 100;
export const MAX_DELIVERIES_PAGE = 1000;
/** Longest event id (a feed position, `txid.id`, is far shorter). */
export const MAX_EVENT_ID_CHARS = 256;
/** A delivery's last error is cut to this many characters. */
export const MAX_DELIVERY_ERROR_CHARS = 2000;

const CHANGE_OPS: readonly ChangeOp[] = [
  'put',
  'delete',
  'collection.created',
  'collection.updated',
  'collection.deleted',
];

/** Checks a webhook (or its call) may be seen; throws when it may not. */
export type WebhookGuard = (webhook: WebhookRecord) => void;

const notFound = (id: number | bigint, collection: Collection) =>
  new DomainError('WEBHOOK_NOT_FOUND', `webhook ${id} not found in ${collection.space}/${collection.name}`, {
    publicMessage: `webhook ${id} does not exist in collection "${collection.name}" of space "${collection.space}"`,
  });

/**
 * A webhook id from the wire: 0 (unset) and negative ids are refused; an id beyond any that can
 * exist is returned as undefined (no such webhook).
 */
export function webhookIdOf(id: bigint): number | undefined {
  if (id <= 0n) throw invalid('INVALID_ARGUMENT', 'a webhook id (a positive integer) is required');
  return id > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(id);
}

/** The page size of a delivery listing: 0 is the default (100); at most 1000. */
export function deliveriesLimit(limit: number): number {
  if (limit === 0) return DEFAULT_DELIVERIES_PAGE;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_DELIVERIES_PAGE) {
    throw invalid('INVALID_ARGUMENT', `limit must be from 1 to ${MAX_DELIVERIES_PAGE}`);
  }
  return limit;
}

/** What the worker reports about one delivery, as it comes off the wire. */
export interface DeliveryReport {
  readonly webhookId: bigint;
  readonly eventId: string;
  readonly revision: bigint;
  readonly op: string;
  readonly key: string;
  readonly state: string;
  readonly attempts: number;
  readonly lastStatus: number;
  readonly lastError: string;
}

/**
 * Checks a delivery report: refuses what is malformed (INVALID_ARGUMENT) and tidies the last
 * error (NULs dropped, cut to MAX_DELIVERY_ERROR_CHARS) rather than lose an outcome over a
 * receiver's odd message. Undefined: the webhook id is beyond any that can exist.
 */
export function validateDelivery(report: DeliveryReport): DeliveryInput | undefined {
  const webhookId = webhookIdOf(report.webhookId);
  const { eventId, op, key, state, attempts, lastStatus } = report;
  if (eventId === '' || eventId.length > MAX_EVENT_ID_CHARS || eventId.includes('\u0000') || !eventId.isWellFormed()) {
    throw invalid('INVALID_ARGUMENT', `event_id must be 1 to ${MAX_EVENT_ID_CHARS} characters, without NUL`);
  }
  if (report.revision < 0n || report.revision > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw invalid('INVALID_ARGUMENT', 'revision is out of range');
  }
  if (!(CHANGE_OPS as readonly string[]).includes(op)) {
    throw invalid('INVALID_ARGUMENT', `unknown op "${op}"; ops are ${CHANGE_OPS.join(', ')}`);
  }
  if (utf8ByteLength(key) > MAX_KEY_BYTES || key.includes('\u0000') || !key.isWellFormed()) {
    throw invalid('INVALID_ARGUMENT', `key must be valid UTF-8 of at most ${MAX_KEY_BYTES} bytes, without NUL`);
  }
  if (!isDeliveryState(state)) {
    throw invalid('INVALID_ARGUMENT', `state must be retrying, delivered or dead, not "${state}"`);
  }
  if (!Number.isSafeInteger(attempts) || attempts < 0) {
    throw invalid('INVALID_ARGUMENT', 'attempts must not be negative');
  }
  if (!Number.isSafeInteger(lastStatus) || lastStatus < 0 || lastStatus > 999) {
    throw invalid('INVALID_ARGUMENT', 'last_status must be an HTTP status (or 0 for none)');
  }
  if (webhookId === undefined) return undefined;
  return {
    webhookId,
    eventId,
    revision: Number(report.revision),
    op,
    key,
    state,
    attempts,
    lastStatus,
    lastError: Array.from(report.lastError.replaceAll('\u0000', '').toWellFormed())
      .slice(0, MAX_DELIVERY_ERROR_CHARS)
      .join(''),
  };
}

/**
 * Webhooks of collections and their delivery log. Callers are authorized by the transport (write
 * access to manage, read access to list, admin for the worker's calls); a `guard` lets it refuse
 * a webhook its credential may not touch (a key-scoped token and a broader prefix).
 */
export class WebhookService {
  constructor(
    private readonly webhooks: WebhooksRepository,
    private readonly resolver: CollectionResolver,
  ) {}

  /** Validates and adds a webhook; at most MAX_WEBHOOKS_PER_COLLECTION per collection. */
  async create(address: CollectionAddress, input: WebhookInput): Promise<WebhookRecord> {
    const spec = validateWebhook(input);
    const collection = await this.resolver.resolve(address);
    const created = await this.webhooks.create(collection, spec, MAX_WEBHOOKS_PER_COLLECTION);
    if (created === 'collection-gone') throw await this.resolver.notFound(address);
    if (created === 'limit-reached') {
      throw invalid(
        'INVALID_ARGUMENT',
        `collection "${collection.name}" already has ${MAX_WEBHOOKS_PER_COLLECTION} webhooks, the most it may have; delete one first`,
      );
    }
    return created;
  }

  /** The collection's webhooks, oldest first. */
  async list(address: CollectionAddress): Promise<WebhookRecord[]> {
    const collection = await this.resolver.resolve(address);
    return this.webhooks.list(collection.id);
  }

  /** Deletes a webhook of the collection and its delivery log; WEBHOOK_NOT_FOUND when it has none with that id. */
  async delete(address: CollectionAddress, id: bigint, guard?: WebhookGuard): Promise<void> {
    const collection = await this.resolver.resolve(address);
    const webhook = await this.find(collection, id);
    guard?.(webhook);
    if (!(await this.webhooks.delete(collection.id, webhook.id))) throw notFound(id, collection);
  }

  /** A webhook's deliveries, newest (last updated) first; `state` empty for every state. */
  async deliveries(
    address: CollectionAddress,
    id: bigint,
    options: { state: string; limit: number },
    guard?: WebhookGuard,
  ): Promise<DeliveryRecord[]> {
    const state = validateDeliveryStateFilter(options.state);
    const limit = deliveriesLimit(options.limit);
    const collection = await this.resolver.resolve(address);
    const webhook = await this.find(collection, id);
    guard?.(webhook);
    return this.webhooks.deliveries(webhook.id, state, limit);
  }

  /** Every webhook of every collection, with its secret: for the worker only. */
  targets(): Promise<WebhookRecord[]> {
    return this.webhooks.all();
  }

  /**
   * Records the outcome of a delivery: one entry per (webhook, event), created on the first
   * report and replaced by each later one (its `created` kept, `updated` set to now). A report
   * for a webhook that no longer exists is dropped; returns whether it was stored.
   */
  async recordDelivery(report: DeliveryReport): Promise<boolean> {
    const delivery = validateDelivery(report);
    if (delivery === undefined) return false;
    return this.webhooks.recordDelivery(delivery);
  }

  private async find(collection: Collection, id: bigint): Promise<WebhookRecord> {
    const number = webhookIdOf(id);
    const webhook = number === undefined ? undefined : await this.webhooks.find(collection.id, number);
    if (webhook === undefined) throw notFound(id, collection);
    return webhook;
  }
}
