import pg from 'pg';
import { loadMigrations, migrate, NO_TRANSACTION, type Migration } from '../../apps/api/src/db/migrate';
import { createPgClient, type PgSqlClient } from '../../apps/api/src/db/pg-client';
import { startTestApi, type TestApi } from '../support/api';
import { createTestDatabase, type TestDatabase } from '../support/database';

/**
 * Migrations against a store that serves (docs/operations.md): the last migrations run while
 * the record service at the level before them writes and reads, and no request fails; one that
 * waits behind a long transaction gives up after lock_timeout and tries again, so the traffic
 * queued behind its lock stalls for a moment, not for the transaction's length; two migrators
 * started together apply each file once.
 */

const enc = new TextEncoder();
const dec = new TextDecoder();
let all: Migration[];

beforeAll(async () => {
  all = await loadMigrations();
});

/** A client of `db` as the api opens one (its pool, its statement timeout). */
const clientOf = (db: TestDatabase): PgSqlClient =>
  createPgClient({
    connectionString: db.url,
    max: 2,
    orderedMax: 1,
    connectionTimeoutMs: 5000,
    statementTimeoutMs: 30_000,
    applicationName: 'migrations-test',
  });

/** The next migrations after the shipped ones, as the rules of docs/operations.md allow them. */
function expandAfter(shipped: readonly Migration[]): Migration[] {
  const next = shipped.length + 1;
  return [
    {
      version: next,
      name: 'records_expires',
      sql: 'ALTER TABLE records ADD COLUMN expires timestamptz',
      transactional: true,
    },
    {
      version: next + 1,
      name: 'records_expires_index',
      sql: `${NO_TRANSACTION}\nCREATE INDEX CONCURRENTLY IF NOT EXISTS records_expires ON records (expires)`,
      transactional: false,
    },
    {
      version: next + 2,
      name: 'record_labels',
      sql: `CREATE TABLE record_labels (collection_id bigint NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
              key text COLLATE "C" NOT NULL, label text NOT NULL, PRIMARY KEY (collection_id, key, label));
            ALTER TABLE change_events ADD COLUMN labels text[]`,
      transactional: true,
    },
  ];
}

interface Load {
  /** Keys written and acknowledged, with their values. */
  readonly acknowledged: Map<string, string>;
  readonly failures: unknown[];
  /** Each request's start and duration, in ms. */
  readonly timings: { start: number; ms: number }[];
  stop(): Promise<void>;
}

