import { invalid, type ChangeEvent, type ChangeOp } from '@rosetta/core';
import type { ChangesRepository, ChangeSummary } from '../services/ports';
import { us } from './sql-fragments';
import type { SqlClient } from './sql';

interface EventRow {
  id: number;
  txid: string;
  revision: number;
  op: ChangeOp;
  space: string;
  collection: string;
  key: string;
  version: string;
  content_type: string;
  size: number;
  at: number;
  value: Uint8Array | null;
}

/** A feed position: the (txid, id) of the last event read, as `txid.id`. */
function parsePosition(position: string | undefined): [string, number] {
  if (position === undefined || position === '') return ['0', 0];
  const match = /^(\d{1,20})\.(\d{1,18})$/.exec(position);
  if (match === null) throw invalid('INVALID_CURSOR', 'not a change-feed position');
  return [match[1] as string, Number(match[2])];
}

// Reading only below pg_snapshot_xmin — the oldest transaction still running — is what makes the
// feed gap-free: every transaction with a smaller txid has finished, and any transaction that
// commits later has a txid at least that large, so it sorts after everything already read.
const PAGE = `FROM change_events
WHERE (txid, id) > ($1::xid8, $2::int8) AND txid < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY change_events.txid, change_events.id
LIMIT $3`;
const EVENT_COLUMNS = `id, txid::text AS txid, revision, op, space, collection, key, version, content_type, size,
  ${us('at')} AS at`;

const READ = { name: 'changes.read', text: `SELECT ${EVENT_COLUMNS}, value\n${PAGE}` };

// The same page in brief: each collection's newest event (without its value), its number of
// events and its oldest commit time, in feed order of those newest events. Postgres reads the
// page's rows, but neither writes their values out nor sends the rows.
const SUMMARIZE = {
  name: 'changes.summarize',
  text: `WITH page AS (SELECT *, count(*) OVER w AS count, min(at) OVER w AS oldest_at FROM (
  SELECT id, txid, revision, op, space, collection, key, version, content_type, size, at
  ${PAGE}
) AS p WINDOW w AS (PARTITION BY space, collection)),
newest AS (SELECT DISTINCT ON (space, collection) * FROM page ORDER BY space, collection, txid DESC, id DESC)
SELECT ${EVENT_COLUMNS}, NULL::bytea AS value, count::int4 AS count, ${us('oldest_at')} AS oldest_at
FROM newest ORDER BY newest.txid, newest.id`,
};

/** One collection's events, through the index on (space, collection, txid, id). */
const READ_COLLECTION = {
  name: 'changes.read-collection',
  text: `SELECT id, txid::text AS txid, revision, op, space, collection, key, version, content_type, size,
  ${us('at')} AS at, value
FROM change_events
WHERE space = $1 AND collection = $2 AND (txid, id) > ($3::xid8, $4::int8)
  AND txid < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY change_events.txid, change_events.id
LIMIT $5`,
};

/** The last event of a revision (a revision has one event; the order is what matters). */
const OF_REVISION = {
  name: 'changes.of-revision',
  text: `SELECT txid::text AS txid, id FROM change_events WHERE revision = $1 ORDER BY change_events.txid DESC, change_events.id DESC LIMIT 1`,
};

/** The newest event every reader can see: below the oldest running transaction. */
const NEWEST = {
  name: 'changes.newest',
  text: `SELECT txid::text AS txid, id, revision FROM change_events
WHERE txid < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY change_events.txid DESC, change_events.id DESC LIMIT 1`,
};

// The head of the feed (LIMIT rows in feed order, up to the relay's position), of which the
// rows older than the cutoff go: the scan never reads past the head, however large the feed.
// The retention's delete events take their keys' tombstones with them: a tombstone row is kept
// so that a write racing its delete waits on it (docs/cache-consistency.md), which matters only
// while such a write can still be in flight; days later it is dead weight in every scan. A row
// goes only while it is still that very delete's tombstone (same revision), and only in an
// unversioned collection: in a versioned one a tombstone hides its ancestors' value.
const COMPACT = {
  name: 'changes.compact',
  text: `WITH head AS (
  SELECT txid, id, at FROM change_events
  WHERE (txid, id) <= ($2::xid8, $3::int8)
  ORDER BY txid, id
  LIMIT $4
),
gone AS (
  DELETE FROM change_events AS c USING head
  WHERE c.txid = head.txid AND c.id = head.id AND head.at < to_timestamp($1::float8 / 1e6)
  RETURNING c.op, c.collection_id, c.node_id, c.key, c.revision
),
purged AS (
  DELETE FROM records AS r USING gone, collections AS col
  WHERE gone.op = 'delete' AND r.collection_id = gone.collection_id AND r.node_id = gone.node_id
    AND r.key = gone.key AND r.tombstone AND r.revision = gone.revision
    AND col.id = r.collection_id AND NOT col.versioned AND r.node_id = col.root_node_id
  RETURNING 1
)
SELECT (SELECT count(*) FROM gone)::int8 AS deleted, (SELECT count(*) FROM purged)::int8 AS tombstones_purged`,
};

