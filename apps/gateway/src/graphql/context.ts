import DataLoader from 'dataloader';
import { MAX_BATCH_GET_KEYS } from '@rosetta/core';
import type { Collection, Record as RecordMessage, VersionDag } from '@rosetta/proto';
import type { Caller } from '../auth/callers';
import type { RecordApi } from '../clients/record-api';
import type { ChangeEvents } from '../events/change-events';

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
  /** Live change events; undefined where the gateway has no event bus (a cluster without REDIS_URL). */
  readonly events: ChangeEvents | undefined;
}

const sep = '\u0000';

function createLoaders(api: RecordApi, caller: () => Promise<Caller>): Loaders {
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
    record: new DataLoader(
      async (addresses) => {
        const groups = new Map<string, RecordAddress[]>();
        for (const address of addresses) {
          const group = [address.space, address.collection, address.version].join(sep);
          const list = groups.get(group);
          if (list === undefined) groups.set(group, [address]);
          else list.push(address);
        }
        const found = new Map<string, RecordNode | null | Error>();
        await Promise.all(
          [...groups.values()].map(async (group) => {
            const [{ space, collection, version }] = group as [RecordAddress];
            const keys = [...new Set(group.map((a) => a.key))];
            try {
              const { results } = await api.records.batchGet(
                { collection: { space, collection, version }, keys },
                { headers: await headers() },
              );
              keys.forEach((key, i) => {
                const record = results[i]?.record;
                found.set(
                  recordKey({ space, collection, version, key }),
                  record ? { record, space, collection } : null,
                );
              });
            } catch (error) {
              for (const key of keys) found.set(recordKey({ space, collection, version, key }), error as Error);
            }
          }),
        );
        return addresses.map((a) => found.get(recordKey(a)) ?? null);
      },
      { cacheKeyFn: recordKey, maxBatchSize: MAX_BATCH_GET_KEYS },
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
  events: ChangeEvents | undefined,
  authenticate: () => Promise<Caller>,
): GraphQLContext {
  let pending: Promise<Caller> | undefined;
  const caller = () => (pending ??= authenticate());
  return { api, caller, events, loaders: createLoaders(api, caller) };
}
