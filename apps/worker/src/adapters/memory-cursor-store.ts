import type { CursorStore } from '../ports';

/**
 * The relay cursor of the all-in-one process. It starts empty on every start, so the relay
 * begins at the tail of the feed: in-process subscribers cannot have missed anything from before
 * the process started, because they did not exist yet.
 */
export class MemoryCursorStore implements CursorStore {
  constructor(private position: string | undefined = undefined) {}

  get(): Promise<string | undefined> {
    return Promise.resolve(this.position);
  }

  set(position: string): Promise<void> {
    this.position = position;
    return Promise.resolve();
  }
}
