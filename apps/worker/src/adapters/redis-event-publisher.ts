import type { Redis } from 'ioredis';
import { encodeEventMessage, eventChannel, type ChangeEvent } from '@rosetta/proto';
import type { EventPublisher } from '../ports';

/**
 * Publishes each change event on its collection's channel, `<prefix>events:<space>/<collection>`,
 * as proto3 JSON. A batch goes out as one pipeline: one round trip, and events keep their order.
 */
export class RedisEventPublisher implements EventPublisher {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async publish(events: readonly ChangeEvent[]): Promise<void> {
    if (events.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const event of events) {
      pipeline.publish(eventChannel(this.prefix, event.space, event.collection), encodeEventMessage(event));
    }
    const results = await pipeline.exec();
    if (results === null) throw new Error('publishing change events failed: the pipeline was discarded');
    const failed = results.find(([error]) => error !== null);
    if (failed !== undefined) throw new Error('publishing change events failed', { cause: failed[0] });
  }
}
