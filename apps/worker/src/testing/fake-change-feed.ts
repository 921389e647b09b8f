import { create } from '@bufbuild/protobuf';
import { Code, type Client } from '@connectrpc/connect';
import { ChangeEventSchema, ChangeFeedService, createDirectClient, wireError, type ChangeEvent } from '@rosetta/proto';

/** What a test says about an event; the outbox assigns its position and revision. */
export interface ChangeEventInit {
  readonly op?: string;
  readonly space?: string;
  readonly collection?: string;
  readonly key?: string;
  readonly value?: Uint8Array;
}

/**
 * An in-memory outbox behind a real ChangeFeedService client (bound with createDirectClient), for
 * unit tests. Positions are `1.<n>` for the n-th event, so they sort like the real `txid.id`.
 */
export class FakeChangeFeed {
  readonly events: ChangeEvent[] = [];
  /** Events compacted away from the head of `events`. */
  private removed = 0;
  /** When each event was committed (ms since the epoch), by position; now unless a test says. */
  readonly committedAt = new Map<string, number>();
  /**
   * Every call, in order: `read <after> <limit>`, `summarize <after> <limit>`, `tail` or
   * `compact <before> <upTo> <limit>`.
   */
  readonly calls: string[] = [];
  /** Runs before each ReadChanges or SummarizeChanges answers; a test may stall or fail it. */
  beforeRead: () => Promise<void> = () => Promise.resolve();

  readonly client: Client<typeof ChangeFeedService> = createDirectClient(ChangeFeedService, {
    readChanges: async (req) => {
      this.calls.push(`read ${req.after} ${req.limit}`);
      return this.page(req.after, req.limit);
    },
    summarizeChanges: async (req) => {
      this.calls.push(`summarize ${req.after} ${req.limit}`);
      const { events, position } = await this.page(req.after, req.limit);
      const collections = new Map<string, { newest: ChangeEvent; count: number; oldestAtUs: bigint }>();
      for (const event of events) {
        const name = `${event.space}/${event.collection}`;
        const seen = collections.get(name);
        collections.delete(name);
        collections.set(name, {
          newest: { ...event, value: undefined },
          count: (seen?.count ?? 0) + 1,
          oldestAtUs: seen?.oldestAtUs ?? event.atUs,
        });
      }
      return { collections: [...collections.values()], position, count: events.length };
    },
    tailPosition: () => {
      this.calls.push('tail');
      return { position: `1.${this.events.length + this.removed}` };
    },
    // The worker reads the whole feed; one collection's changes are the gateway's to read.
    readCollectionChanges: () => {
      throw wireError(Code.Unimplemented, 'INTERNAL', 'the fake feed serves the whole feed only');
    },
    compactChanges: (req) => {
      this.calls.push(`compact ${req.beforeUs} ${req.upTo} ${req.limit}`);
      const upTo = indexOf(req.upTo);
      let deleted = 0;
      while (deleted < req.limit) {
        const head = this.events[0];
        if (head === undefined || indexOf(head.position) > upTo) break;
        if (BigInt(this.committedAt.get(head.position) ?? Date.now()) * 1000n >= req.beforeUs) break;
        this.events.shift();
        this.removed += 1;
        deleted += 1;
      }
      return { deleted: BigInt(deleted), more: deleted === req.limit };
    },
  });

  private async page(after: string, limit: number): Promise<{ events: ChangeEvent[]; position: string }> {
    await this.beforeRead();
    if (limit < 1 || limit > 1000) {
      throw wireError(Code.InvalidArgument, 'INVALID_ARGUMENT', 'limit must be from 1 to 1000');
    }
    const start = indexOf(after);
    const from = Math.max(0, start - this.removed);
    const events = this.events.slice(from, from + limit);
    return { events, position: events[events.length - 1]?.position ?? `1.${start}` };
  }

  /** Appends committed events; each gets the next position and revision. */
  append(...inits: ChangeEventInit[]): ChangeEvent[] {
    return inits.map((init) => {
      const n = this.events.length + this.removed + 1;
      const event = create(ChangeEventSchema, {
        op: 'put',
        space: 'default',
        collection: 'things',
        ...init,
        position: `1.${n}`,
        revision: BigInt(n),
      });
      this.events.push(event);
      return event;
    });
  }

  /** Appends `count` puts with keys k1, k2, … continuing from the current length. */
  appendPuts(count: number): ChangeEvent[] {
    return this.append(
      ...Array.from({ length: count }, (_, i) => ({ key: `k${this.events.length + this.removed + i + 1}` })),
    );
  }
}

function indexOf(position: string): number {
  if (position === '') return 0;
  const match = /^1\.(\d+)$/.exec(position);
  if (match === null) throw wireError(Code.InvalidArgument, 'INVALID_CURSOR', 'not a change-feed position');
  return Number(match[1]);
}
