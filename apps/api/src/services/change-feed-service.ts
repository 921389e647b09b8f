import { invalid, type ChangeEvent } from '@rosetta/core';
import type { ChangeSummary, ChangesRepository } from './ports';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;
const COMPACT_DEFAULT = 5000;
const COMPACT_MAX = 50_000;

function pageSize(limit: number | undefined): number {
  const size = limit || DEFAULT_LIMIT;
  if (!Number.isSafeInteger(size) || size < 1 || size > MAX_LIMIT) {
    throw invalid('INVALID_ARGUMENT', `limit must be from 1 to ${MAX_LIMIT}`);
  }
  return size;
}

/** Reads the outbox in gap-free order (see docs/change-feed.md). */
export class ChangeFeedService {
  constructor(private readonly changes: ChangesRepository) {}

  read(after: string | undefined, limit: number | undefined): Promise<{ events: ChangeEvent[]; position: string }> {
    return this.changes.read(after || undefined, pageSize(limit));
  }

  /** The page `read` answers for the same arguments, in brief (for the relay's event bus). */
  summarize(after: string | undefined, limit: number | undefined): Promise<ChangeSummary> {
    return this.changes.summarize(after || undefined, pageSize(limit));
  }

  tail(): Promise<string> {
    return this.changes.tail();
  }

  /**
   * Retention: deletes up to `limit` events older than `beforeUs`, never past `upTo`, and the
   * tombstones their delete events left in unversioned collections.
   */
  async compact(
    beforeUs: number,
    upTo: string,
    limit: number | undefined,
  ): Promise<{ deleted: number; more: boolean; tombstonesPurged: number }> {
    const size = limit || COMPACT_DEFAULT;
    if (!Number.isSafeInteger(size) || size < 1 || size > COMPACT_MAX) {
      throw invalid('INVALID_ARGUMENT', `limit must be from 1 to ${COMPACT_MAX}`);
    }
    if (upTo === '') throw invalid('INVALID_ARGUMENT', 'up_to must be a feed position');
    const { deleted, tombstonesPurged } = await this.changes.compact(beforeUs, upTo, size);
    return { deleted, more: deleted === size, tombstonesPurged };
  }

  /**
   * One collection's events after a resume point, for live readers: a position (from a
   * previous read), a revision (after that revision's event, in feed order; 0 from the oldest
   * kept), or neither (from now). `keep` drops events the caller may not see; the position
   * still moves past them. A revision older than the events kept answers `expired`, with the
   * oldest revision kept (none when the feed is empty).
   */
  async readCollection(
    space: string,
    collection: string,
    resume: { readonly after: string; readonly afterRevision: number | undefined },
    limit: number | undefined,
    keep: (event: ChangeEvent) => boolean,
  ): Promise<CollectionChanges> {
    const size = limit || DEFAULT_LIMIT;
    if (!Number.isSafeInteger(size) || size < 1 || size > MAX_LIMIT) {
      throw invalid('INVALID_ARGUMENT', `limit must be from 1 to ${MAX_LIMIT}`);
    }
    let start: { position: string; revision: number };
    if (resume.after !== '') {
      start = { position: resume.after, revision: 0 };
    } else if (resume.afterRevision === undefined) {
      return { events: [], ...((await this.changes.newest()) ?? { position: '0.0', revision: 0 }) };
    } else {
      const revision = resume.afterRevision;
      if (!Number.isSafeInteger(revision) || revision < 0)
        throw invalid('INVALID_CURSOR', 'a revision is a whole number');
      const position = revision === 0 ? '' : await this.changes.positionOf(revision);
      if (position === undefined) {
        const oldest = await this.changes.oldestRevision();
        if (oldest === undefined || revision < oldest) {
          return { events: [], position: '', revision, expired: { oldest } };
        }
        throw invalid('INVALID_CURSOR', `revision ${revision} is not an event of the change feed`);
      }
      start = { position, revision };
    }
    const page = await this.changes.readCollection(space, collection, start.position, size);
    const last = page.events[page.events.length - 1];
    return { events: page.events.filter(keep), position: page.position, revision: last?.revision ?? start.revision };
  }
}

export interface CollectionChanges {
  readonly events: ChangeEvent[];
  readonly position: string;
  readonly revision: number;
  /** Set when the revision resumed from is older than the events kept. */
  readonly expired?: { readonly oldest: number | undefined };
}
