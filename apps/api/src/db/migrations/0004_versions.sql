-- Versions for every collection and DVID repos.

-- A read at a version looks a key up in every node of its ancestry: with the key before the node
-- that is one index descent and a walk over that key's few versions, not one descent per
-- ancestor. Unversioned collections address one node, so their lookups and key-ordered scans use
-- the reordered key just as well.
ALTER TABLE records DROP CONSTRAINT records_pkey;
ALTER TABLE records ADD PRIMARY KEY (collection_id, key, node_id);

-- A DAG's own log (DVID's repo log), and what a DVID repo shows besides.
ALTER TABLE version_dags ADD COLUMN log text[] NOT NULL DEFAULT '{}';

-- The leaf of a branch is its newest node; DVID resolves `uuid:branch` and `branch-versions` by it.
CREATE INDEX version_nodes_branch ON version_nodes (dag_id, branch, id);

-- A DVID data instance keeps its DataUUID, the node it was created at, and settings it only shows
-- back (compression, checksum).
ALTER TABLE collections ADD COLUMN uuid text NOT NULL DEFAULT replace(gen_random_uuid()::text, '-', '');
ALTER TABLE collections ADD COLUMN origin_node_id bigint REFERENCES version_nodes (id);
ALTER TABLE collections ADD COLUMN properties jsonb NOT NULL DEFAULT '{}';
