// The legacy dialects' workloads: their accounts, credentials and seed records, and the real
// Prosody they are compared with (../shared/peers/prosody.sh, when it can run here).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { BENCH_JWT_SECRET, BENCH_USER, PEER_PROSODY, VALUE_BYTES } from './config.mjs';
import { httpRequest, jsonRequest } from './http.mjs';
import { ensurePeer } from './procs.mjs';
import { valueOf } from './value.mjs';

const VALUE = valueOf(VALUE_BYTES);
/** The Prosody document: VALUE_BYTES of text in a small JSON object (what prosody-put.lua writes). */
export const PROSODY_DOC = JSON.stringify({ name: 'bench', text: 'x'.repeat(VALUE_BYTES) });

const basic = (login, password) => `Basic ${Buffer.from(`${login}:${password}`).toString('base64')}`;

async function expectStatus(method, url, options, statuses) {
  const res = await httpRequest(method, url, options);
  if (!statuses.includes(res.status)) {
    throw new Error(`${method} ${url} answered ${res.status}: ${res.body.toString('utf8', 0, 300)}`);
  }
  return res;
}

/** A Kopano access token for the api's JWT settings in the bench (HS256, shared secret). */
function kopanoToken() {
  return new SignJWT({ 'kc.isAccessToken': true, 'kc.authorizedScopes': ['kopano/kvs'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('bench-kopano')
    .setExpirationTime('12h')
    .sign(Buffer.from(BENCH_JWT_SECRET));
}

/** The api settings Kopano's tokens need (the bench's api runs with them). */
export const KOPANO_API_ENV = {
  JWT_SECRET: BENCH_JWT_SECRET,
  JWT_REQUIRED_TRUE_CLAIM: 'kc.isAccessToken',
  JWT_SCOPES_CLAIM: 'kc.authorizedScopes',
  JWT_SUBJECT_CLAIM: 'kc.identity/kc.i.id,sub',
  JWT_REQUIRE_EXP: 'false',
  JWT_CREATE_ACCOUNTS: 'true',
};

/**
 * Creates the bench account, writes one hot record through each dialect and reads it back;
 * returns the URL path and headers of each dialect's GET.
 */
export async function seedDialects(base) {
  const login = `${BENCH_USER.name}@${BENCH_USER.host}`;
  await jsonRequest('POST', `${base}/v1/admin/accounts`, BENCH_USER, [201]);

  const jwt = await kopanoToken();
  const kopano = { path: '/api/kvs/v1/kv/user/bench/hot?raw=1', headers: { authorization: `Bearer ${jwt}` } };
  await expectStatus(
    'PUT',
    `${base}/api/kvs/v1/kv/user/bench/hot`,
    { body: VALUE, headers: { ...kopano.headers, 'content-type': 'application/octet-stream' } },
    [200],
  );

  const session = (
    await expectStatus('GET', `${base}/login`, { headers: { authorization: basic(login, BENCH_USER.password) } }, [200])
  ).body.toString('utf8');
  const rivet = { path: `/store/${login}/hot`, headers: { authorization: undefined, 'x-session-token': session } };
  await expectStatus('POST', `${base}${rivet.path}`, { body: VALUE, headers: rivet.headers }, [200, 201]);

  const prosody = { path: '/data/bench', headers: { authorization: basic(login, BENCH_USER.password) } };
  await expectStatus(
    'PUT',
    `${base}${prosody.path}`,
    { body: PROSODY_DOC, headers: { ...prosody.headers, 'content-type': 'application/json' } },
    [201],
  );

  for (const [name, spec] of Object.entries({ kopano, rivet, prosody })) {
    const res = await expectStatus('GET', `${base}${spec.path}`, { headers: spec.headers }, [200]);
    if (res.body.length < VALUE_BYTES) throw new Error(`${name} GET returned ${res.body.length} bytes`);
  }
  return { kopano, rivet, prosody };
}

const PEER_HEADERS = { authorization: basic(PEER_PROSODY.login, PEER_PROSODY.password) };

async function peerAnswers() {
  try {
    const res = await httpRequest('PUT', `${PEER_PROSODY.url}/data/bench`, {
      body: PROSODY_DOC,
      headers: { ...PEER_HEADERS, 'content-type': 'application/json' },
      timeoutMs: 5000,
    });
    return res.status === 201;
  } catch {
    return false;
  }
}

/** The pid of the peer Prosody, from the pid file its script keeps. */
function peerPid() {
  const file = join(process.env.PEERS_RUN_DIR ?? '/tmp/kv-peers', 'prosody', 'prosody.pid');
  return existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) : undefined;
}

/**
 * The real Prosody to compare with: one already running on its port, or one started with the
 * peers' script (which installs Debian's prosody; it needs root). Undefined when neither works.
 * `stop` stops it again if this run started it.
 */
export async function preparePeerProsody(warn) {
  const peer = await ensurePeer(
    { name: 'Prosody', script: join(PEER_PROSODY.script, 'prosody.sh'), url: PEER_PROSODY.url, answers: peerAnswers },
    warn,
  );
  if (peer === undefined) return undefined;
  return {
    url: PEER_PROSODY.url,
    pid: peerPid(),
    get: { path: '/data/bench', headers: PEER_HEADERS },
    put: { path: '/data/bench_', headers: PEER_HEADERS },
    stop: peer.stop,
  };
}
