/** What a change event records. */
export type ChangeOp = 'put' | 'delete' | 'collection.created' | 'collection.updated' | 'collection.deleted';

/** One committed mutation, as appended to the outbox in the same transaction. */
export interface ChangeEvent {
  /** Opaque feed position: resuming after it never skips a later commit. */
  readonly position: string;
  readonly revision: number;
  readonly op: ChangeOp;
  readonly space: string;
  readonly collection: string;
  /** Empty for collection-level events. */
  readonly key: string;
  readonly version: string;
  readonly contentType: string;
  readonly size: number;
  /** Commit time, microseconds since the epoch. */
  readonly at: number;
  /** The value, when it is small enough to travel with the event. */
  readonly value: Uint8Array | undefined;
}

/** Values up to this size travel inside change events; larger ones are fetched by key. */
export const MAX_EVENT_VALUE_BYTES = 64 * 1024;
