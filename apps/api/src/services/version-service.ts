import {
  ambiguousVersion,
  DomainError,
  invalid,
  parseVersionSpec,
  pickAncestor,
  repoRequired,
  unknownBranch,
  unknownVersion,
  validateAssignedUuid,
  validateBranchName,
  validateRootUuid,
  validateSpaceName,
  type Collection,
} from '@rosetta/core';
import type { CollectionsRepository, DagRecord, NewNodeInput, NodeRecord, VersionsRepository } from './ports';

/** A DAG with its nodes and the collections living in it. */
export interface DagView extends DagRecord {
  readonly nodes: readonly NodeRecord[];
  readonly collections: readonly Collection[];
}

/**
 * Where a record operation reads and writes. `undefined`: the collection's one node, as always.
 * `node`: an unversioned collection addressed through another node of its repo — same storage,
 * but change events name the node addressed. `version`: a versioned collection at a node — reads
 * resolve through `path` (the node first, then its ancestors), writes land on the node.
 */
export type RecordPlace =
  | undefined
  | { readonly kind: 'node'; readonly uuid: string }
  | { readonly kind: 'version'; readonly nodeId: number; readonly uuid: string; readonly path: readonly number[] };

const CACHE_LIMIT = 10_000;

/** Remembers what never changes once written (a node's identity and ancestry), within a bound. */
class Memo<K, V> {
  private readonly entries = new Map<K, V>();

  get(key: K): V | undefined {
    return this.entries.get(key);
  }

  set(key: K, value: V): V {
    if (this.entries.size >= CACHE_LIMIT) this.entries.clear();
    this.entries.set(key, value);
    return value;
  }
}

const notFound = (uuid: string) =>
  new DomainError('VERSION_NOT_FOUND', `no version ${uuid}`, { publicMessage: `version "${uuid}" does not exist` });

/** Version DAGs: DVID repos and versioned collections, their nodes, and where records live at a node. */
export class VersionService {
  private readonly identities = new Memo<string, { id: number; dagId: number; space: string }>();
  private readonly ancestries = new Memo<number, readonly number[]>();

  constructor(
    private readonly versions: VersionsRepository,
    private readonly collections: CollectionsRepository,
  ) {}

  /** The node with this UUID in the space (VERSION_NOT_FOUND for another space's node, as for none). */
  async node(space: string, uuid: string): Promise<NodeRecord> {
    // Postgres text cannot hold NUL, so no stored UUID has one; asking would fail the query (a 500).
    if (uuid.includes('\u0000')) throw notFound(uuid);
    const node = await this.versions.node(uuid);
    if (node === undefined || node.space !== space) throw notFound(uuid);
    this.identities.set(uuid, { id: node.id, dagId: node.dagId, space: node.space });
    return node;
  }

  private async identity(space: string, uuid: string): Promise<{ id: number; dagId: number }> {
    const known = this.identities.get(uuid);
    if (known === undefined) return this.node(space, uuid);
    if (known.space !== space) throw notFound(uuid);
    return known;
  }

  async ancestry(nodeId: number): Promise<readonly number[]> {
    return this.ancestries.get(nodeId) ?? this.ancestries.set(nodeId, await this.versions.ancestry(nodeId));
  }

  /** Where records of `collection` live as of `version` (see RecordPlace). */
  async place(collection: Collection, version: string | undefined): Promise<RecordPlace> {
    if (!collection.versioned) {
      if (version === undefined || version === collection.rootVersion) return undefined;
      const node = await this.identity(collection.space, version);
      if (node.dagId !== collection.dagId) throw notFound(version);
      return { kind: 'node', uuid: version };
    }
    let node: { id: number; uuid: string };
    if (version === undefined) {
      const leaf = await this.versions.branchLeaf(collection.dagId, '');
      if (leaf === undefined) throw notFound(collection.rootVersion);
      node = leaf;
    } else {
      const found = await this.identity(collection.space, version);
      if (found.dagId !== collection.dagId) throw notFound(version);
      node = { id: found.id, uuid: version };
    }
    return { kind: 'version', nodeId: node.id, uuid: node.uuid, path: await this.ancestry(node.id) };
  }

  /**
   * Resolves DVID's node spec (a UUID prefix, `prefix:branch`, `:branch`, `branch~N`) among the
   * space's repos, or within the DAG of the node `within`.
   */
  async resolve(
    space: string,
    spec: string,
    within: string | undefined,
  ): Promise<{ node: NodeRecord; dag: DagRecord }> {
    validateSpaceName(space);
    const parsed = parseVersionSpec(spec);
    const scope = within === undefined ? undefined : (await this.identity(space, within)).dagId;
    let matched: NodeRecord | undefined;
    if (parsed.kind === 'prefix' || parsed.prefix !== '') {
      const matches = await this.versions.matchPrefix(space, parsed.prefix, scope);
      if (matches.length > 1) throw ambiguousVersion(parsed.prefix);
      matched = matches[0];
      if (matched === undefined) throw unknownVersion(parsed.prefix);
    }
    const dagId = matched?.dagId ?? scope ?? (await this.soleRepo(space, spec));
    const dag = (await this.versions.dag(dagId)) as DagRecord;
    let node = matched as NodeRecord;
    if (parsed.kind === 'branch') {
      const leaf = await this.versions.branchLeaf(dagId, parsed.branch);
      if (leaf === undefined) throw unknownBranch(parsed.branch || 'master', matched?.uuid ?? dag.root);
      node = leaf;
      if (parsed.ancestor > 0) {
        const id = pickAncestor(await this.ancestry(leaf.id), parsed);
        node = (await this.versions.nodes(dagId)).find((n) => n.id === id) as NodeRecord;
      }
    }
    this.identities.set(node.uuid, { id: node.id, dagId, space });
    return { node, dag };
  }

