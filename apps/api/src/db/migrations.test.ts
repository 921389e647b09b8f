import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMigrations, NO_TRANSACTION, type Migration } from './migrate';

/**
 * The expand/contract rules of docs/operations.md, checked over every migration file: what can be
 * told from the SQL alone. A migration must be safe to run while the previous release serves,
 * and must not hold a lock on a table that already exists for longer than a moment.
 */

type Rule =
  /** DROP, RENAME, a type change or SET NOT NULL, without `-- contract: expanded in NNNN`. */
  | 'contract-without-marker'
  /** The marker names no earlier migration. */
  | 'contract-marker-unknown'
  /** CREATE INDEX on an existing table without CONCURRENTLY (it blocks writes while it builds). */
  | 'index-not-concurrent'
  /** CONCURRENTLY in a file that runs in a transaction (Postgres refuses it there). */
  | 'concurrently-in-transaction'
  /** A NO_TRANSACTION file holds other than one statement, or an index without IF NOT EXISTS. */
  | 'no-transaction-shape'
  /** ADD COLUMN … NOT NULL without a DEFAULT: the older version's INSERTs fail. */
  | 'not-null-without-default'
  /** ADD COLUMN with a volatile DEFAULT: the table is rewritten under an ACCESS EXCLUSIVE lock. */
  | 'volatile-default'
  /** A constraint checked against every existing row under the lock (use NOT VALID, USING INDEX). */
  | 'validated-constraint';

interface Violation {
  readonly version: number;
  readonly rule: Rule;
}

const CONTRACT = /^\s*--\s*contract:\s*expanded in (\d{4})\b/im;
const DESTRUCTIVE =
  /\bDROP\s+(TABLE|COLUMN|CONSTRAINT|INDEX)\b|\bRENAME\b|\bALTER\s+COLUMN\s+\S+\s+(SET\s+DATA\s+)?TYPE\b|\bSET\s+NOT\s+NULL\b/;
