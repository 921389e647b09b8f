import { loadConfig, requireRedisUrl } from './config';

describe('loadConfig', () => {
  it('applies the defaults', () => {
    expect(loadConfig({})).toEqual({
      API_URL: 'http://127.0.0.1:8081',
      REDIS_URL: undefined,
      REDIS_PREFIX: 'rosetta:',
      RELAY_INTERVAL_MS: 250,
      RELAY_BATCH: 500,
      CHANGE_RETENTION_HOURS: 168,
      COMPACT_INTERVAL_MS: 10_000,
      WEBHOOK_ATTEMPTS: 8,
      WEBHOOK_BACKOFF_MS: 1000,
      WEBHOOK_CONCURRENCY: 16,
      JOB_POLL_MS: 1000,
      JOB_CONCURRENCY: 2,
      DELETE_JOB_BATCH: 5000,
      JOB_LOCK_MS: 30_000,
      SNAPSHOT_DIR: './snapshots',
      SNAPSHOT_S3_PREFIX: '',
      SNAPSHOT_S3_REGION: 'us-east-1',
      SNAPSHOT_S3_FORCE_PATH_STYLE: false,
      WORKER_HEALTH_HOST: '127.0.0.1',
      WORKER_HEALTH_PORT: 8082,
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'info',
      SHUTDOWN_TIMEOUT_MS: 10_000,
    });
  });

  it.each([
    ['API_URL', 'https://api.internal:9000', 'https://api.internal:9000'],
    ['REDIS_URL', ' redis://127.0.0.1:6379/2 ', 'redis://127.0.0.1:6379/2'],
    ['REDIS_URL', '   ', undefined],
    ['REDIS_PREFIX', 'tenant-a:', 'tenant-a:'],
    ['RELAY_INTERVAL_MS', '10', 10],
    ['RELAY_BATCH', '1', 1],
    ['RELAY_BATCH', '1000', 1000],
    ['CHANGE_RETENTION_HOURS', '0.5', 0.5],
    ['COMPACT_INTERVAL_MS', '60000', 60_000],
    ['WEBHOOK_ATTEMPTS', '3', 3],
    ['WEBHOOK_BACKOFF_MS', '250', 250],
    ['WORKER_HEALTH_HOST', '0.0.0.0', '0.0.0.0'],
    ['WORKER_HEALTH_PORT', '0', 0],
    ['LOG_LEVEL', 'silent', 'silent'],
    ['SHUTDOWN_TIMEOUT_MS', '30000', 30_000],
  ])('reads %s=%j', (name, raw, expected) => {
    expect(loadConfig({ [name]: raw })[name as keyof ReturnType<typeof loadConfig>]).toEqual(expected);
  });

  it.each([
    ['RELAY_BATCH', '0'],
    ['RELAY_BATCH', '1001'],
    ['RELAY_BATCH', '2.5'],
    ['RELAY_BATCH', 'many'],
    ['RELAY_BATCH', ''],
    ['RELAY_INTERVAL_MS', '5'],
    ['RELAY_INTERVAL_MS', 'soon'],
    ['WORKER_HEALTH_PORT', '65536'],
    ['WORKER_HEALTH_PORT', '-1'],
    ['LOG_LEVEL', 'loud'],
    ['API_URL', 'not a url'],
    ['API_URL', 'redis://127.0.0.1:6379'],
    ['SHUTDOWN_TIMEOUT_MS', '50'],
  ])('refuses %s=%j, naming the variable', (name, raw) => {
    expect(() => loadConfig({ [name]: raw })).toThrow(new RegExp(`^invalid configuration:\\n  ${name}: `));
  });

  it('lists every bad variable at once', () => {
    expect(() => loadConfig({ RELAY_BATCH: '0', LOG_LEVEL: 'loud' })).toThrow(/RELAY_BATCH: [^\n]+\n {2}LOG_LEVEL: /);
  });
});

describe('requireRedisUrl', () => {
  it('returns REDIS_URL when set', () => {
    expect(requireRedisUrl(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' }))).toBe('redis://127.0.0.1:6379');
  });

  it('explains that the worker process needs Redis', () => {
    expect(() => requireRedisUrl(loadConfig({}))).toThrow(/REDIS_URL: required by the worker process/);
  });
});
