-- Snapshots of collections (see docs/jobs.md): made and restored by jobs.
ALTER TABLE jobs DROP CONSTRAINT jobs_kind_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_kind_check CHECK (kind IN ('delete', 'snapshot', 'restore'));
-- What a job works from beyond its collection: a restore's snapshot and mode.
ALTER TABLE jobs ADD COLUMN params jsonb NOT NULL DEFAULT '{}';
-- A restore writes (`write`), then, over an existing collection, deletes what the snapshot does
-- not hold (`delete`); other jobs have one phase.
ALTER TABLE jobs ADD COLUMN phase text NOT NULL DEFAULT '';

-- A snapshot's records are an object in the snapshot store (gzipped NDJSON); this is its index.
CREATE TABLE snapshots (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  space_id bigint NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
  space text COLLATE "C" NOT NULL,
  -- Names as they were: a snapshot outlives its collection.
  collection text COLLATE "C" NOT NULL,
  version text NOT NULL DEFAULT '',
  state text NOT NULL CHECK (state IN ('creating', 'ready', 'failed')),
  records bigint NOT NULL DEFAULT 0,
  -- Size of the stored object (compressed).
  bytes bigint NOT NULL DEFAULT 0,
  -- SHA-256 (hex) of the object's record lines (see docs/jobs.md, Snapshots).
  checksum text NOT NULL DEFAULT '',
  -- The object's name in the store.
  object text NOT NULL,
  job_id bigint NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  created timestamptz NOT NULL DEFAULT now(),
  finished timestamptz
);
CREATE INDEX snapshots_space ON snapshots (space_id, collection, id DESC);

-- Snapshots made on a schedule, the newest `keep` of each schedule kept.
CREATE TABLE snapshot_schedules (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  collection_id bigint NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
  space text COLLATE "C" NOT NULL,
  collection text COLLATE "C" NOT NULL,
  every_seconds integer NOT NULL CHECK (every_seconds >= 60),
  keep integer NOT NULL CHECK (keep BETWEEN 1 AND 1000),
  created timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX snapshot_schedules_collection ON snapshot_schedules (collection_id, id);
ALTER TABLE snapshots ADD COLUMN schedule_id bigint REFERENCES snapshot_schedules (id) ON DELETE SET NULL;
