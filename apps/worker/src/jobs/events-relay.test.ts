import type { ChangeEvent } from '@rosetta/proto';
import { MemoryCursorStore } from '../adapters/memory-cursor-store';
import type { CursorStore, EventPublisher } from '../ports';
import type { WebhookDispatcher } from './webhooks';
import { FakeChangeFeed } from '../testing/fake-change-feed';
import { relayEvents } from './events-relay';

/** Records every batch it is given; `failOn` makes the n-th publish (1-based) throw. */
class RecordingPublisher implements EventPublisher {
  readonly batches: string[][] = [];
  private calls = 0;

  constructor(
    private readonly log: string[] = [],
    private readonly failOn?: number,
  ) {}

  publish(events: readonly ChangeEvent[]): Promise<void> {
    this.calls += 1;
    if (this.calls === this.failOn) return Promise.reject(new Error('bus down'));
    this.batches.push(events.map((e) => e.key));
    this.log.push(`publish ${events.map((e) => e.position).join(',')}`);
    return Promise.resolve();
  }

  get keys(): string[] {
    return this.batches.flat();
  }
}

class LoggingCursorStore implements CursorStore {
  private readonly inner = new MemoryCursorStore();

  constructor(private readonly log: string[]) {}

  get(): Promise<string | undefined> {
    return this.inner.get();
  }

  set(position: string): Promise<void> {
    this.log.push(`cursor ${position}`);
    return this.inner.set(position);
  }
}

