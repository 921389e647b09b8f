import type { Client } from '@connectrpc/connect';
import type { ChangeFeedService } from '@rosetta/proto';
import type { CursorStore } from '../ports';

/** Events per compacting call, and calls per run: 100,000 events per run at most. */
export const COMPACT_BATCH = 5000;
export const COMPACT_MAX_BATCHES = 20;

export interface CompactChangesDeps {
  readonly feed: Pick<Client<typeof ChangeFeedService>, 'compactChanges'>;
  /** The relay's position: nothing after it is deleted, relayed or not. */
  readonly cursor: CursorStore;
  /** How long events are kept (ms). */
  readonly retentionMs: number;
  /** Events deleted per call (one transaction each). */
  readonly batch: number;
  /** Calls per run at most, so that a backlog cannot hold the queue (the next run goes on). */
  readonly maxBatches: number;
  readonly signal?: AbortSignal | undefined;
  /** The clock (ms since the epoch). */
  readonly now?: () => number;
}

/**
 * Retention of the change feed: deletes, oldest first, the events committed more than
 * `retentionMs` ago, and never one the relay has not passed yet. Readers asking for a revision
 * deleted this way are told so (REVISION_EXPIRED, with the oldest kept). Returns how many went.
 */
export async function compactChanges(deps: CompactChangesDeps): Promise<number> {
  const upTo = await deps.cursor.get();
  if (upTo === undefined) return 0;
  const beforeUs = BigInt((deps.now ?? Date.now)() - deps.retentionMs) * 1000n;
  let deleted = 0;
  for (let i = 0; i < deps.maxBatches && deps.signal?.aborted !== true; i++) {
    const result = await deps.feed.compactChanges({ beforeUs, upTo, limit: deps.batch });
    deleted += Number(result.deleted);
    if (!result.more) break;
  }
  return deleted;
}
