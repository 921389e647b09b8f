#!/usr/bin/env node
// The administration CLI: accounts, spaces, members and tokens, through a running Rosetta's /v1
// API (the all-in-one `npm start` or a cluster's gateway). Usage: `npm run rosetta -- help`.
import { parseArgs } from 'node:util';

const USAGE = `usage: npm run rosetta -- <command> [options]

  whoami
  accounts list | get <login> | delete <login>
  accounts create <login> [--password P] [--admin]
  accounts update <login> [--password P] [--admin true|false] [--disabled true|false]
  accounts tokens <login>                      (admins: another account's tokens)
  spaces list [--all] | get <name> | create <name> [--id UUID] | delete <name>
  members list <space> | set <space> <login> <owner|writer|reader> | remove <space> <login>
  tokens list | revoke <id>
  tokens create [--name N] [--scope SPACE[/COLLECTION][:rw][@PREFIX]]... [--read-only]
                [--expires SECONDS] [--rate-limit PER_SECOND] [--account LOGIN]
  run-tokens create <space> [--expires SECONDS]
  login <login> --password P [--read-only]     (prints a session token)

  --url URL      the Rosetta to talk to (ROSETTA_URL, default http://127.0.0.1:8080)
  --token T      an API token (ROSETTA_TOKEN); or --user LOGIN --password P for HTTP Basic
`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    url: { type: 'string', default: process.env.ROSETTA_URL ?? 'http://127.0.0.1:8080' },
    token: { type: 'string', default: process.env.ROSETTA_TOKEN },
    user: { type: 'string' },
    password: { type: 'string' },
    admin: { type: 'string' },
    disabled: { type: 'string' },
    all: { type: 'boolean', default: false },
    name: { type: 'string' },
    scope: { type: 'string', multiple: true, default: [] },
    'read-only': { type: 'boolean', default: false },
    expires: { type: 'string' },
    'rate-limit': { type: 'string' },
    account: { type: 'string' },
    id: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

class UsageError extends Error {}

function authorization() {
  if (values.user !== undefined) {
    return `Basic ${Buffer.from(`${values.user}:${values.password ?? ''}`).toString('base64')}`;
  }
  if (values.token === undefined) throw new UsageError('give --token (or ROSETTA_TOKEN), or --user and --password');
  return `Bearer ${values.token}`;
}

async function call(method, path, body, auth = authorization()) {
  const response = await fetch(new URL(path, values.url), {
    method,
    headers: {
      ...(auth === undefined ? {} : { authorization: auth }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const parsed = text === '' ? null : JSON.parse(text);
  if (!response.ok) {
    const error = parsed?.error ?? { code: `HTTP ${response.status}`, message: text };
    throw new Error(`${error.code}: ${error.message}`);
  }
  return parsed;
}

const seg = (value, what) => {
  if (value === undefined) throw new UsageError(`missing ${what}`);
  return encodeURIComponent(value);
};
const bool = (value, what) => {
  if (value === undefined) return undefined;
  if (value === 'true' || value === 'false') return value === 'true';
  throw new UsageError(`--${what} takes true or false`);
};
const int = (value, what) => {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${what} takes a whole number`);
  return Number(value);
};

/** `space[/collection][:rw][@prefix]` → a scope. */
function scope(text) {
  const match = /^([^/:@]+)(?:\/([^:@]+))?(?::(r|rw))?(?:@(.*))?$/.exec(text);
  if (match === null) throw new UsageError(`bad --scope "${text}": SPACE[/COLLECTION][:rw][@PREFIX]`);
  const [, space, collection, access, keyPrefix] = match;
  return { space, collection, write: access === 'rw', keyPrefix };
}

async function run([resource, verb, a, b, c]) {
  switch (`${resource} ${verb ?? ''}`.trim()) {
    case 'whoami':
      return call('GET', '/v1/auth/whoami');
    case 'accounts list':
      return call('GET', '/v1/admin/accounts?limit=1000');
    case 'accounts get':
      return call('GET', `/v1/admin/accounts/${seg(a, 'login')}`);
    case 'accounts create': {
      const at = (a ?? '').lastIndexOf('@');
      const [name, host] = at < 0 ? [a, undefined] : [a.slice(0, at), a.slice(at + 1)];
      if (name === undefined) throw new UsageError('missing login');
      return call('POST', '/v1/admin/accounts', {
        name,
        host,
        password: values.password,
        admin: values.admin === undefined ? undefined : values.admin !== 'false',
      });
    }
    case 'accounts update':
      return call('PATCH', `/v1/admin/accounts/${seg(a, 'login')}`, {
        password: values.password,
        admin: bool(values.admin, 'admin'),
        disabled: bool(values.disabled, 'disabled'),
      });
    case 'accounts delete':
      return call('DELETE', `/v1/admin/accounts/${seg(a, 'login')}`);
    case 'accounts tokens':
      return call('GET', `/v1/admin/accounts/${seg(a, 'login')}/tokens`);
    case 'spaces list':
      return call('GET', values.all ? '/v1/admin/spaces' : '/v1/spaces');
    case 'spaces get':
      return call('GET', `/v1/spaces/${seg(a, 'space')}`);
    case 'spaces create':
      return call('POST', '/v1/spaces', { name: a, id: values.id });
    case 'spaces delete':
      return call('DELETE', `/v1/spaces/${seg(a, 'space')}`);
    case 'members list':
      return call('GET', `/v1/spaces/${seg(a, 'space')}/members`);
    case 'members set':
      return call('PUT', `/v1/spaces/${seg(a, 'space')}/members/${seg(b, 'login')}`, { role: c });
    case 'members remove':
      return call('DELETE', `/v1/spaces/${seg(a, 'space')}/members/${seg(b, 'login')}`);
    case 'tokens list':
      return call('GET', '/v1/tokens');
    case 'tokens create': {
      const body = {
        name: values.name,
        scopes: values.scope.map(scope),
        readOnly: values['read-only'],
        expiresInSeconds: int(values.expires, 'expires'),
        rateLimit: int(values['rate-limit'], 'rate-limit'),
      };
      return values.account === undefined
        ? call('POST', '/v1/tokens', body)
        : call('POST', `/v1/admin/accounts/${seg(values.account, 'account')}/tokens`, body);
    }
    case 'tokens revoke':
      return call('DELETE', `/v1/tokens/${seg(a, 'token id')}`);
    case 'run-tokens create':
      return call('POST', `/v1/spaces/${seg(a, 'space')}/run-tokens`, {
        expiresInSeconds: int(values.expires, 'expires'),
      });
    case 'login':
      if (verb === undefined || values.password === undefined) throw new UsageError('login <login> --password P');
      return call(
        'POST',
        '/v1/auth/login',
        { login: verb, password: values.password, readOnly: values['read-only'] },
        undefined,
      );
    default:
      throw new UsageError(resource === undefined ? 'missing command' : `unknown command "${positionals.join(' ')}"`);
  }
}

if (values.help || positionals[0] === 'help') {
  process.stdout.write(USAGE);
} else {
  try {
    const result = await run(positionals);
    process.stdout.write(result === null ? 'done\n' : `${JSON.stringify(result, null, 2)}\n`);
  } catch (error) {
    process.stderr.write(`rosetta: ${error.message}\n`);
    if (error instanceof UsageError) process.stderr.write(`\n${USAGE}`);
    process.exitCode = error instanceof UsageError ? 2 : 1;
  }
}
