import type { Client } from '@connectrpc/connect';
import { validateKey } from '@rosetta/core';
import type { Record as RecordMessage, RecordService } from '@rosetta/proto';
import { TurnBatcher, type CallerHeaders, type CollectionRef } from './turn-batcher';

interface Waiter {
  readonly key: string;
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
 */
export class RecordReader {
  private readonly batcher = new TurnBatcher<Waiter>((collection, caller, waiters) => {
    for (let i = 0; i < waiters.length; i += MAX_BATCH) this.send(collection, caller, waiters.slice(i, i + MAX_BATCH));
  });

  constructor(private readonly records: Client<typeof RecordService>) {}

  get(caller: CallerHeaders, collection: CollectionRef, key: string): Promise<RecordMessage | undefined> {
    validateKey(key);
    return new Promise((resolve, reject) => this.batcher.add(collection, caller, { key, resolve, reject }));
  }

  private send(collection: CollectionRef, caller: CallerHeaders, waiters: Waiter[]): void {
    const [only] = waiters;
    const options = { headers: caller.headers };
    if (waiters.length === 1 && only !== undefined) {
      this.records.getRecord({ collection, key: only.key }, options).then(
        ({ record }) => only.resolve(record),
        (error: unknown) => only.reject(error),
      );
      return;
    }
    this.records.batchGet({ collection, keys: waiters.map((w) => w.key) }, options).then(
      ({ results }) => waiters.forEach((w, i) => w.resolve(results[i]?.record)),
      (error: unknown) => waiters.forEach((w) => w.reject(error)),
    );
  }
}
