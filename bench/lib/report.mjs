// Turns the raw runs into medians, ratios, PASS/MISS verdicts and Markdown.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import {
  DVID_WORKLOADS,
  FEED_WORKLOADS,
  LIMIT_WORKLOADS,
  OPENFN_WORKLOADS,
  PEER_WORKLOADS,
  SNAPSHOT_WORKLOADS,
  TELEMETRY_WORKLOADS,
  WORKLOADS,
} from './config.mjs';

export const BEGIN = '<!-- bench:begin -->';
export const END = '<!-- bench:end -->';

export const LABELS = {
  'node-http': 'anchor: bare node:http, GET 1 KiB',
  express: 'anchor: bare Express 5 route, GET 1 KiB',
  'hot-get': 'hot GET through the gateway (its read lease; else the api and its cache)',
  'hot-get-cluster': 'hot GET through a gateway of one process per core (`GATEWAY_PROCESSES`), same api',
  list: 'list 1000 records (JSON, ~1.3 MB/response)',
  put: 'durable PUT 1 KiB, distinct keys',
  pgbench: 'raw Postgres upsert 1 KiB (pgbench)',
  'pgbench-select': 'raw Postgres single-row read (pgbench -S, prepared)',
  'all-in-one': 'all-in-one: hot GET, PUT, GraphQL, Kopano, Rivet, Prosody GETs and lists mixed, one wrk run',
  'redis-get': 'raw Redis GET 1 KiB (redis-benchmark)',
  'redis-set': 'raw Redis SET 1 KiB (redis-benchmark)',
  export: 'NDJSON export, 100k records',
  'kopano-get': 'Kopano kvs GET `?raw=1` 1 KiB (JWT)',
  'rivet-get': 'Rivet GET 1 KiB (session)',
  'prosody-get': 'Prosody data_access GET, 1 KiB JSON (Basic)',
  'prosody-put': 'Prosody data_access PUT, 1 KiB JSON (Basic)',
  'peer-prosody-get': 'peer: Prosody 0.12 GET, same document',
  'peer-prosody-put': 'peer: Prosody 0.12 PUT, same document',
  'peer-etcd-range': 'peer: etcd 3.4 range of one key (1 KiB value, linearizable), v3 JSON gateway',
  'peer-etcd-put': 'peer: etcd 3.4 put of distinct keys, 1 KiB values, v3 JSON gateway',
  'openfn-upsert': 'OpenFn upsert, POSTs of 1000 items of ~256 B, 4 in flight',
  'openfn-list': 'OpenFn listing of the whole collection, one GET',
  'openfn-list-1m': 'OpenFn listing of 1,000,000 items, one GET',
  'dvid-ingest': 'DVID ingest, protobuf POSTs of 1000 × 1 KiB, 4 in flight',
  'batch-upsert': 'batch upsert through `POST …/batch`, 1000 × 1 KiB a POST, 4 in flight',
  'pg-copy': 'raw Postgres `COPY … FROM STDIN` of the same rows into a new table',
  'dvid-version-get': 'DVID GET of a random 1 KiB key',
  'dvid-range': 'DVID keyrangevalues (protobuf) of every key at the leaf, one GET',
  'graphql-get': 'GraphQL `record` query, one 1 KiB record (POST /graphql)',
  'graphql-page': 'GraphQL `records(first: 100)` connection page, 100 × 1 KiB',
  'feed-lag': 'change-feed lag: PUT 1 KiB answered → its SSE `change` event',
  'feed-lag-10ms': 'change-feed lag, worker restarted with RELAY_INTERVAL_MS=10',
  'bulk-delete': 'bulk delete job over `bulk/`, 1 KiB records, hot GET load meanwhile',
  'snapshot-export': 'snapshot job: the collection to a gzipped NDJSON object',
  'snapshot-restore': 'restore job of that snapshot into a new collection (write, verify)',
  'snapshot-download': 'download of the snapshot object through the gateway',
  'telemetry-off': '(1) telemetry off: `OTEL_SDK_DISABLED=true`',
  'telemetry-metrics': '(2) metrics only (no `OTEL_*`), /metrics scraped every second',
  'telemetry-traces': '(3) metrics + traces over OTLP to a sink, /metrics scraped every second',
};

/** The batch writes and their raw limit: a table of their own. */
const BATCH_WORKLOADS = ['batch-upsert', 'pg-copy'];
/** The rows of the HTTP table, in the order a round runs them; the anchors and peers do not go through the cluster. */
const HTTP_ROWS = WORKLOADS.filter(
  (w) =>
    w !== 'export' &&
    w !== 'bulk-delete' &&
    !BATCH_WORKLOADS.includes(w) &&
    !OPENFN_WORKLOADS.includes(w) &&
    !FEED_WORKLOADS.includes(w) &&
    !SNAPSHOT_WORKLOADS.includes(w) &&
    !TELEMETRY_WORKLOADS.includes(w),
);
const OUTSIDE_CLUSTER = new Set(['node-http', 'express', ...LIMIT_WORKLOADS, ...PEER_WORKLOADS]);
/** Rosetta's Prosody dialect must serve at least this many times a real Prosody's throughput. */
const PROSODY_FACTOR = 10;
/**
 * Issue 10, ahead of the peers: the hot GET through a gateway of one process per core against
 * etcd's range, the one-process hot GET against Express (and its p99), the durable PUT against
 * etcd's put, the batch upsert against a raw COPY, and the gateway's and api's peak RSS.
 */
const AHEAD = {
  hotVsEtcd: 1.5,
  hotVsExpress: 0.7,
  hotP99Ms: 10,
  putVsEtcd: 1.0,
  batchVsCopy: 0.3,
  rssLimit: 250 * 1e6,
};

export function median(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

function max(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x));
  return v.length ? Math.max(...v) : undefined;
}

const METRICS = [
  'rps',
  'p50Ms',
  'p75Ms',
  'p90Ms',
  'p99Ms',
  'p999Ms',
  'maxMs',
  'meanMs',
  'mbps',
  'records',
  'bytes',
  'recordsPerSecond',
  'mbPerSecond',
  'ttfbMs',
  'headersMs',
  'totalMs',
  'items',
  'itemsPerSecond',
  'rootRps',
  'rootP50Ms',
  'rootP99Ms',
  'leafVsRoot',
  // the change-feed lag workloads
  'rate',
  'relayIntervalMs',
  'scheduled',
  'sent',
  'acked',
  'writesPerSecond',
  'events',
  'late',
  'maxSlipMs',
  'early',
  'published',
  'beforePublish',
  'beforeRelayShare',
  'lagP50Ms',
  'lagP90Ms',
  'lagP99Ms',
  'lagMaxMs',
  'relayP50Ms',
  'relayP90Ms',
  'relayP99Ms',
  'relayMaxMs',
  'afterRelayP50Ms',
  'afterRelayP99Ms',
  'putP50Ms',
  'putP99Ms',
  // the bulk delete (records, recordsPerSecond and events above)
  'jobMs',
  'queuedMs',
  'clientRecordsPerSecond',
  'clientMs',
  'postMs',
  'relayMs',
  'seedMs',
  'hotRps',
  'hotP50Ms',
  'hotP99Ms',
  // the snapshots (and the job figures above)
  'dataBytes',
  'objectMbPerSecond',
  // the telemetry settings: the access log, the scrapes of /metrics, what reached the OTLP sink
  'warmRequests',
  'accessLines',
  'accessLinesPerRequest',
  'gatewayScrapes',
  'gatewayScrapesOk',
  'gatewayScrapeStatus',
  'gatewayScrapeBytes',
  'gatewayScrapeP50Ms',
  'gatewayScrapeMaxMs',
  'apiScrapes',
  'apiScrapesOk',
  'apiScrapeStatus',
  'apiScrapeBytes',
  'apiScrapeP50Ms',
  'apiScrapeMaxMs',
  'traceRequests',
  'traceBytes',
  'spans',
  'spansPerRequest',
  'gatewaySpansPerRequest',
  'apiSpansPerRequest',
  'spansUndecoded',
  'spansAfterShutdown',
  'metricRequests',
  'metricBytes',
];
/** Counts of the change-feed lag workloads that are added up over the runs, not medians. */
const FEED_SUMS = ['missing', 'missed', 'duplicates'];

