import { DomainError } from '@rosetta/core';
import type { ChangeEvent } from '@rosetta/proto';
import type { Caller } from '../auth/callers';
import type { RecordApi } from '../clients/record-api';
import type { ChangeEvents } from './change-events';

/** Where a reader resumes: a feed position, a revision (after that revision's event), or now. */
export type Resume = { readonly position: string } | { readonly revision: bigint } | { readonly now: true };

export interface FeedPage {
  readonly events: readonly ChangeEvent[];
  /** Resume here for what follows (exact). */
  readonly position: string;
  /** Or here, with the same effect: the last event's revision, or the one resumed from. */
  readonly revision: bigint;
}

/** Events per read. */
const PAGE = 500;
/** The first pause after an empty read (ms); each next one doubles, up to the poll interval. */
const FIRST_PAUSE_MS = 10;

/**
 * What a reader asked for under `prefix`: the records' events with keys under it, and every
 * event of the collection itself.
 */
export const underPrefix =
  (prefix: string) =>
  (event: ChangeEvent): boolean =>
    event.op.startsWith('collection.') || event.key.startsWith(prefix);

/** A revision older than the feed keeps, as every transport reports it (410 on HTTP). */
export class RevisionExpired extends DomainError {
  constructor(
    readonly revision: bigint,
    readonly oldest: bigint | undefined,
  ) {
    const message =
      oldest === undefined
        ? `revision ${revision} is no longer in the change feed, which keeps no events now; resume from now`
        : `revision ${revision} is no longer in the change feed; the oldest revision kept is ${oldest}`;
    super('REVISION_EXPIRED', message, { publicMessage: message });
  }
}

/**
 * One collection's change feed for live readers (Server-Sent Events, long-polls, GraphQL
 * subscriptions): pages read from the record service's feed, which is gap-free by construction,
 * so that nothing committed is missed and a reader resumes exactly where it stopped. A reader
 * with nothing new waits; the event bus (when there is one) wakes it as soon as the relay
 * publishes an event of the collection, and it reads again after 10 ms, 20 ms, 40 ms … up to
 * every `pollMs` regardless, so a missed wake-up costs at most that.
 */
export class CollectionFeed {
  constructor(
    private readonly api: RecordApi,
    private readonly events: ChangeEvents | undefined,
    private readonly pollMs: number,
  ) {}

  /**
   * The events after `resume`, waiting up to `waitMs` for at least one (resolving with none
   * when the wait ends or `signal` aborts). Throws RevisionExpired for a revision compacted away.
   */
  async next(
    caller: () => Promise<Caller>,
    address: { readonly space: string; readonly collection: string },
    resume: Resume,
    waitMs: number,
    signal?: AbortSignal,
  ): Promise<FeedPage> {
    let wake: (() => void) | undefined;
    let unsubscribe: (() => void) | undefined;
    try {
      // Listen before the first read, so that an event published between the read and the
      // wait still wakes it.
      if (waitMs > 0 && this.events !== undefined) {
        unsubscribe = await this.events.subscribe(address.space, address.collection, () => wake?.());
      }
      const deadline = performance.now() + waitMs;
      let page = await this.read(caller, address, resume);
      // An empty read is often a transaction still running ahead of committed ones (the feed
      // shows only what is below it): look again soon, then less and less often.
      let pause = FIRST_PAUSE_MS;
      while (page.events.length === 0 && !signal?.aborted) {
        const left = deadline - performance.now();
        if (left <= 0) break;
        await new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(timer);
            signal?.removeEventListener('abort', done);
            wake = undefined;
            resolve();
          };
          const timer = setTimeout(done, Math.min(left, pause));
          signal?.addEventListener('abort', done, { once: true });
          wake = done;
        });
        if (signal?.aborted) break;
        pause = Math.min(pause * 2, this.pollMs);
        const again = await this.read(caller, address, { position: page.position });
        page = again.events.length === 0 ? { ...again, revision: page.revision } : again;
      }
      return page;
    } finally {
      unsubscribe?.();
    }
  }

  /**
   * A live reader's pages: `first`, then each page after the last, every read waiting up to
   * `idleMs` (an empty page after `first` means the wait ended with nothing). Ends when
   * `signal` aborts; the next page is read only when the consumer asks for it.
   */
  async *pages(
    caller: () => Promise<Caller>,
    address: { readonly space: string; readonly collection: string },
    first: FeedPage,
    idleMs: number,
    signal: AbortSignal,
  ): AsyncGenerator<FeedPage> {
    let page = first;
    for (;;) {
      yield page;
      if (signal.aborted) return;
      page = await this.next(caller, address, { position: page.position }, idleMs, signal);
      if (signal.aborted) return;
    }
  }

  private async read(
    caller: () => Promise<Caller>,
    address: { readonly space: string; readonly collection: string },
    resume: Resume,
  ): Promise<FeedPage> {
    const answer = await this.api.changes.readCollectionChanges(
      {
        collection: { space: address.space, collection: address.collection },
        after: 'position' in resume ? resume.position : '',
        afterRevision: 'revision' in resume ? resume.revision : undefined,
        limit: PAGE,
      },
      { headers: (await caller()).headers },
    );
    if (answer.expired) {
      const revision = 'revision' in resume ? resume.revision : 0n;
      throw new RevisionExpired(revision, answer.oldestRevision === 0n ? undefined : answer.oldestRevision);
    }
    return { events: answer.events, position: answer.position, revision: answer.revision };
  }
}
