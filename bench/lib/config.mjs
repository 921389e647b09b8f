// Settings of one benchmark run, read once from the environment.
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BENCH_DIR = join(ROOT, 'bench');
export const RESULTS_DIR = join(BENCH_DIR, 'results');
export const DOC_PATH = join(ROOT, 'docs', 'benchmarks.md');

/** Every workload, in the order one round runs them. */
// The export runs before list and put: those leave the gateway's heap grown (64 responses of
// 1.3 MB in flight), which would be charged to the stream otherwise.
// The DVID range streams with the other streams, its GETs follow hot-get, its ingest the OpenFn
// upserts. The GraphQL queries follow hot-get, the REST read they are compared with. Each peer
// and raw limit runs right after what it is compared with where it can (etcd's range after
// hot-get, its put after put, the raw COPY after the batch upsert); pgbench and redis-benchmark
// run together after the peers. The all-in-one mix follows the workloads it mixes. The change-feed lag follows put (its 10 ms variant restarts the
// worker twice, so it is opt-in).
// The bulk delete comes after them: it seeds a million records, and the worker relays its million
// change events after it. The snapshots follow: a million records are seeded before the first
// export, each restore writes a million more (and the relay publishes their events after it), and
// the download reads the export's object. The telemetry settings start gateway + api pairs of
// their own (the cluster above sits idle meanwhile), before the bulk delete's million events.
export const WORKLOADS = [
  'node-http',
  'express',
  'export',
  'openfn-list',
  'dvid-range',
  'hot-get',
  'hot-get-cluster',
  'peer-etcd-range',
  'graphql-get',
  'graphql-page',
  'dvid-version-get',
  'list',
  'put',
  'peer-etcd-put',
  'feed-lag',
  'feed-lag-10ms',
  'openfn-upsert',
  'dvid-ingest',
  'batch-upsert',
  'pg-copy',
  'kopano-get',
  'rivet-get',
  'prosody-get',
  'prosody-put',
  'peer-prosody-get',
  'peer-prosody-put',
  'all-in-one',
  'pgbench',
  'pgbench-select',
  'redis-get',
  'redis-set',
  'telemetry-off',
  'telemetry-metrics',
  'telemetry-traces',
  'bulk-delete',
  'snapshot-export',
  'snapshot-restore',
  'snapshot-download',
  'openfn-list-1m',
];
/** Workloads run only when BENCH_ONLY names them (they take minutes). */
export const OPT_IN_WORKLOADS = ['openfn-list-1m', 'feed-lag-10ms'];
/** The OpenFn collections workloads: bulk upserts and whole streamed listings. */
export const OPENFN_WORKLOADS = ['openfn-list', 'openfn-upsert', 'openfn-list-1m'];
/** Items of the 1M listing. */
export const OPENFN_MILLION = 1_000_000;
/** The DVID keyvalue workloads: protobuf batch ingest, GETs at the root and at a deep leaf, a streamed range. */
export const DVID_WORKLOADS = ['dvid-ingest', 'dvid-version-get', 'dvid-range'];
/** The GraphQL workloads: one record, and a connection page of GRAPHQL_PAGE records, through POST /graphql. */
export const GRAPHQL_WORKLOADS = ['graphql-get', 'graphql-page'];
/** The legacy dialects' workloads, and the real peers they are compared with. */
export const DIALECT_WORKLOADS = ['kopano-get', 'rivet-get', 'prosody-get', 'prosody-put'];
export const PROSODY_PEER_WORKLOADS = ['peer-prosody-get', 'peer-prosody-put'];
/** A single-node etcd 3.4 through its v3 JSON gateway: a linearizable range of one key, puts of new keys. */
export const ETCD_PEER_WORKLOADS = ['peer-etcd-range', 'peer-etcd-put'];
/** Every workload against a peer of ../shared/peers (the alias `peers`). */
export const PEER_WORKLOADS = [...ETCD_PEER_WORKLOADS, ...PROSODY_PEER_WORKLOADS];
/** The raw limits of the backends: Postgres through pgbench, Redis through redis-benchmark. */
export const REDIS_LIMIT_WORKLOADS = ['redis-get', 'redis-set'];
export const LIMIT_WORKLOADS = ['pgbench', 'pgbench-select', ...REDIS_LIMIT_WORKLOADS, 'pg-copy'];
/** pgbench -S reads the accounts of `pgbench -i -s PGBENCH_SELECT_SCALE` in a database of its own. */
export const PGBENCH_SELECT_DB_NAME = 'rosetta_bench_pgs';
export const PGBENCH_SELECT_SCALE = 10;
/**
 * The change-feed lag: PUTs at BENCH_FEED_RATE per second, each key's `change` event timed on an
 * SSE reader; with the worker's relay at its interval, and restarted with RELAY_INTERVAL_MS=10.
 */
