// A small HTTP/1.1 client on node:http (keep-alive), for seeding and readiness probes. Every
// request carries the bench's admin token.
import { Agent, request } from 'node:http';
import { AUTH_HEADERS } from './config.mjs';

const agent = new Agent({ keepAlive: true, maxSockets: 8 });

/** One request; resolves with { status, headers, body: Buffer }. */
export function httpRequest(method, url, { body, headers = {}, timeoutMs = 60_000 } = {}) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body);
    const req = request(
      url,
      {
        method,
        agent,
        // A header given as undefined is left out (the admin token, for a request that must not carry it).
        headers: Object.fromEntries(
          Object.entries({
            ...AUTH_HEADERS,
            ...headers,
            ...(payload === undefined ? {} : { 'content-length': String(payload.length) }),
          }).filter(([, value]) => value !== undefined),
        ),
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () =>
      req.destroy(Object.assign(new Error(`${method} ${url}: no answer in ${timeoutMs} ms`), { code: 'ETIMEDOUT' })),
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Sends JSON, expects one of `okStatuses`, returns the parsed answer. */
export async function jsonRequest(method, url, value, okStatuses = [200, 201]) {
  const res = await httpRequest(method, url, {
    body: value === undefined ? undefined : JSON.stringify(value),
    headers: value === undefined ? {} : { 'content-type': 'application/json' },
  });
  if (!okStatuses.includes(res.status)) {
    throw new Error(`${method} ${url} answered ${res.status}: ${res.body.toString('utf8', 0, 500)}`);
  }
  return res.body.length === 0 ? undefined : JSON.parse(res.body.toString('utf8'));
}

export function closeAgent() {
  agent.destroy();
}