const VOLATILE = /\b(gen_random_uuid|uuid_generate_v\d|random|clock_timestamp|nextval|timeofday)\s*\(/i;

/** The statements of a file, comments removed, whitespace folded (no file uses dollar quoting). */
function statements(sql: string): string[] {
  return sql
    .replace(/--[^\n]*/g, '')
    .split(';')
    .map((statement) => statement.replace(/\s+/g, ' ').trim())
    .filter((statement) => statement !== '');
}

/** The table a statement works on, if it is one that changes a table. */
function target(statement: string): string | undefined {
  return (
    /^ALTER TABLE (?:IF EXISTS )?(?:ONLY )?(\w+)/i.exec(statement)?.[1] ??
    /^CREATE (?:UNIQUE )?INDEX (?:CONCURRENTLY )?(?:IF NOT EXISTS )?\w+ ON (?:ONLY )?(\w+)/i.exec(statement)?.[1] ??
    /^DROP TABLE (?:IF EXISTS )?(\w+)/i.exec(statement)?.[1]
  );
}

/** What `migration` breaks, given the tables that exist before it (it adds those it creates). */
function violations(migration: Migration, tables: Set<string>, versions: ReadonlySet<number>): Violation[] {
  const found: Violation[] = [];
  const flag = (rule: Rule) => found.push({ version: migration.version, rule });
  const marker = CONTRACT.exec(migration.sql)?.[1];
  if (marker !== undefined && !(Number(marker) < migration.version && versions.has(Number(marker)))) {
    flag('contract-marker-unknown');
  }
  const all = statements(migration.sql);
  if (
    !migration.transactional &&
    (all.length !== 1 || /^CREATE (UNIQUE )?INDEX (?!.*IF NOT EXISTS)/i.test(all[0] ?? ''))
  ) {
    flag('no-transaction-shape');
  }
  const createdHere = new Set<string>();
  for (const statement of all) {
    const created = /^CREATE TABLE (?:IF NOT EXISTS )?(\w+)/i.exec(statement)?.[1];
    if (created !== undefined) createdHere.add(created);
    if (/\bCONCURRENTLY\b/i.test(statement) && migration.transactional) flag('concurrently-in-transaction');
    const table = target(statement);
    if (table === undefined || !tables.has(table)) continue;
    if (DESTRUCTIVE.test(statement.toUpperCase()) && marker === undefined) flag('contract-without-marker');
    if (/^CREATE (UNIQUE )?INDEX (?!CONCURRENTLY)/i.test(statement)) flag('index-not-concurrent');
    for (const column of statement.split(/\bADD COLUMN\b/i).slice(1)) {
      if (/\bNOT NULL\b/i.test(column) && !/\bDEFAULT\b/i.test(column)) flag('not-null-without-default');
      if (/\bDEFAULT\b/i.test(column) && VOLATILE.test(column)) flag('volatile-default');
      if (/\b(CHECK|REFERENCES|UNIQUE|PRIMARY KEY)\b/i.test(column)) flag('validated-constraint');
    }
    for (const constraint of statement.split(/\bADD (?=CONSTRAINT|PRIMARY|UNIQUE|CHECK|FOREIGN)/i).slice(1)) {
      const indexed = /^(CONSTRAINT \w+ )?(PRIMARY KEY|UNIQUE)\b/i.test(constraint);
      if (indexed ? !/\bUSING INDEX\b/i.test(constraint) : !/\bNOT VALID\b/i.test(constraint)) {
        flag('validated-constraint');
      }
    }
  }
  for (const table of createdHere) tables.add(table);
  return found;
}

function check(migrations: readonly Migration[]): Violation[] {
  const tables = new Set<string>();
  const versions = new Set(migrations.map((migration) => migration.version));
  return migrations.flatMap((migration) => violations(migration, tables, versions));
}

/**
 * What shipped before these rules, each once per statement that breaks one. They ran on small
 * or empty tables at the time; no file after them may add to this list.
 */
const GRANDFATHERED: readonly Violation[] = [
  // spaces.kind with an inline CHECK.
  { version: 2, rule: 'validated-constraint' },
  // spaces.uuid DEFAULT gen_random_uuid(), its UNIQUE constraint, collections_name.
  { version: 3, rule: 'volatile-default' },
  { version: 3, rule: 'validated-constraint' },
  { version: 3, rule: 'index-not-concurrent' },
  // The records primary key reordered; version_nodes_branch; collections.uuid and origin_node_id.
  { version: 4, rule: 'contract-without-marker' },
  { version: 4, rule: 'validated-constraint' },
  { version: 4, rule: 'index-not-concurrent' },
  { version: 4, rule: 'volatile-default' },
  { version: 4, rule: 'validated-constraint' },
  // change_events_collection, change_events_revision.
  { version: 5, rule: 'index-not-concurrent' },
  { version: 5, rule: 'index-not-concurrent' },
  // jobs_kind_check replaced by a wider one.
  { version: 8, rule: 'contract-without-marker' },
  { version: 8, rule: 'validated-constraint' },
];

const migration = (version: number, sql: string, transactional = true): Migration => ({
  version,
  name: `m${version}`,
  sql,
  transactional,
});

/** The violations of `sql` as migration 3, after a first migration that creates table `t`. */
function rulesBroken(sql: string, transactional = true): Rule[] {
  const first = migration(1, 'CREATE TABLE t (id bigint PRIMARY KEY, a text);');
  return check([first, migration(2, ''), migration(3, sql, transactional)]).map((violation) => violation.rule);
}

describe('migration files', () => {
  it('are numbered 1, 2, 3, … with no gap', async () => {
    const migrations = await loadMigrations();
    expect(migrations.map((m) => m.version)).toEqual(migrations.map((_, index) => index + 1));
  });

  it('break the expand/contract rules only where they shipped before the rules', async () => {
    expect(check(await loadMigrations())).toEqual(GRANDFATHERED);
  });
});

describe('the expand/contract rules', () => {
  it.each([
    ['ALTER TABLE t ADD COLUMN b text', []],
    ["ALTER TABLE t ADD COLUMN b text NOT NULL DEFAULT ''", []],
    ['ALTER TABLE t ADD COLUMN b timestamptz NOT NULL DEFAULT now()', []],
    [
      'CREATE TABLE u (id bigint PRIMARY KEY, t_id bigint REFERENCES t (id) CHECK (t_id > 0)); CREATE INDEX u_t ON u (t_id)',
      [],
    ],
    ["ALTER TABLE t ADD CONSTRAINT t_a CHECK (a <> '') NOT VALID; ALTER TABLE t VALIDATE CONSTRAINT t_a", []],
    ['ALTER TABLE t ADD CONSTRAINT t_a_key UNIQUE USING INDEX t_a', []],
    ['ALTER TABLE t SET (fillfactor = 90)', []],
    ['-- contract: expanded in 0002\nALTER TABLE t DROP COLUMN a', []],
    ['ALTER TABLE t DROP COLUMN a', ['contract-without-marker']],
    ['ALTER TABLE t RENAME COLUMN a TO b', ['contract-without-marker']],
    ['ALTER TABLE t ALTER COLUMN a TYPE bigint USING a::bigint', ['contract-without-marker']],
    ['ALTER TABLE t ALTER COLUMN a SET NOT NULL', ['contract-without-marker']],
    ['DROP TABLE t', ['contract-without-marker']],
    ['-- contract: expanded in 0003\nALTER TABLE t DROP COLUMN a', ['contract-marker-unknown']],
    ['-- contract: expanded in 0007\nALTER TABLE t DROP COLUMN a', ['contract-marker-unknown']],
    ['CREATE INDEX t_a ON t (a)', ['index-not-concurrent']],
    ['CREATE INDEX CONCURRENTLY IF NOT EXISTS t_a ON t (a)', ['concurrently-in-transaction']],
    ['ALTER TABLE t ADD COLUMN b text NOT NULL', ['not-null-without-default']],
    ['ALTER TABLE t ADD COLUMN b uuid NOT NULL DEFAULT gen_random_uuid()', ['volatile-default']],
    ['ALTER TABLE t ADD COLUMN b bigint REFERENCES t (id)', ['validated-constraint']],
    ["ALTER TABLE t ADD CONSTRAINT t_a CHECK (a <> '')", ['validated-constraint']],
    ['ALTER TABLE t ADD UNIQUE (a)', ['validated-constraint']],
  ] as const)('%s (in a transaction) breaks %j', (sql, rules) => {
    expect(rulesBroken(sql)).toEqual(rules);
  });

  it.each([
    ['CREATE INDEX CONCURRENTLY IF NOT EXISTS t_a ON t (a)', []],
    ['CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS t_a ON t (a)', []],
    ['CREATE INDEX CONCURRENTLY t_a ON t (a)', ['no-transaction-shape']],
    [
      'CREATE INDEX CONCURRENTLY IF NOT EXISTS t_a ON t (a); CREATE INDEX CONCURRENTLY IF NOT EXISTS t_b ON t (id, a)',
      ['no-transaction-shape'],
    ],
  ] as const)(`%s (${NO_TRANSACTION}) breaks %j`, (sql, rules) => {
    expect(rulesBroken(sql, false)).toEqual(rules);
  });

  it('runs a file in a transaction unless it is marked', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rosetta-migrations-'));
    try {
      await writeFile(join(dir, '0001_table.sql'), 'CREATE TABLE t (id bigint);\n');
      await writeFile(
        join(dir, '0002_index.sql'),
        `${NO_TRANSACTION}\nCREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (id);\n`,
      );
      await writeFile(join(dir, 'notes.txt'), 'not a migration');
      const loaded = await loadMigrations(dir);
      expect(loaded.map(({ version, name, transactional }) => ({ version, name, transactional }))).toEqual([
        { version: 1, name: 'table', transactional: true },
        { version: 2, name: 'index', transactional: false },
      ]);
    } finally {
      await rm(dir, { recursive: true });
    }
  });
});