const OLDEST = { name: 'changes.oldest', text: 'SELECT min(revision) AS revision FROM change_events' };

const toEvent = (row: EventRow): ChangeEvent => ({
  position: `${row.txid}.${row.id}`,
  revision: row.revision,
  op: row.op,
  space: row.space,
  collection: row.collection,
  key: row.key,
  version: row.version,
  contentType: row.content_type,
  size: row.size,
  at: row.at,
  value: row.value ?? undefined,
});

/** The newest event's transaction id, and the cluster's next one (assigning none). */
const IDS = `SELECT (SELECT txid FROM change_events ORDER BY txid DESC, id DESC LIMIT 1)::text AS newest,
  pg_snapshot_xmax(pg_current_snapshot())::text AS next`;

/**
 * Whether the feed holds transaction ids at or above the cluster's next one. That happens only
 * when the database was restored into another Postgres cluster, whose ids start lower: its new
 * events would sort before the restored ones, which would stay unread until the cluster's ids
 * caught up, and readers resuming from a position of before the backup would skip every new
 * event. Answers the two ids then, undefined otherwise.
 */
export async function feedAheadOfCluster(db: SqlClient): Promise<{ newest: string; next: string } | undefined> {
  const { rows } = await db.query<{ newest: string | null; next: string }>(IDS);
  const row = rows[0];
  if (row?.newest === null || row?.newest === undefined) return undefined;
  return BigInt(row.newest) >= BigInt(row.next) ? { newest: row.newest, next: row.next } : undefined;
}

export class SqlChangesRepository implements ChangesRepository {
  constructor(private readonly db: SqlClient) {}

  async readCollection(
    space: string,
    collection: string,
    after: string,
    limit: number,
  ): Promise<{ events: ChangeEvent[]; position: string }> {
    const [txid, id] = parsePosition(after);
    const { rows } = await this.db.orderedQuery<EventRow>(READ_COLLECTION, [space, collection, txid, id, limit]);
    const events = rows.map(toEvent);
    return { events, position: events[events.length - 1]?.position ?? `${txid}.${id}` };
  }

  async positionOf(revision: number): Promise<string | undefined> {
    const { rows } = await this.db.query<{ txid: string; id: number }>(OF_REVISION, [revision]);
    const row = rows[0];
    return row === undefined ? undefined : `${row.txid}.${row.id}`;
  }

  async newest(): Promise<{ position: string; revision: number } | undefined> {
    const { rows } = await this.db.query<{ txid: string; id: number; revision: number }>(NEWEST);
    const row = rows[0];
    return row === undefined ? undefined : { position: `${row.txid}.${row.id}`, revision: row.revision };
  }

  async compact(beforeUs: number, upTo: string, limit: number): Promise<{ deleted: number; tombstonesPurged: number }> {
    const [txid, id] = parsePosition(upTo);
    const { rows } = await this.db.query<{ deleted: number; tombstones_purged: number }>(COMPACT, [
      beforeUs,
      txid,
      id,
      limit,
    ]);
    return { deleted: rows[0]?.deleted ?? 0, tombstonesPurged: rows[0]?.tombstones_purged ?? 0 };
  }

  async oldestRevision(): Promise<number | undefined> {
    const { rows } = await this.db.query<{ revision: number | null }>(OLDEST);
    return rows[0]?.revision ?? undefined;
  }

  async read(after: string | undefined, limit: number): Promise<{ events: ChangeEvent[]; position: string }> {
    const [txid, id] = parsePosition(after);
    const { rows } = await this.db.orderedQuery<EventRow>(READ, [txid, id, limit]);
    const events = rows.map(toEvent);
    const last = events[events.length - 1];
    return { events, position: last?.position ?? `${txid}.${id}` };
  }

  async summarize(after: string | undefined, limit: number): Promise<ChangeSummary> {
    const [txid, id] = parsePosition(after);
    const { rows } = await this.db.orderedQuery<EventRow & { count: number; oldest_at: number }>(SUMMARIZE, [
      txid,
      id,
      limit,
    ]);
    const collections = rows.map((row) => ({ newest: toEvent(row), count: row.count, oldestAt: row.oldest_at }));
    const last = collections[collections.length - 1]?.newest;
    return {
      collections,
      position: last?.position ?? `${txid}.${id}`,
      count: collections.reduce((sum, c) => sum + c.count, 0),
    };
  }

  async tail(): Promise<string> {
    const { rows } = await this.db.query<{ xmin: string }>(
      'SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin',
    );
    return `${rows[0]?.xmin ?? '0'}.0`;
  }
}
