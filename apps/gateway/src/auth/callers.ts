import type { IncomingMessage } from 'node:http';
import type { Client } from '@connectrpc/connect';
import proxyaddr from 'proxy-addr';
import { GRANT_HEADER, type AuthService, type CredentialSchema, type Principal } from '@rosetta/proto';
import type { MessageInitShape } from '@bufbuild/protobuf';

export type CredentialInit = MessageInitShape<typeof CredentialSchema>;

/** An authenticated caller: its principal, and the headers that carry its grant on every call. */
export interface Caller {
  readonly principal: Principal;
  readonly grant: string;
  readonly headers: Readonly<Record<string, string>>;
}

interface Entry {
  caller: Caller;
  /** performance.now() after which the entry must not be used. */
  until: number;
  /** performance.now() after which a use starts a refresh in the background. */
  refreshAt: number;
  refreshing: boolean;
}

/** Stop using a grant this long before the record service's expiry. */
const SAFETY_MS = 100;
/** A grant with less than this to live is replaced before a call goes out with it. */
const FRESH_MARGIN_MS = 300;
const CACHE_LIMIT = 100_000;

/**
 * Turns credentials into callers through the record service's Authenticate, and remembers each
 * answer for as long as its grant lives (under a second): a revoked token or a disabled account
 * is refused everywhere within that. Hot credentials are refreshed in the background before
 * they lapse, so a steady stream of requests never waits for authentication. Failures are not
 * remembered: password failures must each reach the service's attempt counters.
 */
export class Callers {
  private readonly entries = new Map<string, Entry>();
  private readonly pending = new Map<string, Promise<Caller>>();
  /** Each grant handed out: until when it is good, and how to get a fresh one for its credential. */
  private readonly grants = new Map<
    string,
    { cacheKey: string; credential: CredentialInit; clientAddress: string; until: number }
  >();

  private readonly trust: (address: string, hop: number) => boolean;

  /**
   * `trustedProxies`: addresses, subnets or the names `loopback`, `linklocal`, `uniquelocal` of
   * the proxies whose X-Forwarded-For is believed (none by default).
   */
  constructor(
    private readonly auth: Client<typeof AuthService>,
    trustedProxies: readonly string[] = [],
  ) {
    this.trust = proxyaddr.compile([...trustedProxies]);
  }

  /**
   * The client's address, for per-address limits of password attempts: the connection's peer,
   * or the nearest address in X-Forwarded-For that a trusted proxy did not add itself.
   */
  clientAddress(req: IncomingMessage): string {
    return proxyaddr(req, this.trust);
  }

  /**
   * The caller for a credential; `cacheKey` identifies the credential exactly (the raw header
   * value, say), `clientAddress` feeds per-address limits of password attempts.
   */
  authenticate(cacheKey: string, credential: () => CredentialInit, clientAddress: string): Promise<Caller> {
    const now = performance.now();
    const entry = this.entries.get(cacheKey);
    if (entry !== undefined && entry.until > now) {
      if (entry.refreshAt <= now && !entry.refreshing) {
        entry.refreshing = true;
        this.fetch(cacheKey, credential(), clientAddress).catch(() => this.entries.delete(cacheKey));
      }
      return Promise.resolve(entry.caller);
    }
    return this.fetch(cacheKey, credential(), clientAddress);
  }

  private fetch(cacheKey: string, credential: CredentialInit, clientAddress: string): Promise<Caller> {
    let pending = this.pending.get(cacheKey);
    if (pending === undefined) {
      const started = performance.now();
      const startedWall = Date.now();
      pending = this.auth
        .authenticate({ credential, clientAddress })
        .then(({ principal, grant, grantExpiresMs }) => {
          if (principal === undefined) throw new Error('Authenticate answered without a principal');
          const caller: Caller = { principal, grant, headers: { [GRANT_HEADER]: grant } };
          const lifetime = Number(grantExpiresMs) - startedWall - SAFETY_MS;
          if (this.grants.size >= CACHE_LIMIT) this.grants.clear();
          this.grants.set(grant, { cacheKey, credential, clientAddress, until: started + lifetime });
          if (lifetime > 0) {
            if (this.entries.size >= CACHE_LIMIT) this.entries.clear();
            this.entries.set(cacheKey, {
              caller,
              until: started + lifetime,
              refreshAt: started + lifetime / 2,
              refreshing: false,
            });
          } else {
            this.entries.delete(cacheKey);
          }
          return caller;
        })
        .finally(() => this.pending.delete(cacheKey));
      this.pending.set(cacheKey, pending);
    }
    return pending;
  }

  /**
   * A grant good for a call starting now: the one given while it has more than FRESH_MARGIN_MS
   * to live, else the credential's newer grant, else a fresh one. A request may hold its caller
   * for longer than a grant lives (a large body uploading slowly, a queue), and the record
   * service refuses expired grants.
   */
  fresh(grant: string): string | Promise<string> {
    const origin = this.grants.get(grant);
    const now = performance.now();
    if (origin === undefined || origin.until - FRESH_MARGIN_MS > now) return grant;
    const entry = this.entries.get(origin.cacheKey);
    if (entry !== undefined && entry.until - FRESH_MARGIN_MS > now) return entry.caller.grant;
    return this.fetch(origin.cacheKey, origin.credential, origin.clientAddress).then((caller) => caller.grant);
  }

  /**
   * A fresh grant for the credential of `grant` when that grant was refused as expired, at most
   * FRESH_MARGIN_MS before its end by our clock: a call that waited in the record service's
   * queue past the grant's life. Undefined for other refusals, which a retry would not cure.
   */
  renew(grant: string): Promise<string> | undefined {
    const origin = this.grants.get(grant);
    if (origin === undefined || origin.until - FRESH_MARGIN_MS > performance.now()) return undefined;
    const { cacheKey, credential, clientAddress } = origin;
    this.entries.delete(cacheKey);
    return this.fetch(cacheKey, credential, clientAddress).then((caller) => caller.grant);
  }
}
