import pino from 'pino';
import { startHealthServer, type HealthServer, type ReadinessChecks } from './health-server';

const logger = pino({ level: 'silent' });
const ALL_OK: ReadinessChecks = { redis: 'ok', api: 'ok', worker: 'ok' };

let server: HealthServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function serve(options: { checks?: () => Promise<ReadinessChecks>; scrape?: () => Promise<string> }) {
  server = await startHealthServer({
    host: '127.0.0.1',
    port: 0,
    checks: options.checks ?? (() => Promise.resolve(ALL_OK)),
    scrape: options.scrape,
    logger,
  });
  return server.url;
}

describe('the health server', () => {
  it('answers /readyz 200 with every check when all pass', async () => {
    const url = await serve({});
    const response = await fetch(`${url}/readyz`);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.json()).toEqual({ status: 'ready', checks: ALL_OK });
  });

  it('answers /readyz 503 naming the check that fails, and every check failing when they cannot run', async () => {
    let checks = (): Promise<ReadinessChecks> => Promise.resolve({ ...ALL_OK, redis: 'failing' });
    const url = await serve({ checks: () => checks() });
    const failing = await fetch(`${url}/readyz`);
    expect(failing.status).toBe(503);
    expect(await failing.json()).toEqual({ status: 'unavailable', checks: { ...ALL_OK, redis: 'failing' } });

    checks = () => Promise.reject(new Error('boom'));
    const broken = await fetch(`${url}/readyz`);
    expect(broken.status).toBe(503);
    expect(await broken.json()).toEqual({
      status: 'unavailable',
      checks: { redis: 'failing', api: 'failing', worker: 'failing' },
    });
  });

  it('serves the scrape on /metrics in Prometheus text format, 500 when it fails, 404 without one', async () => {
    let scrape = () => Promise.resolve('# TYPE up gauge\nup 1\n');
    const url = await serve({ scrape: () => scrape() });
    const metrics = await fetch(`${url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(await metrics.text()).toBe('# TYPE up gauge\nup 1\n');

    scrape = () => Promise.reject(new Error('collection failed'));
    expect((await fetch(`${url}/metrics`)).status).toBe(500);
    await server?.close();

    const bare = await serve({});
    expect((await fetch(`${bare}/metrics`)).status).toBe(404);
    expect((await fetch(`${bare}/healthz`)).status).toBe(200);
    expect((await fetch(`${bare}/readyz`, { method: 'POST' })).status).toBe(404);
  });
});
