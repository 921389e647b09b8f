import type { Request, Response } from 'express';
import { invalid } from '@rosetta/core';
import type { ChangeEvent } from '@rosetta/proto';
import type { Caller } from '../auth/callers';
import { RevisionExpired, underPrefix, type CollectionFeed, type Resume } from '../events/collection-feed';
import { header } from '../http/headers';
import { openStream } from '../http/overload';
import { ChunkBuilder, writeChunk } from '../http/write-chunk';
import { changeEventJson } from './render';
import type { RouteTable } from './route';
import { ChangesQuerySchema, ChangesSchema, CollectionParamsSchema } from './schemas';
import { clientGone } from './stream';

const DEFAULT_WAIT_MS = 5 * 60_000;
const MAX_WAIT_MS = 10 * 60_000;
/** A Server-Sent Events stream with nothing to send says so this often (proxies drop silent ones). */
const HEARTBEAT_MS = 15_000;

/** `500ms`, `30s`, `5m` or plain milliseconds, at most MAX_WAIT_MS. */
function waitOf(text: string | undefined): number {
  if (text === undefined) return DEFAULT_WAIT_MS;
  const match = /^(\d+)(ms|s|m)?$/.exec(text);
  const scale = { ms: 1, s: 1000, m: 60_000 }[match?.[2] ?? 'ms'] ?? 1;
  return Math.min(Number(match?.[1] ?? 0) * scale, MAX_WAIT_MS);
}

function resumeOf(since: string | undefined, lastEventId: string | undefined): Resume {
  const text = lastEventId ?? since;
  if (text === undefined) return { now: true };
  if (!/^\d{1,16}$/.test(text)) throw invalid('INVALID_CURSOR', 'Last-Event-ID must be a revision');
  return { revision: BigInt(text) };
}

function expired(res: Response, error: RevisionExpired): void {
  res
    .status(410)
    .set('x-rosetta-oldest-revision', error.oldest === undefined ? '' : String(error.oldest))
    .json({
      error: {
        code: error.code,
        message: error.publicMessage,
        oldestRevision: error.oldest === undefined ? null : Number(error.oldest),
      },
    });
}

/**
 * A collection's changes as they commit, resumable from a revision: a long-poll (Consul's
 * blocking query: `?since=` and `?wait=`) answering JSON, or Server-Sent Events when the client
 * asks for text/event-stream (resuming from Last-Event-ID). Both read the gap-free feed.
 */
export function changeRoutes(table: RouteTable, feed: CollectionFeed): void {
  table.add(
    {
      method: 'get',
      expressPath: '/v1/spaces/:space/collections/:collection/changes',
      openapiPath: '/v1/spaces/{space}/collections/{collection}/changes',
      summary: 'Changes of a collection: a long-poll, or Server-Sent Events',
      description:
        'Without `since`: answers at once with no events and the revision to continue from. With `since`: the events after that revision, waiting up to `wait` for a first one. A revision older than the events kept answers 410 with the oldest kept. With Accept: text/event-stream, a stream of `change` events whose ids are revisions (Last-Event-ID resumes).',
      tags: ['changes'],
      params: CollectionParamsSchema,
      query: ChangesQuerySchema,
      responses: {
        200: {
          description: 'Events, and the revision to continue from',
          content: {
            'application/json': { schema: ChangesSchema },
            'text/event-stream': { schema: { type: 'string' } },
          },
        },
      },
      errors: [
        'REVISION_EXPIRED',
        'INVALID_CURSOR',
        'COLLECTION_NOT_FOUND',
        'INVALID_ARGUMENT',
        'RATE_LIMITED',
        'UNAVAILABLE',
      ],
    },
    async (req, res, { query, caller }) => {
      const address = { space: String(req.params.space), collection: String(req.params.collection) };
      const wanted = underPrefix(query.prefix ?? '');
      const stream = req.accepts(['application/json', 'text/event-stream']) === 'text/event-stream';
      const resume = resumeOf(query.since, stream ? header(req, 'last-event-id') : undefined);
      const who = () => Promise.resolve<Caller>(caller);
      try {
        if (stream) await events(req, res, feed, who, address, resume, wanted);
        else await longPoll(res, feed, who, address, resume, wanted, 'now' in resume ? 0 : waitOf(query.wait));
      } catch (error) {
        if (!(error instanceof RevisionExpired) || res.headersSent) throw error;
        expired(res, error);
      }
    },
  );
}

type Address = { readonly space: string; readonly collection: string };

async function longPoll(
  res: Response,
  feed: CollectionFeed,
  caller: () => Promise<Caller>,
  address: Address,
  resume: Resume,
  wanted: (event: ChangeEvent) => boolean,
  waitMs: number,
): Promise<void> {
  // A long-poll that waits is a long-lived answer, as a stream is: it counts against their caps.
  if (waitMs > 0) openStream(res);
  const signal = clientGone(res);
  const deadline = performance.now() + waitMs;
  let page = await feed.next(caller, address, resume, waitMs, signal);
  let revision = 'revision' in resume && page.events.length === 0 ? resume.revision : page.revision;
  let shown = page.events.filter(wanted);
  // Events of other keys move the revision on without answering: wait on for ours.
  while (shown.length === 0 && page.events.length > 0 && !signal.aborted) {
    page = await feed.next(
      caller,
      address,
      { position: page.position },
      Math.max(0, deadline - performance.now()),
      signal,
    );
    if (page.events.length > 0) revision = page.revision;
    shown = page.events.filter(wanted);
  }
  if (signal.aborted) return;
  res
    .set('x-rosetta-revision', String(revision))
    .set('cache-control', 'no-store')
    .json({ events: shown.map(changeEventJson), revision: Number(revision) });
}

async function events(
  req: Request,
  res: Response,
  feed: CollectionFeed,
  caller: () => Promise<Caller>,
  address: Address,
  resume: Resume,
  wanted: (event: ChangeEvent) => boolean,
): Promise<void> {
  openStream(res);
  const signal = clientGone(res);
  // The first read decides the status: an unknown collection or an expired revision is still
  // a clean error response.
  const first = await feed.next(caller, address, resume, 0, signal);
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    'x-accel-buffering': 'no',
  });
  // The stream's first id is where it starts, so that a client gone before any event resumes there.
  const start = 'revision' in resume ? resume.revision : first.revision;
  if (!(await writeChunk(res, `retry: 2000\nid: ${start}\nevent: ready\ndata: {"revision":${start}}\n\n`))) return;
  req.socket.setTimeout(0);
  try {
    const out = new ChunkBuilder();
    for await (const page of feed.pages(caller, address, first, HEARTBEAT_MS, signal)) {
      if (page !== first && page.events.length === 0) out.add(': keep-alive\n\n');
      for (const event of page.events) {
        if (wanted(event))
          out.add(`id: ${event.revision}\nevent: change\ndata: ${JSON.stringify(changeEventJson(event))}\n\n`);
      }
      if (out.pieces > 0 && !(await writeChunk(res, out.take()))) return;
    }
  } catch (error) {
    res.destroy(error instanceof Error ? error : undefined);
    if (!signal.aborted) throw error;
  }
}
