import type { Client } from '@connectrpc/connect';
import { validateKey } from '@rosetta/core';
import { toBinary } from '@bufbuild/protobuf';
import { PrincipalSchema, type Principal, type Record as RecordMessage, type RecordService } from '@rosetta/proto';
import { callForRequests, currentTiming, type RequestTiming } from '../http/server-timing';
import type { LeaseCache } from './lease-cache';
import { TurnBatcher, type CallerHeaders, type CollectionRef } from './turn-batcher';

interface Waiter {
  readonly key: string;
  /** The Server-Timing of the request that reads (SERVER_TIMING on). */
  readonly timing: RequestTiming | undefined;
  resolve(record: RecordMessage | undefined): void;
  reject(error: unknown): void;
}

const ignore = (): void => undefined;

const readers = new WeakMap<Principal, string>();

/**
 * Who reads, for the lease cache: the whole principal, as bytes. The grants a credential gets
 * one after another carry the same principal, and share what the record service let it read;
 * anything that changes what it may do (scopes, roles it was given as an admin…) is another reader.
 */
function readerOf(principal: Principal): string {
  let reader = readers.get(principal);
  if (reader === undefined) {
    reader = Buffer.from(toBinary(PrincipalSchema, principal)).toString('latin1');
    readers.set(principal, reader);
  }
  return reader;
}

/** Keys per BatchGet: a few dozen amortize the call; more would only delay the first answer. */
const MAX_BATCH = 64;

/**
 * Coalesces the single-record reads that arrive in the same turn of the event loop into one
 * BatchGet per collection (as DataLoader does). Under load, many GETs arrive together and one
 * RPC — one HTTP/2 stream, one cache round trip in the record service — serves them all; alone,
 * a read goes out as a plain GetRecord in the same turn, so nothing waits for company.
 * Keys are checked here, so that one bad key cannot fail the others' batch.
 *
 * With Server-Timing on, a call is made in a RequestTiming of its own, added to every request it
 * served before they get their answer: each of them waited for the whole call (all of them one
 * caller's, since a batch never mixes callers). Otherwise the call would count only for the
 * request in whose async context the turn's batches happen to be sent.
 *
 * With a lease cache, reads of a collection's default version ask the record service for read
 * leases, and a leased record answers its reader's later GETs from this process until its lease
 * ends or a writer revokes it (see LeaseCache). Callers held to a request rate always go to the
 * record service, which counts their calls.
 */
export class RecordReader {
  private readonly batcher = new TurnBatcher<Waiter>((collection, caller, waiters) => {
    for (let i = 0; i < waiters.length; i += MAX_BATCH) this.send(collection, caller, waiters.slice(i, i + MAX_BATCH));
  });

  constructor(
    private readonly records: Client<typeof RecordService>,
    private readonly options: { readonly serverTiming?: boolean; readonly leases?: LeaseCache } = {},
  ) {}

  /** The lease cache and the caller's name as its reader, when the read may use it. */
  private leasesFor(
    caller: CallerHeaders,
    collection: CollectionRef,
  ): { leases: LeaseCache; reader: string } | undefined {
    const { leases } = this.options;
    const { principal } = caller;
    if (leases === undefined || collection.version !== undefined) return undefined;
    return principal !== undefined && principal.rateLimit === 0 ? { leases, reader: readerOf(principal) } : undefined;
  }

  get(caller: CallerHeaders, collection: CollectionRef, key: string): Promise<RecordMessage | undefined> {
    validateKey(key);
    const leasable = this.leasesFor(caller, collection);
    if (leasable !== undefined) {
      const { leases, reader } = leasable;
      const held = leases.get(reader, collection.space, collection.collection, key);
      if (held !== undefined) {
        if (leases.claimRenewal(reader, collection.space, collection.collection, key)) {
          this.batcher.add(collection, caller, { key, timing: undefined, resolve: ignore, reject: ignore });
        }
        return Promise.resolve(held);
      }
    }
    const timing = this.options.serverTiming === true ? currentTiming() : undefined;
    return new Promise((resolve, reject) => this.batcher.add(collection, caller, { key, timing, resolve, reject }));
  }

  /**
   * One call for the waiters. With the lease cache listening, a BatchGet (even of one key) that
   * asks for leases, keeping what it is granted; otherwise a lone key goes as a GetRecord.
   */
  private send(collection: CollectionRef, caller: CallerHeaders, waiters: Waiter[]): void {
    const [only] = waiters;
    const options = { headers: caller.headers };
    const timings = waiters.map((w) => w.timing);
    const leasable = this.leasesFor(caller, collection);
    const leasing = leasable?.leases.available === true ? leasable : undefined;
    if (leasing === undefined && waiters.length === 1 && only !== undefined) {
      void callForRequests(timings, () => this.records.getRecord({ collection, key: only.key }, options)).then(
        ({ record }) => only.resolve(record),
        (error: unknown) => only.reject(error),
      );
      return;
    }
    const ticket = leasing?.leases.ticket() ?? 0;
    const sentAt = performance.now();
    const keys = waiters.map((w) => w.key);
    void callForRequests(timings, () =>
      this.records.batchGet(
        leasing === undefined ? { collection, keys } : { collection, keys, leaseHolder: leasing.leases.holder },
        options,
      ),
    ).then(
      ({ results, leased, leaseMs }) =>
        waiters.forEach((w, i) => {
          const record = results[i]?.record;
          if (leasing !== undefined && record !== undefined && leased[i] === true) {
            const { leases, reader } = leasing;
            leases.install(ticket, sentAt, leaseMs, reader, collection.space, collection.collection, record);
          }
          w.resolve(record);
        }),
      (error: unknown) => waiters.forEach((w) => w.reject(error)),
    );
  }
}
