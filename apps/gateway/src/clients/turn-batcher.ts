import type { Principal } from '@rosetta/proto';

/** A collection's address, as the record service's contract names it. */
export interface CollectionRef {
  readonly space: string;
  readonly collection: string;
  /** A version node's UUID (versioned reads and writes); absent: the collection's default. */
  readonly version?: string;
}

/** Whose calls a batch makes: the headers (a grant) every call of the batch carries. */
export interface CallerHeaders {
  readonly grant: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Whose grant it is, when known: only known callers, and never one held to a request rate, are answered from leases. */
  readonly principal?: Principal;
}

/**
 * Collects items per collection and caller until the current turn of the event loop ends (setImmediate:
 * after every request the poll phase delivered), then hands each group's items over at
 * once (a batch call carries one caller's grant, so callers never share one). What arrives together goes out together; nothing waits for a later turn.
 */
export class TurnBatcher<T> {
  private pending = new Map<string, { collection: CollectionRef; caller: CallerHeaders; items: T[] }>();
  private scheduled = false;

  constructor(private readonly flush: (collection: CollectionRef, caller: CallerHeaders, items: T[]) => void) {}

  add(collection: CollectionRef, caller: CallerHeaders, item: T): void {
    const id = `${collection.space}\u0000${collection.collection}\u0000${collection.version ?? ''}\u0000${caller.grant}`;
    let group = this.pending.get(id);
    if (group === undefined) {
      group = { collection, caller, items: [] };
      this.pending.set(id, group);
    }
    group.items.push(item);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        const groups = this.pending;
        this.pending = new Map();
        for (const { collection: ref, caller, items } of groups.values()) this.flush(ref, caller, items);
      });
    }
  }
}
