import type { Client } from '@connectrpc/connect';
import type { ChangeEvent, ChangeFeedService } from '@rosetta/proto';
import { recordRelayed } from '../metrics';
import type { CursorStore, EventPublisher } from '../ports';
import type { WebhookDispatcher } from './webhooks';

export interface RelayEventsDeps {
  readonly feed: Client<typeof ChangeFeedService>;
  readonly publisher: EventPublisher;
  readonly cursor: CursorStore;
  /** Events per ReadChanges page (1–1000). */
  readonly batch: number;
  /** Stops the run between pages (at shutdown); the cursor stays at the last published page. */
  readonly signal?: AbortSignal | undefined;
  /** Queues each page's webhook deliveries, after publishing it and before the cursor moves. */
  readonly webhooks?: WebhookDispatcher | undefined;
}

/**
 * The page read again with its events' values, for webhook deliveries. Reading after the same
 * position gives the same events: every event of the page committed below the oldest
 * transaction running at the first read, so later commits sort after it, and retention never
 * deletes past the relay's cursor.
 */
async function withValues(
  feed: RelayEventsDeps['feed'],
  after: string,
  page: { events: readonly ChangeEvent[]; position: string },
): Promise<ChangeEvent[]> {
  const again = await feed.readChanges({ after, limit: page.events.length });
  if (again.position !== page.position) {
    throw new Error(`the feed after ${after} read ${again.position} with values, ${page.position} without`);
  }
  return again.events;
}

/**
 * Relays committed change events from the record service's outbox to the event bus, page by
 * page, until the feed is drained. Returns how many events were published. The bus carries
 * events without their values (readers of a collection read them from the feed); a page is
 * read with values only when a webhook delivers one of its events.
 *
 * Delivery is at least once: a page is published before the cursor moves past it, so a crash or
 * a failed cursor write sends that page again, and a failed publish leaves the cursor where it
 * was. Subscribers recognise a repeat by its `position`.
 */
export async function relayEvents(deps: RelayEventsDeps): Promise<number> {
  const { feed, publisher, cursor, batch, signal } = deps;
  let after = await cursor.get();
  if (after === undefined) {
    // First run against this cursor store: start at the tail. Events committed before the worker
    // first ran are not replayed (except those of transactions still in flight at the tail); the
    // bus serves live subscribers, and a subscriber that needs history reads it from the record
    // service. Saving the tail at once keeps the events committed from now on, even if this run
    // finds none.
    after = (await feed.tailPosition({})).position;
    await cursor.set(after);
  }
  let relayed = 0;
  while (signal?.aborted !== true) {
    const page = await feed.readChanges({ after, limit: batch, omitValues: true });
    if (page.events.length > 0) {
      await publisher.publish(page.events);
      if (deps.webhooks !== undefined && (await deps.webhooks.delivers(page.events))) {
        await deps.webhooks.dispatch(await withValues(feed, after, page));
      }
      await cursor.set(page.position);
      recordRelayed(page.events);
      relayed += page.events.length;
    }
    after = page.position;
    if (page.events.length < batch) break;
  }
  return relayed;
}
