/** A collection's address, as the record service's contract names it. */
export interface CollectionRef {
  readonly space: string;
  readonly collection: string;
}

/**
 * Collects items per collection until the current turn of the event loop ends (setImmediate:
 * after every request the poll phase delivered), then hands each collection's items over at
 * once. What arrives together goes out together; nothing waits for a later turn.
 */
export class TurnBatcher<T> {
  private pending = new Map<string, { collection: CollectionRef; items: T[] }>();
  private scheduled = false;

  constructor(private readonly flush: (collection: CollectionRef, items: T[]) => void) {}

  add(collection: CollectionRef, item: T): void {
    const id = `${collection.space}\u0000${collection.collection}`;
    let group = this.pending.get(id);
    if (group === undefined) {
      group = { collection, items: [] };
      this.pending.set(id, group);
    }
    group.items.push(item);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        const groups = this.pending;
        this.pending = new Map();
        for (const { collection: ref, items } of groups.values()) this.flush(ref, items);
      });
    }
  }
}
