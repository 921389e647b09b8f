import { MemoryCursorStore } from '../adapters/memory-cursor-store';
import { FakeChangeFeed } from '../testing/fake-change-feed';
import { compactChanges } from './compact-changes';

const HOUR = 3_600_000;
const NOW = Date.UTC(2026, 11, 6, 12);

/** A feed of `count` puts, the first `old` of them committed two hours before NOW. */
function feedWith(count: number, old: number) {
  const feed = new FakeChangeFeed();
  feed.appendPuts(count).forEach((event, i) => feed.committedAt.set(event.position, i < old ? NOW - 2 * HOUR : NOW));
  return feed;
}

const run = (feed: FakeChangeFeed, cursor: MemoryCursorStore, options: { batch?: number; maxBatches?: number } = {}) =>
  compactChanges({
    feed: feed.client,
    cursor,
    retentionMs: HOUR,
    batch: options.batch ?? 2,
    maxBatches: options.maxBatches ?? 10,
    now: () => NOW,
  });

describe('compactChanges', () => {
  it('deletes the events older than the window, oldest first, in batches', async () => {
    const feed = feedWith(8, 5);
    const cursor = new MemoryCursorStore();
    await cursor.set('1.8');

    await expect(run(feed, cursor)).resolves.toBe(5);

    expect(feed.events.map((e) => e.key)).toEqual(['k6', 'k7', 'k8']);
    const cutoff = BigInt(NOW - HOUR) * 1000n;
    expect(feed.calls).toEqual([`compact ${cutoff} 1.8 2`, `compact ${cutoff} 1.8 2`, `compact ${cutoff} 1.8 2`]);
  });

  it('never deletes past the relay, old or not', async () => {
    const feed = feedWith(6, 6);
    const cursor = new MemoryCursorStore();
    await cursor.set('1.3');

    await expect(run(feed, cursor)).resolves.toBe(3);
    expect(feed.events.map((e) => e.key)).toEqual(['k4', 'k5', 'k6']);
  });

  it('does nothing before the relay has a position', async () => {
    const feed = feedWith(3, 3);

    await expect(run(feed, new MemoryCursorStore())).resolves.toBe(0);
    expect(feed.calls).toEqual([]);
  });

  it('stops after maxBatches calls, leaving the rest to the next run', async () => {
    const feed = feedWith(10, 10);
    const cursor = new MemoryCursorStore();
    await cursor.set('1.10');

    await expect(run(feed, cursor, { batch: 2, maxBatches: 2 })).resolves.toBe(4);
    expect(feed.events).toHaveLength(6);
    // The relay still reads on from its position after the head was deleted.
    expect((await feed.client.readChanges({ after: '1.8', limit: 10 })).events.map((e) => e.key)).toEqual([
      'k9',
      'k10',
    ]);
  });
});
