-- The W3C traceparent of the request that created a job (empty when it was not traced), so that
-- the worker's run of the job continues that request's trace.
ALTER TABLE jobs ADD COLUMN traceparent text NOT NULL DEFAULT '';
