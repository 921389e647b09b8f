import type { Collection, Delivery, Webhook } from '@rosetta/proto';
import type { GraphQLContext } from './context';
import type { PageLimits } from './queries';
import { call, pageSize } from './shared';

/** Deliveries a webhook lists when `first` is not given (the SDL's default, and the service's). */
const DEFAULT_DELIVERIES = 100;

type DeliveryState = 'RETRYING' | 'DELIVERED' | 'DEAD';

/** An event op as the ChangeOp enum names it (`collection.updated` → COLLECTION_UPDATED). */
const opName = (op: string) => op.toUpperCase().replaceAll('.', '_');
/** An op of the ChangeOp enum as the contract spells it (COLLECTION_UPDATED → `collection.updated`). */
const opOf = (name: string) => name.toLowerCase().replace('_', '.');

interface CreateWebhookArgs {
  readonly space: string;
  readonly collection: string;
  readonly url: string;
  readonly secret: string;
  readonly ops?: readonly string[] | null;
  readonly keyPrefix?: string | null;
  readonly format?: string | null;
}

interface WebhookAddressArgs {
  readonly space: string;
  readonly collection: string;
  readonly id: bigint;
}

/**
 * Webhooks of collections and their delivery log. The contract never returns a webhook's
 * secret, so no field can show it; who may see or change what is the record service's rule.
 */
export function webhookResolvers(limits: PageLimits) {
  return {
    Collection: {
      webhooks: async (c: Collection, _: unknown, ctx: GraphQLContext) =>
        (await ctx.api.webhooks.listWebhooks({ collection: { space: c.space, collection: c.name } }, await call(ctx)))
          .webhooks,
    },
    Webhook: {
      ops: (w: Webhook) => w.ops.map(opName),
      created: (w: Webhook) => w.createdUs,
      deliveries: async (
        w: Webhook,
        args: { state?: DeliveryState | null; first?: number | null },
        ctx: GraphQLContext,
      ): Promise<Delivery[]> => {
        const first = pageSize(args.first, DEFAULT_DELIVERIES, limits.maxPage);
        // The contract reads a limit of 0 as its default: ask for nothing by not asking.
        if (first === 0) return [];
        const { deliveries } = await ctx.api.webhooks.listDeliveries(
          {
            webhook: { collection: { space: w.space, collection: w.collection }, id: w.id },
            state: args.state?.toLowerCase() ?? '',
            limit: first,
          },
          await call(ctx),
        );
        return deliveries;
      },
    },
    Delivery: {
      op: (d: Delivery) => opName(d.op),
      state: (d: Delivery) => d.state.toUpperCase(),
      lastStatus: (d: Delivery) => (d.lastStatus === 0 ? null : d.lastStatus),
      lastError: (d: Delivery) => (d.lastError === '' ? null : d.lastError),
      created: (d: Delivery) => d.createdUs,
      updated: (d: Delivery) => d.updatedUs,
    },
    Mutation: {
      createWebhook: async (_: unknown, { input }: { input: CreateWebhookArgs }, ctx: GraphQLContext) => {
        const { webhook } = await ctx.api.webhooks.createWebhook(
          {
            collection: { space: input.space, collection: input.collection },
            url: input.url,
            secret: input.secret,
            ops: (input.ops ?? []).map(opOf),
            keyPrefix: input.keyPrefix ?? '',
            format: input.format ?? '',
          },
          await call(ctx),
        );
        if (webhook === undefined) throw new Error('the record service created a webhook without returning it');
        return webhook;
      },
      deleteWebhook: async (_: unknown, { input }: { input: WebhookAddressArgs }, ctx: GraphQLContext) => {
        await ctx.api.webhooks.deleteWebhook(
          { collection: { space: input.space, collection: input.collection }, id: input.id },
          await call(ctx),
        );
        return { deleted: true };
      },
    },
  };
}
