import type { ChangeEvent } from '@rosetta/proto';
import { underPrefix, type FeedPage, type Resume } from '../events/collection-feed';
import type { GraphQLContext } from './context';
import { valueFields } from './queries';

/** A subscription with nothing to send reads again this often at the latest (ms). */
const IDLE_WAIT_MS = 15_000;

const OPS: Record<string, string> = {
  put: 'PUT',
  delete: 'DELETE',
  'collection.created': 'COLLECTION_CREATED',
  'collection.updated': 'COLLECTION_UPDATED',
  'collection.deleted': 'COLLECTION_DELETED',
};

/** What a subscription yields: an event, or the error that ends it (resolved into an error payload). */
type Item = ChangeEvent | Error;

interface ChangesArgs {
  readonly space: string;
  readonly collection: string;
  readonly prefix?: string | null;
  readonly since?: bigint | null;
}

/**
 * A collection's changes, read from the gap-free feed page by page as the client takes them
 * (a slow client slows the reads; nothing piles up). A failure (access withdrawn, the record
 * service unreachable) becomes the last item, so the client gets it as a result followed by
 * `complete`, and its other subscriptions on the socket carry on. Stopping (the client's
 * `complete`, the socket closing) aborts a read that is waiting for events.
 */
function follow(
  ctx: GraphQLContext,
  address: { readonly space: string; readonly collection: string },
  first: FeedPage,
  wanted: (event: ChangeEvent) => boolean,
): AsyncIterableIterator<Item> {
  const stop = new AbortController();
  async function* items(): AsyncGenerator<Item> {
    try {
      for await (const page of ctx.feed.pages(ctx.caller, address, first, IDLE_WAIT_MS, stop.signal)) {
        for (const event of page.events) if (wanted(event)) yield event;
      }
    } catch (error) {
      if (!stop.signal.aborted) yield error instanceof Error ? error : new Error(String(error));
    }
  }
  const inner = items();
  return {
    next: () => inner.next(),
    return: () => {
      stop.abort();
      return inner.return(undefined);
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

export const subscriptionResolvers = {
  Subscription: {
    changes: {
      subscribe: async (_: unknown, args: ChangesArgs, ctx: GraphQLContext): Promise<AsyncIterableIterator<Item>> => {
        const address = { space: args.space, collection: args.collection };
        const resume: Resume =
          args.since === undefined || args.since === null ? { now: true } : { revision: args.since };
        // The first read checks the caller's access and the resume point, so that a refusal
        // is the subscription's answer.
        const first = await ctx.feed.next(ctx.caller, address, resume, 0);
        return follow(ctx, address, first, underPrefix(args.prefix ?? ''));
      },
      resolve: (item: Item) => {
        if (item instanceof Error) throw item;
        return item;
      },
    },
  },
  ChangeEvent: {
    op: (e: ChangeEvent) => OPS[e.op] ?? e.op.toUpperCase().replaceAll('.', '_'),
    at: (e: ChangeEvent) => e.atUs,
    value: (e: ChangeEvent) =>
      e.value === undefined ? null : valueFields.value({ contentType: e.contentType, value: e.value }),
    json: (e: ChangeEvent) =>
      e.value === undefined ? null : valueFields.json({ contentType: e.contentType, value: e.value }),
    valueBase64: (e: ChangeEvent) => (e.value === undefined ? null : valueFields.valueBase64({ value: e.value })),
  },
};