export const FEED_WORKLOADS = ['feed-lag', 'feed-lag-10ms'];
/**
 * The snapshot workloads, in this order in a round: a snapshot of BENCH_SNAPSHOT_RECORDS records
 * taken, then restored into a new collection, then its object downloaded through the gateway.
 */
export const SNAPSHOT_WORKLOADS = ['snapshot-export', 'snapshot-restore', 'snapshot-download'];
/**
 * The cost of telemetry: the hot GET against a gateway + api pair started afresh for each run,
 * with telemetry off (OTEL_SDK_DISABLED=true), with metrics only (the default, /metrics scraped
 * every second), and with metrics and traces exported over OTLP to a sink in the bench process
 * (bench/lib/telemetry.mjs). The pairs share a database of their own, not the cluster's.
 */
export const TELEMETRY_WORKLOADS = ['telemetry-off', 'telemetry-metrics', 'telemetry-traces'];
export const TELEMETRY_DB_NAME = 'rosetta_bench_telemetry';
/** Workloads that need the api/gateway(/worker) cluster. */
export const CLUSTER_WORKLOADS = new Set([
  'hot-get',
  'hot-get-cluster',
  'list',
  'export',
  'put',
  ...DIALECT_WORKLOADS,
  ...OPENFN_WORKLOADS,
  ...DVID_WORKLOADS,
  ...GRAPHQL_WORKLOADS,
  ...FEED_WORKLOADS,
  'bulk-delete',
  ...SNAPSHOT_WORKLOADS,
  'batch-upsert',
  'all-in-one',
]);
const ALIASES = {
  anchors: ['node-http', 'express'],
  cluster: ['hot-get', 'list', 'export', 'put'],
  dialects: DIALECT_WORKLOADS,
  prosody: ['prosody-get', 'prosody-put', ...PROSODY_PEER_WORKLOADS],
  peers: PEER_WORKLOADS,
  limits: LIMIT_WORKLOADS,
  openfn: ['openfn-upsert', 'openfn-list'],
  dvid: DVID_WORKLOADS,
  // The GraphQL target is a share of the REST hot GET measured in the same run.
  graphql: ['hot-get', ...GRAPHQL_WORKLOADS],
  // Both relay intervals, one after the other in each round.
  feed: FEED_WORKLOADS,
  // Its hot-GET target is read against the hot GET without a delete, measured in the same run.
  'bulk-delete': ['hot-get', 'bulk-delete'],
  // The restore and the download use the snapshot the export took in the same round.
  snapshot: SNAPSHOT_WORKLOADS,
  // Off, metrics only, metrics and traces: each run on a gateway + api pair of its own.
  telemetry: TELEMETRY_WORKLOADS,
  // Issue 10: every workload its targets and its table name, with the peers and raw limits.
  issue10: [
    'node-http',
    'express',
    'export',
    'openfn-list',
    'hot-get',
    'hot-get-cluster',
    'graphql-get',
    'dvid-version-get',
    'list',
    'put',
    'batch-upsert',
    'kopano-get',
    'rivet-get',
    'prosody-get',
    'prosody-put',
    ...PEER_WORKLOADS,
    ...LIMIT_WORKLOADS,
    'all-in-one',
  ],
};

// Always local: the load and the backends stay on 127.0.0.1. The ports can move (for testing).
export const PG = { host: '127.0.0.1', port: Number(process.env.BENCH_PG_PORT ?? 5432), user: 'postgres' };
export const REDIS_URL = `redis://127.0.0.1:${Number(process.env.BENCH_REDIS_PORT ?? 6379)}`;
export const DB_NAME = 'rosetta_bench';
/** The cluster runs with authentication: every request carries the admin's token (ROSETTA_ADMIN_TOKEN). */
export const BENCH_TOKEN = 'rst_bench-admin-token-0123456789';
export const BENCH_INTERNAL_SECRET = 'bench-internal-secret-0123456789abcdef';
export const AUTH_HEADERS = { authorization: `Bearer ${BENCH_TOKEN}` };
/** Kopano's JWTs are signed with this shared secret (the api's JWT_SECRET in the bench). */
export const BENCH_JWT_SECRET = 'bench-jwt-secret-0123456789abcdef0123456789';
/** The account the Rivet and Prosody workloads log in as. */
export const BENCH_USER = { name: 'bench', host: 'localhost', password: 'bench-password-0123' };
/** Where the peers' scripts are (../shared/peers: prosody.sh, etcd.sh). */
export const PEERS_DIR = process.env.BENCH_PEERS_DIR ?? join(ROOT, '..', 'shared', 'peers');
/** The real Prosody 0.12 of ../shared/peers/prosody.sh, and its test account. */
export const PEER_PROSODY = {
  url: `http://127.0.0.1:${Number(process.env.PROSODY_HTTP_PORT ?? 5280)}`,
  login: 'test@localhost',
  password: 'testpass',
  script: PEERS_DIR,
};
/** The single-node etcd of ../shared/peers/etcd.sh, and the pid file its script keeps. */
export const PEER_ETCD = {
  url: `http://127.0.0.1:${Number(process.env.ETCD_CLIENT_PORT ?? 2379)}`,
  pidFile: join(process.env.PEERS_RUN_DIR ?? '/tmp/kv-peers', 'etcd', 'etcd.pid'),
};
export const PGBENCH_DB_NAME = 'rosetta_bench_pg';
export const SPACE = 'default';
export const HOT_COLLECTION = 'bench';
export const EXPORT_COLLECTION = 'export';
export const VALUE_BYTES = 1024;
export const LIST_RECORDS = 1000;
export const EXPORT_BATCH = 1000;
/**
 * GraphQL: a 1 KiB text record beside the hot one in collection `bench` (the hot record is
 * application/octet-stream, whose `value` GraphQL answers as null), and a collection of
 * GRAPHQL_RECORDS text records of 1 KiB whose first GRAPHQL_PAGE make the page.
 */