/** Medians of every metric over the successful runs (peak RSS too; peakRssMax keeps the highest). */
export function summarize(runs, name = '') {
  const ok = runs.filter((r) => r.error === undefined);
  const out = { name, runs: runs.length, ok: ok.length, errors: runs.filter((r) => r.error).map((r) => r.error) };
  if (ok.length === 0) return out;
  for (const m of METRICS) {
    const v = median(ok.map((r) => r[m]));
    if (v !== undefined) out[m] = v;
  }
  out.non2xx = ok.reduce((a, r) => a + (r.non2xx ?? 0), 0);
  out.socketErrors = ok.reduce((a, r) => a + (r.socketErrors ?? 0), 0);
  out.timeouts = ok.reduce((a, r) => a + (r.timeouts ?? 0), 0);
  out.complete = ok.every((r) => r.complete !== false);
  if (ok.some((r) => r.lagP99Ms !== undefined || r.acked !== undefined)) {
    for (const m of FEED_SUMS) out[m] = ok.reduce((a, r) => a + (r[m] ?? 0), 0);
    out.lagP99PerRun = ok.map((r) => r.lagP99Ms);
    out.writesPerSecondPerRun = ok.map((r) => r.writesPerSecond);
  }
  if (ok.some((r) => r.hotP99Ms !== undefined)) {
    out.recordsPerSecondPerRun = ok.map((r) => r.recordsPerSecond);
    out.hotP99PerRun = ok.map((r) => r.hotP99Ms);
  }
  out.peakRss = {};
  out.startRss = {};
  out.cpu = {};
  const names = new Set(ok.flatMap((r) => Object.keys(r.peakRss ?? {})));
  out.gatewayPeakRssPerRun = ok.map((r) => r.peakRss?.gateway);
  out.peakRssMax = {};
  for (const n of names) {
    out.peakRss[n] = median(ok.map((r) => r.peakRss?.[n]));
    out.peakRssMax[n] = max(ok.map((r) => r.peakRss?.[n]));
  }
  const starts = new Set(ok.flatMap((r) => Object.keys(r.startRss ?? {})));
  for (const n of starts) out.startRss[n] = median(ok.map((r) => r.startRss?.[n]));
  const groups = new Set(ok.flatMap((r) => Object.keys(r.cpu ?? {})));
  for (const g of groups) out.cpu[g] = median(ok.map((r) => r.cpu?.[g]));
  // dvid-version-get measures the root in a window of its own.
  if (ok.some((r) => r.rootCpu !== undefined)) {
    out.rootCpu = {};
    out.rootPeakRss = {};
    for (const g of new Set(ok.flatMap((r) => Object.keys(r.rootCpu ?? {}))))
      out.rootCpu[g] = median(ok.map((r) => r.rootCpu?.[g]));
    for (const n of new Set(ok.flatMap((r) => Object.keys(r.rootPeakRss ?? {}))))
      out.rootPeakRss[n] = median(ok.map((r) => r.rootPeakRss?.[n]));
  }
  return out;
}

const STREAM_RSS_LIMIT = 200 * 1e6;
/** OpenFn: bulk upserts must reach this many items per second; listings stay under this RSS and start this fast. */
const OPENFN_UPSERT_TARGET = 20_000;
const OPENFN_RSS_LIMIT = 250 * 1e6;
const OPENFN_FIRST_BYTE_MS = 100;
/** DVID: batch ingest throughput, GETs at the leaf of 100 versions against GETs at the root, flat range reads. */
const DVID_INGEST_TARGET = 20_000;
const DVID_LEAF_VS_ROOT = 0.5;
const DVID_RSS_LIMIT = 250 * 1e6;
/** GraphQL: the one-record query must keep at least this share of the REST hot GET's throughput. */
const GRAPHQL_VS_HOT = 0.5;
/** The change-feed issue: lag from a PUT's answer to its SSE event, p99 under this, at this rate. */
const FEED_LAG_P99_MS = 50;
const FEED_TARGET_RATE = 2000;
/** The bulk-delete issue: the job's rate, and the hot GET's p99 while it runs. */
const BULK_DELETE_TARGET = 100_000;
const BULK_HOT_P99_MS = 20;
/** The snapshot issue: the worker's peak RSS while it exports a collection, and while it restores one. */
const SNAPSHOT_WORKER_RSS_LIMIT = 300 * 1e6;
/** The observability issue: hot GET throughput with metrics and traces on ≥ this share of it with telemetry off. */
const TELEMETRY_VS_OFF = 0.85;
/** "other" CPU (processes outside the benchmark, kernel threads) above which a row is flagged. */
export const DISTURBED_CPU_PCT = 30;

/** The ratios the issue asks for, from figures of this one invocation. */
export function ratios(summary, rounds) {
  const s = (w) => summary[w];
  const ratio = (a, b) => (a !== undefined && b !== undefined && b > 0 ? a / b : undefined);
  const perRun = (a, b, field = 'rps') =>
    rounds
      .map((round) => ratio(round[a]?.[field], round[b]?.[field]))
      .filter((x) => x !== undefined)
      .map((x) => Math.round(x * 1000) / 1000);
  const hot = s('hot-get');
  const out = {
    hotVsExpress: { value: ratio(hot?.rps, s('express')?.rps), perRun: perRun('hot-get', 'express') },
    hotVsNode: { value: ratio(hot?.rps, s('node-http')?.rps), perRun: perRun('hot-get', 'node-http') },
    putVsPgbench: { value: ratio(s('put')?.rps, s('pgbench')?.rps), perRun: perRun('put', 'pgbench') },
    hotVsEtcd: { value: ratio(hot?.rps, s('peer-etcd-range')?.rps), perRun: perRun('hot-get', 'peer-etcd-range') },
    hotClusterVsEtcd: {
      value: ratio(s('hot-get-cluster')?.rps, s('peer-etcd-range')?.rps),
      perRun: perRun('hot-get-cluster', 'peer-etcd-range'),
    },
    hotClusterVsHot: {
      value: ratio(s('hot-get-cluster')?.rps, hot?.rps),
      perRun: perRun('hot-get-cluster', 'hot-get'),
    },
    hotVsPgSelect: {
      value: ratio(hot?.rps, s('pgbench-select')?.rps),
      perRun: perRun('hot-get', 'pgbench-select'),
    },
    hotVsRedisGet: { value: ratio(hot?.rps, s('redis-get')?.rps), perRun: perRun('hot-get', 'redis-get') },
    putVsRedisSet: { value: ratio(s('put')?.rps, s('redis-set')?.rps), perRun: perRun('put', 'redis-set') },
    putVsEtcd: { value: ratio(s('put')?.rps, s('peer-etcd-put')?.rps), perRun: perRun('put', 'peer-etcd-put') },
    batchVsCopy: {
      value: ratio(s('batch-upsert')?.recordsPerSecond, s('pg-copy')?.recordsPerSecond),
      perRun: perRun('batch-upsert', 'pg-copy', 'recordsPerSecond'),
    },
    streamRssVsLimit: { value: ratio(s('export')?.peakRss?.gateway, STREAM_RSS_LIMIT) },
    prosodyGetVsPeer: {
      value: ratio(s('prosody-get')?.rps, s('peer-prosody-get')?.rps),
      perRun: perRun('prosody-get', 'peer-prosody-get'),
    },
    prosodyPutVsPeer: {
      value: ratio(s('prosody-put')?.rps, s('peer-prosody-put')?.rps),
      perRun: perRun('prosody-put', 'peer-prosody-put'),
    },
    graphqlVsHot: { value: ratio(s('graphql-get')?.rps, hot?.rps), perRun: perRun('graphql-get', 'hot-get') },
    dvidLeafVsRoot: {
      value: ratio(s('dvid-version-get')?.rps, s('dvid-version-get')?.rootRps),
      perRun: rounds
        .map((round) => round['dvid-version-get']?.leafVsRoot)
        .filter((x) => typeof x === 'number' && Number.isFinite(x))
        .map((x) => Math.round(x * 1000) / 1000),
    },
    telemetryMetricsVsOff: {
      value: ratio(s('telemetry-metrics')?.rps, s('telemetry-off')?.rps),
      perRun: perRun('telemetry-metrics', 'telemetry-off'),
    },
    telemetryTracesVsOff: {
      value: ratio(s('telemetry-traces')?.rps, s('telemetry-off')?.rps),
      perRun: perRun('telemetry-traces', 'telemetry-off'),
    },
  };
  return out;
}

/** "2 of 3 runs failed" when some runs of the workloads failed, else ''. */
function failedRuns(...workloads) {
  return workloads
    .filter((s) => s !== undefined && s.ok < s.runs)
    .map((s) => `${s.runs - s.ok} of ${s.runs} ${s.name} runs failed`)
    .join('; ');
}

/** PASS needs the figure and every run of the workloads involved to have succeeded. */
const verdict = (ok, failures) => (ok === undefined ? 'n/a' : ok && failures === '' ? 'PASS' : 'MISS');
/** The failed runs, after a figure. */
const note = (failures) => (failures === '' ? '' : ` (${failures})`);

