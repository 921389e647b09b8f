// What authentication adds to one hot request, measured in process on the built code: the
// gateway finding the credential and its cached caller, the record service checking the grant
// (cached per grant) and the caller's role (cached per space), then core's authorize(). That is
// all the hot path does for auth, except carrying the ~250-byte grant header on the RPC.
// Principals expire after a second here as in production, so background refreshes (a signing
// per half second) are part of the figure.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ROOT } from './config.mjs';
import { median } from './report.mjs';

const require = createRequire(import.meta.url);
const load = (path) => require(join(ROOT, path));

export async function measureAuthCost({ iterations = 200_000, batches = 5 } = {}) {
  const { Callers } = load('apps/gateway/dist/auth/callers.js');
  const { authenticateV1 } = load('apps/gateway/dist/auth/credentials.js');
  const { GrantSigner, principalMessage } = load('apps/api/dist/auth/grants.js');
  const { AccessControl } = load('apps/api/dist/services/access-control.js');
  const { RequestRates } = load('apps/api/dist/auth/rate-limits.js');

  const signer = new GrantSigner('bench-internal-secret-0123456789abcdef');
  const principal = {
    accountId: 1,
    account: 'bench',
    host: '',
    admin: false,
    readOnly: false,
    scopes: [],
    via: 'token',
    credentialId: 1,
    externalScopes: [],
    rateLimit: 0,
  };
  const authService = {
    async authenticate() {
      const message = principalMessage(principal, 'bench');
      const { grant, expiresMs } = signer.sign(message);
      return { principal: message, grant, grantExpiresMs: BigInt(expiresMs) };
    },
  };
  const callers = new Callers(authService);
  const access = new AccessControl({ roleOf: async () => 'owner' }, signer, new RequestRates(undefined, ''), {
    now: () => performance.now(),
  });
  const req = { headers: { authorization: 'Bearer rst_bench-admin-token-0123456789' }, socket: { remoteAddress: '' } };
  const target = { space: 'default', collection: 'bench' };
  const once = async () => {
    const caller = await authenticateV1(callers, req);
    await access.check(access.principal(caller.grant), target, 'read');
  };
  for (let i = 0; i < iterations / 4; i++) await once();
  const perBatchUs = [];
  for (let b = 0; b < batches; b++) {
    const started = performance.now();
    for (let i = 0; i < iterations; i++) await once();
    perBatchUs.push(((performance.now() - started) * 1000) / iterations);
  }
  return { perRequestUs: median(perBatchUs), perBatchUs, iterations, batches };
}
