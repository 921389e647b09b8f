import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { Server as NetServer } from 'node:net';

export interface DrainOptions {
  /**
   * How long the gateway keeps serving on its port once draining began (`/readyz` answering 503)
   * before it stops listening, so that a load balancer polling `/readyz` sends it nothing new.
   */
  readonly delayMs: number;
  /**
   * How long, after the port closed, keep-alive connections may bring one more request before
   * those still idle are closed: a request a client sent on one just before it closed is read
   * and answered rather than lost with the connection.
   */
  readonly idleGraceMs: number;
}

/** The idle grace the gateway drains with: requests already on their way arrive well within it. */
export const DRAIN_IDLE_GRACE_MS = 1_000;

const READYZ = '/readyz';
const DRAINING_BODY = JSON.stringify({ status: 'draining' });

/**
 * Drain on SIGTERM. Once `drain` began, `/readyz` answers 503 and every response carries
 * `Connection: close` (those in flight included, unless their headers were sent), so no client sends another request on a connection it used; after
 * `delayMs` the port closes (the requests in flight go on); after `idleGraceMs` more, or as soon
 * as no connection is left, `drain` resolves and the HTTP server's own close drops what is still
 * idle and waits for the rest. A request the server has read is always answered.
 */
export class HttpDrain {
  private draining = false;
  /** Responses being written, to tell their clients too that the connection closes after them. */
  private readonly inFlight = new Set<ServerResponse>();

  constructor(private readonly options: DrainOptions) {}

  get isDraining(): boolean {
    return this.draining;
  }

  /** The app behind the drain: the same object for every other use (its upgrades, its close). */
  wrap<A extends RequestListener>(app: A): A {
    return new Proxy(app, {
      apply: (target, thisArg, [req, res]: [IncomingMessage, ServerResponse]) => {
        if (this.draining) {
          res.setHeader('connection', 'close');
          if (req.url === READYZ || req.url?.startsWith(`${READYZ}?`) === true) {
            res.writeHead(503, { 'content-type': 'application/json', 'cache-control': 'no-store' });
            res.end(DRAINING_BODY);
            return;
          }
        } else {
          this.inFlight.add(res);
          res.once('close', () => this.inFlight.delete(res));
        }
        Reflect.apply(target, thisArg, [req, res]);
      },
    });
  }

  /** Starts draining `server` and resolves when what remains is for its close to end. */
  async drain(server: Server): Promise<void> {
    this.draining = true;
    // Those whose headers are gone (streams) keep their connection until the server's close.
    for (const res of this.inFlight) if (!res.headersSent) res.setHeader('connection', 'close');
    this.inFlight.clear();
    if (this.options.delayMs > 0) await sleep(this.options.delayMs);
    // net's close, not http's: http's also destroys idle keep-alive connections at once, and with
    // them a request a client has just sent on one that the server has not read yet.
    NetServer.prototype.close.call(server);
    const deadline = performance.now() + this.options.idleGraceMs;
    while (performance.now() < deadline && (await connections(server)) > 0) await sleep(25);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function connections(server: Server): Promise<number> {
  return new Promise((resolve) => server.getConnections((error, count) => resolve(error === null ? count : 0)));
}