/** The targets of issue 10 (ahead of the peers, side by side): ratios to the peers and raw limits of the same run, and memory. */
function aheadTargets(summary, r, hwm, largest) {
  const hot = summary['hot-get'];
  const cluster = summary['hot-get-cluster'];
  const range = summary['peer-etcd-range'];
  const put = summary.put;
  const etcdPut = summary['peer-etcd-put'];
  const upsert = summary['batch-upsert'];
  const copy = summary['pg-copy'];
  const ratioRow = (target, x, failures, text, ok) => ({
    target,
    measured: x === undefined ? `not measured${note(failures)}` : `${text()}${note(failures)}`,
    result: verdict(x === undefined ? undefined : ok(x), failures),
  });
  const times = (x) => `${num(x.value, 2)}× (runs ${x.perRun.map((v) => `${num(v, 2)}×`).join(', ')})`;
  const clusterFailures = failedRuns(cluster, range);
  const hotFailures = failedRuns(hot, summary.express);
  const putFailures = failedRuns(put, etcdPut);
  const batchFailures = failedRuns(upsert, copy);
  const { gateway, api } = hwm ?? {};
  return [
    ratioRow(
      `hot GET through the gateway of one process per core (\`GATEWAY_PROCESSES\`) ≥ ${AHEAD.hotVsEtcd}× etcd's range, same run`,
      r.hotClusterVsEtcd.value,
      clusterFailures,
      () =>
        `${times(r.hotClusterVsEtcd)}: ${num(cluster.rps)} against ${num(range.rps)} req/s; p99 ${ms(cluster.p99Ms)} against ${ms(range.p99Ms)}`,
      (x) => x >= AHEAD.hotVsEtcd && cluster.non2xx === 0,
    ),
    ratioRow(
      `hot GET (one gateway process) ≥ ${num(AHEAD.hotVsExpress * 100)}% of the bare Express route, p99 < ${AHEAD.hotP99Ms} ms`,
      r.hotVsExpress.value === undefined || hot?.p99Ms === undefined ? undefined : r.hotVsExpress.value,
      hotFailures,
      () =>
        `${pct(r.hotVsExpress.value)} of Express (${num(hot.rps)} against ${num(summary.express.rps)} req/s), p99 ${ms(hot.p99Ms)}`,
      (x) => x >= AHEAD.hotVsExpress && hot.p99Ms < AHEAD.hotP99Ms && hot.non2xx === 0,
    ),
    ratioRow(
      `durable PUT of distinct keys ≥ ${num(AHEAD.putVsEtcd, 1)}× etcd's put, same run`,
      r.putVsEtcd.value,
      putFailures,
      () =>
        `${times(r.putVsEtcd)}: ${num(put.rps)} against ${num(etcdPut.rps)} req/s; p99 ${ms(put.p99Ms)} against ${ms(etcdPut.p99Ms)}`,
      (x) => x >= AHEAD.putVsEtcd && put.non2xx === 0 && etcdPut.non2xx === 0,
    ),
    prosodyTarget(summary, r),
    ratioRow(
      `batch upsert of ${num(upsert?.records ?? 100_000)} records ≥ ${num(AHEAD.batchVsCopy * 100)}% of a raw COPY of the same rows into Postgres`,
      r.batchVsCopy.value,
      batchFailures,
      () =>
        `${pct(r.batchVsCopy.value)} (runs ${r.batchVsCopy.perRun.map((v) => pct(v)).join(', ')}): ` +
        `${num(upsert.recordsPerSecond)} against ${num(copy.recordsPerSecond)} records/s`,
      (x) => x >= AHEAD.batchVsCopy,
    ),
    {
      target:
        `peak RSS of the gateway and of the api each < ${mb(AHEAD.rssLimit)} through the whole suite (VmHWM at the end; ` +
        'each process of the gateway of one process per core too)',
      measured:
        gateway === undefined || api === undefined
          ? 'not measured'
          : `gateway ${mb(gateway)}, api ${mb(api)}` +
            (largest === undefined
              ? ''
              : `; the gateway of one process per core: ${mb(hwm['gateway-cluster'])} summed over its processes, the largest ${mb(largest)}`),
      result: verdict(
        gateway === undefined || api === undefined
          ? undefined
          : gateway < AHEAD.rssLimit && api < AHEAD.rssLimit && (largest ?? 0) < AHEAD.rssLimit,
        '',
      ),
    },
  ];
}

/** The Prosody dialect against a real Prosody: issue 10 keeps the dialects issue's target. */
function prosodyTarget(summary, r) {
  const prosodyFailures = failedRuns(
    summary['prosody-get'],
    summary['peer-prosody-get'],
    summary['prosody-put'],
    summary['peer-prosody-put'],
  );
  const { prosodyGetVsPeer: pg, prosodyPutVsPeer: pp } = r;
  const prosodyOk =
    pg.value === undefined || pp.value === undefined
      ? undefined
      : pg.value >= PROSODY_FACTOR && pp.value >= PROSODY_FACTOR;
  return {
    target: `Prosody dialect GET and PUT ≥ ${PROSODY_FACTOR}× a real Prosody 0.12, same concurrency`,
    measured:
      pg.value === undefined || pp.value === undefined
        ? `not measured${note(prosodyFailures)}`
        : `GET ${num(pg.value, 1)}×, PUT ${num(pp.value, 1)}×${note(prosodyFailures)}`,
    result: verdict(prosodyOk, prosodyFailures),
  };
}

/** Every target of the issues, with what was measured and PASS, MISS or n/a: issue 10's first, then the earlier issues'. */
export function targets(summary, r, authCost, hwm, largestHwm) {
  const hot = summary['hot-get'];
  const exp = summary.export;
  const hotFailures = failedRuns(hot, summary.express);
  const putFailures = failedRuns(summary.put, summary.pgbench);
  const streamFailures = failedRuns(exp);
  const hotOk =
    r.hotVsExpress.value === undefined || hot?.p99Ms === undefined
      ? undefined
      : r.hotVsExpress.value >= 0.6 && hot.p99Ms < 15 && hot.non2xx === 0;
  const putOk =
    r.putVsPgbench.value === undefined ? undefined : r.putVsPgbench.value >= 0.5 && summary.put.non2xx === 0;
  const rss = exp?.peakRss?.gateway;
  const streamOk = rss === undefined ? undefined : rss < STREAM_RSS_LIMIT && exp.complete && exp.records >= 100_000;
  return [
    ...aheadTargets(summary, r, hwm, largestHwm),
    {
      target: 'hot GET ≥ 60% of the bare Express route, p99 < 15 ms',
      measured:
        r.hotVsExpress.value === undefined
          ? `not measured${note(hotFailures)}`
          : `${pct(r.hotVsExpress.value)} of Express, p99 ${ms(hot.p99Ms)}${note(hotFailures)}`,
      result: verdict(hotOk, hotFailures),
    },
    {
      target: 'durable PUT ≥ 50% of the raw pgbench upsert, same concurrency',
      measured:
        r.putVsPgbench.value === undefined
          ? `not measured${note(putFailures)}`
          : `${pct(r.putVsPgbench.value)} of pgbench${note(putFailures)}`,
      result: verdict(putOk, putFailures),
    },
    {
      target: 'stream 100k records with gateway RSS < 200 MB',
      measured:
        rss === undefined
          ? `not measured${note(streamFailures)}`
          : `gateway peak ${mb(rss)} (${pct(rss / STREAM_RSS_LIMIT)} of 200 MB; ${mb(exp.startRss.gateway)} when the stream began, ` +
            `${growth(rss, exp.startRss.gateway)} during it; runs: ${exp.gatewayPeakRssPerRun.map((x) => mb(x)).join(', ')}), ` +
            `${num(exp.records)} records${exp.complete ? '' : ', INCOMPLETE'}${note(streamFailures)}`,
      result: verdict(streamOk, streamFailures),
    },
    ...openFnTargets(summary),
    ...dvidTargets(summary, r),
    ...graphqlTargets(summary, r),
    ...feedTargets(summary),
    ...bulkDeleteTargets(summary),
    ...snapshotTargets(summary),
    ...telemetryTargets(summary, r),
    {
      target: 'authentication adds < 0.2 ms per request (cached principals)',
      measured:
        authCost === undefined
          ? 'not measured'
          : `${num(authCost.perRequestUs, 2)} µs per request in process (median of ${authCost.batches} × ${num(authCost.iterations)}; ` +
            `batches ${authCost.perBatchUs.map((x) => num(x, 2)).join(', ')} µs); every HTTP workload above authenticates`,
      result: verdict(authCost === undefined ? undefined : authCost.perRequestUs < 200, ''),
    },
  ];
}

