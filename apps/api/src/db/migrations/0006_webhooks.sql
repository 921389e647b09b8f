-- Webhooks of collections and the log of their deliveries (see packages/core/src/webhooks.ts).

-- A collection's webhooks go with the collection. The space and collection names are copied in,
-- as change_events does, so the worker sees where a webhook belongs without a join.
CREATE TABLE webhooks (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  collection_id bigint NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
  space text COLLATE "C" NOT NULL,
  collection text COLLATE "C" NOT NULL,
  url text NOT NULL,
  -- Signs deliveries (HMAC-SHA256); never returned to callers, only to the worker.
  secret text NOT NULL,
  -- Event ops delivered; empty: every op.
  ops text[] NOT NULL DEFAULT '{}',
  -- Only events of keys with this prefix (and the collection's own); empty: every key.
  key_prefix text COLLATE "C" NOT NULL DEFAULT '',
  format text NOT NULL CHECK (format IN ('rosetta', 'dvid')),
  created timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_collection ON webhooks (collection_id, id);

-- The outcome of delivering one event to one webhook, as the worker last recorded it: one row per
-- (webhook, event), updated on every attempt.
CREATE TABLE webhook_deliveries (
  webhook_id bigint NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
  -- The event's feed position.
  event_id text COLLATE "C" NOT NULL,
  revision bigint NOT NULL,
  op text NOT NULL,
  key text COLLATE "C" NOT NULL DEFAULT '',
  state text NOT NULL CHECK (state IN ('retrying', 'delivered', 'dead')),
  attempts integer NOT NULL DEFAULT 0,
  -- The receiver's last HTTP status; 0 when it gave none.
  last_status integer NOT NULL DEFAULT 0,
  last_error text NOT NULL DEFAULT '',
  created timestamptz NOT NULL DEFAULT now(),
  updated timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (webhook_id, event_id)
);
-- A webhook's deliveries newest first, of every state or of one (the dead-letter list).
CREATE INDEX webhook_deliveries_recent ON webhook_deliveries (webhook_id, updated DESC, event_id DESC);
CREATE INDEX webhook_deliveries_state ON webhook_deliveries (webhook_id, state, updated DESC, event_id DESC);
