import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_SERVER_LIMITS, startHttpServer, type RecordApi } from '../../apps/gateway/src';
import { startTelemetry, type Telemetry } from '../../packages/platform/src';
import type { TestApi } from '../support/api';
import { TEST_ADMIN_TOKEN } from '../support/env';
import { expectEventually } from '../support/expect-eventually';
import { startLiveGateway, type LiveGateway } from '../support/live-gateway';

/**
 * Overload of an in-process gateway on a real record service that holds every record call
 * until the test lets it go: past GATEWAY_MAX_INFLIGHT requests are shed at once with 503 and
 * Retry-After (bodies unread), none hangs, the admitted ones succeed once the service answers,
 * the heap stays bounded, health checks still pass, the shed requests are counted, and after
 * the burst every request is answered again. The event-loop trigger sheds while the loop is late.
 */

const MAX_INFLIGHT = 8;
const BURST = 120;
const AUTH = `Bearer ${TEST_ADMIN_TOKEN}`;
const RECORD = '/v1/spaces/default/collections/busy/records/one';

let telemetry: Telemetry;
let gateway: LiveGateway;
/** Record calls wait on this while it is pending. */
let service: Promise<void> = Promise.resolve();

/** The api with every unary record call held until `service` resolves. */
function heldRecords(api: TestApi): RecordApi {
  const records = new Proxy(api.records, {
    get(target, property, receiver) {
      const member = Reflect.get(target, property, receiver) as unknown;
      if (property === 'scan' || typeof member !== 'function') return member;
      return async (...args: unknown[]) => {
        await service;
        return (member as (...a: unknown[]) => Promise<unknown>).apply(target, args);
      };
    },
  });
  return { ...api, records };
}

beforeAll(async () => {
  telemetry = startTelemetry({ service: 'gateway-overload-test', env: {} });
  gateway = await startLiveGateway({
    limits: { ...DEFAULT_SERVER_LIMITS, maxInflight: MAX_INFLIGHT },
    wrap: heldRecords,
  });
  await gateway.api.collections.createCollection({ collection: { space: 'default', collection: 'busy' } });
  await gateway.api.records.putRecord({
    collection: { space: 'default', collection: 'busy' },
    key: 'one',
    value: new TextEncoder().encode('steady'),
  });
}, 30_000);

afterAll(async () => {
  await gateway.close();
  await telemetry.shutdown();
});

interface Answer {
  status: number;
  retryAfter: string | null;
  text: string;
}

async function send(path: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(`${gateway.http.url}${path}`, {
    ...init,
    headers: { authorization: AUTH, ...(init.headers as Record<string, string> | undefined) },
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  return { status: res.status, retryAfter: res.headers.get('retry-after'), text };
}

/** The requests shed for a reason so far, in the scrape (0 before the first). */
function shedCount(scrape: string, reason: string): number {
  const sample = new RegExp(`^rosetta_gateway_shed_total\\{[^}]*reason="${reason}"[^}]*\\} (\\S+)`, 'm').exec(scrape);
  return sample === null ? 0 : Number(sample[1]);
}

it('sheds a burst past the in-flight cap with 503 and Retry-After, keeps the heap bounded, and recovers', async () => {
  const shedBefore = shedCount(await telemetry.scrape(), 'inflight');
  const heapBefore = process.memoryUsage().heapUsed;
  let release = () => {};
  service = new Promise((resolve) => {
    release = resolve;
  });
  const answered: Answer[] = [];
  const burst = Array.from({ length: BURST }, () =>
    send(RECORD).then((answer) => {
      answered.push(answer);
      return answer;
    }),
  );
  try {
    // The record service answers nothing yet: every request past the cap is answered anyway.
    await expectEventually(() => expect(answered).toHaveLength(BURST - MAX_INFLIGHT), { timeoutMs: 10_000 });
    for (const answer of answered) {
      expect(answer.status).toBe(503);
      expect(answer.retryAfter).toBe('1');
      expect(JSON.parse(answer.text)).toMatchObject({ error: { code: 'UNAVAILABLE' } });
    }
    // An upload is refused before its body is read; probes pass.
    const upload = await send('/v1/spaces/default/collections/busy/records/big', {
      method: 'PUT',
      headers: { 'content-type': 'text/plain' },
      body: 'x'.repeat(512 * 1024),
    });
    expect(upload).toMatchObject({ status: 503, retryAfter: '1' });
    expect((await send('/healthz')).status).toBe(200);
  } finally {
    release();
  }
  const answers = await Promise.all(burst);
  const heapAfter = process.memoryUsage().heapUsed;
  const ok = answers.filter((a) => a.status === 200);
  expect(ok).toHaveLength(MAX_INFLIGHT);
  for (const answer of ok) expect(answer.text).toBe('steady');
  expect(heapAfter - heapBefore).toBeLessThan(64 * 1024 * 1024);
  const shedAfter = shedCount(await telemetry.scrape(), 'inflight');
  expect(shedAfter - shedBefore).toBe(BURST - MAX_INFLIGHT + 1);
  expect((await send('/v1/spaces/default/collections/busy/records/big')).status).toBe(404);

  // After the burst, requests within the cap are all answered.
  const calm = await Promise.all(Array.from({ length: MAX_INFLIGHT }, () => send(RECORD)));
  for (const answer of calm) expect(answer).toMatchObject({ status: 200, text: 'steady' });
}, 20_000);

it('sheds while the event loop is late by more than the limit, and admits again once it is on time', async () => {
  const server = await startHttpServer((_req, res) => res.end('ok'), '127.0.0.1', 0, {
    ...DEFAULT_SERVER_LIMITS,
    maxEventLoopDelayMs: 100,
  });
  try {
    const { port } = server.server.address() as AddressInfo;
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    const reply = new Promise<string>((resolve) => socket.once('data', (chunk: Buffer) => resolve(chunk.toString())));
    socket.write('GET /anything HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n');
    // Hold the loop for 300 ms, as a long synchronous task would.
    const until = performance.now() + 300;
    while (performance.now() < until);
    const shed = await reply;
    socket.destroy();
    expect(shed).toMatch(/^HTTP\/1\.1 503/);
    expect(shed.toLowerCase()).toContain('retry-after: 1');
    await sleep(200);
    const calm = await fetch(`${server.url}/anything`);
    expect(await calm.text()).toBe('ok');
  } finally {
    await server.close();
  }
});
