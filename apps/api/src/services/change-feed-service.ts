import { invalid, type ChangeEvent } from '@rosetta/core';
import type { ChangesRepository } from './ports';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

/** Reads the outbox in gap-free order (see docs/change-feed.md). */
export class ChangeFeedService {
  constructor(private readonly changes: ChangesRepository) {}

  read(after: string | undefined, limit: number | undefined): Promise<{ events: ChangeEvent[]; position: string }> {
    const size = limit || DEFAULT_LIMIT;
    if (!Number.isSafeInteger(size) || size < 1 || size > MAX_LIMIT) {
      throw invalid('INVALID_ARGUMENT', `limit must be from 1 to ${MAX_LIMIT}`);
    }
    return this.changes.read(after || undefined, size);
  }

  tail(): Promise<string> {
    return this.changes.tail();
  }
}
