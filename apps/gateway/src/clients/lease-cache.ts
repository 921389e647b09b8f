import { randomUUID } from 'node:crypto';
import type { Counter } from '@opentelemetry/api';
import { rosettaMeter } from '@rosetta/platform';
import type { Record as RecordMessage } from '@rosetta/proto';

/** What a revocation drops: some records of a collection, or everything of it. */
export type LeaseRevocation =
  | { readonly kind: 'records'; readonly space: string; readonly name: string; readonly keys: readonly string[] }
  | { readonly kind: 'collection'; readonly space: string; readonly name: string };

export interface LeaseCacheOptions {
  /** Value bytes held at most; the oldest entries go first. */
  readonly maxBytes: number;
  /** Larger values are never held. */
  readonly maxValueBytes: number;
  /** Longer leases are not taken (the record service's longest, READ_LEASE_MS). */
  readonly maxLeaseMs: number;
  readonly now?: () => number;
}

/** A reading of the revocations seen so far, taken when a read is sent (see `install`). */
export type ReadTicket = number;

/** A reader the record service let read an entry's record. */
interface Reader {
  /** now() until which it may be answered from the entry. */
  until: number;
  /** now() from which a hit asks for the lease to be renewed (see `claimRenewal`). */
  renewAt: number;
}

interface Entry {
  readonly record: RecordMessage;
  readonly bytes: number;
  readonly readers: Map<string, Reader>;
}

/**
 * The part of a lease its holder does not count on: the holder counts from before the record
 * service granted it, so this only absorbs clocks that run at slightly different rates.
 */
const LEASE_SHARE = 0.95;

/** A lease is renewed in the background once this share of it is gone. */
const RENEW_SHARE = 0.75;
/** A renewal that did not come back is asked for again after this long (ms). */
const RENEW_RETRY_MS = 100;

const HIT = { result: 'hit' } as const;
const MISS = { result: 'miss' } as const;

const collectionId = (space: string, name: string) => `${space}\u0000${name}`;
const entryId = (space: string, name: string, key: string) => `${space}\u0000${name}\u0000${key}`;

/**
 * The gateway's own copy of hot records, held under read leases from the record service
 * (docs/cache-consistency.md, "Read leases"): a record leased to this holder is not written
 * anywhere before this process has dropped it, or its lease has run out. So a read answered
 * from here is never older than an acknowledged write.
 *
 * An entry answers only the readers the record service let read it, each until the lease it came
 * with runs out: the access decision is the record service's, at most one lease old. A reader is
 * whatever the caller names it by: the record reader uses the caller's whole principal, so the
 * grants a credential is given one after another share what the record service let it read. Whatever
 * the bus cannot vouch for is dropped: while the revocations' channel is down nothing is held
 * (`suspend`), and a read that a revocation overtook is not kept (`ticket`/`install`).
 */
export class LeaseCache {
  /** The holder's name on the lease channel. */
  readonly holder = randomUUID();
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;
  /** Revocations count up; each key and collection remembers the last that touched it. */
  private revocations = 0;
  private readonly revokedKeys = new Map<string, { seq: number; at: number }>();
  private readonly revokedCollections = new Map<string, { seq: number; at: number }>();
  /** The last `suspend`: it revokes everything. */
  private suspendedAt = 0;
  private listening = false;
  private readonly now: () => number;
  private readonly requests: Counter;
  private readonly revoked: Counter;

  constructor(private readonly options: LeaseCacheOptions) {
    this.now = options.now ?? (() => performance.now());
    this.requests = rosettaMeter().createCounter('rosetta_gateway_lease_requests_total', {
      description:
        "Single-record reads the gateway's lease cache was asked for, by result (hit: answered from a read lease; miss: the api answered)",
    });
    this.revoked = rosettaMeter().createCounter('rosetta_gateway_lease_revocations_total', {
      description: 'Read-lease revocations the gateway received from writers and confirmed',
    });
  }

  /** Whether reads may ask for leases: the revocations' channel is listened to. */
  get available(): boolean {
    return this.listening;
  }

  /** The revocations' channel is listened to (again): leases may be asked for from now on. */
  resume(): void {
    this.listening = true;
  }

  /** The revocations' channel is lost: nothing held can be vouched for. */
  suspend(): void {
    this.listening = false;
    this.suspendedAt = ++this.revocations;
    this.entries.clear();
    this.bytes = 0;
  }

  /** The record, when held for `reader`. */
  get(reader: string, space: string, name: string, key: string): RecordMessage | undefined {
    const entry = this.entries.get(entryId(space, name, key));
    const until = entry?.readers.get(reader)?.until;
    if (entry === undefined || until === undefined || until <= this.now()) {
      this.requests.add(1, MISS);
      return undefined;
    }
    this.requests.add(1, HIT);
    return entry.record;
  }

