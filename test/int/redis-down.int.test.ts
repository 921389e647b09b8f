import { startTestApi, type TestApi } from '../support/api';
import { freePort } from '../support/processes';

/** With Redis unreachable the record service keeps serving from Postgres, and says it is degraded. */

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
