import type { DescService } from '@bufbuild/protobuf';
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from '@connectrpc/connect';
import {
  authorizeFilter,
  authorizeKeys,
  readableKeys,
  DomainError,
  invalid,
  scopesShowCollection,
  type ErrorCode,
  type Principal,
  type Scope,
} from '@rosetta/core';
import type { Logger } from '@rosetta/platform';
import {
  GRANT_HEADER,
  requestHeaderValue,
  ChangeFeedService as ChangeFeedServiceDesc,
  CollectionService as CollectionServiceDesc,
  RecordService as RecordServiceDesc,
  VersionService as VersionServiceDesc,
  WebhookService as WebhookServiceDesc,
  type VersionRef,
  ScanOrder,
  type CollectionRef,
} from '@rosetta/proto';
import type { AccessControl } from '../services/access-control';
import type { AdminService } from '../services/admin-service';
import type { AuthService } from '../services/auth-service';
import type { ChangeFeedService } from '../services/change-feed-service';
import type { CollectionAddress } from '../services/collection-resolver';
import type { CollectionService } from '../services/collection-service';
import type { RecordService } from '../services/record-service';
import type { VersionService } from '../services/version-service';
import type { WebhookService } from '../services/webhook-service';
import type { JobService } from '../services/job-service';
import type { SnapshotService } from '../services/snapshot-service';
import { toConnectError } from './error-map';
import { scanMessages } from './scan-messages';
import {
  changeEventMessage,
  collectionMessage,
  dagMessage,
  fromCondition,
  fromFilter,
  optionalNum,
  nodeMessage,
  recordMessage,
  webhookMessage,
  deliveryMessage,
} from './mappers';

export interface Services {
  readonly records: RecordService;
  readonly collections: CollectionService;
  readonly changes: ChangeFeedService;
  readonly access: AccessControl;
  readonly auth: AuthService;
  readonly admin: AdminService;
  readonly versions: VersionService;
  readonly webhooks: WebhookService;
  readonly jobs: JobService;
  readonly snapshots: SnapshotService;
}

/** The caller of a call, from the grant it carries (UNAUTHENTICATED without a valid one). */
export const principalOf = (access: AccessControl, context: HandlerContext): Principal =>
  access.principal(requestHeaderValue(context, GRANT_HEADER));

const address = (ref: CollectionRef | undefined): CollectionAddress => ({
  space: ref?.space ?? '',
  name: ref?.collection ?? '',
  version: ref?.version || undefined,
});

/** What `authorize` answers a caller that may not read a collection. */
const DENIALS: ReadonlySet<ErrorCode> = new Set(['SPACE_NOT_FOUND', 'PERMISSION_DENIED']);

type AnyHandler = (request: never, context: HandlerContext) => unknown;

