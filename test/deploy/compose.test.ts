import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfig as loadGatewayConfig } from '../../apps/gateway/src/config';
import { loadConfig as loadWorkerConfig } from '../../apps/worker/src/config';
import { APP_CONFIG, APPS, ROOT, durationMs, loadCompose, service, type ComposeService } from './support';

const compose = loadCompose();

/**
 * The services a plain `docker compose up` starts: those of no profile. The `observability`
 * profile's services (collector, Prometheus, Jaeger, Grafana) are checked in observability.test.ts.
 */
const clusterServices = Object.fromEntries(
  Object.entries(compose.services).filter(([, s]) => s.profiles === undefined),
);

function env(name: string): Record<string, string> {
  return service(compose, name).environment ?? {};
}

/** The app's configuration exactly as the container would load it: the compose environment alone. */
function config(app: (typeof APPS)[number]) {
  return APP_CONFIG[app].load(env(app));
}

function healthcheckCommand(s: ComposeService): string[] {
  const test = s.healthcheck?.test;
  if (test === undefined) throw new Error('no healthcheck');
  return test;
}

describe('docker-compose.yml', () => {
  it('defines exactly the five services of the cluster, and the observability profile apart', () => {
    expect(Object.keys(clusterServices).sort()).toEqual(['api', 'gateway', 'postgres', 'redis', 'worker']);
    const profiled = Object.entries(compose.services).filter(([, s]) => s.profiles !== undefined);
    expect(profiled.map(([name]) => name).sort()).toEqual(['grafana', 'jaeger', 'otel-collector', 'prometheus']);
    for (const [, s] of profiled) expect(s.profiles).toEqual(['observability']);
  });

  it('runs Postgres 16 on a named volume, checked with pg_isready', () => {
    const postgres = service(compose, 'postgres');
    expect(postgres.image).toBe('postgres:16-alpine');
    expect(postgres.environment).toEqual(
      expect.objectContaining({ POSTGRES_USER: expect.any(String), POSTGRES_PASSWORD: expect.any(String) }),
    );
    const volume = postgres.volumes?.find((v) => v.endsWith(':/var/lib/postgresql/data'))?.split(':')[0];
    expect(volume).toBeDefined();
    expect(Object.keys(compose.volumes ?? {})).toContain(volume);
    expect(healthcheckCommand(postgres).slice(0, 2)).toEqual(['CMD', 'pg_isready']);
  });

  it('runs Redis 7 without eviction and without persistence, checked with redis-cli ping', () => {
    const redis = service(compose, 'redis');
    expect(redis.image).toBe('redis:7-alpine');
    expect(healthcheckCommand(redis)).toEqual(['CMD', 'redis-cli', 'ping']);
    const command = redis.command ?? [];
    const option = (name: string) => (command.includes(name) ? command[command.indexOf(name) + 1] : undefined);
    // BullMQ requires noeviction; an evicted cache tombstone would weaken the no-stale-read rule.
    expect(option('--maxmemory-policy')).toBe('noeviction');
    // The cache is only safe across a Redis restart if Redis comes back empty: a restored
    // snapshot could hold entries older than acknowledged writes (docs/cache-consistency.md).
    expect(option('--save')).toBe('');
    expect(option('--appendonly')).toBe('no');
    expect(redis.volumes ?? []).toEqual([]);
  });

  describe.each(APPS)('%s', (app) => {
    const s = service(compose, app);

    it(`builds from apps/${app}/Dockerfile with the repository root as context`, () => {
      expect(s.image).toBeUndefined();
      expect(s.build).toBeDefined();
      const context = resolve(ROOT, s.build?.context ?? '');
      expect(context).toBe(ROOT);
      expect(s.build?.dockerfile).toBe(`apps/${app}/Dockerfile`);
      expect(existsSync(join(context, s.build?.dockerfile ?? ''))).toBe(true);
    });

    it('sets only variables its config schema declares', () => {
      const unknown = Object.keys(env(app)).filter((name) => !APP_CONFIG[app].variables.includes(name));
      expect(unknown).toEqual([]);
    });

    it("loads through the app's own loadConfig from the compose environment alone", () => {
      expect(() => config(app)).not.toThrow();
    });

    it('probes its own health endpoint on the port it listens on', () => {
      const command = healthcheckCommand(s);
      expect(command.slice(0, 3)).toEqual(['CMD', 'node', 'scripts/healthcheck.mjs']);
      expect(existsSync(join(ROOT, 'scripts', 'healthcheck.mjs'))).toBe(true);
      const url = new URL(command[3] ?? '');
      expect(url.protocol).toBe('http:');
      expect(url.hostname).toBe('127.0.0.1');
      expect(Number(url.port)).toBe(config(app).port);
      expect(['/healthz', '/readyz']).toContain(url.pathname);
      expect(command.slice(4)).toEqual(APP_CONFIG[app].h2c ? ['--h2c'] : []);
    });

    it('listens on every interface, so the probe and other containers reach it', () => {
      expect(config(app).host).toBe('0.0.0.0');
    });

    it('restarts unless stopped, with a grace period longer than its shutdown deadline', () => {
      expect(s.restart).toBe('unless-stopped');
      expect(s.stop_grace_period).toBeDefined();
      expect(durationMs(s.stop_grace_period ?? '')).toBeGreaterThan(config(app).shutdownTimeoutMs);
    });
  });

  it('starts each service after its dependencies are healthy', () => {
    const graph = Object.fromEntries(
      Object.entries(clusterServices).map(([name, s]) => [name, Object.keys(s.depends_on ?? {}).sort()]),
    );
    expect(graph).toEqual({
      postgres: [],
      redis: [],
      api: ['postgres', 'redis'],
      gateway: ['api', 'redis'],
      worker: ['api', 'redis'],
    });
    for (const s of Object.values(clusterServices)) {
      for (const [dependency, { condition }] of Object.entries(s.depends_on ?? {})) {
        expect(condition).toBe('service_healthy');
        expect(service(compose, dependency).healthcheck).toBeDefined();
      }
    }
  });

  it('points the gateway and the worker at the api where it listens', () => {
    const api = config('api');
    for (const client of ['gateway', 'worker'] as const) {
      const url = new URL(config(client).apiUrl ?? '');
      expect(url.protocol).toBe('http:');
      expect(url.hostname).toBe('api');
      expect(Number(url.port)).toBe(api.port);
    }
  });

  it('gives the api the compose Postgres with its credentials', () => {
    const postgres = env('postgres');
    const url = new URL(config('api').databaseUrl ?? '');
    expect(url.protocol).toBe('postgres:');
    expect(url.hostname).toBe('postgres');
    expect(url.port).toBe('5432');
    expect(decodeURIComponent(url.username)).toBe(postgres.POSTGRES_USER);
    expect(decodeURIComponent(url.password)).toBe(postgres.POSTGRES_PASSWORD);
    expect(url.pathname).toBe(`/${postgres.POSTGRES_DB ?? postgres.POSTGRES_USER}`);
  });

  it('puts the api and the worker on the same Redis with the same key prefix', () => {
    const api = config('api');
    const worker = config('worker');
    expect(api.redisUrl).toBeDefined();
    expect(new URL(api.redisUrl ?? '').hostname).toBe('redis');
    expect(worker.redisUrl).toBe(api.redisUrl);
    expect(worker.redisPrefix).toBe(api.redisPrefix);
  });

  it("subscribes the gateway to the worker's change events: same Redis, same prefix", () => {
    const gateway = loadGatewayConfig(env('gateway'));
    const worker = config('worker');
    expect(gateway.REDIS_URL).toBeDefined();
    expect(gateway.REDIS_URL).toBe(worker.redisUrl);
    expect(gateway.REDIS_PREFIX).toBe(worker.redisPrefix);
  });

  it('shares one snapshot store between the worker, which writes it, and the gateway, which serves it', () => {
    const worker = loadWorkerConfig(env('worker'));
    const gateway = loadGatewayConfig(env('gateway'));
    expect(gateway.SNAPSHOT_DIR).toBe(worker.SNAPSHOT_DIR);
    for (const name of ['worker', 'gateway']) {
      const mount = (service(compose, name).volumes ?? []).find((v) => v.endsWith(`:${worker.SNAPSHOT_DIR}`));
      expect({ name, mount }).toEqual({ name, mount: `snapshots:${worker.SNAPSHOT_DIR}` });
    }
    expect(compose.volumes).toHaveProperty('snapshots');
  });

  it('publishes only the gateway of the cluster, only on 127.0.0.1, to the port it listens on', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      expect(s.network_mode).toBeUndefined();
      // The observability profile's UIs and OTLP ports are published too, on 127.0.0.1 only.
      if (s.profiles !== undefined) {
        for (const port of s.ports ?? [])
          expect({ name, port }).toEqual({ name, port: expect.stringMatching(/^127\.0\.0\.1:\d+:\d+$/) });
        continue;
      }
      if (name !== 'gateway') expect({ name, ports: s.ports ?? [] }).toEqual({ name, ports: [] });
    }
    const ports = service(compose, 'gateway').ports ?? [];
    expect(ports.length).toBeGreaterThan(0);
    for (const port of ports) {
      const match = /^127\.0\.0\.1:(\d+):(\d+)$/.exec(port);
      expect(match).not.toBeNull();
      expect(Number(match?.[2])).toBe(config('gateway').port);
    }
    expect(ports).toEqual(['127.0.0.1:8080:8080']);
  });
});
