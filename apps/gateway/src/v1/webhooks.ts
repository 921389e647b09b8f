import type { Request } from 'express';
import { formatMicros } from '@rosetta/core';
import type { Delivery, Webhook } from '@rosetta/proto';
import type { RecordApi } from '../clients/record-api';
import { jsonBody } from './body';
import { idParam, type RouteTable } from './route';
import {
  CollectionParamsSchema,
  CreateWebhookBodySchema,
  DeliveryListSchema,
  DeliveryQuerySchema,
  WebhookListSchema,
  WebhookParamsSchema,
  WebhookSchema,
} from './schemas';

const WEBHOOKS = '/v1/spaces/:space/collections/:collection/webhooks';
const WEBHOOKS_DOC = '/v1/spaces/{space}/collections/{collection}/webhooks';
const TAGS = ['webhooks'];
/** A webhook's settings are small. */
const JSON_LIMIT_BYTES = 64 * 1024;

/** A webhook as /v1 shows it: never its secret (the contract does not return it either). */
function webhookJson(webhook: Webhook) {
  return {
    id: Number(webhook.id),
    url: webhook.url,
    ops: webhook.ops,
    keyPrefix: webhook.keyPrefix,
    format: webhook.format,
    created: formatMicros(Number(webhook.createdUs)),
  };
}

function deliveryJson(delivery: Delivery) {
  return {
    eventId: delivery.eventId,
    revision: Number(delivery.revision),
    op: delivery.op,
    key: delivery.key,
    state: delivery.state,
    attempts: delivery.attempts,
    lastStatus: delivery.lastStatus === 0 ? null : delivery.lastStatus,
    lastError: delivery.lastError === '' ? null : delivery.lastError,
    created: formatMicros(Number(delivery.createdUs)),
    updated: formatMicros(Number(delivery.updatedUs)),
  };
}

const ref = (req: Request) => ({ space: String(req.params.space), collection: String(req.params.collection) });

/** The webhook a path names. */
const webhookRef = (req: Request) => ({ collection: ref(req), id: idParam(req, 'webhook') });

/**
 * Webhooks of a collection and their delivery log. The schemas check the shape of a request
 * (ops, formats and states from core's own lists); who may manage or read webhooks, and the
 * rest of what a webhook may be (URL, secret), is the record service's to decide. The worker
 * delivers them (see docs/change-feed.md).
 */
export function webhookRoutes(table: RouteTable, api: RecordApi): void {
  const { webhooks } = api;
  const json = jsonBody(JSON_LIMIT_BYTES);

  table.add(
    {
      method: 'post',
      expressPath: WEBHOOKS,
      openapiPath: WEBHOOKS_DOC,
      summary: 'Add a webhook: the collection’s change events, filtered, POSTed to a URL and signed',
      tags: TAGS,
      params: CollectionParamsSchema,
      body: CreateWebhookBodySchema,
      before: json,
      responses: {
        201: {
          description: 'The webhook (without its secret)',
          content: { 'application/json': { schema: WebhookSchema } },
        },
      },
      errors: ['COLLECTION_NOT_FOUND', 'SPACE_NOT_FOUND', 'INVALID_ARGUMENT', 'UNSUPPORTED_MEDIA_TYPE'],
    },
    async (req, res, { body, caller }) => {
      const { webhook } = await webhooks.createWebhook(
        {
          collection: ref(req),
          url: body.url,
          secret: body.secret,
          ops: body.ops ?? [],
          keyPrefix: body.keyPrefix ?? '',
          format: body.format ?? '',
        },
        { headers: caller.headers },
      );
      if (webhook === undefined) throw new Error('the record service created a webhook without returning it');
      res.status(201).json(webhookJson(webhook));
    },
  );

  table.add(
    {
      method: 'get',
      expressPath: WEBHOOKS,
      openapiPath: WEBHOOKS_DOC,
      summary: 'The webhooks of a collection',
      tags: TAGS,
      params: CollectionParamsSchema,
      responses: {
        200: { description: 'The webhooks', content: { 'application/json': { schema: WebhookListSchema } } },
      },
      errors: ['COLLECTION_NOT_FOUND', 'SPACE_NOT_FOUND'],
    },
    async (req, res, { caller }) => {
      const list = await webhooks.listWebhooks({ collection: ref(req) }, { headers: caller.headers });
      res.json({ webhooks: list.webhooks.map(webhookJson) });
    },
  );

  table.add(
    {
      method: 'delete',
      expressPath: `${WEBHOOKS}/:id`,
      openapiPath: `${WEBHOOKS_DOC}/{id}`,
      summary: 'Remove a webhook: nothing more is delivered to it',
      tags: TAGS,
      params: WebhookParamsSchema,
      responses: { 204: { description: 'Removed' } },
      errors: ['WEBHOOK_NOT_FOUND', 'COLLECTION_NOT_FOUND', 'SPACE_NOT_FOUND', 'INVALID_ARGUMENT'],
    },
    async (req, res, { caller }) => {
      await webhooks.deleteWebhook(webhookRef(req), { headers: caller.headers });
      res.status(204).end();
    },
  );

  table.add(
    {
      method: 'get',
      expressPath: `${WEBHOOKS}/:id/deliveries`,
      openapiPath: `${WEBHOOKS_DOC}/{id}/deliveries`,
      summary: 'A webhook’s delivery log, newest first: one entry per event (`state=dead`: the dead letters)',
      tags: TAGS,
      params: WebhookParamsSchema,
      query: DeliveryQuerySchema,
      responses: {
        200: { description: 'The deliveries', content: { 'application/json': { schema: DeliveryListSchema } } },
      },
      errors: ['WEBHOOK_NOT_FOUND', 'COLLECTION_NOT_FOUND', 'SPACE_NOT_FOUND', 'INVALID_ARGUMENT'],
    },
    async (req, res, { query, caller }) => {
      const { deliveries } = await webhooks.listDeliveries(
        {
          webhook: webhookRef(req),
          state: query.state ?? '',
          limit: query.limit === undefined ? 0 : Number(query.limit),
        },
        { headers: caller.headers },
      );
      res.json({ deliveries: deliveries.map(deliveryJson) });
    },
  );
}
