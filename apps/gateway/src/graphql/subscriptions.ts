import { DomainError, readableKeys } from '@rosetta/core';
import type { ChangeEvent } from '@rosetta/proto';
import type { GraphQLContext } from './context';
import { valueFields } from './queries';
import { call } from './shared';

/** Events a subscriber may fall behind by before its subscription ends. */
export const MAX_PENDING_EVENTS = 10_000;
/** How often a live subscription checks that its caller may still read the collection (ms). */
export const RECHECK_MS = 30_000;

const OPS: Record<string, string> = {
  put: 'PUT',
  delete: 'DELETE',
  'collection.created': 'COLLECTION_CREATED',
  'collection.updated': 'COLLECTION_UPDATED',
  'collection.deleted': 'COLLECTION_DELETED',
};

/** What a subscription yields: an event, or the error that ends it (resolved into an error payload). */
type Item = ChangeEvent | Error;

/**
 * An async iterator over the events pushed into it: what graphql-ws drains to send each event.
 * `fail` queues an error after the events before it and ends the stream there, so the client
 * gets the reason in a result and then `complete`, while its other subscriptions on the socket
 * carry on. `return` (the client stopped, or the socket closed) runs `onClose` once.
 */
class EventQueue implements AsyncIterableIterator<Item> {
  private readonly queued: Item[] = [];
  private waiting: ((result: IteratorResult<Item>) => void) | undefined;
  private ending = false;
  private closed = false;

  constructor(private readonly onClose: () => void) {}

  push(event: ChangeEvent): void {
    if (this.ending) return;
    if (this.queued.length >= MAX_PENDING_EVENTS) {
      this.fail(
        new DomainError('UNAVAILABLE', 'subscriber fell behind', {
          publicMessage: `the subscriber fell more than ${MAX_PENDING_EVENTS} events behind; subscribe again`,
        }),
      );
      return;
    }
    this.deliver(event);
  }

  fail(error: unknown): void {
    if (this.ending) return;
    this.ending = true;
    this.deliver(error instanceof Error ? error : new Error(String(error)));
  }

  private deliver(item: Item): void {
    const resolve = this.waiting;
    if (resolve === undefined) {
      this.queued.push(item);
      return;
    }
    this.waiting = undefined;
    resolve({ value: item, done: false });
  }

  next(): Promise<IteratorResult<Item>> {
    const item = this.queued.shift();
    if (item !== undefined) return Promise.resolve({ value: item, done: false });
    if (this.ending || this.closed) {
      this.close();
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  return(): Promise<IteratorResult<Item>> {
    this.close();
    this.queued.length = 0;
    const resolve = this.waiting;
    this.waiting = undefined;
    resolve?.({ value: undefined, done: true });
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
  }
}

interface ChangesArgs {
  readonly space: string;
  readonly collection: string;
  readonly prefix?: string | null;
}

export const subscriptionResolvers = {
  Subscription: {
    changes: {
      subscribe: async (_: unknown, args: ChangesArgs, ctx: GraphQLContext): Promise<AsyncIterableIterator<Item>> => {
        const { principal } = await ctx.caller();
        const address = { collection: { space: args.space, collection: args.collection } };
        // The caller must be able to read the collection; the record service decides.
        await ctx.api.collections.getCollection(address, await call(ctx));
        if (ctx.events === undefined) {
          throw new DomainError('UNAVAILABLE', 'no event bus', {
            publicMessage: 'live changes need the event bus: set REDIS_URL on the gateway',
          });
        }
        const readable = readableKeys(principal, args.space, args.collection);
        const prefix = args.prefix ?? '';
        const stops: Array<() => void> = [];
        const queue = new EventQueue(() => {
          for (const stop of stops) stop();
        });
        stops.push(
          await ctx.events.subscribe(args.space, args.collection, (event) => {
            const own = event.op.startsWith('collection.');
            if (own || (event.key.startsWith(prefix) && readable(event.key))) queue.push(event);
          }),
        );
        // Access can be withdrawn while a subscription lives (a revoked token, a removed
        // member): check again now and then, and end the subscription when it is gone.
        const recheck = setInterval(() => {
          call(ctx)
            .then((options) => ctx.api.collections.getCollection(address, options))
            .catch((error: unknown) => queue.fail(error));
        }, RECHECK_MS);
        recheck.unref();
        stops.push(() => clearInterval(recheck));
        return queue;
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