/** Wraps every method so that any error leaves as a ConnectError carrying its domain code. */
export function guarded<S extends DescService>(service: S, impl: ServiceImpl<S>, logger: Logger): ServiceImpl<S> {
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
  const { records, access } = services;
  /** Authorizes a call on records: `keys` must lie within the principal's scopes. */
  const allow = async (
    context: HandlerContext,
    ref: CollectionRef | undefined,
    level: 'read' | 'write',
    keys: readonly string[],
  ) => {
    const target = address(ref);
    const principal = principalOf(access, context);
    authorizeKeys(
      await access.check(principal, { space: target.space, collection: target.name }, level, Math.max(1, keys.length)),
      keys,
    );
    return target;
  };
  /** Authorizes a call on a filtered set of records: the filter is narrowed to the scopes. */
  const allowFilter = async (
    context: HandlerContext,
    ref: CollectionRef | undefined,
    level: 'read' | 'write',
    filter: ReturnType<typeof fromFilter>,
  ) => {
    const target = address(ref);
    const principal = principalOf(access, context);
    const scopes = await access.check(principal, { space: target.space, collection: target.name }, level);
    return { target, filter: authorizeFilter(scopes, filter) };
  };
  /** Version listings span every key: credentials limited to some keys may not read them. */
  const allowWholeCollection = async (context: HandlerContext, ref: CollectionRef | undefined) => {
    const { target, filter } = await allowFilter(context, ref, 'read', {});
    if (filter.prefix !== undefined) {
      throw new DomainError('PERMISSION_DENIED', 'key-scoped credential listed a version', {
        publicMessage: "a credential limited to some keys cannot list a version's changes",
      });
    }
    return target;
  };
  return guarded(
    RecordServiceDesc,
    {
      async getRecord(req, context) {
        const record = await records.get(await allow(context, req.collection, 'read', [req.key]), req.key);
        return {
          record: record === undefined ? undefined : recordMessage({ ...record, size: record.value.byteLength }),
        };
      },
      async headRecord(req, context) {
        const record = await records.head(await allow(context, req.collection, 'read', [req.key]), req.key);
        return { record: record === undefined ? undefined : recordMessage(record) };
      },
      async putRecord(req, context) {
        const { record, created } = await records.put(await allow(context, req.collection, 'write', [req.key]), {
          key: req.key,
          value: req.value,
          contentType: req.contentType,
          condition: fromCondition(req.condition),
        });
        return { record: recordMessage(record), created };
      },
      async deleteRecord(req, context) {
        const { deleted, revision } = await records.delete(
          await allow(context, req.collection, 'write', [req.key]),
          req.key,
          optionalNum(req.expectedRevision),
        );
        return { deleted, revision: BigInt(revision) };
      },
      async batchPut(req, context) {
        const target = await allow(
          context,
          req.collection,
          'write',
          req.entries.map((e) => e.key),
        );
        const { records: written, createdCount } = await records.batchPut(
          target,
          req.entries.map((e) => ({
            key: e.key,
            value: e.value,
            contentType: e.contentType,
            condition: fromCondition(e.condition),
          })),
        );
        return { records: req.omitRecords ? [] : written.map(recordMessage), createdCount };
      },
      async batchGet(req, context) {
        const target = await allow(context, req.collection, 'read', req.keys);
        const {
          records: found,
          leased,
          leaseMs,
        } = req.leaseHolder === '' || req.omitValues
          ? { records: await records.batchGet(target, req.keys, !req.omitValues), leased: [], leaseMs: 0 }
          : await records.leasedBatchGet(target, req.keys, req.leaseHolder);
        return {
          results: found.map((r) => ({ record: r === undefined ? undefined : recordMessage(r) })),
          leased: [...leased],
          leaseMs,
        };
      },
      async *scan(req, context) {
        const { target, filter } = await allowFilter(context, req.collection, 'read', fromFilter(req.filter));
        const chunks = records.scan(target, {
          filter,
          order: req.order === ScanOrder.CREATED ? 'created' : 'key',
          reverse: req.reverse,
          limit: optionalNum(req.limit),
          cursor: req.cursor || undefined,
          keysOnly: req.keysOnly,
        });
        for await (const chunk of chunks) {
          for (const message of scanMessages(chunk)) {
            // Never a quiet end: a caller in the same process would take a cut stream for a whole one.
            if (context.signal.aborted) throw new ConnectError('the call was cancelled', Code.Canceled);
            yield { records: message.records.map(recordMessage), done: message.done, nextCursor: message.nextCursor };
          }
        }
      },
      async count(req, context) {
        const { target, filter } = await allowFilter(context, req.collection, 'read', fromFilter(req.filter));
        return { count: BigInt(await records.count(target, filter)) };
      },
      async deleteMatching(req, context) {
        const { target, filter } = await allowFilter(context, req.collection, 'write', fromFilter(req.filter));
        const { deleted, more } = await records.deleteMatching(target, filter, req.batchSize || undefined);
        return { deleted: BigInt(deleted), more };
      },
      async versionChanges(req, context) {
        const target = await allowWholeCollection(context, req.collection);
        const page = await records.versionChanges(target, req.afterKey, req.limit || undefined);
        return {
          changes: page.changes.map((c) => ({ key: c.key, record: c.record && recordMessage(c.record) })),
          nextKey: page.nextKey,
        };
      },
      async diffVersions(req, context) {
        const target = await allowWholeCollection(context, req.collection);
        const page = await records.diff(target, req.fromVersion, req.afterKey, req.limit || undefined);
        return {
          diffs: page.diffs.map((d) => ({
            key: d.key,
            from: d.from && recordMessage(d.from),
            to: d.to && recordMessage(d.to),
          })),
          nextKey: page.nextKey,
        };
      },
    },
    logger,
  );
}

