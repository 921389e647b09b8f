import type { Collection, DeliveryState, WebhookFormat, WebhookOp, WebhookSpec } from '@rosetta/core';
import type { DeliveryInput, DeliveryRecord, WebhookRecord, WebhooksRepository } from '../services/ports';
import { us } from './sql-fragments';
import type { SqlClient } from './sql';

interface WebhookRow {
  id: number;
  space: string;
  collection: string;
  url: string;
  secret: string;
  ops: WebhookOp[];
  key_prefix: string;
  format: WebhookFormat;
  created: number;
}

interface DeliveryRow {
  webhook_id: number;
  event_id: string;
  revision: number;
  op: string;
  key: string;
  state: DeliveryState;
  attempts: number;
  last_status: number;
  last_error: string;
  created: number;
  updated: number;
}

const WEBHOOK = `id, space, collection, url, secret, ops, key_prefix, format, ${us('created')} AS created`;

const DELIVERY = `webhook_id, event_id, revision, op, key, state, attempts, last_status, last_error,
  ${us('created')} AS created, ${us('updated')} AS updated`;

const toWebhook = (row: WebhookRow): WebhookRecord => ({
  id: row.id,
  space: row.space,
  collection: row.collection,
  url: row.url,
  secret: row.secret,
  ops: row.ops,
  keyPrefix: row.key_prefix,
  format: row.format,
  created: row.created,
});

const toDelivery = (row: DeliveryRow): DeliveryRecord => ({
  webhookId: row.webhook_id,
  eventId: row.event_id,
  revision: row.revision,
  op: row.op,
  key: row.key,
  state: row.state,
  attempts: row.attempts,
  lastStatus: row.last_status,
  lastError: row.last_error,
  created: row.created,
  updated: row.updated,
});

/** Postgres's foreign_key_violation: the webhook went away while its delivery was recorded. */
const isForeignKeyViolation = (error: unknown) =>
  typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23503';

const LIST = {
  name: 'webhooks.list',
  text: `SELECT ${WEBHOOK} FROM webhooks WHERE collection_id = $1 ORDER BY id`,
};

const FIND = {
  name: 'webhooks.find',
  text: `SELECT ${WEBHOOK} FROM webhooks WHERE collection_id = $1 AND id = $2`,
};

const ALL = { name: 'webhooks.all', text: `SELECT ${WEBHOOK} FROM webhooks ORDER BY id` };

// Inserted only while the webhook exists (no row selected: nothing stored); an existing delivery
// keeps its `created` and takes everything else from the new report.
const RECORD_DELIVERY = {
  name: 'webhooks.record-delivery',
  text: `INSERT INTO webhook_deliveries
  (webhook_id, event_id, revision, op, key, state, attempts, last_status, last_error)
SELECT w.id, $2, $3, $4, $5, $6, $7, $8, $9 FROM webhooks w WHERE w.id = $1
ON CONFLICT (webhook_id, event_id) DO UPDATE SET
  revision = EXCLUDED.revision, op = EXCLUDED.op, key = EXCLUDED.key, state = EXCLUDED.state,
  attempts = EXCLUDED.attempts, last_status = EXCLUDED.last_status, last_error = EXCLUDED.last_error,
  updated = now()
RETURNING 1 AS stored`,
};

const DELIVERIES = {
  name: 'webhooks.deliveries',
  text: `SELECT ${DELIVERY} FROM webhook_deliveries WHERE webhook_id = $1
ORDER BY updated DESC, event_id DESC LIMIT $2`,
};

const DELIVERIES_IN_STATE = {
  name: 'webhooks.deliveries-in-state',
  text: `SELECT ${DELIVERY} FROM webhook_deliveries WHERE webhook_id = $1 AND state = $3
ORDER BY updated DESC, event_id DESC LIMIT $2`,
};

export class SqlWebhooksRepository implements WebhooksRepository {
  constructor(private readonly db: SqlClient) {}

  async create(
    collection: Collection,
    spec: WebhookSpec,
    max: number,
  ): Promise<WebhookRecord | 'limit-reached' | 'collection-gone'> {
    return this.db.transaction(async (tx) => {
      // The collection's row lock serializes creations, so concurrent ones cannot pass the limit
      // together. NO KEY UPDATE does not block record writes (their foreign keys take KEY SHARE).
      const { rows: found } = await tx.query('SELECT 1 FROM collections WHERE id = $1 FOR NO KEY UPDATE', [
        collection.id,
      ]);
      if (found.length === 0) return 'collection-gone';
      const { rows: counted } = await tx.query<{ n: number }>(
        'SELECT count(*)::int8 AS n FROM webhooks WHERE collection_id = $1',
        [collection.id],
      );
      if ((counted[0]?.n ?? 0) >= max) return 'limit-reached';
      const { rows } = await tx.query<WebhookRow>(
        `INSERT INTO webhooks (collection_id, space, collection, url, secret, ops, key_prefix, format)
         VALUES ($1, $2, $3, $4, $5, $6::text[], $7, $8)
         RETURNING ${WEBHOOK}`,
        [
          collection.id,
          collection.space,
          collection.name,
          spec.url,
          spec.secret,
          spec.ops,
          spec.keyPrefix,
          spec.format,
        ],
      );
      return toWebhook(rows[0] as WebhookRow);
    });
  }

  async list(collectionId: number): Promise<WebhookRecord[]> {
    const { rows } = await this.db.query<WebhookRow>(LIST, [collectionId]);
    return rows.map(toWebhook);
  }

  async find(collectionId: number, id: number): Promise<WebhookRecord | undefined> {
    const { rows } = await this.db.query<WebhookRow>(FIND, [collectionId, id]);
    return rows[0] === undefined ? undefined : toWebhook(rows[0]);
  }

  async delete(collectionId: number, id: number): Promise<boolean> {
    const { rows } = await this.db.query('DELETE FROM webhooks WHERE collection_id = $1 AND id = $2 RETURNING id', [
      collectionId,
      id,
    ]);
    return rows.length > 0;
  }

  async all(): Promise<WebhookRecord[]> {
    const { rows } = await this.db.query<WebhookRow>(ALL);
    return rows.map(toWebhook);
  }

  async recordDelivery(delivery: DeliveryInput): Promise<boolean> {
    try {
      const { rows } = await this.db.query(RECORD_DELIVERY, [
        delivery.webhookId,
        delivery.eventId,
        delivery.revision,
        delivery.op,
        delivery.key,
        delivery.state,
        delivery.attempts,
        delivery.lastStatus,
        delivery.lastError,
      ]);
      return rows.length > 0;
    } catch (error) {
      if (isForeignKeyViolation(error)) return false;
      throw error;
    }
  }

  async deliveries(webhookId: number, state: DeliveryState | undefined, limit: number): Promise<DeliveryRecord[]> {
    const { rows } =
      state === undefined
        ? await this.db.query<DeliveryRow>(DELIVERIES, [webhookId, limit])
        : await this.db.query<DeliveryRow>(DELIVERIES_IN_STATE, [webhookId, limit, state]);
    return rows.map(toDelivery);
  }
}
