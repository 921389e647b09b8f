const LIMIT = 10_000;

/**
 * Node UUIDs already resolved in full, per space. A full UUID names the same node of the same
 * repo for as long as the node exists, so record requests that name one skip the resolution
 * (one call and two queries less per GET). Prefixes and branch specs are never remembered: a new
 * node can make a prefix ambiguous, and a branch's leaf moves.
 */
export class KnownNodes {
  private readonly entries = new Map<string, string>();

  /** The root UUID of the repo of node `uuid` of `space`, when known. */
  rootOf(space: string, uuid: string): string | undefined {
    return this.entries.get(`${space}\u0000${uuid}`);
  }

  remember(space: string, spec: string, uuid: string, root: string): void {
    if (spec !== uuid) return;
    if (this.entries.size >= LIMIT) this.entries.clear();
    this.entries.set(`${space}\u0000${uuid}`, root);
  }
}
