-- Rosetta's schema. Postgres is the source of truth; every mutation appends its change event to
-- change_events in the same transaction (the outbox).

-- One global, monotonic sequence for every revision: records, deletes and collection changes.
CREATE SEQUENCE revision_seq;

-- Owners of data (a personal space per account, or a shared space such as an OpenFn project).
CREATE TABLE spaces (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text COLLATE "C" NOT NULL UNIQUE,
  created timestamptz NOT NULL DEFAULT now()
);

-- A DAG of version nodes: a DVID repo, or the private DAG of one collection ('collection').
CREATE TABLE version_dags (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  space_id bigint NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
  kind text NOT NULL CHECK (kind IN ('collection', 'repo')),
  alias text NOT NULL DEFAULT '',
  description text NOT NULL DEFAULT '',
  created timestamptz NOT NULL DEFAULT now(),
  updated timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX version_dags_space ON version_dags (space_id);

-- Version nodes. The identity is DVID's VersionID: server-wide and sequential.
CREATE TABLE version_nodes (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  dag_id bigint NOT NULL REFERENCES version_dags (id) ON DELETE CASCADE,
  uuid text COLLATE "C" NOT NULL UNIQUE,
  branch text NOT NULL DEFAULT '',
  note text NOT NULL DEFAULT '',
  log text[] NOT NULL DEFAULT '{}',
  locked boolean NOT NULL DEFAULT false,
  parent_ids bigint[] NOT NULL DEFAULT '{}',
  depth integer NOT NULL DEFAULT 0,
  created timestamptz NOT NULL DEFAULT now(),
  updated timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX version_nodes_dag ON version_nodes (dag_id);

CREATE TABLE collections (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  space_id bigint NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
  name text COLLATE "C" NOT NULL,
  dag_id bigint NOT NULL REFERENCES version_dags (id),
  -- Where unversioned writes go; for versioned collections, the root of the DAG.
  root_node_id bigint NOT NULL REFERENCES version_nodes (id),
  versioned boolean NOT NULL,
  max_value_bytes bigint NOT NULL,
  tags jsonb NOT NULL DEFAULT '{}',
  revision bigint NOT NULL,
  created timestamptz NOT NULL DEFAULT now(),
  updated timestamptz NOT NULL DEFAULT now(),
  UNIQUE (space_id, name)
);
CREATE INDEX collections_dag ON collections (dag_id);

-- Every stored record belongs to one version node. A read at node N sees the newest entry among
-- N and its ancestors; `tombstone` marks a delete in a versioned collection.
CREATE TABLE records (
  collection_id bigint NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
  node_id bigint NOT NULL,
  key text COLLATE "C" NOT NULL,
  value bytea NOT NULL,
  content_type text NOT NULL,
  tombstone boolean NOT NULL DEFAULT false,
  created timestamptz NOT NULL,
  updated timestamptz NOT NULL,
  revision bigint NOT NULL,
  created_revision bigint NOT NULL,
  PRIMARY KEY (collection_id, node_id, key)
);
-- Listing in order of first creation (OpenFn's order) without sorting.
CREATE INDEX records_created_order ON records (collection_id, node_id, created_revision);

-- The outbox. Rows are read in (txid, id) order and only below the oldest running transaction
-- (pg_snapshot_xmin), so a reader that resumes after a position never skips a transaction that
-- commits later (see docs/change-feed.md). Names are copied in: events outlive collections.
CREATE TABLE change_events (
  id bigint GENERATED ALWAYS AS IDENTITY,
  txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
  revision bigint NOT NULL,
  op text NOT NULL,
  space text NOT NULL,
  collection text NOT NULL,
  collection_id bigint NOT NULL,
  node_id bigint NOT NULL,
  version text NOT NULL,
  key text COLLATE "C" NOT NULL DEFAULT '',
  content_type text NOT NULL DEFAULT '',
  size bigint NOT NULL DEFAULT 0,
  value bytea,
  at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (txid, id)
);
