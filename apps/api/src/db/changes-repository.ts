import { invalid, type ChangeEvent, type ChangeOp } from '@rosetta/core';
import type { ChangesRepository } from '../services/ports';
import { queryInIndexOrder, us } from './sql-fragments';
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
const READ = {
  name: 'changes.read',
  text: `SELECT id, txid::text AS txid, revision, op, space, collection, key, version, content_type, size,
  ${us('at')} AS at, value
FROM change_events
WHERE (txid, id) > ($1::xid8, $2::int8) AND txid < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY txid, id
LIMIT $3`,
};

export class SqlChangesRepository implements ChangesRepository {
  constructor(private readonly db: SqlClient) {}

  async read(after: string | undefined, limit: number): Promise<{ events: ChangeEvent[]; position: string }> {
    const [txid, id] = parsePosition(after);
    const { rows } = await queryInIndexOrder<EventRow>(this.db, READ, [txid, id, limit]);
    const events = rows.map((row): ChangeEvent => ({
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
    }));
    const last = events[events.length - 1];
    return { events, position: last?.position ?? `${txid}.${id}` };
  }

  async tail(): Promise<string> {
    const { rows } = await this.db.query<{ xmin: string }>(
      'SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin',
    );
    return `${rows[0]?.xmin ?? '0'}.0`;
  }
}