export function collectionServiceImpl(services: Services, logger: Logger): ServiceImpl<typeof CollectionServiceDesc> {
  const { collections, access } = services;
  const allow = async (context: HandlerContext, ref: CollectionRef | undefined, level: 'read' | 'write' | 'manage') => {
    const target = address(ref);
    await access.check(principalOf(access, context), { space: target.space, collection: target.name }, level);
    return target;
  };
  return guarded(
    CollectionServiceDesc,
    {
      async createCollection(req, context) {
        const created = await collections.create(await allow(context, req.collection, 'write'), {
          maxValueBytes: optionalNum(req.maxValueBytes),
          tags: req.tags,
          versioned: req.versioned,
          version: req.version || undefined,
          properties: req.properties,
        });
        return { collection: collectionMessage(created) };
      },
      async getCollection(req, context) {
        return { collection: collectionMessage(await collections.get(await allow(context, req.collection, 'read'))) };
      },
      async listCollections(req, context) {
        const principal = principalOf(access, context);
        await access.check(principal, { space: req.space }, 'read');
        const page = await collections.list(req.space, req.limit || undefined, req.cursor || undefined);
        return {
          collections: page.collections
            .filter((c) => scopesShowCollection(principal, c.space, c.name))
            .map(collectionMessage),
          nextCursor: page.nextCursor,
        };
      },
      async updateCollection(req, context) {
        const updated = await collections.update(await allow(context, req.collection, 'manage'), {
          maxValueBytes: optionalNum(req.maxValueBytes),
          tags: Object.keys(req.tags).length > 0 ? req.tags : undefined,
          replaceTags: req.replaceTags,
        });
        return { collection: collectionMessage(updated) };
      },
      async deleteCollection(req, context) {
        await collections.delete(await allow(context, req.collection, 'manage'));
        return {};
      },
      async findCollections(req, context) {
        const principal = principalOf(access, context);
        const found = await collections.find(req.name, req.spaceId || undefined);
        const [only] = found;
        if (found.length !== 1 || only === undefined) return { matches: found.length };
        const readable = await access.check(principal, { space: only.space, collection: only.name }, 'read').then(
          () => true,
          (error: unknown) => {
            if (error instanceof DomainError && DENIALS.has(error.code)) return false;
            throw error;
          },
        );
        return { matches: 1, collection: readable ? { space: only.space, collection: only.name } : undefined };
      },
      async collectionStats(req, context) {
        const stats = await collections.stats(await allow(context, req.collection, 'read'));
        return {
          records: BigInt(stats.records),
          bytes: BigInt(stats.bytes),
          lastModifiedUs: BigInt(stats.lastModified),
        };
      },
    },
    logger,
  );
}

