import type { MessageInitShape } from '@bufbuild/protobuf';
import { Code, type Client } from '@connectrpc/connect';
import { readWireError, type ConditionSchema, type Record as RecordMessage, type RecordService } from '@rosetta/proto';
import { callForRequests, currentTiming, type RequestTiming } from '../http/server-timing';
import { TurnBatcher, type CallerHeaders, type CollectionRef } from './turn-batcher';

/** One write: what a PutEntry carries (a plain object, not a message). */
export interface Entry {
  readonly key: string;
  readonly value: Uint8Array;
  readonly contentType: string;
  readonly condition: MessageInitShape<typeof ConditionSchema> | undefined;
}

export interface Written {
  readonly record: RecordMessage | undefined;
  readonly created: boolean;
}

interface Waiter {
  readonly entry: Entry;
  /** The Server-Timing of the request that writes (SERVER_TIMING on). */
  readonly timing: RequestTiming | undefined;
  resolve(written: Written): void;
  reject(error: unknown): void;
}

/** Entries per BatchPut, and their value bytes: enough to share a commit, small enough to stay quick. */
const MAX_BATCH = 64;
const MAX_BATCH_BYTES = 4 * 1024 * 1024;

/**
 * Coalesces the unconditional single-record writes that arrive in the same turn of the event
 * loop into one BatchPut per collection: one RPC, one transaction, one commit (one fsync) for
 * all of them. Each write is still acknowledged only after its transaction committed.
 *
 * A batch is all or nothing, so one bad write (a value over the collection's limit, say) would
 * fail its neighbours: when a batch is refused for a domain reason, nothing was written, and
 * each write is retried alone to get its own answer. Conditional writes, and writes of a key
 * already waiting in the batch, go alone from the start.
 *
 * With Server-Timing on, each call counts for every write it carried (see callForRequests), as
 * RecordReader does for reads.
 */
export class RecordWriter {
  private readonly batcher = new TurnBatcher<Waiter>((collection, caller, waiters) =>
    this.flush(collection, caller, waiters),
  );

  constructor(
    private readonly records: Client<typeof RecordService>,
    private readonly options: { readonly serverTiming?: boolean } = {},
  ) {}

  put(caller: CallerHeaders, collection: CollectionRef, entry: Entry): Promise<Written> {
    if (entry.condition !== undefined) return this.putAlone(caller, collection, entry);
    const timing = this.options.serverTiming === true ? currentTiming() : undefined;
    return new Promise((resolve, reject) => this.batcher.add(collection, caller, { entry, timing, resolve, reject }));
  }

  private async putAlone(caller: CallerHeaders, collection: CollectionRef, entry: Entry): Promise<Written> {
    const { record, created } = await this.records.putRecord(
      {
        collection,
        key: entry.key,
        value: entry.value,
        contentType: entry.contentType,
        condition: entry.condition,
      },
      { headers: caller.headers },
    );
    return { record, created };
  }

  /** Splits a turn's writes into batches: bounded in count and bytes, each key at most once. */
  private flush(collection: CollectionRef, caller: CallerHeaders, waiters: Waiter[]): void {
    let group: Waiter[] = [];
    let keys = new Set<string>();
    let bytes = 0;
    for (const waiter of waiters) {
      const size = waiter.entry.value.byteLength;
      if (group.length === MAX_BATCH || bytes + size > MAX_BATCH_BYTES || keys.has(waiter.entry.key)) {
        this.send(collection, caller, group);
        group = [];
        keys = new Set();
        bytes = 0;
      }
      group.push(waiter);
      keys.add(waiter.entry.key);
      bytes += size;
    }
    this.send(collection, caller, group);
  }

  /** One write of a turn, alone: a PutRecord that counts for its own request. */
  private alone(collection: CollectionRef, caller: CallerHeaders, waiter: Waiter): void {
    void callForRequests([waiter.timing], () => this.putAlone(caller, collection, waiter.entry)).then(
      waiter.resolve,
      (error: unknown) => waiter.reject(error),
    );
  }

  private send(collection: CollectionRef, caller: CallerHeaders, waiters: Waiter[]): void {
    if (waiters.length === 0) return;
    if (waiters.length === 1) {
      this.alone(collection, caller, waiters[0] as Waiter);
      return;
    }
    const entries = waiters.map((w) => w.entry);
    void callForRequests(
      waiters.map((w) => w.timing),
      () => this.records.batchPut({ collection, entries }, { headers: caller.headers }),
    ).then(
      ({ records }) =>
        waiters.forEach((w, i) => {
          const record = records[i];
          w.resolve({ record, created: record !== undefined && record.createdRevision === record.revision });
        }),
      (error: unknown) => {
        // A domain refusal wrote nothing: let each write find out alone. A transport failure
        // (the record service unreachable or too slow) is every write's answer; retrying each
        // would only pile load onto an outage.
        const { code, connectCode } = readWireError(error);
        if (code !== undefined && code !== 'UNAVAILABLE' && code !== 'INTERNAL' && connectCode !== Code.Unavailable) {
          waiters.forEach((w) => this.alone(collection, caller, w));
        } else {
          waiters.forEach((w) => w.reject(error));
        }
      },
    );
  }
}