describe('relayEvents', () => {
  it('starts at the tail: events committed before the first run are not replayed', async () => {
    const feed = new FakeChangeFeed();
    feed.appendPuts(3);
    const publisher = new RecordingPublisher();
    const cursor = new MemoryCursorStore();

    await expect(relayEvents({ feed: feed.client, publisher, cursor, batch: 10 })).resolves.toBe(0);
    expect(await cursor.get()).toBe('1.3');
    expect(feed.calls).toEqual(['tail', 'summarize 1.3 10']);

    feed.appendPuts(2);
    await expect(relayEvents({ feed: feed.client, publisher, cursor, batch: 10 })).resolves.toBe(2);
    expect(publisher.keys).toEqual(['k5']);
    expect(await cursor.get()).toBe('1.5');
  });

  it('resumes after a stored cursor without asking for the tail', async () => {
    const feed = new FakeChangeFeed();
    feed.appendPuts(4);
    const publisher = new RecordingPublisher();

    await relayEvents({ feed: feed.client, publisher, cursor: new MemoryCursorStore('1.1'), batch: 10 });

    expect(feed.calls).toEqual(['summarize 1.1 10']);
    expect(publisher.keys).toEqual(['k4']);
  });

  it.each([
    [7, 3, [['k3'], ['k6'], ['k7']], 3],
    [6, 3, [['k3'], ['k6']], 3],
    [2, 3, [['k2']], 1],
    [0, 3, [], 1],
  ])('drains %i events in pages of %i until a short page', async (count, batch, pages, reads) => {
    const feed = new FakeChangeFeed();
    const cursor = new MemoryCursorStore('1.0');
    feed.appendPuts(count);
    const publisher = new RecordingPublisher();

    await expect(relayEvents({ feed: feed.client, publisher, cursor, batch })).resolves.toBe(count);

    expect(publisher.batches).toEqual(pages);
    expect(feed.calls).toHaveLength(reads);
    expect(feed.calls.every((call) => call.startsWith('summarize ') && call.endsWith(` ${batch}`))).toBe(true);
    expect(await cursor.get()).toBe(`1.${count}`);
  });

  it('publishes each page before moving the cursor past it', async () => {
    const feed = new FakeChangeFeed();
    feed.appendPuts(3);
    const log: string[] = [];
    const cursor = new LoggingCursorStore(log);
    await cursor.set('1.0');
    log.length = 0;

    await relayEvents({ feed: feed.client, publisher: new RecordingPublisher(log), cursor, batch: 2 });

    expect(log).toEqual(['publish 1.2', 'cursor 1.2', 'publish 1.3', 'cursor 1.3']);
  });

  it('leaves the cursor where it was when publishing fails, and the next run sends that page', async () => {
    const feed = new FakeChangeFeed();
    feed.appendPuts(5);
    const cursor = new MemoryCursorStore('1.0');

    const failing = new RecordingPublisher([], 2);
    await expect(relayEvents({ feed: feed.client, publisher: failing, cursor, batch: 2 })).rejects.toThrow('bus down');
    expect(failing.keys).toEqual(['k2']);
    expect(await cursor.get()).toBe('1.2');

    const working = new RecordingPublisher();
    await expect(relayEvents({ feed: feed.client, publisher: working, cursor, batch: 2 })).resolves.toBe(3);
    expect(working.keys).toEqual(['k4', 'k5']);
  });

  it('leaves the cursor where it was when reading fails', async () => {
    const feed = new FakeChangeFeed();
    feed.appendPuts(2);
    const cursor = new MemoryCursorStore('1.0');
    feed.beforeRead = () => Promise.reject(new Error('api down'));

    await expect(
      relayEvents({ feed: feed.client, publisher: new RecordingPublisher(), cursor, batch: 2 }),
    ).rejects.toThrow('api down');
    expect(await cursor.get()).toBe('1.0');
  });

  it('stops between pages once its signal is aborted', async () => {
    const feed = new FakeChangeFeed();
    feed.appendPuts(6);
    const cursor = new MemoryCursorStore('1.0');
    const controller = new AbortController();
    const publisher: EventPublisher = {
      publish: () => {
        controller.abort();
        return Promise.resolve();
      },
    };

    await expect(
      relayEvents({ feed: feed.client, publisher, cursor, batch: 2, signal: controller.signal }),
    ).resolves.toBe(2);
    expect(await cursor.get()).toBe('1.2');
  });

  it("publishes, per page, each collection's newest event without its value, in feed order of those", async () => {
    const feed = new FakeChangeFeed();
    const value = new TextEncoder().encode('v');
    feed.append(
      { collection: 'a', key: 'a1', value },
      { collection: 'b', key: 'b1', value },
      { collection: 'a', key: 'a2', value },
      { collection: 'c', key: 'c1', value },
      { collection: 'b', key: 'b2', value },
    );
    const published: ChangeEvent[][] = [];
    const publisher: EventPublisher = {
      publish: (events) => {
        published.push([...events]);
        return Promise.resolve();
      },
    };

    await expect(
      relayEvents({ feed: feed.client, publisher, cursor: new MemoryCursorStore('1.0'), batch: 4 }),
    ).resolves.toBe(5);

    expect(published.map((page) => page.map((e) => [e.key, e.position, e.value]))).toEqual([
      [
        ['b1', '1.2', undefined],
        ['a2', '1.3', undefined],
        ['c1', '1.4', undefined],
      ],
      [['b2', '1.5', undefined]],
    ]);
  });

  describe('webhooks', () => {
    /** A dispatcher for the webhooks of the collections in `watched`, recording what it is handed. */
    class RecordingDispatcher implements WebhookDispatcher {
      readonly dispatched: ChangeEvent[][] = [];

      constructor(
        private readonly watched: ReadonlySet<string>,
        private readonly log: string[] = [],
      ) {}

      watches(events: readonly ChangeEvent[]): Promise<boolean> {
        return Promise.resolve(events.some((e) => this.watched.has(e.collection)));
      }

      dispatch(events: readonly ChangeEvent[]): Promise<void> {
        this.dispatched.push([...events]);
        this.log.push(`dispatch ${events.map((e) => e.position).join(',')}`);
        return Promise.resolve();
      }
    }

    const valued = (feed: FakeChangeFeed, keys: string[]) =>
      feed.append(
        ...keys.map((key) => ({
          collection: key.slice(0, 1),
          key,
          value: new TextEncoder().encode(`value of ${key}`),
        })),
      );

    it('reads no page whole when no webhook watches its collections', async () => {
      const feed = new FakeChangeFeed();
      valued(feed, ['a1', 'b1', 'a2']);
      const webhooks = new RecordingDispatcher(new Set(['z']));

      await relayEvents({
        feed: feed.client,
        publisher: new RecordingPublisher(),
        cursor: new MemoryCursorStore('1.0'),
        batch: 2,
        webhooks,
      });

      expect(feed.calls).toEqual(['summarize 1.0 2', 'summarize 1.2 2']);
      expect(webhooks.dispatched).toEqual([]);
    });

    it('reads a watched page whole, values included, and dispatches it before the cursor moves past it', async () => {
      const feed = new FakeChangeFeed();
      valued(feed, ['a1', 'a2', 'b1', 'a3', 'a4']);
      const log: string[] = [];
      const cursor = new LoggingCursorStore(log);
      await cursor.set('1.0');
      log.length = 0;
      const webhooks = new RecordingDispatcher(new Set(['b']), log);

      await expect(
        relayEvents({ feed: feed.client, publisher: new RecordingPublisher(log), cursor, batch: 2, webhooks }),
      ).resolves.toBe(5);

      expect(feed.calls).toEqual(['summarize 1.0 2', 'summarize 1.2 2', 'read 1.2 2', 'summarize 1.4 2']);
      expect(log).toEqual([
        'publish 1.2',
        'cursor 1.2',
        'publish 1.3,1.4',
        'dispatch 1.3,1.4',
        'cursor 1.4',
        'publish 1.5',
        'cursor 1.5',
      ]);
      const [page] = webhooks.dispatched;
      expect(page?.map((e) => [e.key, new TextDecoder().decode(e.value)])).toEqual([
        ['b1', 'value of b1'],
        ['a3', 'value of a3'],
      ]);
    });

    it('fails the run, leaving the cursor, when the page read whole is not the page summarized', async () => {
      const feed = new FakeChangeFeed();
      valued(feed, ['a1', 'a2']);
      const cursor = new MemoryCursorStore('1.0');
      const webhooks = new RecordingDispatcher(new Set(['a']));
      // The page's last event is gone by the time the page is read whole.
      feed.beforeRead = () => {
        if (feed.calls.length === 2) feed.events.pop();
        return Promise.resolve();
      };

      await expect(
        relayEvents({ feed: feed.client, publisher: new RecordingPublisher(), cursor, batch: 5, webhooks }),
      ).rejects.toThrow('the feed after 1.0 read 1 events to 1.1, its summary 2 to 1.2');
      expect(webhooks.dispatched).toEqual([]);
      expect(await cursor.get()).toBe('1.0');
    });
  });
});
