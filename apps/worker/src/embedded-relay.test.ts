import { Code } from '@connectrpc/connect';
import { createLogger } from '@rosetta/platform';
import { wireError } from '@rosetta/proto';
import { InProcessEventBus } from './adapters/in-process-event-bus';
import { MemoryCursorStore } from './adapters/memory-cursor-store';
import { createEmbeddedRelay, type EmbeddedRelay } from './embedded-relay';
import { expectEventually } from '../../../test/support/expect-eventually';
import { FakeChangeFeed } from './testing/fake-change-feed';

const logger = createLogger({ name: 'test', level: 'silent' });

describe('createEmbeddedRelay', () => {
  let relay: EmbeddedRelay | undefined;
  afterEach(async () => {
    await relay?.stop();
    relay = undefined;
  });

  function start(feed: FakeChangeFeed, cursor = new MemoryCursorStore()) {
    const bus = new InProcessEventBus((error) => {
      throw error;
    });
    const seen: string[] = [];
    bus.subscribe((event) => seen.push(event.key));
    relay = createEmbeddedRelay({ feed: feed.client, publisher: bus, cursor, intervalMs: 5, batch: 2, logger });
    return { seen, cursor };
  }

  it('relays what was committed after it started, in order: per page, the newest event', async () => {
    const feed = new FakeChangeFeed();
    feed.appendPuts(2);
    const { seen, cursor } = start(feed);
    await expectEventually(async () => expect(await cursor.get()).toBe('1.2'));

    feed.appendPuts(5);

    // Pages of 2 of the one collection: k3–k4, k5–k6, k7.
    await expectEventually(() => expect(seen).toEqual(['k4', 'k6', 'k7']));
  });

  it('never runs two relays at once', async () => {
    const feed = new FakeChangeFeed();
    let inFlight = 0;
    let most = 0;
    feed.beforeRead = async () => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 15));
      inFlight -= 1;
    };
    start(feed);

    await expectEventually(() => expect(feed.calls.length).toBeGreaterThan(6));
    expect(most).toBe(1);
  });

  it('keeps going after a failed run', async () => {
    const feed = new FakeChangeFeed();
    const { seen, cursor } = start(feed, new MemoryCursorStore('1.0'));
    let failures = 1;
    feed.beforeRead = () =>
      failures-- > 0 ? Promise.reject(wireError(Code.Unavailable, 'UNAVAILABLE', undefined)) : Promise.resolve();
    feed.appendPuts(3);

    await expectEventually(() => expect(seen).toEqual(['k2', 'k3']));
    expect(await cursor.get()).toBe('1.3');
  });

  it('stops: it waits for the run in flight, then reads no more', async () => {
    const feed = new FakeChangeFeed();
    let release: () => void = () => undefined;
    feed.beforeRead = () => new Promise<void>((resolve) => (release = resolve));
    start(feed, new MemoryCursorStore('1.0'));
    await expectEventually(() => expect(feed.calls).toHaveLength(1));

    let stopped = false;
    const stopping = relay?.stop().then(() => (stopped = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(stopped).toBe(false);
    release();
    await stopping;

    const calls = feed.calls.length;
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(feed.calls).toHaveLength(calls);
  });
});
