import { randomUUID } from 'node:crypto';
import type { Collection, CollectionSettings } from '@rosetta/core';
import type { CollectionChanges, CollectionPlacement, CollectionStats, CollectionsRepository } from '../services/ports';
import { us } from './sql-fragments';
import type { SqlClient } from './sql';

export interface CollectionRow {
  id: number;
  space: string;
  name: string;
  root_node_id: number;
  root_version: string;
  dag_id: number;
  uuid: string;
  origin_version: string;
  properties: Record<string, string>;
  versioned: boolean;
  max_value_bytes: number;
  tags: Record<string, string>;
  created: number;
  updated: number;
  revision: number;
}

/** The columns of a CollectionRow, from collections `c`, the space name `space` and the root node `n`. */
export const collectionColumns = (c: string, space: string, n: string) =>
  `${c}.id, ${space} AS space, ${c}.name, ${c}.root_node_id, ${n}.uuid AS root_version, ${c}.versioned,
   ${c}.dag_id, ${c}.uuid, ${c}.properties,
   CASE WHEN ${c}.origin_node_id IS NULL THEN ${n}.uuid
     ELSE (SELECT o.uuid FROM version_nodes o WHERE o.id = ${c}.origin_node_id) END AS origin_version,
   ${c}.max_value_bytes, ${c}.tags, ${us(`${c}.created`)} AS created, ${us(`${c}.updated`)} AS updated, ${c}.revision`;

export const toCollection = (row: CollectionRow): Collection => ({
  id: row.id,
  space: row.space,
  name: row.name,
  rootNodeId: row.root_node_id,
  rootVersion: row.root_version,
  dagId: row.dag_id,
  uuid: row.uuid,
  originVersion: row.origin_version,
  properties: row.properties,
  versioned: row.versioned,
  maxValueBytes: row.max_value_bytes,
  tags: row.tags,
  created: row.created,
  updated: row.updated,
  revision: row.revision,
});

const SELECT = `SELECT ${collectionColumns('c', 's.name', 'n')}
FROM collections c JOIN spaces s ON s.id = c.space_id JOIN version_nodes n ON n.id = c.root_node_id`;

/** DVID-style version UUID: 32 lowercase hex characters. */
export const newVersionUuid = () => randomUUID().replaceAll('-', '');

class NameTaken extends Error {}

const collectionEvent = (op: string, revision: string) =>
  `INSERT INTO change_events (revision, op, space, collection, collection_id, node_id, version)
   SELECT ${revision}, '${op}', $1, $2, col.id, col.root_node_id, n.uuid
   FROM col JOIN version_nodes n ON n.id = col.root_node_id`;

export class SqlCollectionsRepository implements CollectionsRepository {
  constructor(private readonly db: SqlClient) {}

  async find(space: string, name: string): Promise<Collection | undefined> {
    const { rows } = await this.db.query<CollectionRow>(
      { name: 'collections.find', text: `${SELECT} WHERE s.name = $1 AND c.name = $2` },
      [space, name],
    );
    return rows[0] === undefined ? undefined : toCollection(rows[0]);
  }

  async findByName(name: string, spaceId: string | undefined, limit: number) {
    const { rows } = await this.db.query<{ space: string; name: string }>(
      spaceId === undefined
        ? {
            name: 'collections.find-by-name',
            text: `SELECT s.name AS space, c.name FROM collections c JOIN spaces s ON s.id = c.space_id
                   WHERE c.name = $1 AND s.kind = 'shared' ORDER BY s.name LIMIT $2`,
          }
        : {
            name: 'collections.find-in-space',
            text: `SELECT s.name AS space, c.name FROM collections c JOIN spaces s ON s.id = c.space_id
                   WHERE c.name = $1 AND s.uuid = $3::uuid LIMIT $2`,
          },
      spaceId === undefined ? [name, limit] : [name, limit, spaceId],
    );
    return rows;
  }

  async stats(collection: Collection): Promise<CollectionStats> {
    // octet_length reads a TOASTed value's size from its pointer, without fetching the value.
    const { rows } = await this.db.query<{ records: number; bytes: number; last: number | null }>(
      `SELECT count(*) FILTER (WHERE NOT tombstone)::int8 AS records,
         COALESCE(sum(octet_length(key) + octet_length(value)) FILTER (WHERE NOT tombstone), 0)::int8 AS bytes,
         ${us('max(updated)')} AS last
       FROM records WHERE collection_id = $1 AND node_id = $2`,
      [collection.id, collection.rootNodeId],
    );
    const row = rows[0];
    return { records: row?.records ?? 0, bytes: row?.bytes ?? 0, lastRecordChange: row?.last ?? 0 };
  }

  async spaceExists(space: string): Promise<boolean> {
    const { rows } = await this.db.query('SELECT 1 FROM spaces WHERE name = $1', [space]);
    return rows.length > 0;
  }

  async ensureSpace(space: string): Promise<void> {
    await this.db.query('INSERT INTO spaces (name) VALUES ($1) ON CONFLICT (name) DO NOTHING', [space]);
  }

