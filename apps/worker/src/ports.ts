import type { ChangeEvent } from '@rosetta/proto';

/**
 * Where relayed change events go: Redis pub/sub when clustered, an in-process bus in the
 * all-in-one process. `publish` resolves once every event of the batch has been handed over;
 * when it rejects, the relay keeps its cursor and sends the batch again.
 */
export interface EventPublisher {
  publish(events: readonly ChangeEvent[]): Promise<void>;
}

/** The relay's position in the change feed: the last position whose events were all published. */
export interface CursorStore {
  /** Undefined until the relay first ran against this store. */
  get(): Promise<string | undefined>;
  set(position: string): Promise<void>;
}
