import { create } from '@bufbuild/protobuf';
import { ChangeEventSchema, type ChangeEvent } from '@rosetta/proto';
import { busChangeEvents, ListenerRegistry, type ChangeListener } from './change-events';

const event = (space: string, collection: string, key: string): ChangeEvent =>
  create(ChangeEventSchema, { op: 'put', space, collection, key, revision: 1n, position: `1.${key}` });

/** A registry whose upstream calls and listener failures are recorded. */
function recordingRegistry(options: { onFirst?: (space: string, collection: string) => Promise<void> } = {}) {
  const calls: string[] = [];
  const failures: Array<[unknown, string]> = [];
  const registry = new ListenerRegistry(
    (space, collection) => {
      calls.push(`first ${space}/${collection}`);
      return options.onFirst?.(space, collection) ?? Promise.resolve();
    },
    (space, collection) => {
      calls.push(`last ${space}/${collection}`);
      return Promise.resolve();
    },
    (error, e) => failures.push([error, e.key]),
  );
  return { registry, calls, failures };
}

/** A listener that records the keys it sees, tagged with `name`. */
const into =
  (seen: string[], name: string): ChangeListener =>
  (e) =>
    seen.push(`${name}:${e.key}`);

describe('ListenerRegistry', () => {
  it('resolves a second listener of a collection only once the upstream subscription is made', async () => {
    let release!: () => void;
    let subscribed = false;
    const registry = new ListenerRegistry(
      () =>
        new Promise<void>((resolve) => (release = resolve)).then(() => {
          subscribed = true;
        }),
      () => Promise.resolve(),
      () => undefined,
    );
    const first = registry.add('s', 'a', () => undefined);
    let upstreamWhenSecondResolved: boolean | undefined;
    const second = registry
      .add('s', 'a', () => undefined)
      .then(() => {
        upstreamWhenSecondResolved = subscribed;
      });
    await new Promise((resolve) => setImmediate(resolve));
    release();
    await Promise.all([first, second]);
    expect(upstreamWhenSecondResolved).toBe(true);
  });

  it('fails every waiting listener when the upstream subscription fails, and keeps none', async () => {
    let reject!: (error: Error) => void;
    const registry = new ListenerRegistry(
      () => new Promise<void>((_, r) => (reject = r)),
      () => Promise.resolve(),
      () => undefined,
    );
    const first = registry.add('s', 'a', () => undefined);
    const second = registry.add('s', 'a', () => undefined);
    reject(new Error('SUBSCRIBE failed'));
    await expect(first).rejects.toThrow('SUBSCRIBE failed');
    await expect(second).rejects.toThrow('SUBSCRIBE failed');
    expect(registry.channels).toBe(0);
  });

  it('calls onFirst once per collection, when its first listener arrives', async () => {
    const { registry, calls } = recordingRegistry();
    await registry.add('s', 'a', () => undefined);
    await registry.add('s', 'a', () => undefined);
    await registry.add('s', 'b', () => undefined);
    await registry.add('t', 'a', () => undefined);
    expect(calls).toEqual(['first s/a', 'first s/b', 'first t/a']);
    expect(registry.channels).toBe(3);
  });

  it('waits for onFirst before resolving the first listener’s subscription', async () => {
    let release!: () => void;
    const { registry } = recordingRegistry({ onFirst: () => new Promise<void>((resolve) => (release = resolve)) });
    let resolved = false;
    const subscribing = registry.add('s', 'a', () => undefined).then(() => (resolved = true));
    await Promise.resolve();
    await Promise.resolve();
    expect(resolved).toBe(false);
    release();
    await subscribing;
    expect(resolved).toBe(true);
  });

  it('calls onLast when the last listener of a collection goes, and only then', async () => {
    const { registry, calls } = recordingRegistry();
    const first = await registry.add('s', 'a', () => undefined);
    const second = await registry.add('s', 'a', () => undefined);
    const other = await registry.add('s', 'b', () => undefined);

    first();
    expect(calls).toEqual(['first s/a', 'first s/b']);
    second();
    expect(calls).toEqual(['first s/a', 'first s/b', 'last s/a']);
    expect(registry.channels).toBe(1);
    other();
    expect(calls).toEqual(['first s/a', 'first s/b', 'last s/a', 'last s/b']);
    expect(registry.channels).toBe(0);
  });

  it('calls onFirst again for a collection that gains a listener after losing its last', async () => {
    const { registry, calls } = recordingRegistry();
    (await registry.add('s', 'a', () => undefined))();
    await registry.add('s', 'a', () => undefined);
    expect(calls).toEqual(['first s/a', 'last s/a', 'first s/a']);
  });

  it('dispatches an event only to the listeners of its collection', async () => {
    const { registry } = recordingRegistry();
    const seen: string[] = [];
    await registry.add('s', 'a', into(seen, 'a1'));
    await registry.add('s', 'a', into(seen, 'a2'));
    await registry.add('s', 'b', into(seen, 'b'));
    await registry.add('t', 'a', into(seen, 'ta'));

    registry.dispatch(event('s', 'a', 'k1'));
    registry.dispatch(event('s', 'b', 'k2'));
    registry.dispatch(event('u', 'a', 'k3'));

    expect(seen).toEqual(['a1:k1', 'a2:k1', 'b:k2']);
  });

  it('ignores events of collections nobody listens to', () => {
    const { registry, failures } = recordingRegistry();
    expect(() => registry.dispatch(event('s', 'a', 'k'))).not.toThrow();
    expect(failures).toEqual([]);
  });

  it('stops dispatching to a listener once it unsubscribed', async () => {
    const { registry } = recordingRegistry();
    const seen: string[] = [];
    const unsubscribe = await registry.add('s', 'a', into(seen, 'gone'));
    await registry.add('s', 'a', into(seen, 'stays'));
    registry.dispatch(event('s', 'a', 'k1'));
    unsubscribe();
    registry.dispatch(event('s', 'a', 'k2'));
    expect(seen).toEqual(['gone:k1', 'stays:k1', 'stays:k2']);
  });

  it('treats the same function added twice as two listeners', async () => {
    const { registry, calls } = recordingRegistry();
    const seen: string[] = [];
    const listener = into(seen, 'l');
    const first = await registry.add('s', 'a', listener);
    await registry.add('s', 'a', listener);
    registry.dispatch(event('s', 'a', 'k1'));
    first();
    registry.dispatch(event('s', 'a', 'k2'));
    expect(seen).toEqual(['l:k1', 'l:k1', 'l:k2']);
    expect(calls).toEqual(['first s/a']);
  });

  it('reports a throwing listener and still calls the others', async () => {
    const { registry, failures } = recordingRegistry();
    const seen: string[] = [];
    const boom = new Error('listener bug');
    await registry.add('s', 'a', into(seen, 'before'));
    await registry.add('s', 'a', () => {
      throw boom;
    });
    await registry.add('s', 'a', into(seen, 'after'));

    expect(() => registry.dispatch(event('s', 'a', 'k1'))).not.toThrow();
    registry.dispatch(event('s', 'a', 'k2'));

    expect(seen).toEqual(['before:k1', 'after:k1', 'before:k2', 'after:k2']);
    expect(failures).toEqual([
      [boom, 'k1'],
      [boom, 'k2'],
    ]);
  });

  it('lets a listener unsubscribe itself while it is being called', async () => {
    const { registry, calls } = recordingRegistry();
    const seen: string[] = [];
    const unsubscribe = await registry.add('s', 'a', (e) => {
      seen.push(`once:${e.key}`);
      unsubscribe();
    });
    await registry.add('s', 'a', into(seen, 'always'));
    registry.dispatch(event('s', 'a', 'k1'));
    registry.dispatch(event('s', 'a', 'k2'));
    expect(seen).toEqual(['once:k1', 'always:k1', 'always:k2']);
    expect(calls).toEqual(['first s/a']);
  });

  it('makes unsubscribing idempotent: a second call neither removes another listener nor calls onLast again', async () => {
    const { registry, calls } = recordingRegistry();
    const seen: string[] = [];
    const listener = into(seen, 'l');
    const first = await registry.add('s', 'a', listener);
    await registry.add('s', 'a', listener);

    first();
    first();
    registry.dispatch(event('s', 'a', 'k'));
    expect(seen).toEqual(['l:k']);
    expect(calls).toEqual(['first s/a']);

    const only = await registry.add('s', 'b', () => undefined);
    only();
    only();
    expect(calls).toEqual(['first s/a', 'first s/b', 'last s/b']);
  });

  it('removes the listener and rethrows when onFirst fails', async () => {
    const refused = new Error('SUBSCRIBE failed');
    let fail = true;
    const { registry, calls } = recordingRegistry({
      onFirst: () => (fail ? Promise.reject(refused) : Promise.resolve()),
    });
    const seen: string[] = [];

    await expect(registry.add('s', 'a', into(seen, 'failed'))).rejects.toBe(refused);
    expect(registry.channels).toBe(0);
    registry.dispatch(event('s', 'a', 'k1'));
    expect(seen).toEqual([]);

    // The next listener tries the upstream subscription again, and gets the events.
    fail = false;
    await registry.add('s', 'a', into(seen, 'next'));
    registry.dispatch(event('s', 'a', 'k2'));
    expect(seen).toEqual(['next:k2']);
    expect(calls.filter((c) => c.startsWith('first'))).toEqual(['first s/a', 'first s/a']);
  });

  it('keeps working after onLast fails', async () => {
    let lastCalls = 0;
    let firstCalls = 0;
    const registry = new ListenerRegistry(
      () => {
        firstCalls++;
        return Promise.resolve();
      },
      () => {
        lastCalls++;
        return Promise.reject(new Error('UNSUBSCRIBE failed'));
      },
      () => undefined,
    );
    const unsubscribe = await registry.add('s', 'a', () => undefined);
    expect(() => unsubscribe()).not.toThrow();
    expect(lastCalls).toBe(1);
    expect(registry.channels).toBe(0);

    const seen: string[] = [];
    await registry.add('s', 'a', into(seen, 'next'));
    expect(firstCalls).toBe(2);
    registry.dispatch(event('s', 'a', 'k'));
    expect(seen).toEqual(['next:k']);
  });
});