/** The OpenFn issue's targets: upsert throughput, and flat, quick listings of 100k and 1M items. */
function openFnTargets(summary) {
  const up = summary['openfn-upsert'];
  const rows = [];
  if (up !== undefined) {
    const failures = failedRuns(up);
    rows.push({
      target: `OpenFn upsert in batches of 1000 ≥ ${num(OPENFN_UPSERT_TARGET)} items/s`,
      measured:
        up.itemsPerSecond === undefined
          ? `not measured${note(failures)}`
          : `${num(up.itemsPerSecond)} items/s${note(failures)}`,
      result: verdict(
        up.itemsPerSecond === undefined ? undefined : up.itemsPerSecond >= OPENFN_UPSERT_TARGET,
        failures,
      ),
    });
  }
  for (const w of ['openfn-list', 'openfn-list-1m']) {
    const s = summary[w];
    if (s === undefined) continue;
    const failures = failedRuns(s);
    const { gateway, api } = s.peakRss ?? {};
    const ok =
      s.ttfbMs === undefined
        ? undefined
        : s.ttfbMs < OPENFN_FIRST_BYTE_MS && gateway < OPENFN_RSS_LIMIT && api < OPENFN_RSS_LIMIT;
    rows.push({
      target: `OpenFn listing of ${num(s.items ?? 0)} items: first byte < ${OPENFN_FIRST_BYTE_MS} ms, gateway and api RSS < 250 MB each`,
      measured:
        s.ttfbMs === undefined
          ? `not measured${note(failures)}`
          : `first byte ${ms(s.ttfbMs)}; gateway ${mb(s.startRss.gateway)} → ${mb(gateway)}, api ${mb(s.startRss.api)} → ${mb(api)}${note(failures)}`,
      result: verdict(ok, failures),
    });
  }
  return rows;
}

/** The DVID issue's targets, for the workloads that ran. */
function dvidTargets(summary, r) {
  const rows = [];
  const ingest = summary['dvid-ingest'];
  if (ingest !== undefined) {
    const failures = failedRuns(ingest);
    const rate = ingest.recordsPerSecond;
    rows.push({
      target: `DVID ingest through protobuf POST /keyvalues in batches of 1000 × 1 KiB ≥ ${num(DVID_INGEST_TARGET)} records/s`,
      measured:
        rate === undefined
          ? `not measured${note(failures)}`
          : `${num(rate)} records/s, p50 ${ms(ingest.p50Ms)}, p99 ${ms(ingest.p99Ms)} per POST${note(failures)}`,
      result: verdict(rate === undefined ? undefined : rate >= DVID_INGEST_TARGET, failures),
    });
  }
  const gets = summary['dvid-version-get'];
  if (gets !== undefined) {
    const failures = failedRuns(gets);
    const x = r.dvidLeafVsRoot.value;
    rows.push({
      target: `DVID GET at the leaf of the version chain ≥ ${DVID_LEAF_VS_ROOT} × a GET at the root (within 2×)`,
      measured:
        x === undefined
          ? `not measured${note(failures)}`
          : `leaf ${num(gets.rps)} req/s (p99 ${ms(gets.p99Ms)}), root ${num(gets.rootRps)} req/s (p99 ${ms(gets.rootP99Ms)}): ` +
            `${num(x, 2)}×${note(failures)}`,
      result: verdict(x === undefined ? undefined : x >= DVID_LEAF_VS_ROOT && gets.non2xx === 0, failures),
    });
  }
  const range = summary['dvid-range'];
  if (range !== undefined) {
    const failures = failedRuns(range);
    const { gateway, api } = range.peakRss ?? {};
    rows.push({
      target: `DVID keyrangevalues of ${num(range.records ?? 0)} records at the leaf: gateway and api RSS < 250 MB each`,
      measured:
        range.ttfbMs === undefined
          ? `not measured${note(failures)}`
          : `gateway ${mb(range.startRss.gateway)} → ${mb(gateway)}, api ${mb(range.startRss.api)} → ${mb(api)}; ` +
            `${num(range.recordsPerSecond)} records/s, first byte ${ms(range.ttfbMs)}${note(failures)}`,
      result: verdict(
        gateway === undefined || api === undefined
          ? undefined
          : gateway < DVID_RSS_LIMIT && api < DVID_RSS_LIMIT && range.complete,
        failures,
      ),
    });
  }
  return rows;
}

/** The GraphQL issue's target, when its query ran: a share of the REST hot GET of the same run. */
function graphqlTargets(summary, r) {
  const gql = summary['graphql-get'];
  if (gql === undefined) return [];
  const hot = summary['hot-get'];
  const failures = failedRuns(gql, hot);
  const x = r.graphqlVsHot.value;
  return [
    {
      target: `GraphQL one-record query ≥ ${num(GRAPHQL_VS_HOT * 100)}% of the REST hot GET's throughput, same run`,
      measured:
        x === undefined
          ? `not measured${hot === undefined ? ' (hot-get did not run)' : ''}${note(failures)}`
          : `${pct(x)} of hot GET: ${num(gql.rps)} against ${num(hot.rps)} req/s, p50 ${ms(gql.p50Ms)}, p99 ${ms(gql.p99Ms)}${note(failures)}`,
      result: verdict(x === undefined ? undefined : x >= GRAPHQL_VS_HOT && gql.non2xx === 0, failures),
    },
  ];
}

/** The change-feed issue's target, for each lag workload that ran (the relay interval differs). */
function feedTargets(summary) {
  const rows = [];
  for (const w of FEED_WORKLOADS) {
    const s = summary[w];
    if (s === undefined) continue;
    const failures = failedRuns(s);
    const p99 = s.lagP99Ms;
    const errors = (s.non2xx ?? 0) + (s.socketErrors ?? 0);
    const relay = s.relayIntervalMs === undefined ? 'no worker' : `relay every ${num(s.relayIntervalMs)} ms`;
    rows.push({
      target: `change-feed lag (PUT answered → SSE \`change\`) p99 < ${FEED_LAG_P99_MS} ms at ≥ ${num(FEED_TARGET_RATE)} writes/s (${relay})`,
      measured:
        p99 === undefined
          ? `not measured${note(failures)}`
          : `p99 ${ms(p99)} (runs ${s.lagP99PerRun.map((x) => ms(x)).join(', ')}), p50 ${ms(s.lagP50Ms)}, max ${ms(s.lagMaxMs)}; ` +
            `${num(s.writesPerSecond)} writes/s (runs ${s.writesPerSecondPerRun.map((x) => num(x)).join(', ')})` +
            `${s.missed ? `, ${num(s.missed)} writes not sent in time` : ''}${errors ? `, ${num(errors)} PUTs failed` : ''}` +
            `${s.missing ? `, **${num(s.missing)} events missing**` : ', every acknowledged write delivered'}${note(failures)}`,
      result: verdict(
        p99 === undefined
          ? undefined
          : p99 < FEED_LAG_P99_MS && s.writesPerSecond >= FEED_TARGET_RATE && s.missing === 0 && errors === 0,
        failures,
      ),
    });
  }
  return rows;
}

/** The bulk-delete issue's targets, when it ran: the job's rate, and the hot GET's p99 beside it. */
function bulkDeleteTargets(summary) {
  const s = summary['bulk-delete'];
  if (s === undefined) return [];
  const failures = failedRuns(s);
  const hot = summary['hot-get'];
  const errors = (s.non2xx ?? 0) + (s.socketErrors ?? 0) + (s.timeouts ?? 0);
  const measured = (figure, text) =>
    figure === undefined ? `not measured${note(failures)}` : `${text}${note(failures)}`;
  return [
    {
      target: `bulk delete ≥ ${num(BULK_DELETE_TARGET)} records/s (the job's own started → finished)`,
      measured: measured(
        s.recordsPerSecond,
        `${num(s.recordsPerSecond)} records/s (runs ${s.recordsPerSecondPerRun?.map((x) => num(x)).join(', ')}): ` +
          `${num(s.records)} records in ${ms(s.jobMs)}; ${num(s.clientRecordsPerSecond)} records/s from the POST's answer ` +
          `to the poll that saw it succeeded (${ms(s.clientMs)}); nothing left under \`bulk/\`, every \`keep/\` record there`,
      ),
      result: verdict(
        s.recordsPerSecond === undefined ? undefined : s.recordsPerSecond >= BULK_DELETE_TARGET,
        failures,
      ),
    },
    {
      target: `hot GET p99 < ${BULK_HOT_P99_MS} ms during the bulk delete`,
      measured: measured(
        s.hotP99Ms,
        `p99 ${ms(s.hotP99Ms)} (runs ${s.hotP99PerRun?.map((x) => ms(x)).join(', ')}), p50 ${ms(s.hotP50Ms)}, ${num(s.hotRps)} req/s` +
          `${hot?.p99Ms === undefined ? '' : `; without a delete, same invocation: p99 ${ms(hot.p99Ms)}, ${num(hot.rps)} req/s`}` +
          `${errors ? `, ${num(errors)} GETs failed` : ''}`,
      ),
      result: verdict(s.hotP99Ms === undefined ? undefined : s.hotP99Ms < BULK_HOT_P99_MS && errors === 0, failures),
    },
  ];
}

