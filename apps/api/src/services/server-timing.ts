import { AsyncLocalStorage } from 'node:async_hooks';
import type { DescService } from '@bufbuild/protobuf';
import type { HandlerContext, ServiceImpl } from '@connectrpc/connect';
import type { Collection } from '@rosetta/core';
import type { RpcObserver } from '@rosetta/proto';
import type { CacheEntry, CacheLookup, RecordCache, RecordEntry, StoreSource } from './ports';

/**
 * Server-Timing of the record service (SERVER_TIMING): each unary call answers a
 * `server-timing: db;dur=1.23, cache;dur=0.05` response header, the time (ms) the call spent
 * waiting on Postgres and on the cache. Nothing here runs when the setting is off: the runtime
 * then neither wraps the services nor decorates the database and the cache.
 */

/**
 * Wall time during which at least one operation of a kind was in flight. Overlapping
 * operations count once: queries run together (Promise.all), and a query inside a transaction
 * whose own time is measured, add nothing to the time already counted.
 */
export class Stopwatch {
  private active = 0;
  private since = 0;
  private spent = 0;

  start(): void {
    if (this.active++ === 0) this.since = performance.now();
  }

  stop(): void {
    if (--this.active === 0) this.spent += performance.now() - this.since;
  }

  /** The time counted so far (ms), including operations still in flight. */
  elapsed(): number {
    return this.active === 0 ? this.spent : this.spent + (performance.now() - this.since);
  }
}

/** What one call spent on each resource. */
export class CallTiming {
  readonly db = new Stopwatch();
  readonly cache = new Stopwatch();

  /** The header's value, W3C Server-Timing syntax, durations in ms with 2 decimals. */
  header(): string {
    return `db;dur=${this.db.elapsed().toFixed(2)}, cache;dur=${this.cache.elapsed().toFixed(2)}`;
  }
}

const calls = new AsyncLocalStorage<CallTiming>();

async function within<T>(watch: Stopwatch, work: () => Promise<T>): Promise<T> {
  watch.start();
  try {
    return await work();
  } finally {
    watch.stop();
  }
}

/** Runs a database operation, counted in the call it runs for (if any). */
export function timeDb<T>(work: () => Promise<T>): Promise<T> {
  const timing = calls.getStore();
  return timing === undefined ? work() : within(timing.db, work);
}

/** Runs a cache operation, counted in the call it runs for (if any). */
export function timeCache<T>(work: () => Promise<T>): Promise<T> {
  const timing = calls.getStore();
  return timing === undefined ? work() : within(timing.cache, work);
}

/** The cache, each look-up and store counted as cache time of the call it runs for. */
export class TimedRecordCache implements RecordCache {
  constructor(private readonly inner: RecordCache) {}

  get degraded(): boolean {
    return this.inner.degraded;
  }

  get leaseMs(): number {
    return this.inner.leaseMs;
  }

  lookup(space: string, name: string, keys: readonly string[], leaseHolder?: string): Promise<CacheLookup | undefined> {
    return timeCache(() => this.inner.lookup(space, name, keys, leaseHolder));
  }

  lookupCollection(space: string, name: string): Promise<CacheEntry<Collection> | undefined> {
    return timeCache(() => this.inner.lookupCollection(space, name));
  }

  storeCollection(space: string, name: string, entry: CacheEntry<Collection>, source: StoreSource): Promise<void> {
    return timeCache(() => this.inner.storeCollection(space, name, entry, source));
  }

  storeRecords(collection: Collection, entries: readonly RecordEntry[], source: StoreSource): Promise<void> {
    return timeCache(() => this.inner.storeRecords(collection, entries, source));
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

type Unary = (request: unknown, context: HandlerContext) => unknown;

/**
 * The observer, with every unary method of what it wraps also timed: the call runs in a fresh
 * CallTiming, and its `server-timing` response header is set when it ends, failed or not (the
 * lean path and Connect's handler both send a handler's headers with its error too). Streams
 * are left alone: their headers leave before the work is done.
 */
export function withServerTiming(observer: RpcObserver): RpcObserver {
  return {
    observe<S extends DescService>(service: S, impl: ServiceImpl<S>): ServiceImpl<S> {
      const handlers = impl as unknown as Record<string, unknown>;
      const timed: Record<string, unknown> = { ...handlers };
      for (const method of service.methods) {
        const handler = handlers[method.localName] as Unary | undefined;
        if (method.methodKind !== 'unary' || handler === undefined) continue;
        timed[method.localName] = async (request: unknown, context: HandlerContext) => {
          const timing = new CallTiming();
          try {
            return await calls.run(timing, handler, request, context);
          } finally {
            context.responseHeader.set('server-timing', timing.header());
          }
        };
      }
      return observer.observe(service, timed as unknown as ServiceImpl<S>);
    },
  };
}
