import type { DagRecord, NewNodeInput, NodeRecord, VersionsRepository } from '../services/ports';
import { newVersionUuid } from './collections-repository';
import { us } from './sql-fragments';
import type { SqlClient, SqlExecutor } from './sql';

interface NodeRow {
  id: number;
  dag_id: number;
  uuid: string;
  branch: string;
  note: string;
  log: string[];
  locked: boolean;
  parent_ids: number[];
  depth: number;
  created: number;
  updated: number;
}

interface DagRow {
  id: number;
  space: string;
  kind: 'repo' | 'collection';
  root: string;
  alias: string;
  description: string;
  log: string[];
  created: number;
  updated: number;
}

const NODE = (n: string) =>
  `${n}.id, ${n}.dag_id, ${n}.uuid, ${n}.branch, ${n}.note, ${n}.log, ${n}.locked, ${n}.parent_ids, ${n}.depth,
   ${us(`${n}.created`)} AS created, ${us(`${n}.updated`)} AS updated`;

const DAG = `d.id, s.name AS space, d.kind, r.uuid AS root, d.alias, d.description, d.log,
  ${us('d.created')} AS created, ${us('d.updated')} AS updated
FROM version_dags d JOIN spaces s ON s.id = d.space_id
JOIN version_nodes r ON r.dag_id = d.id AND r.depth = 0`;

const toNode = (row: NodeRow): NodeRecord => ({
  id: row.id,
  dagId: row.dag_id,
  uuid: row.uuid,
  branch: row.branch,
  note: row.note,
  log: row.log,
  locked: row.locked,
  parentIds: row.parent_ids.map(Number),
  depth: row.depth,
  created: row.created,
  updated: row.updated,
});

const toDag = (row: DagRow): DagRecord => ({
  id: row.id,
  space: row.space,
  kind: row.kind,
  root: row.root,
  alias: row.alias,
  description: row.description,
  log: row.log,
  created: row.created,
  updated: row.updated,
});

/** Postgres's unique_violation: another node already has the UUID. */
const isUniqueViolation = (error: unknown) =>
  typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23505';

export class SqlVersionsRepository implements VersionsRepository {
  constructor(private readonly db: SqlClient) {}

  async createRepo(
    space: string,
    input: { alias: string; description: string; root: string | undefined },
  ): Promise<DagRecord | 'space-not-found' | 'uuid-taken'> {
    try {
      const { rows } = await this.db.query<{ id: number }>(
        `WITH s AS (SELECT id FROM spaces WHERE name = $1),
         dag AS (
           INSERT INTO version_dags (space_id, kind, alias, description)
           SELECT id, 'repo', $2, $3 FROM s RETURNING id
         ),
         node AS (INSERT INTO version_nodes (dag_id, uuid) SELECT id, $4 FROM dag RETURNING dag_id)
         SELECT dag_id AS id FROM node`,
        [space, input.alias, input.description, input.root ?? newVersionUuid()],
      );
      const id = rows[0]?.id;
      if (id === undefined) return 'space-not-found';
      return (await this.dag(id)) as DagRecord;
    } catch (error) {
      if (isUniqueViolation(error)) return 'uuid-taken';
      throw error;
    }
  }

  async dag(id: number): Promise<DagRecord | undefined> {
    const { rows } = await this.db.query<DagRow>(`SELECT ${DAG} WHERE d.id = $1`, [id]);
    return rows[0] === undefined ? undefined : toDag(rows[0]);
  }

  async listRepos(space: string): Promise<DagRecord[]> {
    const { rows } = await this.db.query<DagRow>(
      `SELECT ${DAG} WHERE s.name = $1 AND d.kind = 'repo' ORDER BY r.uuid`,
      [space],
    );
    return rows.map(toDag);
  }

  async updateDag(id: number, changes: { alias?: string; description?: string; log: readonly string[] }) {
    await this.db.query(
      `UPDATE version_dags SET alias = COALESCE($2, alias), description = COALESCE($3, description),
         log = log || $4::text[], updated = now()
       WHERE id = $1`,
      [id, changes.alias ?? null, changes.description ?? null, changes.log],
    );
  }

  async node(uuid: string): Promise<(NodeRecord & { space: string }) | undefined> {
    const { rows } = await this.db.query<NodeRow & { space: string }>(
      {
        name: 'versions.node',
        text: `SELECT ${NODE('n')}, s.name AS space
               FROM version_nodes n JOIN version_dags d ON d.id = n.dag_id JOIN spaces s ON s.id = d.space_id
               WHERE n.uuid = $1`,
      },
      [uuid],
    );
    const row = rows[0];
    return row === undefined ? undefined : { ...toNode(row), space: row.space };
  }

  async matchPrefix(space: string, prefix: string, dagId: number | undefined): Promise<NodeRecord[]> {
    // The UUID index yields candidates in order from the prefix on; two are enough to tell a
    // unique match from an ambiguous one.
    const { rows } = await this.db.query<NodeRow>(
      `SELECT ${NODE('n')}
       FROM version_nodes n JOIN version_dags d ON d.id = n.dag_id JOIN spaces s ON s.id = d.space_id
       WHERE n.uuid >= $2 AND starts_with(n.uuid, $2) AND s.name = $1
         AND ${dagId === undefined ? `d.kind = 'repo'` : 'd.id = $3'}
       ORDER BY n.uuid LIMIT 2`,
      dagId === undefined ? [space, prefix] : [space, prefix, dagId],
    );
    return rows.map(toNode);
  }