/** The bulk-delete table: the job's rate, as the job and as a client saw it, and the hot GET beside it. */
function bulkDeleteTable(summary) {
  const s = summary['bulk-delete'];
  if (s === undefined) return [];
  const header = [
    'Bulk delete (job)',
    'runs ok',
    'records',
    'records/s (job)',
    'job time',
    'records/s (client)',
    'hot GET meanwhile',
    'hot GET p50 / p99',
    'relay caught up',
    'gateway RSS',
    'api RSS',
    'worker RSS',
  ];
  const row =
    s.ok === 0
      ? [
          LABELS['bulk-delete'],
          `0/${s.runs}`,
          s.errors[0]?.split('\n')[0] ?? 'not run',
          ...header.slice(3).map(() => ''),
        ]
      : [
          LABELS['bulk-delete'],
          `${s.ok}/${s.runs}`,
          num(s.records),
          num(s.recordsPerSecond),
          ms(s.jobMs),
          num(s.clientRecordsPerSecond),
          `${num(s.hotRps)} req/s`,
          `${ms(s.hotP50Ms)} / ${ms(s.hotP99Ms)}`,
          `${ms(s.relayMs)} after`,
          mb(s.peakRss.gateway),
          mb(s.peakRss.api),
          mb(s.peakRss.worker),
        ];
  return [
    table(header, [row]),
    '',
    'Job: from its first step to its last, by the job’s own `started` and `finished`. Client: from the answer of ' +
      '`POST …/delete-jobs` to the poll (every 100 ms) that saw it `succeeded`, which includes the wait for the worker ' +
      `to pick the job up (median ${ms(s.queuedMs)}); the POST itself took ${ms(s.postMs)} (it sizes the job: what ` +
      'matches, counted up to `JOB_EXACT_COUNT_LIMIT`, then estimated). ' +
      "The hot GET load (as `hot-get`) runs over the client's window, and RSS is the peak over it. " +
      'Relay caught up: from that poll until the worker’s relay cursor (in Redis) reached the job’s last change event, ' +
      'i.e. until live readers and webhooks could have seen every delete. Each run deletes in a collection of its own, ' +
      'seeded straight into Postgres (`INSERT … SELECT generate_series`, then `VACUUM ANALYZE records`: ' +
      `median ${ms(s.seedMs)}, not measured).`,
    '',
  ];
}

/** The snapshot issue's targets, for the export and the restore that ran: the worker's highest peak RSS of the runs. */
function snapshotTargets(summary) {
  const rows = [];
  for (const w of ['snapshot-export', 'snapshot-restore']) {
    const s = summary[w];
    if (s === undefined) continue;
    const failures = failedRuns(s);
    const restore = w === 'snapshot-restore';
    const worker = s.peakRssMax?.worker;
    rows.push({
      target:
        `snapshot ${restore ? 'restore' : 'export'} of ${num(s.records)} records: worker peak RSS < ${mb(SNAPSHOT_WORKER_RSS_LIMIT)}` +
        (restore ? ', the job succeeded after verifying the checksum, every record restored' : ''),
      measured:
        worker === undefined
          ? `not measured${note(failures)}`
          : `worker ${mb(s.startRss.worker)} → ${mb(s.peakRss.worker)} (highest run ${mb(worker)}); ` +
            `${num(s.recordsPerSecond)} records/s over the job's ${ms(s.jobMs)}` +
            `${restore ? `; verified and counted: ${num(s.records)} records` : ''}${note(failures)}`,
      result: verdict(worker === undefined ? undefined : worker < SNAPSHOT_WORKER_RSS_LIMIT, failures),
    });
  }
  return rows;
}

/** The observability issue's target, when the telemetry settings ran: (3) against (1), same invocation. */
function telemetryTargets(summary, r) {
  const off = summary['telemetry-off'];
  const traces = summary['telemetry-traces'];
  if (off === undefined && traces === undefined) return [];
  const metrics = summary['telemetry-metrics'];
  const failures = failedRuns(off, traces);
  const x = r.telemetryTracesVsOff.value;
  const errors = [off, traces].reduce((a, s) => a + (s?.non2xx ?? 0) + (s?.socketErrors ?? 0) + (s?.timeouts ?? 0), 0);
  const flowed = (traces?.spans ?? 0) > 0;
  return [
    {
      target: `hot GET with metrics and traces (OTLP) ≥ ${num(TELEMETRY_VS_OFF, 2)}× its throughput with telemetry off (\`OTEL_SDK_DISABLED=true\`), fresh gateway + api each`,
      measured:
        x === undefined
          ? `not measured${traces === undefined || off === undefined ? ' (name all three settings: `telemetry`)' : ''}${note(failures)}`
          : `${num(x, 2)}× (runs ${r.telemetryTracesVsOff.perRun.map((v) => `${num(v, 2)}×`).join(', ')}): ` +
            `${num(traces.rps)} against ${num(off.rps)} req/s, p99 ${ms(traces.p99Ms)} against ${ms(off.p99Ms)}` +
            `${r.telemetryMetricsVsOff.value === undefined ? '' : `; metrics only ${num(r.telemetryMetricsVsOff.value, 2)}× (${num(metrics.rps)} req/s)`}` +
            `; ${flowed ? `${num(traces.spansPerRequest, 1)} spans per request reached the sink` : '**no span reached the sink**'}` +
            `${errors ? `, ${num(errors)} GETs failed` : ''}${note(failures)}`,
      result: verdict(x === undefined ? undefined : x >= TELEMETRY_VS_OFF && flowed && errors === 0, failures),
    },
  ];
}

const TELEMETRY_SHORT = {
  'telemetry-off': '(1) off',
  'telemetry-metrics': '(2) metrics only',
  'telemetry-traces': '(3) metrics + traces',
};
/** × the figure with telemetry off, after a figure. */
const times = (v, base) => (v === undefined || base === undefined || base === 0 ? '' : ` (${num(v / base, 2)}×)`);
const kb = (v) => (v === undefined ? '–' : `${num(v / 1e3, 1)} kB`);

/** The telemetry tables: each setting's figures with their ratio to (1), then what ran beside the load. */
function telemetryTable(summary) {
  const ran = TELEMETRY_WORKLOADS.filter((w) => summary[w] !== undefined);
  if (ran.length === 0) return [];
  const off = summary['telemetry-off'];
  const base = off?.ok > 0 ? off : undefined;
  const header = [
    'Telemetry (hot GET)',
    'runs ok',
    'req/s',
    'p50',
    'p99',
    'gateway RSS',
    'api RSS',
    'gateway CPU',
    'api CPU',
  ];
  const rows = [];
  const evidence = [];
  for (const w of ran) {
    const s = summary[w];
    if (s.ok === 0) {
      rows.push([LABELS[w], `0/${s.runs}`, s.errors[0]?.split('\n')[0] ?? 'not run', ...header.slice(3).map(() => '')]);
      continue;
    }
    const errs = (s.non2xx ?? 0) + (s.socketErrors ?? 0) + (s.timeouts ?? 0);
    const cell = (text, v, b) => (w === 'telemetry-off' ? text : `${text}${times(v, b)}`);
    rows.push([
      LABELS[w],
      `${s.ok}/${s.runs}`,
      `${cell(num(s.rps), s.rps, base?.rps)}${errs ? `, ${num(errs)} errors` : ''}`,
      cell(ms(s.p50Ms), s.p50Ms, base?.p50Ms),
      cell(ms(s.p99Ms), s.p99Ms, base?.p99Ms),
      cell(mb(s.peakRss.gateway), s.peakRss.gateway, base?.peakRss.gateway),
      cell(mb(s.peakRss.api), s.peakRss.api, base?.peakRss.api),
      cell(cpuCell(s.cpu.gateway), s.cpu.gateway, base?.cpu.gateway),
      cell(cpuCell(s.cpu.api), s.cpu.api, base?.cpu.api),
    ]);
    const scrape = (name) =>
      s[`${name}Scrapes`] === undefined
        ? '–'
        : `${num(s[`${name}ScrapesOk`])}/${num(s[`${name}Scrapes`])} answered 200` +
          (s[`${name}ScrapesOk`] > 0
            ? `, ${kb(s[`${name}ScrapeBytes`])}, p50 ${ms(s[`${name}ScrapeP50Ms`])}, max ${ms(s[`${name}ScrapeMaxMs`])}`
            : '') +
          (s[`${name}ScrapeStatus`] === 200
            ? ''
            : `; the others ${s[`${name}ScrapeStatus`] === 0 ? 'got no answer' : `HTTP ${num(s[`${name}ScrapeStatus`])}`}`);
    evidence.push([
      TELEMETRY_SHORT[w],
      s.accessLines === undefined
        ? '–'
        : s.accessLines === 0
          ? 'no line written'
          : `${num(s.accessLinesPerRequest, 2)} lines per request (${num(s.accessLines)})`,
      scrape('gateway'),
      scrape('api'),
      s.traceRequests === undefined
        ? '–'
        : `${num(s.traceRequests)} POSTs, ${num(s.traceBytes / 1e6, 1)} MB, ${num(s.spans)} spans: ${num(s.spansPerRequest, 2)} per request ` +
          `(gateway ${num(s.gatewaySpansPerRequest, 2)}, api ${num(s.apiSpansPerRequest, 2)}), ${num(s.spans / s.traceRequests)} per POST` +
          `${s.spansUndecoded ? `, ${num(s.spansUndecoded)} POSTs not decoded` : ''}`,
      s.metricRequests === undefined ? '–' : `${num(s.metricRequests)} POSTs, ${kb(s.metricBytes)}`,
    ]);
  }
  return [
    table(header, rows),
    '',
    table(
      [
        'Setting',
        'gateway access log',
        '/metrics of the gateway',
        '/metrics of the api (h2c)',
        'OTLP /v1/traces',
        'OTLP /v1/metrics',
      ],
      evidence,
    ),
    '',
    'Each run starts a gateway and an api of its own (`LOG_LEVEL=info`, so the access log is written; same database, ' +
      'the hot record seeded once), then runs the `hot-get` load (warm-up, then the measured window); (×) is the ratio ' +
      'to (1) of the same figure, both medians of the runs. RSS is the peak and CPU the % of one core over the measured ' +
      'window. Scrapes: every second from the warm-up on, counted over the measured window (`GET /metrics`, no ' +
      'credentials; HTTP/2 cleartext for the api), with the size and time of the answers. OTLP: what the sink in the ' +
      'bench process received during the measured window (spans counted in the protobuf, by service); a POST of 512 ' +
      'spans is a full batch of the SDK (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`): when every POST is full, the exporter ran ' +
      'flat out and spans beyond its queue (`OTEL_BSP_MAX_QUEUE_SIZE`, 2048) were dropped. Access-log lines per request ' +
      "served, warm-up included, counted in the gateway's log after the run.",
    '',
  ];
}

