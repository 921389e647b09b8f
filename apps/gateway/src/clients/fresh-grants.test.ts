import { GRANT_HEADER, wireError, type Record as RecordMessage } from '@rosetta/proto';
import { Code, type CallOptions } from '@connectrpc/connect';
import { withFreshGrants, type Grants } from './fresh-grants';
import type { RecordApi } from './record-api';

/** A record API whose every call records the grant it carried and answers from `answer`. */
function fakeApi(answer: (grant: string | undefined, attempt: number) => unknown) {
  const grants: Array<string | undefined> = [];
  const call = (_request: unknown, options?: CallOptions) => {
    const grant = (options?.headers as Record<string, string> | undefined)?.[GRANT_HEADER];
    grants.push(grant);
    return answer(grant, grants.length);
  };
  const records = {
    getRecord: async (request: unknown, options?: CallOptions) => call(request, options),
    scan: (request: unknown, options?: CallOptions) => call(request, options),
  };
  const api = {
    records,
    collections: {},
    changes: {},
    auth: {},
    admin: {},
    health: {},
    versions: {},
    webhooks: {},
    jobs: {},
    snapshots: {},
  };
  return { api: api as unknown as RecordApi, grants };
}

const expired = () => wireError(Code.Unauthenticated, 'UNAUTHENTICATED', 'the grant has expired');
const headers = (grant: string) => ({ headers: { [GRANT_HEADER]: grant } });

function grantsOf(fresh: Record<string, string>, renewed: Record<string, string>): Grants {
  return {
    fresh: (grant) => fresh[grant] ?? grant,
    renew: (grant) => (renewed[grant] === undefined ? undefined : Promise.resolve(renewed[grant])),
  };
}

async function* chunks(...values: string[]) {
  for (const value of values) yield { records: [{ key: value } as RecordMessage] };
}

it('sends a fresh grant in place of one about to expire, and live ones untouched', async () => {
  const { api, grants } = fakeApi(() => Promise.resolve({}));
  const wrapped = withFreshGrants(api, grantsOf({ old: 'new' }, {}));
  await wrapped.records.getRecord({}, headers('old'));
  await wrapped.records.getRecord({}, headers('live'));
  await wrapped.records.getRecord({});
  expect(grants).toEqual(['new', 'live', undefined]);
});

it('retries once a unary call refused because its grant expired while it waited', async () => {
  const { api, grants } = fakeApi((grant) =>
    grant === 'stale' ? Promise.reject(expired()) : Promise.resolve({ ok: grant }),
  );
  const wrapped = withFreshGrants(api, grantsOf({}, { stale: 'renewed' }));
  await expect(wrapped.records.getRecord({}, headers('stale'))).resolves.toEqual({ ok: 'renewed' });
  expect(grants).toEqual(['stale', 'renewed']);
});

it('does not retry other refusals, nor an expired grant it cannot renew', async () => {
  const denied = fakeApi(() => Promise.reject(wireError(Code.PermissionDenied, 'PERMISSION_DENIED', 'no')));
  await expect(
    withFreshGrants(denied.api, grantsOf({}, { g: 'h' })).records.getRecord({}, headers('g')),
  ).rejects.toThrow('no');
  expect(denied.grants).toEqual(['g']);
  const revoked = fakeApi(() => Promise.reject(expired()));
  await expect(withFreshGrants(revoked.api, grantsOf({}, {})).records.getRecord({}, headers('g'))).rejects.toThrow(
    'the grant has expired',
  );
  expect(revoked.grants).toEqual(['g']);
});

it('retries a stream refused before its first message, and streams the rest', async () => {
  const { api, grants } = fakeApi((grant) =>
    grant === 'stale'
      ? (async function* () {
          yield* [];
          throw expired();
        })()
      : chunks('a', 'b'),
  );
  const wrapped = withFreshGrants(api, grantsOf({}, { stale: 'renewed' }));
  const keys: string[] = [];
  for await (const chunk of wrapped.records.scan({}, headers('stale'))) keys.push(...chunk.records.map((r) => r.key));
  expect(keys).toEqual(['a', 'b']);
  expect(grants).toEqual(['stale', 'renewed']);
});

it('cancels the call when the consumer of a stream stops after its first message', async () => {
  let closed = false;
  const { api } = fakeApi(() =>
    (async function* () {
      try {
        yield* chunks('a', 'b', 'c');
      } finally {
        closed = true;
      }
    })(),
  );
  for await (const chunk of withFreshGrants(api, grantsOf({}, {})).records.scan({}, headers('g'))) {
    expect(chunk.records[0]?.key).toBe('a');
    break;
  }
  expect(closed).toBe(true);
});