/** An in-memory bus carrying every event, counting its subscriptions. */
function fakeBus() {
  const listeners = new Set<ChangeListener>();
  let subscriptions = 0;
  return {
    subscribeAll(listener: ChangeListener) {
      subscriptions++;
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    publish(e: ChangeEvent) {
      for (const listener of [...listeners]) listener(e);
    },
    /** Listeners on the bus right now. */
    get active() {
      return listeners.size;
    },
    /** Subscriptions ever made. */
    get subscriptions() {
      return subscriptions;
    },
  };
}

describe('busChangeEvents', () => {
  it('subscribes to the bus once, whatever the number of listeners and collections', async () => {
    const bus = fakeBus();
    const events = busChangeEvents(
      (l) => bus.subscribeAll(l),
      () => undefined,
    );
    expect(bus.active).toBe(0);
    await events.subscribe('s', 'a', () => undefined);
    await events.subscribe('s', 'a', () => undefined);
    await events.subscribe('s', 'b', () => undefined);
    await events.subscribe('t', 'c', () => undefined);
    expect(bus.active).toBe(1);
    expect(bus.subscriptions).toBe(1);
  });

  it('hands each event of the bus to the listeners of its collection only', async () => {
    const bus = fakeBus();
    const events = busChangeEvents(
      (l) => bus.subscribeAll(l),
      () => undefined,
    );
    const seen: string[] = [];
    await events.subscribe('s', 'a', into(seen, 'a'));
    await events.subscribe('s', 'b', into(seen, 'b'));

    bus.publish(event('s', 'a', 'k1'));
    bus.publish(event('s', 'b', 'k2'));
    bus.publish(event('s', 'c', 'k3'));
    bus.publish(event('t', 'a', 'k4'));

    expect(seen).toEqual(['a:k1', 'b:k2']);
  });

  it('keeps the bus subscription while any collection has a listener, and releases it after the last', async () => {
    const bus = fakeBus();
    const events = busChangeEvents(
      (l) => bus.subscribeAll(l),
      () => undefined,
    );
    const seen: string[] = [];
    const a1 = await events.subscribe('s', 'a', into(seen, 'a1'));
    const a2 = await events.subscribe('s', 'a', into(seen, 'a2'));
    const b = await events.subscribe('s', 'b', into(seen, 'b'));

    a1();
    expect(bus.active).toBe(1);
    a2();
    expect(bus.active).toBe(1);
    bus.publish(event('s', 'b', 'k1'));
    b();
    expect(bus.active).toBe(0);
    bus.publish(event('s', 'b', 'k2'));
    expect(seen).toEqual(['b:k1']);
  });

  it('subscribes to the bus again when a listener arrives after the release', async () => {
    const bus = fakeBus();
    const events = busChangeEvents(
      (l) => bus.subscribeAll(l),
      () => undefined,
    );
    const seen: string[] = [];
    (await events.subscribe('s', 'a', into(seen, 'old')))();
    expect(bus.active).toBe(0);

    await events.subscribe('s', 'a', into(seen, 'new'));
    expect(bus.active).toBe(1);
    expect(bus.subscriptions).toBe(2);
    bus.publish(event('s', 'a', 'k'));
    expect(seen).toEqual(['new:k']);
  });

  it('does not release the bus when an unsubscribe is repeated', async () => {
    const bus = fakeBus();
    const events = busChangeEvents(
      (l) => bus.subscribeAll(l),
      () => undefined,
    );
    const a = await events.subscribe('s', 'a', () => undefined);
    await events.subscribe('s', 'b', () => undefined);
    a();
    a();
    expect(bus.active).toBe(1);
  });

  it('reports a throwing listener with its event, and still calls the others', async () => {
    const bus = fakeBus();
    const failures: Array<[unknown, string]> = [];
    const events = busChangeEvents(
      (l) => bus.subscribeAll(l),
      (error, e) => failures.push([error, e.key]),
    );
    const seen: string[] = [];
    const boom = new Error('listener bug');
    await events.subscribe('s', 'a', () => {
      throw boom;
    });
    await events.subscribe('s', 'a', into(seen, 'ok'));

    expect(() => bus.publish(event('s', 'a', 'k'))).not.toThrow();
    expect(seen).toEqual(['ok:k']);
    expect(failures).toEqual([[boom, 'k']]);
  });
});