export function changeFeedServiceImpl(services: Services, logger: Logger): ServiceImpl<typeof ChangeFeedServiceDesc> {
  const { changes, access, collections } = services;
  return guarded(
    ChangeFeedServiceDesc,
    {
      async readChanges(req, context) {
        access.requireAdmin(principalOf(access, context));
        const { events, position } = await changes.read(req.after, req.limit);
        return { events: events.map(changeEventMessage), position };
      },
      async summarizeChanges(req, context) {
        access.requireAdmin(principalOf(access, context));
        const { collections, position, count } = await changes.summarize(req.after, req.limit);
        return {
          collections: collections.map(({ newest, count: events, oldestAt }) => ({
            newest: changeEventMessage(newest),
            count: events,
            oldestAtUs: BigInt(oldestAt),
          })),
          position,
          count,
        };
      },
      async tailPosition(_req, context) {
        access.requireAdmin(principalOf(access, context));
        return { position: await changes.tail() };
      },
      async compactChanges(req, context) {
        access.requireAdmin(principalOf(access, context));
        const { deleted, more, tombstonesPurged } = await changes.compact(Number(req.beforeUs), req.upTo, req.limit);
        return { deleted: BigInt(deleted), more, tombstonesPurged: BigInt(tombstonesPurged) };
      },
      async readCollectionChanges(req, context) {
        const target = address(req.collection);
        const principal = principalOf(access, context);
        await access.check(principal, { space: target.space, collection: target.name }, 'read');
        // A collection's feed is there while the collection is: its last event says it was deleted.
        await collections.get(target);
        const readable = readableKeys(principal, target.space, target.name);
        const page = await changes.readCollection(
          target.space,
          target.name,
          { after: req.after, afterRevision: req.afterRevision === undefined ? undefined : Number(req.afterRevision) },
          req.limit,
          (event) => event.op.startsWith('collection.') || readable(event.key),
        );
        return {
          events: page.events.map(changeEventMessage),
          position: page.position,
          revision: BigInt(page.revision),
          expired: page.expired !== undefined,
          oldestRevision: BigInt(page.expired?.oldest ?? 0),
        };
      },
    },
    logger,
  );
}

export function versionServiceImpl(services: Services, logger: Logger): ServiceImpl<typeof VersionServiceDesc> {
  const { versions, access } = services;
  /** Version DAGs are the space's: reading them needs read access to it, changing them write access. */
  const allow = async (context: HandlerContext, space: string, level: 'read' | 'write') => {
    await access.check(principalOf(access, context), { space }, level);
    return space;
  };
  const ref = (r: VersionRef | undefined) => ({ space: r?.space ?? '', version: r?.version ?? '' });
  const noChildren = new Map<number, number[]>();
  return guarded(
    VersionServiceDesc,
    {
      async createRepo(req, context) {
        const dag = await versions.createRepo(await allow(context, req.space, 'write'), {
          alias: req.alias,
          description: req.description,
          root: req.root || undefined,
        });
        return { dag: dagMessage(dag) };
      },
      async listRepos(req, context) {
        return { repos: (await versions.listRepos(await allow(context, req.space, 'read'))).map(dagMessage) };
      },
      async getDag(req, context) {
        return { dag: dagMessage(await versions.dagOf(await allow(context, req.space, 'read'), req.version)) };
      },
      async updateRepo(req, context) {
        const { space, version } = ref(req.repo);
        const dag = await versions.updateRepo(await allow(context, space, 'write'), version, {
          alias: req.alias,
          description: req.description,
          log: req.log,
        });
        return { dag: dagMessage(dag) };
      },
      async resolveVersion(req, context) {
        const space = await allow(context, req.space, 'read');
        const { node, dag } = await versions.resolve(space, req.spec, req.within || undefined);
        return { node: nodeMessage(node, noChildren), root: dag.root, kind: dag.kind };
      },
      async commit(req, context) {
        const { space, version } = ref(req.node);
        const node = await versions.commit(await allow(context, space, 'write'), version, req.note, req.log);
        return { node: nodeMessage(node, noChildren) };
      },
      async newVersion(req, context) {
        const { space, version } = ref(req.parent);
        const node = await versions.newVersion(await allow(context, space, 'write'), version, {
          branch: req.branch,
          note: req.note,
          uuid: req.uuid || undefined,
        });
        return { node: nodeMessage(node, noChildren) };
      },
      async updateNode(req, context) {
        const { space, version } = ref(req.node);
        const node = await versions.updateNode(await allow(context, space, 'write'), version, req.note, req.log);
        return { node: nodeMessage(node, noChildren) };
      },
      async branchVersions(req, context) {
        const { space, version } = ref(req.dag);
        return { versions: await versions.branchVersions(await allow(context, space, 'read'), version, req.branch) };
      },
    },
    logger,
  );
}

