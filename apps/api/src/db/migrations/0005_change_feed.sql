-- The change feed for clients: one collection's events in feed order, and the event of a
-- revision (where a reader resumes), without scanning the whole outbox.
CREATE INDEX change_events_collection ON change_events (space, collection, txid, id);
CREATE INDEX change_events_revision ON change_events (revision);
