import { Redis } from 'ioredis';
import { decodeEventMessage, eventChannel } from '@rosetta/proto';
import type { Logger } from '@rosetta/platform';
import { ListenerRegistry, type ChangeEvents } from './change-events';

/** ioredis' connection states in which a command will be answered (at once, or once connected). */
const CONNECTING_OR_READY: ReadonlySet<string> = new Set(['wait', 'connecting', 'connect', 'ready']);

/**
 * Change events from Redis pub/sub, where the worker's relay publishes them: one SUBSCRIBE per
 * collection that has listeners, on a connection of its own (a subscribed connection can do
 * nothing else). ioredis re-subscribes by itself after a reconnect; events published while the
 * connection was down are missed, as with any pub/sub reader.
 */
export class RedisChangeEvents implements ChangeEvents {
  private readonly registry: ListenerRegistry;

  constructor(
    private readonly subscriber: Redis,
    private readonly prefix: string,
    logger: Logger,
  ) {
    this.registry = new ListenerRegistry(
      async (space, collection) => {
        await subscriber.subscribe(eventChannel(prefix, space, collection));
      },
      async (space, collection) => {
        await subscriber.unsubscribe(eventChannel(prefix, space, collection));
      },
      (error, event) => logger.warn({ err: error, revision: String(event.revision) }, 'change listener failed'),
    );
    subscriber.on('message', (_channel: string, message: string) => {
      try {
        this.registry.dispatch(decodeEventMessage(message));
      } catch (error) {
        logger.warn({ err: error }, 'undecodable change event on the event bus');
      }
    });
  }

  subscribe(space: string, collection: string, listener: Parameters<ChangeEvents['subscribe']>[2]) {
    return this.registry.add(space, collection, listener);
  }

  /**
   * Whether Redis answers a PING on the subscriber connection within `timeoutMs` (PING is
   * allowed on a subscribed connection; one still connecting gets the time to). A connection
   * that lost Redis and is reconnecting, or is closed, is not ready, without waiting.
   */
  async ready(timeoutMs: number): Promise<boolean> {
    if (!CONNECTING_OR_READY.has(this.subscriber.status)) return false;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([this.subscriber.ping().then(() => true), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): Promise<void> {
    return this.subscriber.quit().then(() => undefined);
  }
}

/** Change events from the Redis at `url`, on a connection of their own. */
export function connectChangeEvents(url: string, prefix: string, logger: Logger): RedisChangeEvents {
  return new RedisChangeEvents(new Redis(url), prefix, logger);
}
