import { DomainError, validateCollectionName, validateSpaceName, type Collection } from '@rosetta/core';
import type { CollectionsRepository, RecordCache } from './ports';

/** A collection's address: its space and its name. */
export interface CollectionAddress {
  readonly space: string;
  readonly name: string;
  /** A version node's UUID; undefined: the collection's default version. */
  readonly version?: string | undefined;
}

export interface Clock {
  /** Monotonic milliseconds. */
  now(): number;
}

export const monotonicClock: Clock = { now: () => performance.now() };

/**
 * How long after starting a database read a reader may still put what it read into the cache.
 * Tombstones live far longer (60 s by default), so a slow reader can never resurrect a record
 * whose tombstone has already expired.
 */
export const POPULATE_WINDOW_MS = 2000;

/** Turns a collection's address into the collection, through the cache. */
export class CollectionResolver {
  constructor(
    private readonly collections: CollectionsRepository,
    private readonly cache: RecordCache,
    private readonly clock: Clock,
  ) {}

  static validate(address: CollectionAddress): void {
    validateSpaceName(address.space);
    validateCollectionName(address.name);
  }

  async resolve(address: CollectionAddress): Promise<Collection> {
    CollectionResolver.validate(address);
    const cached = await this.cache.lookupCollection(address.space, address.name);
    if (cached !== undefined) {
      if (cached.value === undefined) throw await this.notFound(address);
      return cached.value;
    }
    const started = this.clock.now();
    const collection = await this.collections.find(address.space, address.name);
    if (collection === undefined) throw await this.notFound(address);
    this.populate(started, collection);
    return collection;
  }

  /** Puts a collection read from the database into the cache, if the read is recent enough. */
  populate(started: number, collection: Collection): void {
    if (this.clock.now() - started > POPULATE_WINDOW_MS) return;
    void this.cache.storeCollection(
      collection.space,
      collection.name,
      { revision: collection.revision, value: collection },
      'read',
    );
  }

  /** The error for a collection that does not exist: its space may be missing too. */
  async notFound(address: CollectionAddress): Promise<DomainError> {
    if (!(await this.collections.spaceExists(address.space))) {
      return new DomainError('SPACE_NOT_FOUND', `space ${address.space} not found`, {
        publicMessage: `space "${address.space}" does not exist`,
      });
    }
    return new DomainError('COLLECTION_NOT_FOUND', `collection ${address.space}/${address.name} not found`, {
      publicMessage: `collection "${address.name}" does not exist in space "${address.space}"`,
    });
  }
}
