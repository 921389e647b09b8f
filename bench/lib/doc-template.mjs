// The hand-written part of docs/benchmarks.md, used when the doc does not exist yet.
export const DOC_TEMPLATE = `# Benchmarks

\`npm run bench\` measures the cluster shape of Rosetta (gateway, api and worker as separate
processes, on a real Postgres and Redis) next to two anchors on the same machine, in one
invocation, so that the figures can be read as ratios rather than as absolute numbers.

## What is measured

| Workload | What it does |
| --- | --- |
| \`node-http\` | anchor: a bare \`node:http\` server answering a 1 KiB constant (\`bench/anchors/node-http.mjs\`) |
| \`express\` | anchor: a bare Express 5 route answering the same 1 KiB (\`bench/anchors/express.mjs\`) |
| \`hot-get\` | \`GET /v1/spaces/default/collections/bench/records/hot\`: one 1 KiB record, read over and over (cache hit) |
| \`list\` | \`GET …/bench/records?prefix=list/&limit=1000\`: 1000 records of 1 KiB as one JSON document |
| \`put\` | \`PUT …/bench/records/put/p<pid>-r<run>-run/<thread>/<n>\`: a 1 KiB value to a new key each time, acknowledged after commit (bench/lua/put.lua) |
| \`pgbench\` | the raw Postgres limit for \`put\`: \`INSERT … ON CONFLICT DO UPDATE\` of a 1 KiB value under a random integer key, prepared, in its own database |
| \`export\` | \`GET …/export/records?prefix=export/&limit=200000&format=ndjson\`: 100,000 records of 1 KiB streamed to a Node client that counts lines |
| \`kopano-get\` | \`GET /api/kvs/v1/kv/user/bench/hot?raw=1\` with a Kopano access token (an HS256 JWT with \`kc.isAccessToken\` and \`kc.authorizedScopes: ["kopano/kvs"]\`): a 1 KiB record written through Kopano |
| \`rivet-get\` | \`GET /store/bench@localhost/hot\` with the \`X-Session-Token\` of a Rivet \`/login\`: a 1 KiB record written through Rivet |
| \`prosody-get\` | \`GET /data/bench\` with Basic \`bench@localhost\`: a JSON document holding 1 KiB of text |
| \`prosody-put\` | \`PUT /data/bench_<t>_<xy>\` of that document, \`Content-Type: application/json\` (bench/lua/prosody-put.lua: each wrk thread cycles through 676 stores, as store names hold only letters) |
| \`peer-prosody-get\`, \`peer-prosody-put\` | the same two requests against a real Prosody 0.12 from Debian on 127.0.0.1:5280 (\`../shared/peers/prosody.sh\`: its data-access module, Basic \`test@localhost\` checked with a PBKDF2 hash on every request, internal file storage) |

The anchors run as their own processes; gateway, api and worker run as in the cluster shape
(\`node apps/<app>/dist/main.js\`, \`NODE_ENV=production\`, \`LOG_LEVEL=warn\`, other settings at their
defaults, and the C allocator's setting that \`npm start\` and the images give every process,
\`MALLOC_MMAP_THRESHOLD_=131072\` from scripts/malloc-env.mjs, the anchors' too; a value in the
bench's environment wins) against a fresh database \`rosetta_bench\` and Redis keys of their own. The data is
seeded through \`/v1\` like a client would: the hot record, 1000 records under \`list/\` in one
batch, and 100,000 records under \`export/\` in batches of 1000.

HTTP workloads run \`wrk -t2 -c64 -d10s --latency --timeout 30s\` after a 2 s warm-up (latencies
are wrk's own histogram, printed by bench/lua/report.lua); the pgbench workload runs
\`pgbench -n -c 64 -j 2 -T 10 -M prepared\` after a 2 s warm-up, and its p50/p99 come from its
per-transaction log. Each workload runs \`BENCH_RUNS\` times (default 3), interleaved (one round
runs every workload once, in the order node-http, express, export, hot-get, list, put, kopano-get,
rivet-get, prosody-get, prosody-put, peer-prosody-get, peer-prosody-put, pgbench),
and the tables show the median of the runs (peak RSS too; the JSON keeps the highest). Before each workload
the runner waits until the gateway, api and worker are idle again (the worker relays the change
events of a PUT run after it) and, for up to 15 s (60 s in all), until the rest of the machine is quiet.

Memory comes from \`/proc/<pid>/status\` (VmRSS sampled every 100 ms during the measured window;
VmHWM read at the end). CPU comes from \`/proc/<pid>/stat\` and \`/proc/stat\` over the same window,
so the CPU table shows where the machine's time went: the load generator shares the machine
with the services it measures.

## How to run it

\`\`\`sh
npm run bench                                    # install, build, full run (about 5 minutes)
BENCH_DURATION=5 BENCH_RUNS=1 node bench/run.mjs # quick iteration (after a build)
BENCH_ONLY=hot-get,express node bench/run.mjs    # only some workloads (also: anchors, cluster)
\`\`\`

| Variable | Default | Meaning |
| --- | --- | --- |
| \`BENCH_DURATION\` | 10 | seconds per measured run |
| \`BENCH_RUNS\` | 3 | runs per workload (the median is reported) |
| \`BENCH_CONNECTIONS\` | 64 | concurrent connections (wrk \`-c\`, pgbench \`-c\`) |
| \`BENCH_ONLY\` | all | comma list of \`node-http\`, \`express\`, \`hot-get\`, \`list\`, \`put\`, \`pgbench\`, \`export\`, \`kopano-get\`, \`rivet-get\`, \`prosody-get\`, \`prosody-put\`, \`peer-prosody-get\`, \`peer-prosody-put\` (or \`anchors\`, \`cluster\`, \`dialects\`, \`prosody\`) |
| \`BENCH_PEERS_DIR\` | \`../shared/peers\` | where \`prosody.sh\` is: without a Prosody answering on 127.0.0.1:5280, the runner starts one with it (Debian's prosody is installed; needs root) and stops it at the end; without either, the peer rows are skipped |
| \`BENCH_WARMUP\` | 2 | warm-up seconds before each run |
| \`BENCH_THREADS\` | 2 | wrk and pgbench threads |
| \`BENCH_EXPORT_RECORDS\` | 100000 | records seeded for and read by the export |
| \`BENCH_NO_WORKER\` | unset | \`1\` runs the cluster without the worker |
| \`BENCH_WRITE_DOCS\` | 1 | \`0\` leaves this document alone |
| \`BENCH_NODE_ARGS\` | unset | node options for the gateway, api and worker processes only (V8 flags that \`NODE_OPTIONS\` refuses) |
| \`BENCH_CPU_PROF\` | unset | \`1\` runs gateway, api and worker under \`node --cpu-prof\` (profiles land in the log directory; figures are then slower) |
| \`BENCH_PG_PORT\`, \`BENCH_REDIS_PORT\` | 5432, 6379 | other local ports (the host is always 127.0.0.1) |

The services inherit the environment, so their own settings can be tried without code changes,
e.g. \`PG_POOL_MAX=64 BENCH_ONLY=put,pgbench node bench/run.mjs\`.

Needs Postgres on 127.0.0.1:5432 (user \`postgres\`, trust auth) and Redis on 127.0.0.1:6379. The
run creates the databases \`rosetta_bench\` and \`rosetta_bench_pg\` and drops them at the end, uses
Redis keys under \`rosetta-bench-<pid>:\` and deletes them at the end, and stops every process it
started (SIGTERM, then SIGKILL after 10 s), also on failure and on Ctrl-C. Raw figures go to
\`bench/results/<timestamp>.json\` (git-ignored), the services' logs, the generated wrk scripts
and the pgbench logs to \`bench/results/<timestamp>-logs/\`.
wrk comes from the distribution (\`apt-get install wrk\`); without it the runner uses an
autocannon that is already installed, or skips the HTTP workloads.

## How to read the ratios

Absolute requests per second depend on the machine; ratios measured in the same invocation mostly
do not. \`hot GET / Express\` is the share of a bare Express route that a full read through the
gateway, the RPC hop and the api's cache keeps; \`PUT / pgbench\` is the share of what Postgres
itself sustains for a single-row upsert that a durable write through the whole stack keeps (it
also writes the change event in the same transaction, and the HTTP and RPC hops run on the
same two cores as Postgres). The targets of the issue are expressed as such ratios:

- hot GET ≥ 60% of the bare Express route, with p99 < 15 ms;
- durable PUT ≥ 50% of the raw pgbench upsert at the same concurrency;
- streaming 100k records with gateway RSS < 200 MB.
- the Prosody dialect's GET and PUT ≥ 10× a real Prosody 0.12 at the same concurrency (Prosody
  re-hashes the Basic password on every request; Rosetta caches a verified credential for under a
  second, so a revoked account is still refused within one).
  The two do not do the same work on a write: Prosody renames a file without fsync, Rosetta
  acknowledges a PUT after its transaction (and its change event) committed with
  synchronous_commit=on, so the PUT ratio is bounded by the durable-write path that
  \`PUT / pgbench\` measures.

The export table shows the gateway's RSS when the stream began and its peak during it: RSS only
grows back slowly after a burst, so a gateway that has just served 64 concurrent 1.3 MB lists
starts a stream from that level. The export runs before \`list\` and \`put\` in each round for that
reason, and the verdict uses the median of the runs' peaks. MB here is 10^6 bytes.

## Latest results

`;
