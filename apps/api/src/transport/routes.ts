import type { DescService } from '@bufbuild/protobuf';
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from '@connectrpc/connect';
import type { Logger } from '@rosetta/platform';
import {
  ChangeFeedService as ChangeFeedServiceDesc,
  CollectionService as CollectionServiceDesc,
  RecordService as RecordServiceDesc,
  ScanOrder,
  type CollectionRef,
} from '@rosetta/proto';
import type { ChangeFeedService } from '../services/change-feed-service';
import type { CollectionAddress } from '../services/collection-resolver';
import type { CollectionService } from '../services/collection-service';
import type { RecordService } from '../services/record-service';
import { toConnectError } from './error-map';
import {
  changeEventMessage,
  collectionMessage,
  fromCondition,
  fromFilter,
  optionalNum,
  recordMessage,
} from './mappers';

export interface Services {
  readonly records: RecordService;
  readonly collections: CollectionService;
  readonly changes: ChangeFeedService;
}

const address = (ref: CollectionRef | undefined): CollectionAddress => ({
  space: ref?.space ?? '',
  name: ref?.collection ?? '',
});

type AnyHandler = (request: never, context: HandlerContext) => unknown;

/** Wraps every method so that any error leaves as a ConnectError carrying its domain code. */
function guarded<S extends DescService>(service: S, impl: ServiceImpl<S>, logger: Logger): ServiceImpl<S> {
  const handlers = impl as unknown as Record<string, AnyHandler>;
  const out: Record<string, AnyHandler> = {};
  for (const method of service.methods) {
    const handler = handlers[method.localName];
    if (handler === undefined) continue;
    out[method.localName] =
      method.methodKind === 'server_streaming'
        ? async function* (request: never, context: HandlerContext) {
            try {
              yield* handler(request, context) as AsyncIterable<unknown>;
            } catch (error) {
              // A caller that went away mid-stream is not a failure of ours: nothing to log.
              if (context.signal.aborted) throw new ConnectError('the caller cancelled', Code.Canceled);
              throw toConnectError(error, logger);
            }
          }
        : async (request: never, context: HandlerContext) => {
            try {
              return await handler(request, context);
            } catch (error) {
              throw toConnectError(error, logger);
            }
          };
  }
  return out as unknown as ServiceImpl<S>;
}

export function recordServiceImpl(services: Services, logger: Logger): ServiceImpl<typeof RecordServiceDesc> {
  const { records } = services;
  return guarded(
    RecordServiceDesc,
    {
      async getRecord(req) {
        const record = await records.get(address(req.collection), req.key);
        return {
          record: record === undefined ? undefined : recordMessage({ ...record, size: record.value.byteLength }),
        };
      },
      async headRecord(req) {
        const record = await records.head(address(req.collection), req.key);
        return { record: record === undefined ? undefined : recordMessage(record) };
      },
      async putRecord(req) {
        const { record, created } = await records.put(address(req.collection), {
          key: req.key,
          value: req.value,
          contentType: req.contentType,
          condition: fromCondition(req.condition),
        });
        return { record: recordMessage(record), created };
      },
      async deleteRecord(req) {
        const { deleted, revision } = await records.delete(
          address(req.collection),
          req.key,
          optionalNum(req.expectedRevision),
        );
        return { deleted, revision: BigInt(revision) };
      },
      async batchPut(req) {
        const { records: written, createdCount } = await records.batchPut(
          address(req.collection),
          req.entries.map((e) => ({
            key: e.key,
            value: e.value,
            contentType: e.contentType,
            condition: fromCondition(e.condition),
          })),
        );
        return { records: written.map(recordMessage), createdCount };
      },
      async batchGet(req) {
        const found = await records.batchGet(address(req.collection), req.keys, !req.omitValues);
        return { results: found.map((r) => ({ record: r === undefined ? undefined : recordMessage(r) })) };
      },
      async *scan(req, context) {
        const chunks = records.scan(address(req.collection), {
          filter: fromFilter(req.filter),
          order: req.order === ScanOrder.CREATED ? 'created' : 'key',
          reverse: req.reverse,
          limit: optionalNum(req.limit),
          cursor: req.cursor || undefined,
          keysOnly: req.keysOnly,
        });
        for await (const chunk of chunks) {
          if (context.signal.aborted) return;
          yield { records: chunk.records.map(recordMessage), done: chunk.done, nextCursor: chunk.nextCursor };
        }
      },
      async count(req) {
        return { count: BigInt(await records.count(address(req.collection), fromFilter(req.filter))) };
      },
      async deleteMatching(req) {
        const { deleted, more } = await records.deleteMatching(
          address(req.collection),
          fromFilter(req.filter),
          req.batchSize || undefined,
        );
        return { deleted: BigInt(deleted), more };
      },
    },
    logger,
  );
}

export function collectionServiceImpl(services: Services, logger: Logger): ServiceImpl<typeof CollectionServiceDesc> {
  const { collections } = services;
  return guarded(
    CollectionServiceDesc,
    {
      async createCollection(req) {
        const created = await collections.create(address(req.collection), {
          maxValueBytes: optionalNum(req.maxValueBytes),
          tags: req.tags,
        });
        return { collection: collectionMessage(created) };
      },
      async getCollection(req) {
        return { collection: collectionMessage(await collections.get(address(req.collection))) };
      },
      async listCollections(req) {
        const page = await collections.list(req.space, req.limit || undefined, req.cursor || undefined);
        return { collections: page.collections.map(collectionMessage), nextCursor: page.nextCursor };
      },
      async updateCollection(req) {
        const updated = await collections.update(address(req.collection), {
          maxValueBytes: optionalNum(req.maxValueBytes),
          tags: Object.keys(req.tags).length > 0 ? req.tags : undefined,
          replaceTags: req.replaceTags,
        });
        return { collection: collectionMessage(updated) };
      },
      async deleteCollection(req) {
        await collections.delete(address(req.collection));
        return {};
      },
    },
    logger,
  );
}

export function changeFeedServiceImpl(services: Services, logger: Logger): ServiceImpl<typeof ChangeFeedServiceDesc> {
  const { changes } = services;
  return guarded(
    ChangeFeedServiceDesc,
    {
      async readChanges(req) {
        const { events, position } = await changes.read(req.after, req.limit);
        return { events: events.map(changeEventMessage), position };
      },
      async tailPosition() {
        return { position: await changes.tail() };
      },
    },
    logger,
  );
}
