-- Background jobs of collections (see packages/core/src/jobs.ts). A job keeps its own progress:
-- each step of the worker commits its work and the job's new position in one transaction.
CREATE TABLE jobs (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('delete')),
  state text NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  space_id bigint NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
  -- The names as they were, so that a job outlives its collection; the id keeps a job from
  -- touching another collection created later under the same name.
  space text COLLATE "C" NOT NULL,
  collection_id bigint REFERENCES collections (id) ON DELETE SET NULL,
  collection text COLLATE "C" NOT NULL,
  -- A versioned collection's version (UUID), resolved when the job was created; '' otherwise.
  version text NOT NULL DEFAULT '',
  -- What the job works on: the record filter as the contract gave it.
  filter jsonb NOT NULL DEFAULT '{}',
  -- Only records whose revision is below this one are the job's: what was written after the job
  -- was created stays.
  below_revision bigint NOT NULL,
  -- Keys up to this one are done (the job works in key order); NULL before the first step.
  after_key text COLLATE "C",
  done bigint NOT NULL DEFAULT 0,
  -- What matched when the job was created: the estimate progress is measured against.
  total bigint NOT NULL DEFAULT 0,
  error_code text NOT NULL DEFAULT '',
  error_message text NOT NULL DEFAULT '',
  created_by text NOT NULL DEFAULT '',
  created timestamptz NOT NULL DEFAULT now(),
  started timestamptz,
  finished timestamptz,
  updated timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_space ON jobs (space_id, id DESC);
-- What the worker has to run.
CREATE INDEX jobs_unfinished ON jobs (id) WHERE state IN ('queued', 'running');
