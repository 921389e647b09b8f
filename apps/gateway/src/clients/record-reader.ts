import type { Client } from '@connectrpc/connect';
import { validateKey } from '@rosetta/core';
import type { Record as RecordMessage, RecordService } from '@rosetta/proto';
import { callForRequests, currentTiming, type RequestTiming } from '../http/server-timing';
import { TurnBatcher, type CallerHeaders, type CollectionRef } from './turn-batcher';

interface Waiter {
  readonly key: string;
  /** The Server-Timing of the request that reads (SERVER_TIMING on). */
  readonly timing: RequestTiming | undefined;
  resolve(record: RecordMessage | undefined): void;
  reject(error: unknown): void;
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
 */
export class RecordReader {
  private readonly batcher = new TurnBatcher<Waiter>((collection, caller, waiters) => {
    for (let i = 0; i < waiters.length; i += MAX_BATCH) this.send(collection, caller, waiters.slice(i, i + MAX_BATCH));
  });

  constructor(
    private readonly records: Client<typeof RecordService>,
    private readonly options: { readonly serverTiming?: boolean } = {},
  ) {}

  get(caller: CallerHeaders, collection: CollectionRef, key: string): Promise<RecordMessage | undefined> {
    validateKey(key);
    const timing = this.options.serverTiming === true ? currentTiming() : undefined;
    return new Promise((resolve, reject) => this.batcher.add(collection, caller, { key, timing, resolve, reject }));
  }

  private send(collection: CollectionRef, caller: CallerHeaders, waiters: Waiter[]): void {
    const [only] = waiters;
    const options = { headers: caller.headers };
    const timings = waiters.map((w) => w.timing);
    if (waiters.length === 1 && only !== undefined) {
      void callForRequests(timings, () => this.records.getRecord({ collection, key: only.key }, options)).then(
        ({ record }) => only.resolve(record),
        (error: unknown) => only.reject(error),
      );
      return;
    }
    void callForRequests(timings, () =>
      this.records.batchGet({ collection, keys: waiters.map((w) => w.key) }, options),
    ).then(
      ({ results }) => waiters.forEach((w, i) => w.resolve(results[i]?.record)),
      (error: unknown) => waiters.forEach((w) => w.reject(error)),
    );
  }
}