export const GRAPHQL_HOT_KEY = 'graphql-hot';
export const GRAPHQL_COLLECTION = 'graphql';
export const GRAPHQL_RECORDS = 1000;
export const GRAPHQL_PAGE = 100;

function positiveInt(name, fallback, { min = 1, max = Number.MAX_SAFE_INTEGER } = {}) {
  const text = process.env[name];
  if (text === undefined || text.trim() === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer between ${min} and ${max} (got "${text}")`);
  }
  return value;
}

/** Workloads named on the command line (`npm run bench -- dvid-ingest`) or in BENCH_ONLY. */
function selectedWorkloads() {
  const cli = process.argv.slice(2).join(',');
  const text = cli === '' ? process.env.BENCH_ONLY : cli;
  if (text === undefined || text.trim() === '') return WORKLOADS.filter((w) => !OPT_IN_WORKLOADS.includes(w));
  const wanted = new Set();
  for (const raw of text.split(',')) {
    const name = raw.trim();
    if (name === '') continue;
    const names = ALIASES[name] ?? [name];
    for (const n of names) {
      if (!WORKLOADS.includes(n)) {
        throw new Error(
          `unknown workload "${name}"; choose from ${[...new Set([...WORKLOADS, ...Object.keys(ALIASES)])].join(', ')}`,
        );
      }
      wanted.add(n);
    }
  }
  return WORKLOADS.filter((w) => wanted.has(w));
}

export function loadSettings() {
  const workloads = selectedWorkloads();
  return {
    duration: positiveInt('BENCH_DURATION', 10, { max: 3600 }),
    runs: positiveInt('BENCH_RUNS', 3, { max: 50 }),
    connections: positiveInt('BENCH_CONNECTIONS', 64, { max: 10_000 }),
    threads: positiveInt('BENCH_THREADS', Math.min(2, availableParallelism()), { max: 64 }),
    warmup: positiveInt('BENCH_WARMUP', 2, { min: 0, max: 600 }),
    exportRecords: positiveInt('BENCH_EXPORT_RECORDS', 100_000, { max: 10_000_000 }),
    openfnItems: positiveInt('BENCH_OPENFN_ITEMS', 100_000, { max: 10_000_000 }),
    /** Records of each batch-upsert run through POST …/batch, and rows of each pg-copy run. */
    batchRecords: positiveInt('BENCH_BATCH_RECORDS', 100_000, { max: 9_999_999 }),
    /** Records of each DVID ingest run and of the read instance, and the depth of the leaf. */
    dvid: {
      records: positiveInt('BENCH_DVID_RECORDS', 100_000, { max: 9_999_999 }),
      versions: positiveInt('BENCH_DVID_VERSIONS', 100, { max: 10_000 }),
    },
    /** PUTs per second of the change-feed lag workloads. */
    feedRate: positiveInt('BENCH_FEED_RATE', 2000, { max: 100_000 }),
    /** Records the bulk-delete job deletes (under `bulk/`), seeded anew each run. */
    bulkRecords: positiveInt('BENCH_BULK_RECORDS', 1_000_000, { max: 10_000_000 }),
    /** Records of the collection the snapshot workloads take, restore and download, seeded once. */
    snapshotRecords: positiveInt('BENCH_SNAPSHOT_RECORDS', 1_000_000, { max: 10_000_000 }),
    workloads,
    withWorker: process.env.BENCH_NO_WORKER !== '1',
    writeDocs: process.env.BENCH_WRITE_DOCS !== '0',
    /** Workload names given on the command line, for the record of the command. */
    cli: process.argv.slice(2),
    /** Diagnosis only: run gateway, api and worker under --cpu-prof (slower; figures not comparable). */
    cpuProf: process.env.BENCH_CPU_PROF === '1',
  };
}
