// The etcd peer: a single-node etcd 3.4 (../shared/peers/etcd.sh) through its v3 JSON gateway,
// where keys and values travel in base64. The bench's keys live under a prefix of its own and are
// deleted at the end; an etcd this run started is stopped again.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PEER_ETCD, PEERS_DIR, VALUE_BYTES } from './config.mjs';
import { httpRequest } from './http.mjs';
import { ensurePeer } from './procs.mjs';
import { valueOf } from './value.mjs';

const b64 = (text) => Buffer.from(text).toString('base64');
/** Every key of this run starts with it; the put runs write `<prefix>r<run>-<phase>/<thread>/<n>`. */
const PREFIX = `rosetta-bench/p${process.pid}-`;
/** The first key after every key under PREFIX (its `-` + 1). */
const PREFIX_END = `rosetta-bench/p${process.pid}.`;
const HOT_KEY = `${PREFIX}hot`;
const VALUE = valueOf(VALUE_BYTES);
/** The load's headers; the bench's own requests leave its admin token out too. */
const LOAD_HEADERS = { 'content-type': 'application/json' };
const JSON_HEADERS = { authorization: undefined, ...LOAD_HEADERS };

/** POSTs `body` to the v3 gateway's `path`; resolves with the parsed answer, throws on anything but 200. */
async function call(path, body, timeoutMs = 5000) {
  const res = await httpRequest('POST', `${PEER_ETCD.url}${path}`, {
    body: JSON.stringify(body),
    headers: JSON_HEADERS,
    timeoutMs,
  });
  if (res.status !== 200) throw new Error(`etcd ${path} answered ${res.status}: ${res.body.toString('utf8', 0, 300)}`);
  return JSON.parse(res.body.toString('utf8'));
}

async function answers() {
  try {
    await call('/v3/kv/range', { key: b64(HOT_KEY) });
    return true;
  } catch {
    return false;
  }
}

/** The pid of the peer etcd, from the pid file its script keeps. */
function etcdPid() {
  return existsSync(PEER_ETCD.pidFile) ? Number(readFileSync(PEER_ETCD.pidFile, 'utf8').trim()) : undefined;
}

/**
 * The etcd to compare with: one already answering, or one started with the peers' script (which
 * installs Debian's etcd-server; it needs root). Writes the hot key (VALUE_BYTES) and reads it
 * back. Undefined when neither works. `stop` deletes the run's keys, then stops etcd if this run
 * started it.
 */
export async function preparePeerEtcd(warn) {
  const peer = await ensurePeer(
    { name: 'etcd', script: join(PEERS_DIR, 'etcd.sh'), url: PEER_ETCD.url, answers },
    warn,
  );
  if (peer === undefined) return undefined;
  const stop = async () => {
    try {
      const { deleted } = await call('/v3/kv/deleterange', { key: b64(PREFIX), range_end: b64(PREFIX_END) }, 60_000);
      return Number(deleted ?? 0);
    } finally {
      await peer.stop();
    }
  };
  try {
    await call('/v3/kv/put', { key: b64(HOT_KEY), value: b64(VALUE) });
    await checkRange();
  } catch (error) {
    await stop().catch(() => {});
    warn(`the etcd peer at ${PEER_ETCD.url} did not take the bench's key: ${error.message}; skipping it`);
    return undefined;
  }
  return {
    url: PEER_ETCD.url,
    pid: etcdPid(),
    range: { path: '/v3/kv/range', body: JSON.stringify({ key: b64(HOT_KEY) }), headers: LOAD_HEADERS },
    put: { path: '/v3/kv/put', base: (round, phase) => `${PREFIX}r${round}-${phase}`, headers: LOAD_HEADERS },
    stop,
  };
}

/**
 * Keeps etcd the way its operators do (etcd's own auto-compaction and defragmentation), so that
 * every run meets an etcd of the same size: deletes the put runs' keys, compacts the history at
 * the current revision and defragments. Without it each put run's 1 KiB revisions stay in
 * etcd's history for good, and its range slowed from ~6,700 to ~1,000 req/s across invocations.
 * Only superseded revisions go; no live key of anyone else changes.
 */
export async function compactEtcd() {
  await call('/v3/kv/deleterange', { key: b64(`${PREFIX}r`), range_end: b64(PREFIX_END) }, 60_000);
  const { header } = await call('/v3/kv/range', { key: b64(HOT_KEY) });
  try {
    await call('/v3/kv/compaction', { revision: header.revision, physical: true }, 120_000);
  } catch (error) {
    // Nothing was written since the last compaction: etcd is as compact as it gets.
    if (error.message.includes('required revision has been compacted')) return;
    throw error;
  }
  await call('/v3/maintenance/defragment', {}, 120_000);
}

/** One range of the hot key, which must hold the 1 KiB value; resolves with the answer's bytes. */
export async function checkRange() {
  const res = await httpRequest('POST', `${PEER_ETCD.url}/v3/kv/range`, {
    body: JSON.stringify({ key: b64(HOT_KEY) }),
    headers: JSON_HEADERS,
  });
  const answer = res.status === 200 ? JSON.parse(res.body.toString('utf8')) : undefined;
  if (answer?.kvs?.[0]?.value !== b64(VALUE))
    throw new Error(`etcd range of ${HOT_KEY} answered ${res.status}: ${res.body.toString('utf8', 0, 300)}`);
  return res.body.length;
}

/** How many keys a put run wrote under `base` (a count-only range). */
export async function countPut(base) {
  const end = `${base}0`;
  const answer = await call('/v3/kv/range', { key: b64(`${base}/`), range_end: b64(end), count_only: true }, 60_000);
  return Number(answer.count ?? 0);
}
