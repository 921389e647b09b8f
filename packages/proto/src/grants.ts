import type { DescService } from '@bufbuild/protobuf';
import type { CallOptions, Client } from '@connectrpc/connect';
import type { AuthService } from './gen/rosetta/v1/auth_pb';

/** The header that carries a grant (from AuthService.Authenticate) on every other call. */
export const GRANT_HEADER = 'rosetta-grant';

/** Refresh a grant this long before it expires, so that no call carries one about to lapse. */
const REFRESH_MARGIN_MS = 250;

/**
 * The grant of an internal caller (the worker) that authenticates with the cluster's internal
 * secret: fetched on first use, reused until shortly before it expires, refreshed by one call
 * however many calls are waiting.
 */
export class ServiceGrant {
  private current: { grant: string; until: number } | undefined;
  private pending: Promise<string> | undefined;

  constructor(
    private readonly auth: Client<typeof AuthService>,
    private readonly secret: string,
  ) {}

  async headers(): Promise<Record<string, string>> {
    return { [GRANT_HEADER]: await this.grant() };
  }

  private grant(): Promise<string> {
    const now = Date.now();
    if (this.current !== undefined && this.current.until > now) return Promise.resolve(this.current.grant);
    this.pending ??= this.auth
      .authenticate({ credential: { kind: { case: 'service', value: this.secret } } })
      .then(({ grant, grantExpiresMs }) => {
        this.current = { grant, until: Math.min(Number(grantExpiresMs), now + 1000) - REFRESH_MARGIN_MS };
        return grant;
      })
      .finally(() => {
        this.pending = undefined;
      });
    return this.pending;
  }
}

/**
 * A client whose calls carry the headers `headers()` gives (a grant, typically), where the
 * call does not set them itself.
 */
export function withHeaders<S extends DescService>(
  service: S,
  client: Client<S>,
  headers: () => Promise<Record<string, string>>,
): Client<S> {
  const merged = async (options: CallOptions | undefined): Promise<CallOptions> => {
    const all = new Headers(options?.headers);
    for (const [name, value] of Object.entries(await headers())) if (!all.has(name)) all.set(name, value);
    return { ...options, headers: all };
  };
  const methods = client as unknown as Record<string, (request: unknown, options: CallOptions) => unknown>;
  const wrapped: Record<string, unknown> = {};
  for (const method of service.methods) {
    const call = methods[method.localName];
    if (call === undefined) continue;
    wrapped[method.localName] =
      method.methodKind === 'server_streaming'
        ? async function* (request: unknown, options?: CallOptions) {
            yield* call.call(client, request, await merged(options)) as AsyncIterable<unknown>;
          }
        : async (request: unknown, options?: CallOptions) => call.call(client, request, await merged(options));
  }
  return wrapped as Client<S>;
}