/** The snapshot table: the export and the restore as jobs, the download as a stream, with the notes to read them. */
function snapshotTable(summary, seed) {
  const ran = SNAPSHOT_WORKLOADS.filter((w) => summary[w] !== undefined);
  if (ran.length === 0) return [];
  const header = [
    'Snapshot',
    'runs ok',
    'records',
    'records/s',
    'MB/s keys+values',
    'MB/s gzip object',
    'job time',
    'wall',
    'gateway RSS start → peak',
    'api RSS start → peak',
    'worker RSS start → peak',
  ];
  const rss = (s, name) => `${mb(s.startRss[name])} → ${mb(s.peakRss[name])}`;
  const rows = ran.map((w) => {
    const s = summary[w];
    if (s.ok === 0)
      return [LABELS[w], `0/${s.runs}`, s.errors[0]?.split('\n')[0] ?? 'not run', ...header.slice(3).map(() => '')];
    return [
      LABELS[w],
      `${s.ok}/${s.runs}`,
      num(s.records),
      num(s.recordsPerSecond),
      num(s.mbPerSecond, 1),
      s.objectMbPerSecond === undefined ? '–' : num(s.objectMbPerSecond, 2),
      ms(s.jobMs),
      ms(s.clientMs ?? s.totalMs),
      rss(s, 'gateway'),
      rss(s, 'api'),
      rss(s, 'worker'),
    ];
  });
  const measured = ran.map((w) => summary[w]).find((s) => s.ok > 0);
  const restore = summary['snapshot-restore'];
  const notes = [
    'Records/s and MB/s: over the job’s own `started` → `finished` for the export and the restore, over the whole ' +
      'response for the download. MB/s keys+values counts the records’ keys and values' +
      (measured === undefined
        ? ''
        : ` (${num(measured.dataBytes / measured.records)} bytes each, ${num(measured.dataBytes / 1e6, 1)} MB in all)`) +
      '; MB/s gzip object counts the object’s bytes' +
      (measured?.bytes === undefined
        ? ''
        : ` (${num(measured.bytes / 1e6, 1)} MB, ${num(measured.dataBytes / measured.bytes, 1)}× smaller than the keys and values: ` +
          'every record holds the bench’s same 1 KiB of text, which compresses far better than real data would)'),
    '. Job time: the export’s runs from the worker’s first read of the collection (one consistent read) to the object ' +
      'stored and the snapshot `ready`; the restore’s from its first write step to the verify that compared the collection ' +
      'read back with the snapshot’s checksum (before its first step the worker reads the whole object once to check it: ' +
      `that is in the wait before the job started${restore?.queuedMs === undefined ? '' : `, median ${ms(restore.queuedMs)}`}). ` +
      'Wall: from the POST’s answer to the poll (every 100 ms) that saw the job `succeeded`, which includes the wait for ' +
      'the worker’s dispatcher (every `JOB_POLL_MS`); for the download, from the request to its last byte (the bytes are ' +
      'counted, checked against the snapshot’s `bytes` and discarded). RSS: at the start and the peak of that window.',
  ];
  if (restore?.relayMs !== undefined)
    notes.push(
      ` After the restore, not measured: the relay published its change events (one per record) ${ms(restore.relayMs)} after the job was seen succeeded, and the restored collection counted every record.`,
    );
  if (seed !== undefined)
    notes.push(
      ` The collection was seeded once, straight into Postgres (\`INSERT … SELECT generate_series\`, then \`VACUUM ANALYZE records\`): ` +
        `${num(seed.records)} records in ${num(seed.seconds, 1)} s, not measured.`,
    );
  return [table(header, rows), '', notes.join(''), ''];
}

/** The change-feed lag table: the write rate held, the events delivered, the lag and where it went. */
function feedTable(summary) {
  const rows = [];
  for (const w of FEED_WORKLOADS) {
    const s = summary[w];
    if (s === undefined) continue;
    if (s.ok === 0) {
      rows.push([
        LABELS[w],
        `0/${s.runs}`,
        s.errors[0]?.split('\n')[0] ?? 'not run',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
      ]);
      continue;
    }
    rows.push([
      LABELS[w],
      `${s.ok}/${s.runs}`,
      s.relayIntervalMs === undefined ? 'no worker' : `${num(s.relayIntervalMs)} ms`,
      `${num(s.writesPerSecond)}${s.late ? ` (${num(s.late)} late)` : ''}${s.missed ? `, ${num(s.missed)} not sent` : ''}`,
      `${num(s.events)} of ${num(s.acked)}${s.missing ? ` (**${num(s.missing)} missing**)` : ''}`,
      `${ms(s.lagP50Ms)} / ${ms(s.lagP90Ms)} / ${ms(s.lagP99Ms)} / ${ms(s.lagMaxMs)}`,
      `${ms(s.relayP50Ms)} / ${ms(s.relayP99Ms)}`,
      pct(s.beforeRelayShare),
      `${ms(s.putP50Ms)} / ${ms(s.putP99Ms)}`,
      mb(s.peakRss.gateway),
      mb(s.peakRss.api),
      mb(s.peakRss.worker),
    ]);
  }
  return rows.length === 0
    ? []
    : [
        table(
          [
            'Change feed (SSE)',
            'runs ok',
            'relay interval',
            'writes/s',
            'events received',
            'lag p50 / p90 / p99 / max',
            'published p50 / p99',
            'before the relay',
            'PUT p50 / p99',
            'gateway RSS',
            'api RSS',
            'worker RSS',
          ],
          rows,
        ),
        '',
        'Lag: from the PUT’s answer to its `change` event on one SSE reader of the collection (both timed in the bench process). ' +
          'Published: from the PUT’s answer to the relay’s message on the Redis channel the gateway listens to. ' +
          'Before the relay: the share of events the reader had before that message (the gateway reads the feed again as long as its reads find events; ' +
          'only a read that finds none waits for the relay’s wake-up). Late: sends more than 10 ms behind their slot (every connection busy).',
        '',
      ];
}

