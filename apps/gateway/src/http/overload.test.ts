import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { isDomainError } from '@rosetta/core';
import { DEFAULT_SERVER_LIMITS, OverloadGate, openStream, type ServerLimits } from './overload';

/**
 * The gate's bookkeeping on bare node:http objects (no socket, no telemetry): the in-flight cap
 * and its exempt paths, the stream caps per client and overall, slots given back when responses
 * close, and a stream opened after its client left. Real traffic is in
 * test/int/overload.int.test.ts and test/int/slow-clients.int.test.ts.
 */

const LIMITS: ServerLimits = { ...DEFAULT_SERVER_LIMITS, maxInflight: 2, maxStreams: 2, maxStreamsPerClient: 1 };

function exchange(url: string, client = '10.0.0.1') {
  const req = new IncomingMessage(new Socket());
  req.url = url;
  req.headers = { 'x-client': client };
  const res = new ServerResponse(req);
  return { req, res };
}

const gates: OverloadGate[] = [];

/** A gate (its timers stopped after the test), the client named by the request's x-client. */
function gate(limits: ServerLimits = LIMITS): OverloadGate {
  const made = new OverloadGate(limits, (req) => String(req.headers['x-client']));
  gates.push(made);
  return made;
}

afterEach(() => {
  for (const made of gates.splice(0)) made.close();
});

/** The DomainError code openStream throws, or undefined when it admits the stream. */
function streamRefusal(res: ServerResponse): string | undefined {
  try {
    openStream(res);
    return undefined;
  } catch (error) {
    if (!isDomainError(error)) throw error;
    expect(error.retryAfterSeconds).toBe(1);
    return error.code;
  }
}

it('sheds past the in-flight cap with 503 and Retry-After, but never the health checks and /metrics', () => {
  const overload = gate();
  const admitted = [exchange('/v1/a'), exchange('/v1/b')];
  for (const { req, res } of admitted) expect(overload.admit(req, res)).toBe(true);
  const shed = exchange('/v1/c');
  expect(overload.admit(shed.req, shed.res)).toBe(false);
  expect(shed.res.statusCode).toBe(503);
  expect(shed.res.getHeader('retry-after')).toBe('1');
  for (const path of ['/healthz', '/readyz', '/metrics?x=1']) {
    const probe = exchange(path);
    expect(overload.admit(probe.req, probe.res)).toBe(true);
  }
  admitted[0]?.res.emit('close');
  const next = exchange('/v1/d');
  expect(overload.admit(next.req, next.res)).toBe(true);
});

it('closes the connection of a shed request whose body was coming', () => {
  const overload = gate({ ...LIMITS, maxInflight: 1 });
  const first = exchange('/v1/a');
  expect(overload.admit(first.req, first.res)).toBe(true);
  const upload = exchange('/v1/b');
  upload.req.headers['content-length'] = '1000';
  expect(overload.admit(upload.req, upload.res)).toBe(false);
  expect(upload.res.getHeader('connection')).toBe('close');
});

it('admits any number of requests when the cap is 0', () => {
  const overload = gate({ ...LIMITS, maxInflight: 0 });
  for (let i = 0; i < 10; i++) {
    const { req, res } = exchange('/v1/x');
    expect(overload.admit(req, res)).toBe(true);
  }
});

it('caps streams per client (RATE_LIMITED) and overall (UNAVAILABLE), and frees their slots when they close', () => {
  const overload = gate();
  const first = exchange('/v1/list', 'alice');
  overload.admit(first.req, first.res);
  expect(streamRefusal(first.res)).toBeUndefined();
  // A stream no longer counts in flight: two more requests fit under maxInflight 2.
  const second = exchange('/v1/list', 'alice');
  overload.admit(second.req, second.res);
  expect(streamRefusal(second.res)).toBe('RATE_LIMITED');
  const bob = exchange('/v1/list', 'bob');
  overload.admit(bob.req, bob.res);
  expect(streamRefusal(bob.res)).toBeUndefined();
  const carol = exchange('/v1/list', 'carol');
  expect(overload.admit(carol.req, carol.res)).toBe(true);
  expect(streamRefusal(carol.res)).toBe('UNAVAILABLE');
  first.res.emit('close');
  expect(streamRefusal(carol.res)).toBeUndefined();
});

it('does not count a stream whose client left before it opened', () => {
  const overload = gate();
  const gone = exchange('/v1/list', 'dave');
  overload.admit(gone.req, gone.res);
  gone.res.emit('close');
  expect(streamRefusal(gone.res)).toBeUndefined();
  const again = exchange('/v1/list', 'dave');
  overload.admit(again.req, again.res);
  expect(streamRefusal(again.res)).toBeUndefined();
});

it('counts nothing outside the gateway server', () => {
  for (let i = 0; i < 5; i++) expect(streamRefusal(exchange('/v1/list').res)).toBeUndefined();
});