  /**
   * Whether the caller that just got a hit should renew `reader`'s lease in the background: true
   * once the lease is mostly gone, for one caller at a time, so a hot record's readers never
   * wait for it to run out.
   */
  claimRenewal(reader: string, space: string, name: string, key: string): boolean {
    const held = this.entries.get(entryId(space, name, key))?.readers.get(reader);
    const now = this.now();
    if (held === undefined || held.renewAt > now) return false;
    held.renewAt = now + RENEW_RETRY_MS;
    return true;
  }

  /** Taken just before a read that asks for leases is sent. */
  ticket(): ReadTicket {
    return this.revocations;
  }

  /**
   * Keeps a record the record service leased to this holder for `leaseMs`, for the reader that
   * read it, unless a revocation touching it arrived since `ticket` was taken (the answer may
   * predate the write that revoked it) or the channel is down.
   */
  install(
    ticket: ReadTicket,
    sentAt: number,
    leaseMs: number,
    reader: string,
    space: string,
    name: string,
    record: RecordMessage,
  ): void {
    if (!this.listening || this.suspendedAt > ticket) return;
    if ((this.revokedCollections.get(collectionId(space, name))?.seq ?? 0) > ticket) return;
    const id = entryId(space, name, record.key);
    if ((this.revokedKeys.get(id)?.seq ?? 0) > ticket) return;
    if (record.value.byteLength > this.options.maxValueBytes || leaseMs > this.options.maxLeaseMs) return;
    const until = sentAt + leaseMs * LEASE_SHARE;
    const now = this.now();
    if (until <= now) return;
    const granted: Reader = { until, renewAt: sentAt + leaseMs * LEASE_SHARE * RENEW_SHARE };
    const held = this.entries.get(id);
    if (held !== undefined && held.record.revision >= record.revision) {
      const known = held.readers.get(reader);
      if (known === undefined || known.until < until) held.readers.set(reader, granted);
      for (const [other, { until: end }] of held.readers) if (end <= now) held.readers.delete(other);
      return;
    }
    if (held !== undefined) this.drop(id, held);
    // A copy of its own (Buffer#slice and small Buffer.from are views): the decoded value is a
    // view of the whole response it came in.
    const kept = { ...record, value: new Uint8Array(record.value) };
    const entry: Entry = { record: kept, bytes: kept.value.byteLength + kept.key.length + 256, readers: new Map() };
    entry.readers.set(reader, granted);
    this.entries.set(id, entry);
    this.bytes += entry.bytes;
    for (const [oldest, victim] of this.entries) {
      if (this.bytes <= this.options.maxBytes) break;
      this.drop(oldest, victim);
    }
  }

  /** Drops what a writer revoked; once this returns, the writer may be told. */
  revoke(revocation: LeaseRevocation): void {
    const seq = ++this.revocations;
    const at = this.now();
    this.revoked.add(1);
    this.forgetOldRevocations(at);
    if (revocation.kind === 'collection') {
      const prefix = `${collectionId(revocation.space, revocation.name)}\u0000`;
      remember(this.revokedCollections, collectionId(revocation.space, revocation.name), seq, at);
      for (const [id, entry] of this.entries) if (id.startsWith(prefix)) this.drop(id, entry);
      return;
    }
    for (const key of revocation.keys) {
      const id = entryId(revocation.space, revocation.name, key);
      remember(this.revokedKeys, id, seq, at);
      const entry = this.entries.get(id);
      if (entry !== undefined) this.drop(id, entry);
    }
  }

  /** Entries held, and their bytes (for tests and metrics). */
  get size(): { entries: number; bytes: number } {
    return { entries: this.entries.size, bytes: this.bytes };
  }

  private drop(id: string, entry: Entry): void {
    this.entries.delete(id);
    this.bytes -= entry.bytes;
  }

  /** A read sent before a revocation older than the longest lease would hold nothing alive. */
  private forgetOldRevocations(now: number): void {
    const horizon = now - this.options.maxLeaseMs;
    for (const records of [this.revokedKeys, this.revokedCollections]) {
      for (const [id, { at }] of records) {
        if (at >= horizon) break;
        records.delete(id);
      }
    }
  }
}

/** Records a revocation at the end of `records` (kept in the order they happened). */
function remember(records: Map<string, { seq: number; at: number }>, id: string, seq: number, at: number): void {
  records.delete(id);
  records.set(id, { seq, at });
}
