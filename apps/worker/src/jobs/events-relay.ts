import type { Client } from '@connectrpc/connect';
import type { ChangeEvent, ChangeFeedService, SummarizeChangesResponse } from '@rosetta/proto';
import { recordRelayed } from '../metrics';
import type { CursorStore, EventPublisher } from '../ports';
import type { WebhookDispatcher } from './webhooks';

type Summary = Pick<SummarizeChangesResponse, 'count' | 'position'>;

export interface RelayEventsDeps {
  readonly feed: Client<typeof ChangeFeedService>;
  readonly publisher: EventPublisher;
  readonly cursor: CursorStore;
  /** Events per page of the feed (1–1000). */
  readonly batch: number;
  /** Stops the run between pages (at shutdown); the cursor stays at the last published page. */
  readonly signal?: AbortSignal | undefined;
  /** Queues each page's webhook deliveries, after publishing it and before the cursor moves. */
  readonly webhooks?: WebhookDispatcher | undefined;
}

/**
 * The page's events, values included, for webhook deliveries. Reading after the same position
 * gives the events the summary was made of: every one of them committed below the oldest
 * transaction running when the summary was read, so later commits sort after them, and
 * retention never deletes past the relay's cursor.
 */
async function eventsOf(feed: RelayEventsDeps['feed'], after: string, summary: Summary): Promise<ChangeEvent[]> {
  const page = await feed.readChanges({ after, limit: summary.count });
  if (page.position !== summary.position || page.events.length !== summary.count) {
    throw new Error(
      `the feed after ${after} read ${page.events.length} events to ${page.position}, its summary ${summary.count} to ${summary.position}`,
    );
  }
  return page.events;
}

/**
 * Relays committed change events from the record service's outbox to the event bus, page by
 * page, until the feed is drained. Returns how many events were relayed. The bus wakes the live
 * readers of a collection, who read its events from the feed: for each collection with events
 * in a page, the relay publishes its newest one, without its value, from the page's summary
 * (SummarizeChanges), so that a page costs a message per collection, not a message per event. A
 * page is read whole, values included, only when a webhook watches one of its collections.
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
    const summary = await feed.summarizeChanges({ after, limit: batch });
    if (summary.count > 0) {
      const newest = summary.collections.flatMap((c) => (c.newest === undefined ? [] : [c.newest]));
      await publisher.publish(newest);
      if (deps.webhooks !== undefined && (await deps.webhooks.watches(newest))) {
        await deps.webhooks.dispatch(await eventsOf(feed, after, summary));
      }
      await cursor.set(summary.position);
      recordRelayed(summary.collections);
      relayed += summary.count;
    }
    after = summary.position;
    if (summary.count < batch) break;
  }
  return relayed;
}
