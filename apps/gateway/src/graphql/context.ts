import DataLoader from 'dataloader';
import type { Collection, Record as RecordMessage, VersionDag } from '@rosetta/proto';
import type { Caller } from '../auth/callers';
import type { RecordApi } from '../clients/record-api';
import type { RecordReader } from '../clients/record-reader';
import type { CollectionFeed } from '../events/collection-feed';

/** A record as the resolvers pass it on: with the collection it was read from. */
export interface RecordNode {
  readonly record: RecordMessage;
  readonly space: string;
  readonly collection: string;
}

interface RecordAddress {
  readonly space: string;
  readonly collection: string;
  /** A version's UUID; empty: the collection's default. */
  readonly version: string;
  readonly key: string;
}

/** One request's loaders: what a query asks for many times costs one call per collection. */
export interface Loaders {
  readonly record: DataLoader<RecordAddress, RecordNode | null, string>;
  readonly collection: DataLoader<{ space: string; name: string }, Collection, string>;
  /** DAGs by the space and any node of them. */
  readonly dag: DataLoader<{ space: string; version: string }, VersionDag, string>;
  /** Versions' UUIDs by their spec (a UUID, a unique prefix, `:branch`) in a collection's DAG. */
  readonly version: DataLoader<{ space: string; collection: string; spec: string }, string, string>;
}

export interface GraphQLContext {
  readonly api: RecordApi;
  /** The authenticated caller; rejects with UNAUTHENTICATED when the request carries no credential. */
  caller(): Promise<Caller>;
  readonly loaders: Loaders;
  /** Collections' change feeds, for subscriptions. */
  readonly feed: CollectionFeed;
}

const sep = '\u0000';

function createLoaders(api: RecordApi, reader: RecordReader, caller: () => Promise<Caller>): Loaders {
  const headers = async () => (await caller()).headers;
  const collections: Loaders['collection'] = new DataLoader(
    (refs) =>
      Promise.all(
        refs.map(async ({ space, name }) => {
          try {
            const { collection } = await api.collections.getCollection(
              { collection: { space, collection: name } },
              { headers: await headers() },
            );
            if (collection === undefined) throw new Error('the record service found a collection without returning it');
            return collection;
          } catch (error) {
            return error as Error;
          }
        }),
      ),
    { cacheKeyFn: ({ space, name }) => space + sep + name },
  );
  return {
    collection: collections,
    // Through the gateway's shared reader: this request's keys, and those of requests arriving
    // together, go out as one BatchGet per collection (a lone key as one GetRecord).
    record: new DataLoader(
      async (addresses) => {
        const who = await caller();
        return Promise.all(
          addresses.map(({ space, collection, version, key }) =>
            Promise.resolve()
              .then(() => reader.get(who, version === '' ? { space, collection } : { space, collection, version }, key))
              .then(
                (record) => (record === undefined ? null : { record, space, collection }),
                (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
              ),
          ),
        );
      },
      { cacheKeyFn: recordKey },
    ),
    dag: new DataLoader(
      (refs) =>
        Promise.all(
          refs.map(async (ref) => {
            try {
              const { dag } = await api.versions.getDag(ref, { headers: await headers() });
              if (dag === undefined) throw new Error('the record service found a DAG without returning it');
              return dag;
            } catch (error) {
              return error as Error;
            }
          }),
        ),
      { cacheKeyFn: ({ space, version }) => space + sep + version },
    ),
    version: new DataLoader(
      (refs) =>
        Promise.all(
          refs.map(async ({ space, collection: name, spec }) => {
            try {
              const { rootVersion } = await collections.load({ space, name });
              const { node } = await api.versions.resolveVersion(
                { space, spec, within: rootVersion },
                { headers: await headers() },
              );
              if (node === undefined) throw new Error('the record service resolved a version without returning it');
              return node.uuid;
            } catch (error) {
              return error as Error;
            }
          }),
        ),
      { cacheKeyFn: ({ space, collection, spec }) => [space, collection, spec].join(sep) },
    ),
  };
}

const recordKey = (a: RecordAddress) => [a.space, a.collection, a.version, a.key].join(sep);

/** The context of one operation (an HTTP request, or one subscription's events). */
export function createContext(
  api: RecordApi,
  reader: RecordReader,
  feed: CollectionFeed,
  authenticate: () => Promise<Caller>,
): GraphQLContext {
  let pending: Promise<Caller> | undefined;
  const caller = () => (pending ??= authenticate());
  return { api, caller, feed, loaders: createLoaders(api, reader, caller) };
}