/** The DVID table: the ingest by records/s and POST latency, the GETs at root and leaf, the range like the export. */
function dvidTable(summary) {
  const rows = [];
  for (const w of DVID_WORKLOADS) {
    const s = summary[w];
    if (s === undefined) continue;
    if (s.ok === 0) {
      rows.push([LABELS[w], `0/${s.runs}`, s.errors[0]?.split('\n')[0] ?? 'not run', '', '', '', '', '', '']);
      continue;
    }
    const runs = `${s.ok}/${s.runs}`;
    if (w === 'dvid-version-get') {
      const root = s.rootPeakRss ?? {};
      rows.push(
        [
          `${LABELS[w]}, at the root`,
          runs,
          '–',
          `${num(s.rootRps)} req/s`,
          `p50 ${ms(s.rootP50Ms)}, p99 ${ms(s.rootP99Ms)}`,
          '–',
          mb(root.gateway),
          mb(root.api),
          mb(root.worker),
        ],
        [
          `${LABELS[w]}, at the leaf`,
          runs,
          '–',
          `${num(s.rps)} req/s`,
          `p50 ${ms(s.p50Ms)}, p99 ${ms(s.p99Ms)}`,
          '–',
          mb(s.peakRss.gateway),
          mb(s.peakRss.api),
          mb(s.peakRss.worker),
        ],
      );
      continue;
    }
    const range = w === 'dvid-range';
    rows.push([
      `${LABELS[w]}${range ? `, ${num(s.bytes / 1e6, 1)} MB${s.complete ? '' : ' **incomplete**'}` : ''}`,
      runs,
      num(s.records),
      `${num(s.recordsPerSecond)} records/s`,
      range
        ? `first byte ${ms(s.ttfbMs)}, ${num(s.mbPerSecond, 1)} MB/s`
        : `p50 ${ms(s.p50Ms)}, p99 ${ms(s.p99Ms)} per POST`,
      ms(s.totalMs),
      range ? `${mb(s.startRss.gateway)} → ${mb(s.peakRss.gateway)}` : mb(s.peakRss.gateway),
      range ? `${mb(s.startRss.api)} → ${mb(s.peakRss.api)}` : mb(s.peakRss.api),
      mb(s.peakRss.worker),
    ]);
  }
  return rows.length === 0
    ? []
    : [
        table(
          ['DVID keyvalue', 'runs ok', 'records', 'rate', 'latency', 'total', 'gateway RSS', 'api RSS', 'worker RSS'],
          rows,
        ),
        '',
      ];
}

/**
 * A table of workloads measured by what they moved (records, items): runs, how many, per second,
 * latency, total time and RSS; `cells` gives a run's columns from the count on.
 */
function movedTable(summary, workloads, [heading, unit], cells) {
  const rows = [];
  for (const w of workloads) {
    const s = summary[w];
    if (s === undefined) continue;
    if (s.ok === 0) {
      rows.push([LABELS[w], `0/${s.runs}`, s.errors[0]?.split('\n')[0] ?? 'not run', '', '', '', '', '', '']);
      continue;
    }
    rows.push([LABELS[w], `${s.ok}/${s.runs}`, ...cells(w, s)]);
  }
  const headings = [heading, 'runs ok', unit, `${unit}/s`, 'latency', 'total', 'gateway RSS', 'api RSS', 'worker RSS'];
  return rows.length === 0 ? [] : [table(headings, rows), ''];
}

/** The batch writes: the native batch upsert by records/s and POST latency, and its raw COPY. */
function batchTable(summary) {
  return movedTable(summary, BATCH_WORKLOADS, ['Batch write', 'records'], (w, s) => {
    const copy = w === 'pg-copy';
    return [
      num(s.records),
      num(s.recordsPerSecond),
      copy
        ? `one COPY, one transaction (${num(s.bytes / 1e6, 1)} MB of text)`
        : `p50 ${ms(s.p50Ms)}, p99 ${ms(s.p99Ms)} per POST`,
      ms(s.totalMs),
      copy ? '–' : mb(s.peakRss.gateway),
      copy ? '–' : mb(s.peakRss.api),
      copy ? '–' : mb(s.peakRss.worker),
    ];
  });
}

/** The OpenFn table: upserts by items/s and batch latency, listings like the export. */
function openFnTable(summary) {
  return movedTable(summary, OPENFN_WORKLOADS, ['OpenFn collections', 'items'], (w, s) => {
    const listing = w !== 'openfn-upsert';
    return [
      num(s.items),
      num(s.itemsPerSecond),
      listing
        ? `first byte ${ms(s.ttfbMs)}, ${num(s.mbPerSecond, 1)} MB/s`
        : `p50 ${ms(s.p50Ms)}, p99 ${ms(s.p99Ms)} per POST`,
      ms(s.totalMs),
      listing ? `${mb(s.startRss.gateway)} → ${mb(s.peakRss.gateway)}` : mb(s.peakRss.gateway),
      listing ? `${mb(s.startRss.api)} → ${mb(s.peakRss.api)}` : mb(s.peakRss.api),
      mb(s.peakRss.worker),
    ];
  });
}

export const num = (v, digits = 0) =>
  v === undefined || Number.isNaN(v)
    ? '–'
    : v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
export const ms = (v) => (v === undefined ? '–' : `${num(v, v < 10 ? 2 : 1)} ms`);
export const mb = (v) => (v === undefined || v === 0 ? '–' : `${num(v / 1e6, 0)} MB`);
export const pct = (v) => (v === undefined ? '–' : `${num(v * 100, 1)}%`);
const growth = (peak, start) =>
  peak === undefined || start === undefined
    ? '–'
    : `${peak >= start ? '+' : '−'}${num(Math.abs(peak - start) / 1e6, 0)} MB`;
const cpuCell = (v) => (v === undefined ? '–' : `${num(v, 0)}%`);

/** A row of the ratio table, the ratio as a percentage. */
const asPct = (label, x) => [label, pct(x.value), x.perRun.map((v) => pct(v)).join(', ') || '–'];
/** A row of the ratio table, the ratio as a factor. */
const asTimes = (label, x, digits = 2) => [
  label,
  x.value === undefined ? '–' : `${num(x.value, digits)}×`,
  x.perRun.map((v) => `${num(v, digits)}×`).join(', ') || '–',
];

function table(header, rows) {
  const lines = [`| ${header.join(' | ')} |`, `|${header.map((h, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`];
  for (const row of rows) lines.push(`| ${row.join(' | ')} |`);
  return lines.join('\n');
}

