import { Redis } from 'ioredis';
import type { Logger } from '@rosetta/platform';
import type { LeaseCache, LeaseRevocation } from './lease-cache';

/** A writer's revocation, as the record service sends it (apps/api/src/cache/lease-revoker.ts). */
export interface RevocationMessage {
  /** Where the confirmation goes: the writer's own channel. */
  readonly writer: string;
  readonly id: string;
  readonly revocation: LeaseRevocation;
}

/** Fields separated by NUL: writer, id, `r` (then space, collection, keys) or `c` (space, collection). */
export function parseRevocation(message: string): RevocationMessage | undefined {
  const [writer, id, kind, space, name, ...keys] = message.split('\u0000');
  if (writer === undefined || id === undefined || space === undefined || name === undefined) return undefined;
  if (kind === 'c' && keys.length === 0) return { writer, id, revocation: { kind: 'collection', space, name } };
  if (kind === 'r') return { writer, id, revocation: { kind: 'records', space, name, keys } };
  return undefined;
}

/**
 * The lease cache's line to the record service's writers over Redis pub/sub: revocations arrive
 * on `<prefix>lease:<holder>`, and each is confirmed on the writer's `<prefix>lease-ack:<writer>`
 * once what it names is dropped. While the subscription is down the cache holds nothing and
 * asks for no leases; it resumes once Redis confirmed the subscription again.
 */
export class RedisLeaseBus {
  private readonly channel: string;

  constructor(
    private readonly cache: LeaseCache,
    private readonly subscriber: Redis,
    private readonly publisher: Redis,
    private readonly prefix: string,
    private readonly logger: Logger,
  ) {
    this.channel = `${prefix}lease:${cache.holder}`;
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.revoke(message);
    });
    subscriber.on('close', () => cache.suspend());
    subscriber.on('ready', () => this.listen());
  }

  private listen(): void {
    this.subscriber.subscribe(this.channel).then(
      () => this.cache.resume(),
      (error: unknown) => this.logger.warn({ err: error }, 'lease revocations not subscribed; reading without leases'),
    );
  }

  private revoke(message: string): void {
    const parsed = parseRevocation(message);
    if (parsed === undefined) {
      // Nothing can be vouched for after a revocation that cannot be read.
      this.logger.error({ channel: this.channel }, 'unreadable lease revocation; dropping every lease');
      this.cache.suspend();
      this.listen();
      return;
    }
    this.cache.revoke(parsed.revocation);
    this.publisher
      .publish(`${this.prefix}lease-ack:${parsed.writer}`, parsed.id)
      .catch((error: unknown) =>
        this.logger.warn({ err: error }, 'lease revocation not confirmed; the writer waits the lease out'),
      );
  }

  async close(): Promise<void> {
    this.cache.suspend();
    this.subscriber.disconnect();
    await this.publisher.quit().catch(() => undefined);
  }
}

/** The bus on two connections of its own to the Redis at `url`. */
export function connectLeaseBus(cache: LeaseCache, url: string, prefix: string, logger: Logger): RedisLeaseBus {
  const subscriber = new Redis(url, { connectionName: 'rosetta-gateway-leases' });
  const publisher = new Redis(url, { connectionName: 'rosetta-gateway-lease-confirmations', maxRetriesPerRequest: 1 });
  for (const connection of [subscriber, publisher]) {
    connection.on('error', (error: Error) => logger.warn({ err: error }, 'redis error (read leases)'));
  }
  return new RedisLeaseBus(cache, subscriber, publisher, prefix, logger);
}
