import type { ChangeEvent } from '@rosetta/proto';

export type ChangeListener = (event: ChangeEvent) => void;

/**
 * Committed change events as the outbox relay publishes them, per collection: what live readers
 * (GraphQL subscriptions) listen to. Fire and forget, like the event bus under it: a listener
 * sees the events published while it is subscribed.
 */
export interface ChangeEvents {
  /**
   * Calls `listener` with each event of the collection published from when the promise resolves;
   * resolves to the unsubscribe function.
   */
  subscribe(space: string, collection: string, listener: ChangeListener): Promise<() => void>;
  /**
   * Whether the bus behind the events is reachable (answers within `timeoutMs`), for /readyz;
   * absent for buses that cannot fail (in-process).
   */
  ready?(timeoutMs: number): Promise<boolean>;
}

/** The channel of a collection: space names never contain `/`. */
const channelOf = (space: string, collection: string) => `${space}/${collection}`;

interface Channel {
  readonly listeners: Set<{ readonly listener: ChangeListener }>;
  /** Settles when the upstream subscription (onFirst) has. */
  readonly ready: Promise<void>;
}

/**
 * Listeners by collection, for adapters that receive every event in one place: `onFirst` and
 * `onLast` tell when a collection gains its first listener and loses its last one (to subscribe
 * and unsubscribe upstream). Every `add` resolves only once the upstream subscription is in
 * place, and fails with it.
 */
export class ListenerRegistry {
  private readonly byChannel = new Map<string, Channel>();

  constructor(
    private readonly onFirst: (space: string, collection: string) => Promise<void>,
    private readonly onLast: (space: string, collection: string) => Promise<void>,
    private readonly onListenerError: (error: unknown, event: ChangeEvent) => void,
  ) {}

  async add(space: string, collection: string, listener: ChangeListener): Promise<() => void> {
    const name = channelOf(space, collection);
    let channel = this.byChannel.get(name);
    if (channel === undefined) {
      const created: Channel = { listeners: new Set(), ready: this.onFirst(space, collection) };
      created.ready.catch(() => {
        if (this.byChannel.get(name) === created) this.byChannel.delete(name);
      });
      this.byChannel.set(name, created);
      channel = created;
    }
    const entry = { listener };
    channel.listeners.add(entry);
    try {
      await channel.ready;
    } catch (error) {
      channel.listeners.delete(entry);
      throw error;
    }
    const subscribed = channel;
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      if (!subscribed.listeners.delete(entry) || subscribed.listeners.size > 0) return;
      if (this.byChannel.get(name) === subscribed) this.byChannel.delete(name);
      this.onLast(space, collection).catch(() => undefined);
    };
  }

  /** Hands the event to every listener of its collection; one that throws does not stop the rest. */
  dispatch(event: ChangeEvent): void {
    const channel = this.byChannel.get(channelOf(event.space, event.collection));
    if (channel === undefined) return;
    for (const { listener } of [...channel.listeners]) {
      try {
        listener(event);
      } catch (error) {
        this.onListenerError(error, event);
      }
    }
  }

  /** How many collections have listeners (for tests and metrics). */
  get channels(): number {
    return this.byChannel.size;
  }
}

/**
 * Change events from an in-process bus that carries every event (the all-in-one process): one
 * subscription to the bus while any collection has listeners.
 */
export function busChangeEvents(
  subscribeAll: (listener: ChangeListener) => () => void,
  onListenerError: (error: unknown, event: ChangeEvent) => void,
): ChangeEvents {
  let unsubscribeAll: (() => void) | undefined;
  const registry: ListenerRegistry = new ListenerRegistry(
    () => {
      unsubscribeAll ??= subscribeAll((event) => registry.dispatch(event));
      return Promise.resolve();
    },
    () => {
      if (registry.channels === 0) {
        unsubscribeAll?.();
        unsubscribeAll = undefined;
      }
      return Promise.resolve();
    },
    onListenerError,
  );
  return { subscribe: (space, collection, listener) => registry.add(space, collection, listener) };
}
