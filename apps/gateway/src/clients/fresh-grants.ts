import type { DescService } from '@bufbuild/protobuf';
import type { CallOptions, Client } from '@connectrpc/connect';
import {
  AdminService,
  AuthService,
  ChangeFeedService,
  CollectionService,
  GRANT_HEADER,
  HealthService,
  RecordService,
  VersionService,
} from '@rosetta/proto';
import type { RecordApi } from './record-api';

type Fresh = (grant: string) => string | Promise<string>;
type Method = (request: unknown, options?: CallOptions) => unknown;

/** The options with the grant they carry swapped for a fresh one, when it needs to be. */
function refreshed(options: CallOptions | undefined, fresh: Fresh): CallOptions | Promise<CallOptions> | undefined {
  const headers = options?.headers as Record<string, string> | undefined;
  const grant = headers?.[GRANT_HEADER];
  if (grant === undefined) return options;
  const current = fresh(grant);
  if (typeof current === 'string') return options;
  return current.then((next) => ({ ...options, headers: { ...headers, [GRANT_HEADER]: next } }));
}

function wrap<S extends DescService>(service: S, client: Client<S>, fresh: Fresh): Client<S> {
  const methods = client as unknown as Record<string, Method>;
  const out: Record<string, Method> = {};
  for (const method of service.methods) {
    const call = methods[method.localName];
    if (call === undefined) continue;
    out[method.localName] =
      method.methodKind === 'server_streaming'
        ? (request, options) =>
            (async function* () {
              yield* call(request, await refreshed(options, fresh)) as AsyncIterable<unknown>;
            })()
        : (request, options) => {
            const next = refreshed(options, fresh);
            return next instanceof Promise ? next.then((o) => call(request, o)) : call(request, next);
          };
  }
  return out as unknown as Client<S>;
}

/**
 * The record API with every call's grant checked before it leaves: a grant past its life is
 * replaced by a fresh one for the same credential (`Callers.fresh`), so a request that held its
 * caller for long is not refused for it. Calls with a live grant go through untouched.
 */
export function withFreshGrants(api: RecordApi, fresh: Fresh): RecordApi {
  return {
    records: wrap(RecordService, api.records, fresh),
    collections: wrap(CollectionService, api.collections, fresh),
    changes: wrap(ChangeFeedService, api.changes, fresh),
    auth: wrap(AuthService, api.auth, fresh),
    admin: wrap(AdminService, api.admin, fresh),
    health: wrap(HealthService, api.health, fresh),
    versions: wrap(VersionService, api.versions, fresh),
  };
}
