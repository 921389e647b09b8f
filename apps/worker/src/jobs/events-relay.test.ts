import type { ChangeEvent } from '@rosetta/proto';
import { MemoryCursorStore } from '../adapters/memory-cursor-store';
import type { CursorStore, EventPublisher } from '../ports';
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
    expect(feed.calls).toEqual(['tail', 'read 1.3 10']);

    feed.appendPuts(2);
    await expect(relayEvents({ feed: feed.client, publisher, cursor, batch: 10 })).resolves.toBe(2);
    expect(publisher.keys).toEqual(['k4', 'k5']);
    expect(await cursor.get()).toBe('1.5');
  });

  it('resumes after a stored cursor without asking for the tail', async () => {
    const feed = new FakeChangeFeed();
    feed.appendPuts(4);
    const publisher = new RecordingPublisher();

    await relayEvents({ feed: feed.client, publisher, cursor: new MemoryCursorStore('1.1'), batch: 10 });

    expect(feed.calls).toEqual(['read 1.1 10']);
    expect(publisher.keys).toEqual(['k2', 'k3', 'k4']);
  });

  it.each([
    [7, 3, [['k1', 'k2', 'k3'], ['k4', 'k5', 'k6'], ['k7']], 3],
    [
      6,
      3,
      [
        ['k1', 'k2', 'k3'],
        ['k4', 'k5', 'k6'],
      ],
      3,
    ],
    [2, 3, [['k1', 'k2']], 1],
    [0, 3, [], 1],
  ])('drains %i events in pages of %i until a short page', async (count, batch, pages, reads) => {
    const feed = new FakeChangeFeed();
    const cursor = new MemoryCursorStore('1.0');
    feed.appendPuts(count);
    const publisher = new RecordingPublisher();

    await expect(relayEvents({ feed: feed.client, publisher, cursor, batch })).resolves.toBe(count);

    expect(publisher.batches).toEqual(pages);
    expect(feed.calls).toHaveLength(reads);
    expect(feed.calls.every((call) => call.endsWith(` ${batch}`))).toBe(true);
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

    expect(log).toEqual(['publish 1.1,1.2', 'cursor 1.2', 'publish 1.3', 'cursor 1.3']);
  });

  it('leaves the cursor where it was when publishing fails, and the next run sends that page', async () => {
    const feed = new FakeChangeFeed();
    feed.appendPuts(5);
    const cursor = new MemoryCursorStore('1.0');

    const failing = new RecordingPublisher([], 2);
    await expect(relayEvents({ feed: feed.client, publisher: failing, cursor, batch: 2 })).rejects.toThrow('bus down');
    expect(failing.keys).toEqual(['k1', 'k2']);
    expect(await cursor.get()).toBe('1.2');

    const working = new RecordingPublisher();
    await expect(relayEvents({ feed: feed.client, publisher: working, cursor, batch: 2 })).resolves.toBe(3);
    expect(working.keys).toEqual(['k3', 'k4', 'k5']);
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
});