  async create(
    space: string,
    name: string,
    settings: CollectionSettings,
    placement: CollectionPlacement,
  ): Promise<Collection | undefined> {
    const { repo } = placement;
    const properties = JSON.stringify(placement.properties);
    try {
      return await this.db.transaction(async (tx) => {
        const { rows } =
          repo === undefined
            ? await tx.query<CollectionRow>(
                `WITH s AS (SELECT id FROM spaces WHERE name = $1),
                 dag AS (INSERT INTO version_dags (space_id, kind) SELECT id, 'collection' FROM s RETURNING id, space_id),
                 node AS (INSERT INTO version_nodes (dag_id, uuid) SELECT id, $3 FROM dag RETURNING id, uuid),
                 col AS (
                   INSERT INTO collections
                     (space_id, name, dag_id, root_node_id, versioned, max_value_bytes, tags, properties, revision)
                   SELECT dag.space_id, $2, dag.id, node.id, $4, $5, $6::jsonb, $7::jsonb, nextval('revision_seq')
                   FROM dag, node
                   ON CONFLICT (space_id, name) DO NOTHING
                   RETURNING *
                 ),
                 ev AS (
                   INSERT INTO change_events (revision, op, space, collection, collection_id, node_id, version)
                   SELECT col.revision, 'collection.created', $1, $2, col.id, col.root_node_id, $3 FROM col
                 )
                 SELECT ${collectionColumns('col', '$1::text', 'node')} FROM col, node`,
                [
                  space,
                  name,
                  newVersionUuid(),
                  settings.versioned,
                  settings.maxValueBytes,
                  JSON.stringify(settings.tags),
                  properties,
                ],
              )
            : await tx.query<CollectionRow>(
                `WITH col AS (
                   INSERT INTO collections (space_id, name, dag_id, root_node_id, origin_node_id, versioned,
                     max_value_bytes, tags, properties, revision)
                   SELECT s.id, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, nextval('revision_seq')
                   FROM spaces s WHERE s.name = $1
                   ON CONFLICT (space_id, name) DO NOTHING
                   RETURNING *
                 ),
                 ev AS (${collectionEvent('collection.created', 'col.revision')})
                 SELECT ${collectionColumns('col', '$1::text', 'n')} FROM col JOIN version_nodes n ON n.id = col.root_node_id`,
                [
                  space,
                  name,
                  repo.dagId,
                  repo.rootNodeId,
                  repo.originNodeId,
                  settings.versioned,
                  settings.maxValueBytes,
                  JSON.stringify(settings.tags),
                  properties,
                ],
              );
        // Nothing returned: the name is taken (or the space is gone). Roll back the DAG and node.
        if (rows[0] === undefined) throw new NameTaken();
        return toCollection(rows[0]);
      });
    } catch (error) {
      if (error instanceof NameTaken) return undefined;
      throw error;
    }
  }

  async inDag(dagId: number): Promise<Collection[]> {
    const { rows } = await this.db.query<CollectionRow>(`${SELECT} WHERE c.dag_id = $1 ORDER BY c.name`, [dagId]);
    return rows.map(toCollection);
  }

  async list(space: string, afterName: string | undefined, limit: number): Promise<Collection[]> {
    const { rows } = await this.db.query<CollectionRow>(
      `${SELECT} WHERE s.name = $1 AND c.name > $2 ORDER BY c.name LIMIT $3`,
      [space, afterName ?? '', limit],
    );
    return rows.map(toCollection);
  }

  async update(collection: Collection, changes: CollectionChanges): Promise<Collection | undefined> {
    const { rows } = await this.db.query<CollectionRow>(
      `WITH col AS (
         UPDATE collections SET
           max_value_bytes = COALESCE($4, max_value_bytes),
           tags = COALESCE($5::jsonb, tags),
           revision = nextval('revision_seq'),
           updated = now()
         WHERE id = $3
         RETURNING *
       ),
       ev AS (${collectionEvent('collection.updated', 'col.revision')})
       SELECT ${collectionColumns('col', '$1::text', 'n')}
       FROM col JOIN version_nodes n ON n.id = col.root_node_id`,
      [
        collection.space,
        collection.name,
        collection.id,
        changes.maxValueBytes ?? null,
        changes.tags === undefined ? null : JSON.stringify(changes.tags),
      ],
    );
    return rows[0] === undefined ? undefined : toCollection(rows[0]);
  }

  async delete(collection: Collection): Promise<number | undefined> {
    return this.db.transaction(async (tx) => {
      const { rows } = await tx.query<{ revision: number; dag_id: number }>(
        `WITH col AS (DELETE FROM collections WHERE id = $3 RETURNING id, dag_id, root_node_id),
         ev AS (${collectionEvent('collection.deleted', "nextval('revision_seq')")} RETURNING revision)
         SELECT ev.revision, col.dag_id FROM ev, col`,
        [collection.space, collection.name, collection.id],
      );
      const row = rows[0];
      if (row === undefined) return undefined;
      // A collection's private DAG goes with it; a DVID repo outlives its instances.
      await tx.query(`DELETE FROM version_dags WHERE id = $1 AND kind = 'collection'`, [row.dag_id]);
      return row.revision;
    });
  }
}
