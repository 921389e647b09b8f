import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from '@rosetta/platform';

/** A lease a write found on what it changed: the holder, and how long the lease has left. */
export interface HeldLease {
  readonly holder: string;
  readonly leftMs: number;
}

/** What a revocation drops: some records of a collection, or everything of it. */
export type LeaseTarget =
  | { readonly kind: 'records'; readonly space: string; readonly name: string; readonly keys: readonly string[] }
  | { readonly kind: 'collection'; readonly space: string; readonly name: string };

/**
 * Waited for beyond a lease's remaining time before a write goes on without its holder's
 * confirmation: timers, not clocks (the holder counts its lease from before the grant).
 */
export const LEASE_MARGIN_MS = 10;

/** The channel a lease holder listens on, and the channel a writer hears confirmations on. */
export const leaseChannel = (prefix: string, holder: string): string => `${prefix}lease:${holder}`;
export const leaseAckChannel = (prefix: string, writer: string): string => `${prefix}lease-ack:${writer}`;

/**
 * The revocation message: fields separated by NUL (which no name or key may hold):
 * writer, revocation id, `r` or `c`, space, collection, then the record keys (for `r`).
 */
export function encodeRevocation(writer: string, id: string, target: LeaseTarget): string {
  const head = [writer, id, target.kind === 'records' ? 'r' : 'c', target.space, target.name];
  return (target.kind === 'records' ? [...head, ...target.keys] : head).join('\u0000');
}

/**
 * Takes back the gateways' read leases before a write is acknowledged (docs/cache-consistency.md,
 * "Read leases"): each holder gets one message on its channel and answers on this writer's own
 * once it has dropped what it held. A holder that does not answer (gone, or cut off from Redis)
 * is waited out until its lease has run out.
 */
export class LeaseRevoker {
  readonly writer = randomUUID();
  private readonly waiting = new Map<string, () => void>();
  private nextId = 0;

  constructor(
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    private readonly prefix: string,
    private readonly logger: Logger,
  ) {
    subscriber.on('message', (_channel: string, id: string) => this.waiting.get(id)?.());
  }

  /** Starts listening for confirmations; until then, revocations wait for the leases to run out. */
  async start(): Promise<void> {
    await this.subscriber.subscribe(leaseAckChannel(this.prefix, this.writer));
  }

  /** Resolves once every holder confirmed, or its lease ran out. */
  async revoke(leases: readonly HeldLease[], target: LeaseTarget): Promise<void> {
    const byHolder = new Map<string, number>();
    for (const { holder, leftMs } of leases) byHolder.set(holder, Math.max(byHolder.get(holder) ?? 0, leftMs));
    await Promise.all([...byHolder].map(([holder, leftMs]) => this.revokeOne(holder, leftMs, target)));
  }

  private revokeOne(holder: string, leftMs: number, target: LeaseTarget): Promise<void> {
    const id = `${this.nextId++}`;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, leftMs + LEASE_MARGIN_MS);
      const waiting = this.waiting;
      function done(): void {
        clearTimeout(timer);
        waiting.delete(id);
        resolve();
      }
      waiting.set(id, done);
      this.publisher
        .publish(leaseChannel(this.prefix, holder), encodeRevocation(this.writer, id, target))
        .then((receivers) => {
          if (receivers === 0)
            this.logger.debug({ holder, leftMs }, 'lease holder not listening; waiting its lease out');
        })
        .catch((error: unknown) =>
          this.logger.warn({ err: error, holder, leftMs }, 'lease revocation not sent; waiting its lease out'),
        );
    });
  }

  /** Revocations under way still end by their timers: a write is never let go early. */
  close(): void {
    this.subscriber.disconnect();
  }
}
