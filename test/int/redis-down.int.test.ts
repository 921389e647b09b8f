import { startTestApi, type TestApi } from '../support/api';
import { expectEventually } from '../support/expect-eventually';
import { startPrivateRedis } from '../support/private-services';
import { freePort } from '../support/processes';

/**
 * With Redis unreachable the record service keeps serving from Postgres, and says it is
 * degraded; when Redis comes back, the cache repairs what it missed and is used again.
 */

let api: TestApi;
const collection = { space: 'default', collection: 'nocache' };

beforeAll(async () => {
  // A port nothing listens on: every cache command fails at once.
  api = await startTestApi({ env: { REDIS_URL: `redis://127.0.0.1:${await freePort()}` } });
});

afterAll(() => api.close());

it('reads and writes through Postgres while the cache is down', async () => {
  await api.collections.createCollection({ collection });
  const put = await api.records.putRecord({ collection, key: 'k', value: Buffer.from('v1') });
  expect(put.created).toBe(true);
  await api.records.putRecord({ collection, key: 'k', value: Buffer.from('v2') });
  const { record } = await api.records.getRecord({ collection, key: 'k' });
  expect(Buffer.from(record?.value ?? []).toString()).toBe('v2');
  // The writes could not reach the cache, so it must not be trusted until repaired.
  expect(api.runtime.cache.degraded).toBe(true);
  expect(await api.runtime.ready()).toBe(false);
});

it('repairs the cache and reads from it again when a Redis that was up comes back', async () => {
  const redis = await startPrivateRedis({ persist: true });
  // Connected at start: the cache's first repair (of nothing) has run.
  const served = await startTestApi({ env: { REDIS_URL: redis.url } });
  try {
    const target = { space: 'default', collection: 'comeback' };
    await served.collections.createCollection({ collection: target });
    await served.records.putRecord({ collection: target, key: 'k', value: Buffer.from('before') });
    // Read once so that Redis holds the value, and keeps it across the restart.
    await served.records.getRecord({ collection: target, key: 'k' });
    await redis.stop();
    await served.records.putRecord({ collection: target, key: 'k', value: Buffer.from('during') });
    expect(served.runtime.cache.degraded).toBe(true);
    await redis.start();
    await expectEventually(() => expect(served.runtime.cache.degraded).toBe(false), { timeoutMs: 10_000 });
    expect(await served.runtime.ready()).toBe(true);
    const { record } = await served.records.getRecord({ collection: target, key: 'k' });
    expect(Buffer.from(record?.value ?? []).toString()).toBe('during');
  } finally {
    await served.close();
    await redis.destroy();
  }
}, 30_000);