/** Whether a credential's scopes cover every key of a webhook's prefix (always, when unscoped). */
const coversPrefix = (scopes: readonly Scope[], keyPrefix: string) =>
  scopes.length === 0 || scopes.some((scope) => keyPrefix.startsWith(scope.keyPrefix));

export function webhookServiceImpl(services: Services, logger: Logger): ServiceImpl<typeof WebhookServiceDesc> {
  const { webhooks, access } = services;
  /**
   * Authorizes a call on a collection's webhooks. A credential limited to some keys sees and
   * manages only the webhooks whose key prefix lies within its scopes: a webhook delivers every
   * key under its prefix, so a broader one would leak keys the credential may not read.
   */
  const allow = async (context: HandlerContext, ref: CollectionRef | undefined, level: 'read' | 'write') => {
    const target = address(ref);
    const scopes = await access.check(
      principalOf(access, context),
      { space: target.space, collection: target.name },
      level,
    );
    const guard = (webhook: { keyPrefix: string }) => {
      if (!coversPrefix(scopes, webhook.keyPrefix)) {
        throw new DomainError('PERMISSION_DENIED', 'key-scoped credential touched a broader webhook', {
          publicMessage: `this token's scopes do not cover keys starting with "${webhook.keyPrefix}"`,
        });
      }
    };
    return { target: { space: target.space, name: target.name }, scopes, guard };
  };
  return guarded(
    WebhookServiceDesc,
    {
      async createWebhook(req, context) {
        const { target, guard } = await allow(context, req.collection, 'write');
        guard({ keyPrefix: req.keyPrefix });
        const webhook = await webhooks.create(target, {
          url: req.url,
          secret: req.secret,
          ops: req.ops,
          keyPrefix: req.keyPrefix,
          format: req.format,
        });
        return { webhook: webhookMessage(webhook) };
      },
      async listWebhooks(req, context) {
        const { target, scopes } = await allow(context, req.collection, 'read');
        const found = await webhooks.list(target);
        return { webhooks: found.filter((w) => coversPrefix(scopes, w.keyPrefix)).map(webhookMessage) };
      },
      async deleteWebhook(req, context) {
        const { target, guard } = await allow(context, req.collection, 'write');
        await webhooks.delete(target, req.id, guard);
        return {};
      },
      async listDeliveries(req, context) {
        const { target, guard } = await allow(context, req.webhook?.collection, 'read');
        const found = await webhooks.deliveries(
          target,
          req.webhook?.id ?? 0n,
          { state: req.state, limit: req.limit },
          guard,
        );
        return { deliveries: found.map(deliveryMessage) };
      },
      async listWebhookTargets(_req, context) {
        access.requireAdmin(principalOf(access, context));
        const all = await webhooks.targets();
        return { targets: all.map((w) => ({ webhook: webhookMessage(w), secret: w.secret })) };
      },
      async recordDelivery(req, context) {
        access.requireAdmin(principalOf(access, context));
        const d = req.delivery;
        if (d === undefined) throw invalid('INVALID_ARGUMENT', 'delivery is required');
        // A delivery of a webhook deleted meanwhile is dropped without an error: the worker has
        // nothing to do about it.
        await webhooks.recordDelivery({
          webhookId: d.webhookId,
          eventId: d.eventId,
          revision: d.revision,
          op: d.op,
          key: d.key,
          state: d.state,
          attempts: d.attempts,
          lastStatus: d.lastStatus,
          lastError: d.lastError,
        });
        return {};
      },
    },
    logger,
  );
}