/** The generated Markdown: settings, machine, tables, ratios, verdicts. */
export function markdown(result) {
  const { meta, summary, ratios: r, targets: t, hwm, seed } = result;
  const out = [];
  if (meta.aborted) out.push(`**Incomplete run**: ${meta.aborted}`, '');
  out.push(
    `Generated ${meta.date} by \`${meta.command}\` at commit \`${meta.git.commit}\`${meta.git.dirty ? ' (with uncommitted changes)' : ''}.`,
    '',
    `Machine: ${meta.machine.cpus} × ${meta.machine.cpuModel}, ${num(meta.machine.memoryBytes / 2 ** 30, 1)} GiB RAM, ` +
      `Linux ${meta.machine.kernel}. Node ${meta.versions.node}, PostgreSQL ${meta.versions.postgres ?? '–'} ` +
      `(synchronous_commit=${meta.postgresSettings?.synchronous_commit ?? '–'}, fsync=${meta.postgresSettings?.fsync ?? '–'}), ` +
      `Redis ${meta.versions.redis ?? '–'}, ${meta.versions.loadgen ?? 'no HTTP load generator'}, ${meta.versions.pgbench ?? 'no pgbench'}${meta.versions.redisBenchmark ? `, ${meta.versions.redisBenchmark}` : ''}, Express ${meta.versions.express}` +
      `${meta.versions.prosody ? `, ${meta.versions.prosody}` : ''}${meta.versions.etcd ? `, ${meta.versions.etcd}` : ''}.`,
    '',
    `Settings: ${meta.settings.connections} connections, ${meta.settings.threads} load threads, ${meta.settings.duration} s per run after a ${meta.settings.warmup} s warm-up, ` +
      `median of ${meta.settings.runs} interleaved run(s); workloads: ${meta.settings.workloads.join(', ')}; worker: ${meta.worker}.`,
    '',
  );
  const httpRows = [];
  for (const w of HTTP_ROWS) {
    const s = summary[w];
    if (!s) continue;
    if (s.ok === 0) {
      const why = s.runs === 0 ? 'not run (run aborted)' : `all ${s.runs} runs failed: ${s.errors[0]?.split('\n')[0]}`;
      httpRows.push([LABELS[w], `${s.ok}/${s.runs}`, why, '', '', '', '', '', '', '']);
      continue;
    }
    const errs = (s.non2xx ?? 0) + (s.socketErrors ?? 0) + (s.timeouts ?? 0);
    // Only the processes the workload goes through: the cluster sits idle during the others.
    const cluster = !OUTSIDE_CLUSTER.has(w);
    httpRows.push([
      LABELS[w],
      `${s.ok}/${s.runs}`,
      num(s.rps),
      ms(s.p50Ms),
      ms(s.p99Ms),
      num(errs),
      cluster ? mb(s.peakRss.gateway) : '–',
      cluster ? mb(s.peakRss.api) : '–',
      cluster ? mb(s.peakRss.worker) : '–',
      // The raw Redis limit measures the redis-server it loads.
      mb(s.peakRss.anchor ?? s.peakRss.redis),
    ]);
  }
  if (httpRows.length) {
    out.push(
      table(
        [
          'Workload',
          'runs ok',
          'req/s',
          'p50',
          'p99',
          'errors',
          'gateway RSS',
          'api RSS',
          'worker RSS',
          'anchor or peer RSS',
        ],
        httpRows,
      ),
      '',
    );
    const group = meta.gatewayCluster;
    if (group && summary['hot-get-cluster'])
      out.push(
        `The gateway of \`hot-get-cluster\` ran with \`GATEWAY_PROCESSES=${group.processes}\` beside the cluster's, on the same api: ` +
          (group.workers > 0
            ? `its primary forked ${group.workers} worker process(es); its RSS is the sum over the primary and the workers (CPU too).`
            : 'it forked no worker (this build ignores the setting), so it served from one process like `hot-get`.'),
        '',
      );
  }
  const e = summary.export;
  if (e) {
    if (e.ok === 0)
      out.push(`Export: ${e.runs === 0 ? 'not run (run aborted)' : `all runs failed: ${e.errors[0]}`}`, '');
    else
      out.push(
        table(
          [
            'Export (NDJSON)',
            'runs ok',
            'records',
            'records/s',
            'MB/s',
            'first byte',
            'total',
            'gateway RSS start → peak',
            'api RSS start → peak',
            'worker RSS',
          ],
          [
            [
              `\`format=ndjson\`, ${num(e.bytes / 1e6, 1)} MB${e.complete ? '' : ' **incomplete**'}`,
              `${e.ok}/${e.runs}`,
              num(e.records),
              num(e.recordsPerSecond),
              num(e.mbPerSecond, 1),
              ms(e.ttfbMs),
              ms(e.totalMs),
              `${mb(e.startRss.gateway)} → ${mb(e.peakRss.gateway)}`,
              `${mb(e.startRss.api)} → ${mb(e.peakRss.api)}`,
              mb(e.peakRss.worker),
            ],
          ],
        ),
        '',
      );
  }
  out.push(...batchTable(summary));
  out.push(...openFnTable(summary));
  out.push(...dvidTable(summary));
  out.push(...feedTable(summary));
  out.push(...bulkDeleteTable(summary));
  out.push(...snapshotTable(summary, meta.snapshotSeed));
  out.push(...telemetryTable(summary));
  out.push(
    table(
      ['Ratio (same invocation)', 'value', 'per run'],
      [
        // Issue 10's ratios first, measured or not; then the others that were measured.
        asTimes('hot GET, one gateway process per core / etcd range', r.hotClusterVsEtcd),
        asPct('hot GET / Express', r.hotVsExpress),
        asTimes('durable PUT / etcd put', r.putVsEtcd),
        asTimes('Prosody dialect GET / real Prosody', r.prosodyGetVsPeer, 1),
        asTimes('Prosody dialect PUT / real Prosody', r.prosodyPutVsPeer, 1),
        asPct('batch upsert / raw COPY (records/s)', r.batchVsCopy),
        asPct('hot GET / node:http', r.hotVsNode),
        asPct('PUT / pgbench upsert', r.putVsPgbench),
        ['stream gateway RSS / 200 MB', pct(r.streamRssVsLimit.value), '–'],
        ...[
          asTimes('hot GET, one gateway process per core / one process', r.hotClusterVsHot),
          asTimes('hot GET / etcd range', r.hotVsEtcd),
          asPct('hot GET / pgbench -S', r.hotVsPgSelect),
          asPct('hot GET / redis-benchmark GET', r.hotVsRedisGet),
          asPct('durable PUT / redis-benchmark SET', r.putVsRedisSet),
          asPct('GraphQL record query / REST hot GET', r.graphqlVsHot),
          asPct('hot GET, metrics only / telemetry off', r.telemetryMetricsVsOff),
          asPct('hot GET, metrics + traces / telemetry off', r.telemetryTracesVsOff),
          asPct('DVID GET at the leaf / at the root', r.dvidLeafVsRoot),
        ].filter(([, value]) => value !== '–'),
      ],
    ),
    '',
    "Targets: issue 10's first (the peers and raw limits of the same run), then the earlier issues'.",
    '',
    table(
      ['Target', 'measured', 'result'],
      t.map((x) => [x.target, x.measured, `**${x.result}**`]),
    ),
    '',
  );
  const cpuRows = [];
  const cpuOf = WORKLOADS.flatMap((w) => {
    const s = summary[w];
    if (!s || s.ok === 0) return [];
    if (w === 'dvid-version-get')
      return [
        [`${w} (root)`, s.rootCpu ?? {}],
        [`${w} (leaf)`, s.cpu],
      ];
    return [[w, s.cpu]];
  });
  for (const [w, c] of cpuOf) {
    cpuRows.push([
      w,
      cpuCell(c.gateway),
      cpuCell(c.api),
      cpuCell(c.worker),
      cpuCell(c.anchor),
      cpuCell(c.loadgen),
      cpuCell(c.postgres),
      cpuCell(c.redis),
      cpuCell(c.runner),
      cpuCell(c.kernel === undefined ? undefined : c.kernel + (c.irq ?? 0)),
      cpuCell(c.other),
      cpuCell(c.machine),
    ]);
  }
  if (cpuRows.length) {
    out.push(
      `CPU time during the measured window, in % of one core (this machine has ${meta.machine.cpus} cores, so ${meta.machine.cpus * 100}% is all of it). ` +
        '“kernel” is kernel threads and interrupts (loopback networking, memory reclaim); “other” is every process outside the benchmark (someone else’s build or tests) and time no process was seen to use:',
      '',
      table(
        [
          'Workload',
          'gateway',
          'api',
          'worker',
          'anchor or peer',
          'load gen',
          'postgres',
          'redis',
          'bench runner',
          'kernel',
          'other',
          'machine',
        ],
        cpuRows,
      ),
      '',
    );
  }
  const failures = Object.values(summary).flatMap((x) =>
    x.errors.map((error) => `- ${x.name}: ${error.split('\n')[0]}`),
  );
  if (failures.length) out.push('Failed runs (not counted in the medians):', '', ...failures, '');
  const disturbed = Object.entries(summary)
    .filter(([, x]) => x.ok > 0 && (x.cpu.other ?? 0) > DISTURBED_CPU_PCT)
    .map(([w, x]) => `${w} (${cpuCell(x.cpu.other)})`);
  if (disturbed.length) {
    out.push(
      `⚠ Processes outside the benchmark used more than ${DISTURBED_CPU_PCT}% of a core during: ${disturbed.join(', ')}. ` +
        'Those figures are disturbed; rerun on a quiet machine.',
      '',
    );
  }
  const hwmRows = Object.entries(hwm).map(([name, bytes]) => [
    name === 'gateway-cluster' && meta.gatewayCluster?.workers > 0
      ? `gateway-cluster (primary + ${meta.gatewayCluster.workers} workers, summed)`
      : name,
    mb(meta.rssAfterStart?.[name]),
    mb(meta.rssAfterSeed?.[name]),
    mb(bytes),
  ]);
  if (hwmRows.length) {
    out.push(table(['Process', 'RSS when ready', 'RSS after seeding', 'VmHWM at the end'], hwmRows), '');
  }
  if (seed) {
    out.push(
      `Seeding ${num(seed.records)} export records in batches of 1000 through \`POST …/batch\` took ${num(seed.seconds, 1)} s (${num(seed.recordsPerSecond)} records/s).`,
      '',
    );
  }
  const dvidSeed = meta.dvidSeed;
  if (dvidSeed) {
    out.push(
      `Seeding ${num(dvidSeed.records)} DVID records at a repo's root through \`POST …/keyvalues\` took ${num(dvidSeed.seconds, 1)} s ` +
        `(${num(dvidSeed.recordsPerSecond)} records/s); the chain of ${num(dvidSeed.versions)} versions above it ` +
        `(commit, newversion, ${num(dvidSeed.overwrites / dvidSeed.versions)} overwrites each) took ${num(dvidSeed.chainSeconds, 1)} s` +
        `${dvidSeed.retried > 0 ? ` (${num(dvidSeed.retried)} POSTs answered 401, an expired grant, and were sent again)` : ''}.`,
      '',
    );
  }
  if (meta.commands.length) {
    out.push('Load commands of the last round:', '', '```sh', ...meta.commands, '```', '');
  }
  return out.join('\n');
}

/** Rewrites the generated block of the doc (creates the doc from `template` if it is missing). */
export function writeDoc(path, block, template) {
  const generated = `${BEGIN}\n${block.trimEnd()}\n${END}`;
  let text = existsSync(path) ? readFileSync(path, 'utf8') : template;
  const begin = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (begin === -1 || end === -1 || end < begin) text = `${text.trimEnd()}\n\n${generated}\n`;
  else text = `${text.slice(0, begin)}${generated}${text.slice(end + END.length)}`;
  writeFileSync(path, text);
}