  private async soleRepo(space: string, spec: string): Promise<number> {
    const repos = await this.versions.onlyRepo(space);
    const [only] = repos;
    if (only === undefined) throw unknownVersion(spec);
    if (repos.length > 1) throw repoRequired();
    return only;
  }

  async createRepo(
    space: string,
    input: { alias: string; description: string; root: string | undefined },
  ): Promise<DagView> {
    validateSpaceName(space);
    const root = input.root === undefined ? undefined : validateRootUuid(input.root);
    const created = await this.versions.createRepo(space, { ...input, root });
    if (created === 'space-not-found') {
      throw new DomainError('SPACE_NOT_FOUND', `space ${space} not found`, {
        publicMessage: `space "${space}" does not exist`,
      });
    }
    if (created === 'uuid-taken') throw invalid('VERSION_EXISTS', 'UUID already exists in datastore');
    return this.view(created);
  }

  async listRepos(space: string): Promise<DagView[]> {
    validateSpaceName(space);
    return Promise.all((await this.versions.listRepos(space)).map((dag) => this.view(dag)));
  }

  /** The DAG of a node of the space, with its nodes and collections. */
  async dagOf(space: string, uuid: string): Promise<DagView> {
    const node = await this.identity(space, uuid);
    return this.view((await this.versions.dag(node.dagId)) as DagRecord);
  }

  private async view(dag: DagRecord): Promise<DagView> {
    const [nodes, collections] = await Promise.all([this.versions.nodes(dag.id), this.collections.inDag(dag.id)]);
    return { ...dag, nodes, collections };
  }

  async updateRepo(
    space: string,
    uuid: string,
    changes: { alias?: string | undefined; description?: string | undefined; log: readonly string[] },
  ): Promise<DagView> {
    const node = await this.identity(space, uuid);
    await this.versions.updateDag(node.dagId, {
      ...(changes.alias === undefined ? {} : { alias: changes.alias }),
      ...(changes.description === undefined ? {} : { description: changes.description }),
      log: changes.log,
    });
    return this.view((await this.versions.dag(node.dagId)) as DagRecord);
  }

  async commit(space: string, uuid: string, note: string, log: readonly string[]): Promise<NodeRecord> {
    const node = await this.identity(space, uuid);
    const committed = await this.versions.commit(node.id, note, log);
    if (committed === 'locked') throw locked(uuid);
    return committed;
  }

  async updateNode(space: string, uuid: string, note: string | undefined, log: readonly string[]): Promise<NodeRecord> {
    const node = await this.identity(space, uuid);
    const updated = await this.versions.updateNode(node.id, note, log);
    if (updated === 'locked') throw locked(uuid);
    return updated;
  }

  async newVersion(space: string, parentUuid: string, input: NewNodeInput): Promise<NodeRecord> {
    const parent = await this.identity(space, parentUuid);
    const child = await this.versions.newVersion(parent.id, {
      branch: input.branch === undefined ? undefined : validateBranchName(input.branch),
      note: input.note,
      uuid: input.uuid === undefined ? undefined : validateAssignedUuid(input.uuid),
    });
    switch (child) {
      case 'parent-unlocked':
        throw invalid('INVALID_ARGUMENT', "can't branch an unlocked node");
      case 'branch-taken':
        throw invalid('VERSION_EXISTS', 'branch already exists with given name');
      case 'uuid-taken':
        throw invalid('VERSION_EXISTS', 'UUID already exists in datastore');
      default:
        return child;
    }
  }

  /** UUIDs from a branch's leaf back to the root; empty when no node is on the branch. */
  async branchVersions(space: string, uuid: string, branch: string): Promise<string[]> {
    const node = await this.identity(space, uuid);
    const leaf = await this.versions.branchLeaf(node.dagId, branch === 'master' ? '' : branch);
    if (leaf === undefined) return [];
    const byId = new Map((await this.versions.nodes(node.dagId)).map((n) => [n.id, n.uuid]));
    return (await this.ancestry(leaf.id)).map((id) => byId.get(id) ?? '');
  }

  /** Checks that a node may get a new collection: it exists in the space and is not committed. */
  async placement(space: string, uuid: string): Promise<{ dagId: number; rootNodeId: number; originNodeId: number }> {
    const node = await this.node(space, uuid);
    if (node.locked) {
      throw invalid('VERSION_LOCKED', `New data instance cannot be created on locked node ${node.uuid}`);
    }
    const dag = (await this.versions.dag(node.dagId)) as DagRecord;
    if (dag.kind !== 'repo') throw invalid('INVALID_ARGUMENT', `version ${uuid} belongs to a collection, not a repo`);
    const root = await this.versions.node(dag.root);
    return { dagId: node.dagId, rootNodeId: (root as NodeRecord).id, originNodeId: node.id };
  }
}

const locked = (uuid: string) => invalid('VERSION_LOCKED', `version ${uuid} is committed`);
