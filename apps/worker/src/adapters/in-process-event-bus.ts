import type { ChangeEvent } from '@rosetta/proto';
import type { EventPublisher } from '../ports';

export type ChangeEventListener = (event: ChangeEvent) => void;

/** Called with whatever a listener threw, and the event it was handling. */
export type ListenerErrorHandler = (error: unknown, event: ChangeEvent) => void;

/**
 * The event bus of the all-in-one process: the relay publishes here, and in-process code (live
 * subscriptions, Server-Sent Events) subscribes. Like Redis pub/sub it is fire and forget: a
 * listener that throws is reported to `onListenerError` and neither stops the other listeners
 * nor fails the publish, which would make the relay resend the batch to everyone.
 */
export class InProcessEventBus implements EventPublisher {
  // One entry per subscription, so that subscribing the same function twice yields two
  // subscriptions, and each unsubscribe removes only its own.
  private readonly subscriptions = new Set<{ readonly listener: ChangeEventListener }>();

  constructor(private readonly onListenerError: ListenerErrorHandler) {}

  /** Calls `listener` with every event published from now on; returns the unsubscribe function. */
  subscribe(listener: ChangeEventListener): () => void {
    const subscription = { listener };
    this.subscriptions.add(subscription);
    return () => {
      this.subscriptions.delete(subscription);
    };
  }

  publish(events: readonly ChangeEvent[]): Promise<void> {
    for (const event of events) {
      // A snapshot: listeners may unsubscribe (or subscribe others) while being called.
      for (const { listener } of [...this.subscriptions]) {
        try {
          listener(event);
        } catch (error) {
          this.onListenerError(error, event);
        }
      }
    }
    return Promise.resolve();
  }
}