  async onlyRepo(space: string): Promise<number[]> {
    const { rows } = await this.db.query<{ id: number }>(
      `SELECT d.id FROM version_dags d JOIN spaces s ON s.id = d.space_id
       WHERE s.name = $1 AND d.kind = 'repo' LIMIT 2`,
      [space],
    );
    return rows.map((r) => r.id);
  }

  async branchLeaf(dagId: number, branch: string): Promise<NodeRecord | undefined> {
    const { rows } = await this.db.query<NodeRow>(
      {
        name: 'versions.branch-leaf',
        text: `SELECT ${NODE('n')} FROM version_nodes n WHERE n.dag_id = $1 AND n.branch = $2 ORDER BY n.id DESC LIMIT 1`,
      },
      [dagId, branch],
    );
    return rows[0] === undefined ? undefined : toNode(rows[0]);
  }

  async ancestry(nodeId: number): Promise<number[]> {
    // Parents never change once a node exists, so callers may keep the answer.
    const { rows } = await this.db.query<{ ids: number[] }>(
      {
        name: 'versions.ancestry',
        text: `WITH RECURSIVE up (id, parent, depth) AS (
                 SELECT id, parent_ids[1], depth FROM version_nodes WHERE id = $1
                 UNION ALL
                 SELECT n.id, n.parent_ids[1], n.depth FROM version_nodes n JOIN up ON n.id = up.parent
               )
               SELECT array_agg(id ORDER BY depth DESC) AS ids FROM up`,
      },
      [nodeId],
    );
    return (rows[0]?.ids ?? []).map(Number);
  }

  async nodes(dagId: number): Promise<NodeRecord[]> {
    const { rows } = await this.db.query<NodeRow>(
      `SELECT ${NODE('n')} FROM version_nodes n WHERE n.dag_id = $1 ORDER BY n.id`,
      [dagId],
    );
    return rows.map(toNode);
  }

  async commit(nodeId: number, note: string, log: readonly string[]): Promise<NodeRecord | 'locked'> {
    return this.db.transaction(async (tx) => {
      const locked = await lockNode(tx, nodeId);
      if (locked) return 'locked';
      const { rows } = await tx.query<NodeRow>(
        `UPDATE version_nodes n SET locked = true, note = CASE WHEN $2 = '' THEN note ELSE $2 END,
           log = log || $3::text[], updated = now()
         WHERE id = $1 RETURNING ${NODE('n')}`,
        [nodeId, note, log],
      );
      return toNode(rows[0] as NodeRow);
    });
  }

  async updateNode(nodeId: number, note: string | undefined, log: readonly string[]): Promise<NodeRecord | 'locked'> {
    return this.db.transaction(async (tx) => {
      if (await lockNode(tx, nodeId)) return 'locked';
      const { rows } = await tx.query<NodeRow>(
        `UPDATE version_nodes n SET note = COALESCE($2, note), log = log || $3::text[], updated = now()
         WHERE id = $1 RETURNING ${NODE('n')}`,
        [nodeId, note ?? null, log],
      );
      return toNode(rows[0] as NodeRow);
    });
  }

  async newVersion(
    parentId: number,
    input: NewNodeInput,
  ): Promise<NodeRecord | 'parent-unlocked' | 'branch-taken' | 'uuid-taken'> {
    try {
      return await this.db.transaction(async (tx) => {
        // The parent's row lock orders concurrent children of one parent: "one child per branch"
        // is checked and kept under it.
        const { rows: parents } = await tx.query<NodeRow>(
          `SELECT ${NODE('n')} FROM version_nodes n WHERE id = $1 FOR UPDATE`,
          [parentId],
        );
        const parent = toNode(parents[0] as NodeRow);
        if (!parent.locked) return 'parent-unlocked';
        const branch = input.branch ?? parent.branch;
        const taken =
          branch === parent.branch
            ? await tx.query(
                `SELECT 1 FROM version_nodes WHERE dag_id = $1 AND branch = $2 AND $3::int8 = parent_ids[1]`,
                [parent.dagId, branch, parent.id],
              )
            : await tx.query(`SELECT 1 FROM version_nodes WHERE dag_id = $1 AND branch = $2`, [parent.dagId, branch]);
        if (taken.rows.length > 0) return 'branch-taken';
        const { rows } = await tx.query<NodeRow>(
          `INSERT INTO version_nodes AS n (dag_id, uuid, branch, note, parent_ids, depth)
           VALUES ($1, $2, $3, $4, ARRAY[$5::int8], $6)
           RETURNING ${NODE('n')}`,
          [parent.dagId, input.uuid ?? newVersionUuid(), branch, input.note, parent.id, parent.depth + 1],
        );
        await tx.query('UPDATE version_dags SET updated = now() WHERE id = $1', [parent.dagId]);
        return toNode(rows[0] as NodeRow);
      });
    } catch (error) {
      if (isUniqueViolation(error)) return 'uuid-taken';
      throw error;
    }
  }
}

/** Locks a node's row against concurrent writers; whether it is committed. */
async function lockNode(tx: SqlExecutor, nodeId: number): Promise<boolean> {
  const { rows } = await tx.query<{ locked: boolean }>('SELECT locked FROM version_nodes WHERE id = $1 FOR UPDATE', [
    nodeId,
  ]);
  return rows[0]?.locked ?? false;
}
