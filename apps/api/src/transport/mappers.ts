import type { MessageInitShape } from '@bufbuild/protobuf';
import {
  invalid,
  type Collection,
  type ChangeEvent,
  type RecordFilterInput,
  type RecordMeta,
  type WriteCondition,
} from '@rosetta/core';
import type {
  ChangeEventSchema,
  CollectionSchema,
  Condition,
  RecordFilter,
  RecordSchema,
  VersionDagSchema,
  VersionNodeSchema,
  DeliverySchema,
  WebhookSchema,
} from '@rosetta/proto';
import type { DeliveryRecord, NodeRecord, WebhookRecord } from '../services/ports';
import type { DagView } from '../services/version-service';

type RecordInit = MessageInitShape<typeof RecordSchema>;

/**
 * 64-bit wire integers (revisions, microseconds, sizes) as JS numbers. They stay far below 2^53;
 * anything beyond the safe range is refused rather than rounded.
 */
export function num(value: bigint): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw invalid('INVALID_ARGUMENT', `${value} is out of range`);
  return n;
}

export function optionalNum(value: bigint | undefined): number | undefined {
  return value === undefined ? undefined : num(value);
}

/** A record (with its value when it has one) as a message. */
export function recordMessage(record: RecordMeta & { readonly value?: Uint8Array | undefined }): RecordInit {
  return {
    key: record.key,
    value: record.value,
    contentType: record.contentType,
    createdUs: BigInt(record.created),
    updatedUs: BigInt(record.updated),
    revision: BigInt(record.revision),
    createdRevision: BigInt(record.createdRevision),
    size: BigInt(record.size),
  };
}

export function fromCondition(condition: Condition | undefined): WriteCondition {
  switch (condition?.kind.case) {
    case 'expectedRevision':
      return { kind: 'revision', revision: num(condition.kind.value) };
    case 'createOnly':
      return condition.kind.value ? { kind: 'absent' } : { kind: 'always' };
    case 'mustExist':
      return condition.kind.value ? { kind: 'present' } : { kind: 'always' };
    default:
      return { kind: 'always' };
  }
}

export function fromFilter(filter: RecordFilter | undefined): RecordFilterInput {
  if (filter === undefined) return {};
  return {
    prefix: filter.prefix === '' ? undefined : filter.prefix,
    start: filter.start,
    end: filter.end,
    pattern: filter.pattern,
    createdAfter: optionalNum(filter.createdAfterUs),
    createdBefore: optionalNum(filter.createdBeforeUs),
    updatedAfter: optionalNum(filter.updatedAfterUs),
    updatedBefore: optionalNum(filter.updatedBeforeUs),
  };
}

export function collectionMessage(collection: Collection): MessageInitShape<typeof CollectionSchema> {
  return {
    space: collection.space,
    name: collection.name,
    versioned: collection.versioned,
    maxValueBytes: BigInt(collection.maxValueBytes),
    tags: { ...collection.tags },
    createdUs: BigInt(collection.created),
    updatedUs: BigInt(collection.updated),
    revision: BigInt(collection.revision),
    rootVersion: collection.rootVersion,
    uuid: collection.uuid,
    originVersion: collection.originVersion,
    properties: { ...collection.properties },
  };
}

export function nodeMessage(
  node: NodeRecord,
  versionIds: ReadonlyMap<number, number[]>,
): MessageInitShape<typeof VersionNodeSchema> {
  return {
    uuid: node.uuid,
    versionId: BigInt(node.id),
    branch: node.branch,
    note: node.note,
    log: [...node.log],
    locked: node.locked,
    parents: node.parentIds.map(BigInt),
    children: (versionIds.get(node.id) ?? []).map(BigInt),
    createdUs: BigInt(node.created),
    updatedUs: BigInt(node.updated),
  };
}

/** A DAG as a message: its nodes with their children's VersionIDs, and its collections. */
export function dagMessage(dag: DagView): MessageInitShape<typeof VersionDagSchema> {
  const children = new Map<number, number[]>();
  for (const node of dag.nodes) {
    for (const parent of node.parentIds) children.set(parent, [...(children.get(parent) ?? []), node.id]);
  }
  return {
    space: dag.space,
    kind: dag.kind,
    root: dag.root,
    alias: dag.alias,
    description: dag.description,
    log: [...dag.log],
    nodes: dag.nodes.map((node) => nodeMessage(node, children)),
    collections: dag.collections.map(collectionMessage),
    createdUs: BigInt(dag.created),
    updatedUs: BigInt(dag.updated),
  };
}

export function changeEventMessage(event: ChangeEvent): MessageInitShape<typeof ChangeEventSchema> {
  return {
    position: event.position,
    revision: BigInt(event.revision),
    op: event.op,
    space: event.space,
    collection: event.collection,
    key: event.key,
    version: event.version,
    contentType: event.contentType,
    size: BigInt(event.size),
    atUs: BigInt(event.at),
    value: event.value,
  };
}

/** A webhook as a message: never with its secret (only WebhookTarget carries that, for the worker). */
export function webhookMessage(webhook: WebhookRecord): MessageInitShape<typeof WebhookSchema> {
  return {
    id: BigInt(webhook.id),
    space: webhook.space,
    collection: webhook.collection,
    url: webhook.url,
    ops: [...webhook.ops],
    keyPrefix: webhook.keyPrefix,
    format: webhook.format,
    createdUs: BigInt(webhook.created),
  };
}

export function deliveryMessage(delivery: DeliveryRecord): MessageInitShape<typeof DeliverySchema> {
  return {
    webhookId: BigInt(delivery.webhookId),
    eventId: delivery.eventId,
    revision: BigInt(delivery.revision),
    op: delivery.op,
    key: delivery.key,
    state: delivery.state,
    attempts: delivery.attempts,
    lastStatus: delivery.lastStatus,
    lastError: delivery.lastError,
    createdUs: BigInt(delivery.created),
    updatedUs: BigInt(delivery.updated),
  };
}
