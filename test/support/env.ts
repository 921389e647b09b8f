/**
 * Where the integration and end-to-end tests find the real services. The machine runs Postgres
 * and Redis on their standard ports; override with TEST_DATABASE_URL and TEST_REDIS_URL.
 */
export const ADMIN_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Set by the global setup: an id for this run, and the migrated template database. */
export const RUN_ID_VAR = 'ROSETTA_TEST_RUN_ID';
export const TEMPLATE_VAR = 'ROSETTA_TEST_TEMPLATE_DB';

export function databaseUrl(name: string): string {
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

export function runId(): string {
  const id = process.env[RUN_ID_VAR];
  if (id === undefined) throw new Error('the Jest global setup did not run (no ROSETTA_TEST_RUN_ID)');
  return id;
}

/** The admin token (ROSETTA_ADMIN_TOKEN) and internal secret the tests start services with. */
export const TEST_ADMIN_TOKEN = 'rst_test-admin-token-0123456789';
export const TEST_INTERNAL_SECRET = 'test-internal-secret-0123456789abcdef';

/** fetch with a bearer token, unless the call sets its own Authorization. */
export function authFetch(token: string = TEST_ADMIN_TOKEN): typeof fetch {
  return (input, init) => {
    const headers = new Headers(init?.headers);
    if (!headers.has('authorization')) headers.set('authorization', `Bearer ${token}`);
    return fetch(input, { ...init, headers });
  };
}
