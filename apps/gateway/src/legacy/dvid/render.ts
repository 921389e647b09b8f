import type { Collection, VersionDag, VersionNode } from '@rosetta/proto';
import { KEYVALUE_TYPE_URL } from './server-info';

/** The collection of a repo's data instance: its name, then `@` and the repo's root UUID. */
export const instanceCollection = (dataName: string, root: string) => `${dataName}@${root}`;

/** The data instance name of a repo's collection (its name without the root suffix). */
export const instanceName = (collection: string, root: string) =>
  collection.endsWith(`@${root}`) ? collection.slice(0, -(root.length + 1)) : collection;

/** Go's RFC3339Nano in UTC: fractions with their trailing zeros dropped, none when zero. */
export function rfc3339Nano(us: bigint): string {
  const ms = Number(us / 1000n);
  const micros = Number(((us % 1_000_000n) + 1_000_000n) % 1_000_000n);
  const base = new Date(ms).toISOString().slice(0, 19);
  const fraction = micros === 0 ? '' : `.${String(micros).padStart(6, '0').replace(/0+$/, '')}`;
  return `${base}${fraction}Z`;
}

/** A repo log line as DVID stores it: the time, two spaces, the message. */
export const logLine = (message: string, at = new Date()) => `${rfc3339Nano(BigInt(at.getTime()) * 1000n)}  ${message}`;

/** The properties DVID's instance info shows, recorded at creation. */
export const PROPERTY_COMPRESSION = 'dvid.compression';
export const PROPERTY_CHECKSUM = 'dvid.checksum';

/** `GET /api/node/<uuid>/<name>/info` (spec 5.2). */
export function instanceInfo(collection: Collection, root: string) {
  // DVID shows `"Tags":null` until tags are set; an instance without tags shows the same.
  const tagged = Object.keys(collection.tags).length > 0;
  return {
    Base: {
      TypeName: 'keyvalue',
      TypeURL: KEYVALUE_TYPE_URL,
      TypeVersion: '0.2',
      DataUUID: collection.uuid,
      Name: instanceName(collection.name, root),
      RepoUUID: collection.originVersion,
      Compression: collection.properties[PROPERTY_COMPRESSION] ?? 'LZ4 compression, level -1',
      Checksum: collection.properties[PROPERTY_CHECKSUM] ?? 'No checksum',
      Syncs: [],
      Versioned: collection.versioned,
      KVStore: 'postgres',
      LogStore: 'postgres',
      Tags: tagged ? { ...collection.tags } : null,
    },
    Extended: {},
  };
}

function nodeInfo(node: VersionNode) {
  const created = rfc3339Nano(node.createdUs);
  return {
    Branch: node.branch,
    Note: node.note,
    Log: node.log,
    UUID: node.uuid,
    VersionID: Number(node.versionId),
    Locked: node.locked,
    Parents: node.parents.map(Number),
    Children: node.children.map(Number),
    Created: created,
    Updated: rfc3339Nano(node.updatedUs),
  };
}

/** A repo as `/api/repo/<uuid>/info` and `/api/repos/info` show it (spec 4.2). */
export function repoInfo(dag: VersionDag) {
  return {
    Root: dag.root,
    Alias: dag.alias,
    Description: dag.description,
    Log: dag.log,
    Properties: {},
    DataInstances: Object.fromEntries(
      dag.collections.map((c) => [instanceName(c.name, dag.root), instanceInfo(c, dag.root)]),
    ),
    DAG: {
      Root: dag.root,
      Nodes: Object.fromEntries(dag.nodes.map((node) => [node.uuid, nodeInfo(node)])),
    },
    MutationID: 0,
    SavedMutationID: 0,
    Created: rfc3339Nano(dag.createdUs),
    Updated: rfc3339Nano(dag.updatedUs),
  };
}
