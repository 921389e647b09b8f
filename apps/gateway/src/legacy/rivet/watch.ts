import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { invalid } from '@rosetta/core';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Caller } from '../../auth/callers';
import { failureOf, toHttpFailure } from '../../errors';
import { underPrefix, type CollectionFeed, type FeedPage, type Resume } from '../../events/collection-feed';
import { changeEventJson } from '../../v1/render';
import { pathOf, queryOf, type DialectContext } from '../dialect';
import { creatingCollection, type Place } from '../store';
import { firstHeader } from './credentials';
import { matchRivetPath } from './paths';
import { placeOf } from './records';
import { errorBody, JSON_CONTENT_TYPE, RIVET_STATUS } from './render';
import { storeCaller } from './sessions';

/** A watch with nothing to send reads again (and pings) this often at the latest (ms). */
const IDLE_WAIT_MS = 15_000;

/** Go's status texts of the refusals a watch can answer before upgrading. */
const REASON: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Refuses an upgrade with a plain HTTP answer in Rivet's error shape. */
function refuse(socket: Duplex, status: number): void {
  const reason = REASON[status] ?? 'Internal Server Error';
  const body = errorBody(reason, false);
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: ${JSON_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** Sends a message and resolves once it is handed to the socket (back-pressure per page). */
const send = (ws: WebSocket, text: string) =>
  new Promise<void>((resolve, reject) => ws.send(text, (error) => (error ? reject(error) : resolve())));

/**
 * The second item of Rivet's own to-do list: a WebSocket watch on a user's store. `GET
 * /store/<user>` with `Upgrade: websocket` and the session (`X-Session-Token`, or `?session=`
 * for browsers, which cannot set headers on a WebSocket) streams one JSON text message per
 * change of the store, as `/v1/…/changes` shows them, from now or, with `?since=<revision>`,
 * from after that revision; `?prefix=` narrows it to some keys. It reads the gap-free change
 * feed, so a client that reconnects with the last revision it got misses nothing.
 */
export function rivetWatch(
  context: DialectContext,
  feed: CollectionFeed,
): (req: IncomingMessage, socket: Duplex, head: Buffer) => boolean {
  const sockets = new WebSocketServer({ noServer: true, maxPayload: 4096 });

  async function follow(ws: WebSocket, caller: () => Promise<Caller>, place: Place, first: FeedPage, prefix: string) {
    const stop = new AbortController();
    ws.on('close', () => stop.abort());
    const wanted = underPrefix(prefix);
    try {
      for await (const page of feed.pages(caller, place, first, IDLE_WAIT_MS, stop.signal)) {
        if (page !== first && page.events.length === 0) ws.ping();
        for (const event of page.events) if (wanted(event)) await send(ws, JSON.stringify(changeEventJson(event)));
      }
    } catch (error) {
      if (stop.signal.aborted) return;
      const failure = toHttpFailure(error);
      // 1008: access withdrawn (the session ended, say); 1013: try again later; 1011: a bug.
      const code = failure.code === 'UNAVAILABLE' ? 1013 : failure.unexpected ? 1011 : 1008;
      if (failure.unexpected) context.logger.error({ err: error }, 'rivet watch failed');
      ws.close(code, failure.unexpected ? 'internal error' : failure.message.slice(0, 120));
    }
  }

  async function open(req: IncomingMessage, socket: Duplex, head: Buffer, user: string): Promise<void> {
    const query = queryOf(req.url ?? '');
    let caller: Caller;
    let first: FeedPage;
    const place = placeOf(user);
    try {
      caller = await storeCaller(
        context,
        req,
        user,
        firstHeader(req, 'x-session-token') ?? query.get('session') ?? undefined,
      );
      const since = query.get('since');
      if (since !== null && !/^\d{1,16}$/.test(since)) throw invalid('INVALID_CURSOR', 'since must be a revision');
      const resume: Resume = since === null ? { now: true } : { revision: BigInt(since) };
      const who = caller;
      first = await creatingCollection(context, who, place, () =>
        feed.next(() => Promise.resolve(who), place, resume, 0),
      );
    } catch (error) {
      refuse(socket, RIVET_STATUS[failureOf(req, error, context.logger).code]);
      return;
    }
    const who = caller;
    sockets.handleUpgrade(req, socket, head, (ws) => {
      void follow(ws, () => Promise.resolve(who), place, first, query.get('prefix') ?? '');
    });
  }

  return (req, socket, head) => {
    let path;
    try {
      path = matchRivetPath(pathOf(req.url ?? ''));
    } catch {
      return false;
    }
    if (path.kind !== 'keys' || req.method !== 'GET') return false;
    void open(req, socket, head, path.user);
    return true;
  };
}
