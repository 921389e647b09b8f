import { once } from 'node:events';
import { Agent, createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { HttpDrain } from './drain';

/** A server whose app answers `/slow` after 300 ms and anything else at once, behind a drain. */
async function start(options = { delayMs: 0, idleGraceMs: 500 }) {
  const drain = new HttpDrain(options);
  const app = Object.assign(
    (req: { url?: string }, res: { end(body: string): void }) => {
      if (req.url === '/slow') setTimeout(() => res.end('slow answer'), 300);
      else res.end(`answer to ${req.url}`);
    },
    { close: () => Promise.resolve() },
  );
  const wrapped = drain.wrap(app);
  const server = createServer(wrapped);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { drain, server, wrapped, port: (server.address() as AddressInfo).port };
}

const agents: Agent[] = [];
const servers: Server[] = [];

afterEach(async () => {
  agents.splice(0).forEach((agent) => agent.destroy());
  await Promise.all(
    servers.splice(0).map(
      (server) =>
        new Promise((resolve) => {
          server.closeAllConnections();
          server.close(resolve);
        }),
    ),
  );
});

function keepAlive(): Agent {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  agents.push(agent);
  return agent;
}

function get(
  port: number,
  path: string,
  agent?: Agent,
): Promise<{ status: number; body: string; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    request({ port, host: '127.0.0.1', path, ...(agent === undefined ? {} : { agent }) }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    })
      .on('error', reject)
      .end();
  });
}

it('passes everything to the app, readiness included, until it drains', async () => {
  const { server, port, wrapped, drain } = await start();
  servers.push(server);
  const ready = await get(port, '/readyz', keepAlive());
  expect(ready).toMatchObject({ status: 200, body: 'answer to /readyz', headers: { connection: 'keep-alive' } });
  expect(drain.isDraining).toBe(false);
  // The wrapped app is still the app for everything else.
  expect(typeof wrapped.close).toBe('function');
});

it('answers what was accepted, says 503 on /readyz and closes connections once draining', async () => {
  const { server, port, drain } = await start();
  servers.push(server);
  const agent = keepAlive();
  await get(port, '/warm', agent);
  const slow = get(port, '/slow', keepAlive());
  await new Promise((resolve) => setTimeout(resolve, 50));
  const drained = drain.drain(server);
  expect(drain.isDraining).toBe(true);
  // A request on a connection that was idle when draining began is read and answered, with close.
  const late = await get(port, '/late', agent);
  expect(late).toMatchObject({ status: 200, body: 'answer to /late', headers: { connection: 'close' } });
  // The request in flight gets its real answer.
  expect(await slow).toMatchObject({ status: 200, body: 'slow answer', headers: { connection: 'close' } });
  await drained;
  // The port is closed: a new connection is refused.
  const refused = connect({ port, host: '127.0.0.1' });
  const [error] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
  expect(error.code).toBe('ECONNREFUSED');
});

it('keeps the port open for the delay, with /readyz at 503', async () => {
  const { server, port, drain } = await start({ delayMs: 300, idleGraceMs: 100 });
  servers.push(server);
  const started = performance.now();
  const drained = drain.drain(server);
  const ready = await get(port, '/readyz');
  expect(ready).toMatchObject({ status: 503, body: '{"status":"draining"}', headers: { connection: 'close' } });
  expect(JSON.parse(ready.body)).toEqual({ status: 'draining' });
  expect(await get(port, '/other')).toMatchObject({ status: 200, body: 'answer to /other' });
  await drained;
  // Timers count whole milliseconds of the event loop's cached clock: a 300 ms sleep can end a
  // fraction of a millisecond short of 300 by performance.now() (seen: 299.987).
  expect(performance.now() - started).toBeGreaterThanOrEqual(299);
});

it('ends once no connection is left, and waits the grace for an idle one', async () => {
  const quick = await start({ delayMs: 0, idleGraceMs: 2_000 });
  servers.push(quick.server);
  const at = performance.now();
  await quick.drain.drain(quick.server);
  expect(performance.now() - at).toBeLessThan(1_000);

  const idle = await start({ delayMs: 0, idleGraceMs: 300 });
  servers.push(idle.server);
  await get(idle.port, '/warm', keepAlive());
  const from = performance.now();
  await idle.drain.drain(idle.server);
  expect(performance.now() - from).toBeGreaterThanOrEqual(280);
});
