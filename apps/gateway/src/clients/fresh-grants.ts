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
  WebhookService,
  JobService,
  SnapshotService,
  readWireError,
} from '@rosetta/proto';
import type { RecordApi } from './record-api';

/** What the gateway knows of the grants it handed out (Callers). */
export interface Grants {
  fresh(grant: string): string | Promise<string>;
  renew(grant: string): Promise<string> | undefined;
}

type Method = (request: unknown, options?: CallOptions) => unknown;

const grantOf = (options: CallOptions | undefined) =>
  (options?.headers as Record<string, string> | undefined)?.[GRANT_HEADER];

const withGrant = (options: CallOptions | undefined, grant: string): CallOptions => ({
  ...options,
  headers: { ...(options?.headers as Record<string, string>), [GRANT_HEADER]: grant },
});

/** The options with the grant they carry swapped for a fresh one, when it needs to be. */
function refreshed(options: CallOptions | undefined, grants: Grants): CallOptions | Promise<CallOptions> | undefined {
  const grant = grantOf(options);
  if (grant === undefined) return options;
  const current = grants.fresh(grant);
  if (typeof current === 'string') return current === grant ? options : withGrant(options, current);
  return current.then((next) => withGrant(options, next));
}

/** A new grant when `error` refused `options`' grant as expired; undefined for any other failure. */
function renewal(error: unknown, options: CallOptions | undefined, grants: Grants): Promise<string> | undefined {
  const grant = grantOf(options);
  if (grant === undefined || readWireError(error).code !== 'UNAUTHENTICATED') return undefined;
  return grants.renew(grant);
}

function wrap<S extends DescService>(service: S, client: Client<S>, grants: Grants): Client<S> {
  const methods = client as unknown as Record<string, Method>;
  const out: Record<string, Method> = {};
  for (const method of service.methods) {
    const call = methods[method.localName];
    if (call === undefined) continue;
    const unary = async (request: unknown, options: CallOptions | undefined) => {
      try {
        return await call(request, options);
      } catch (error) {
        // Refused before anything ran: one retry with a grant that is alive.
        const renewed = renewal(error, options, grants);
        if (renewed === undefined) throw error;
        return call(request, withGrant(options, await renewed));
      }
    };
    out[method.localName] =
      method.methodKind === 'server_streaming'
        ? (request, options) =>
            (async function* () {
              const sent = await refreshed(options, grants);
              const first = (call(request, sent) as AsyncIterable<unknown>)[Symbol.asyncIterator]();
              let head: IteratorResult<unknown>;
              let rest: AsyncIterator<unknown> = first;
              try {
                head = await first.next();
              } catch (error) {
                const renewed = renewal(error, sent, grants);
                if (renewed === undefined) throw error;
                rest = (call(request, withGrant(sent, await renewed)) as AsyncIterable<unknown>)[
                  Symbol.asyncIterator
                ]();
                head = await rest.next();
              }
              // A consumer that stops early must cancel the call, whichever message it stopped at.
              try {
                if (head.done === true) return;
                yield head.value;
                yield* { [Symbol.asyncIterator]: () => rest };
              } finally {
                await rest.return?.();
              }
            })()
        : (request, options) => {
            const next = refreshed(options, grants);
            return next instanceof Promise ? next.then((o) => unary(request, o)) : unary(request, next);
          };
  }
  return out as unknown as Client<S>;
}

/**
 * The record API with every call's grant checked before it leaves: a grant near the end of its
 * life is replaced by a fresh one for the same credential (`Grants.fresh`), so a request that
 * held its caller for long is not refused for it; a call refused because its grant expired while
 * it waited is retried once with a new one (`Grants.renew`). Other calls go through untouched.
 */
export function withFreshGrants(api: RecordApi, fresh: Grants): RecordApi {
  return {
    records: wrap(RecordService, api.records, fresh),
    collections: wrap(CollectionService, api.collections, fresh),
    changes: wrap(ChangeFeedService, api.changes, fresh),
    auth: wrap(AuthService, api.auth, fresh),
    admin: wrap(AdminService, api.admin, fresh),
    health: wrap(HealthService, api.health, fresh),
    versions: wrap(VersionService, api.versions, fresh),
    webhooks: wrap(WebhookService, api.webhooks, fresh),
    jobs: wrap(JobService, api.jobs, fresh),
    snapshots: wrap(SnapshotService, api.snapshots, fresh),
  };
}