/** `writers` loops each writing a new key, then reading it back, until stopped. */
function startLoad(api: TestApi, collection: { space: string; collection: string }, writers: number): Load {
  const acknowledged = new Map<string, string>();
  const failures: unknown[] = [];
  const timings: { start: number; ms: number }[] = [];
  let running = true;
  const timed = async <T>(call: () => Promise<T>): Promise<T> => {
    const start = Date.now();
    try {
      return await call();
    } finally {
      timings.push({ start, ms: Date.now() - start });
    }
  };
  const loops = Array.from({ length: writers }, async (_, writer) => {
    for (let i = 0; running; i++) {
      const key = `w${writer}/${i}`;
      const value = `value of ${key}`;
      try {
        await timed(() => api.records.putRecord({ collection, key, value: enc.encode(value) }));
        acknowledged.set(key, value);
        const { record } = await timed(() => api.records.getRecord({ collection, key }));
        if (record === undefined || dec.decode(record.value) !== value)
          failures.push(new Error(`${key} read back wrong`));
      } catch (error) {
        failures.push(error);
      }
    }
  });
  return {
    acknowledged,
    failures,
    timings,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** Waits until `load` has acknowledged `count` more writes. */
async function progress(load: Load, count: number): Promise<void> {
  const target = load.acknowledged.size + count;
  while (load.acknowledged.size < target) await new Promise((resolve) => setTimeout(resolve, 10));
}

/** Every record of `collection`, key to value. */
async function stored(api: TestApi, collection: { space: string; collection: string }): Promise<Map<string, string>> {
  const values = new Map<string, string>();
  for await (const chunk of api.records.scan({ collection })) {
    for (const record of chunk.records) values.set(record.key, dec.decode(record.value));
  }
  return values;
}

async function ledger(db: PgSqlClient): Promise<number[]> {
  const { rows } = await db.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
  return rows.map((row) => row.version);
}

describe('the last migrations, run while the previous level serves', () => {
  let db: TestDatabase;
  let migrator: PgSqlClient;
  let api: TestApi;

  beforeAll(async () => {
    db = await createTestDatabase({ empty: true });
    migrator = clientOf(db);
    await migrate(migrator, all.slice(0, -1));
    api = await startTestApi({ db });
  });

  afterAll(async () => {
    await api?.close();
    await migrator?.close();
    await db?.drop();
  });

  it('fail no request, and the new code works on the data afterwards', async () => {
    const collection = { space: 'default', collection: 'served' };
    await api.collections.createCollection({ collection });
    const load = startLoad(api, collection, 8);
    try {
      await progress(load, 200);
      const pending = [...all.slice(-1), ...expandAfter(all)];
      expect(await migrate(migrator, pending)).toEqual(pending.map((m) => m.version));
      await progress(load, 200);
    } finally {
      await load.stop();
    }
    expect(load.failures).toEqual([]);
    expect(await ledger(migrator)).toEqual([...all, ...expandAfter(all)].map((m) => m.version));
    const { rows: invalid } = await migrator.query('SELECT 1 FROM pg_index WHERE NOT indisvalid');
    expect(invalid).toEqual([]);

    // Every acknowledged write is there; the last shipped migration's column (jobs.traceparent)
    // is written by a job started now.
    expect(await stored(api, collection)).toEqual(load.acknowledged);
    const { job } = await api.jobs.startDeleteJob({ collection, filter: { prefix: 'w0/' } });
    const { rows } = await migrator.query<{ traceparent: string }>('SELECT traceparent FROM jobs WHERE id = $1', [
      Number(job?.id),
    ]);
    expect(rows).toEqual([{ traceparent: '' }]);
  }, 20_000);
});

describe('a migration behind a long transaction', () => {
  let db: TestDatabase;
  let migrator: PgSqlClient;
  let api: TestApi;
  let holder: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase();
    migrator = clientOf(db);
    api = await startTestApi({ db });
    holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
  });

  afterAll(async () => {
    await holder?.end();
    await api?.close();
    await migrator?.close();
    await db?.drop();
  });

  it('gives up after lock_timeout and tries again, so the traffic behind it stalls for a moment only', async () => {
    const collection = { space: 'default', collection: 'behind' };
    await api.collections.createCollection({ collection });
    const load = startLoad(api, collection, 4);
    const holdMs = 2000;
    const retries: number[] = [];
    let migrated: Promise<number[]> | undefined;
    let held = 0;
    try {
      await progress(load, 50);
      // A long reader of records (a report, a pg_dump) holds ACCESS SHARE until it ends.
      await holder.query('BEGIN');
      await holder.query('SELECT count(*) FROM records');
      held = Date.now();
      migrated = migrate(migrator, [...all, ...expandAfter(all).slice(0, 1)], {
        lockTimeoutMs: 100,
        retryDelayMs: 100,
        onLockTimeout: (_, attempt) => retries.push(attempt),
      });
      await new Promise((resolve) => setTimeout(resolve, holdMs));
      await holder.query('COMMIT');
      expect(await migrated).toEqual([all.length + 1]);
      await progress(load, 50);
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await load.stop();
      await migrated?.catch(() => undefined);
    }
    expect(load.failures).toEqual([]);
    expect(retries.length).toBeGreaterThanOrEqual(3);
    // Without lock_timeout every write would have queued behind the ALTER for the whole hold.
    const during = load.timings.filter((t) => t.start >= held && t.start < held + holdMs - 500);
    expect(during.length).toBeGreaterThan(10);
    expect(Math.max(...during.map((t) => t.ms))).toBeLessThan(holdMs / 2);
  }, 20_000);

  it('stops the run on an index a failed CREATE INDEX CONCURRENTLY left invalid, and records nothing', async () => {
    await api.collections.createCollection({ collection: { space: 'default', collection: 'dupes' } });
    for (const key of ['a', 'b'])
      await api.records.putRecord({
        collection: { space: 'default', collection: 'dupes' },
        key,
        value: enc.encode('same'),
      });
    const unique: Migration = {
      version: all.length + 2,
      name: 'records_unique_value',
      sql: `${NO_TRANSACTION}\nCREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS records_one_value ON records (value)`,
      transactional: false,
    };
    const pending = [...all, ...expandAfter(all).slice(0, 1), unique];
    await expect(migrate(migrator, pending)).rejects.toMatchObject({ code: '23505' });
    await expect(migrate(migrator, pending)).rejects.toThrow(/invalid indexes \(records_one_value\)/);
    expect(await ledger(migrator)).not.toContain(unique.version);
    await migrator.exec('DROP INDEX CONCURRENTLY records_one_value');
  });
});

describe('two migrators started together', () => {
  let db: TestDatabase;
  const clients: PgSqlClient[] = [];

  beforeAll(async () => {
    db = await createTestDatabase({ empty: true });
    clients.push(clientOf(db), clientOf(db));
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await db?.drop();
  });

  it('both succeed, each file applied once; a third run applies nothing', async () => {
    const runs = await Promise.all(clients.map((client) => migrate(client, all)));
    expect(runs.flat().sort((a, b) => a - b)).toEqual(all.map((m) => m.version));
    expect(await ledger(clients[0] as PgSqlClient)).toEqual(all.map((m) => m.version));
    expect(await migrate(clients[1] as PgSqlClient, all)).toEqual([]);
  });
});
