import {
  decodeNameCursor,
  encodeNameCursor,
  invalid,
  resolveSettings,
  validateMaxValueBytes,
  validateCollectionName,
  validateSpaceId,
  validateSpaceName,
  validateTags,
  type Collection,
} from '@rosetta/core';
import { CollectionResolver, type CollectionAddress } from './collection-resolver';
import type { CollectionStats, CollectionsRepository, RecordCache } from './ports';
import type { VersionService } from './version-service';

export interface CollectionLimits {
  /** maxValueBytes of a collection created without one. */
  readonly defaultMaxValueBytes: number;
  /** The largest maxValueBytes a collection may choose. */
  readonly maxValueBytesCeiling: number;
}

export interface CreateCollectionInput {
  readonly maxValueBytes?: number | undefined;
  readonly tags?: Record<string, string> | undefined;
  readonly versioned?: boolean | undefined;
  /** A node of a DVID repo to create the collection at (it joins the repo's DAG). */
  readonly version?: string | undefined;
  readonly properties?: Record<string, string> | undefined;
}

export interface UpdateCollectionInput {
  readonly maxValueBytes?: number | undefined;
  /** Merged into the tags (an empty value removes one) unless `replaceTags`. */
  readonly tags?: Record<string, string> | undefined;
  readonly replaceTags?: boolean | undefined;
}

const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;

export class CollectionService {
  constructor(
    private readonly collections: CollectionsRepository,
    private readonly resolver: CollectionResolver,
    private readonly cache: RecordCache,
    private readonly versions: VersionService,
    private readonly limits: CollectionLimits,
  ) {}

  private async remember(collection: Collection): Promise<void> {
    await this.cache.storeCollection(
      collection.space,
      collection.name,
      { revision: collection.revision, value: collection },
      'write',
    );
  }

  async create(address: CollectionAddress, input: CreateCollectionInput): Promise<Collection> {
    CollectionResolver.validate(address);
    const settings = resolveSettings(input, this.limits);
    const properties = input.properties ?? {};
    validateTags(properties);
    const repo = input.version === undefined ? undefined : await this.versions.placement(address.space, input.version);
    const created = await this.collections.create(address.space, address.name, settings, { properties, repo });
    if (created === undefined) {
      if (!(await this.collections.spaceExists(address.space))) throw await this.resolver.notFound(address);
      throw invalid('COLLECTION_EXISTS', `collection "${address.name}" already exists in space "${address.space}"`);
    }
    await this.remember(created);
    return created;
  }

  get(address: CollectionAddress): Promise<Collection> {
    return this.resolver.resolve(address);
  }

  /**
   * The collections named `name` in the space with the UUID `spaceId`, or across the shared
   * spaces; at most two, which is enough to tell one match from an ambiguous name.
   */
  async find(name: string, spaceId: string | undefined): Promise<CollectionAddress[]> {
    validateCollectionName(name);
    const uuid = spaceId === undefined ? undefined : validateSpaceId(spaceId);
    const found = await this.collections.findByName(name, uuid, 2);
    return found.map((c) => ({ space: c.space, name: c.name }));
  }

  /** Records, bytes and the last change of a collection (the later of its records' and its own). */
  async stats(address: CollectionAddress): Promise<CollectionStats & { lastModified: number }> {
    const collection = await this.resolver.resolve(address);
    const stats = await this.collections.stats(collection);
    return { ...stats, lastModified: Math.max(stats.lastRecordChange, collection.updated) };
  }

  async list(
    space: string,
    limit: number | undefined,
    cursor: string | undefined,
  ): Promise<{ collections: Collection[]; nextCursor: string }> {
    validateSpaceName(space);
    const size = limit || DEFAULT_PAGE;
    if (!Number.isSafeInteger(size) || size < 1 || size > MAX_PAGE) {
      throw invalid('INVALID_ARGUMENT', `limit must be from 1 to ${MAX_PAGE}`);
    }
    const after = cursor ? decodeNameCursor(cursor) : undefined;
    const page = await this.collections.list(space, after, size + 1);
    if (page.length === 0 && !(await this.collections.spaceExists(space))) {
      throw await this.resolver.notFound({ space, name: '' });
    }
    const collections = page.slice(0, size);
    const last = collections[collections.length - 1];
    const nextCursor = page.length > size && last !== undefined ? encodeNameCursor(last.name) : '';
    return { collections, nextCursor };
  }

  async update(address: CollectionAddress, input: UpdateCollectionInput): Promise<Collection> {
    const collection = await this.resolver.resolve(address);
    if (input.maxValueBytes !== undefined) validateMaxValueBytes(input.maxValueBytes, this.limits.maxValueBytesCeiling);
    let tags: Record<string, string> | undefined;
    if (input.tags !== undefined || input.replaceTags) {
      const merged: Record<string, string> = input.replaceTags ? {} : { ...collection.tags };
      for (const [name, value] of Object.entries(input.tags ?? {})) {
        if (value === '') delete merged[name];
        else merged[name] = value;
      }
      validateTags(merged);
      tags = merged;
    }
    const updated = await this.collections.update(collection, { maxValueBytes: input.maxValueBytes, tags });
    if (updated === undefined) throw await this.resolver.notFound(address);
    await this.remember(updated);
    return updated;
  }

  async delete(address: CollectionAddress): Promise<void> {
    const collection = await this.resolver.resolve(address);
    const revision = await this.collections.delete(collection);
    if (revision === undefined) throw await this.resolver.notFound(address);
    await this.cache.storeCollection(address.space, address.name, { revision, value: undefined }, 'write');
  }
}
