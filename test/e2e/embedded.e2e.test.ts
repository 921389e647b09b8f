import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startService, waitUntilReady, type ServiceProcess } from '../support/processes';

/**
 * The embedded default, as `npm start` runs it: one process, no Postgres or Redis server, data
 * under a directory (PGlite), surviving a restart.
 */

jest.setTimeout(120_000);

const dataDir = mkdtempSync(join(tmpdir(), 'rosetta-e2e-'));
let port: number;

async function start(): Promise<ServiceProcess> {
  const service = startService('standalone', 'apps/standalone/dist/main.js', {
    PORT: String(port),
    ROSETTA_DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
  });
  await waitUntilReady(service, `http://127.0.0.1:${port}/readyz`, 60_000);
  return service;
}

beforeAll(async () => {
  port = await freePort();
});

afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

it('runs the whole store in one process and keeps its data across a restart', async () => {
  const base = `http://127.0.0.1:${port}/v1/spaces/default/collections`;
  const first = await start();
  try {
    expect(first.output()).toContain(`Rosetta is running at http://127.0.0.1:${port}`);
    const created = await fetch(base, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'notes' }),
    });
    expect(created.status).toBe(201);
    const batch = await fetch(`${base}/notes/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        records: Array.from({ length: 300 }, (_, i) => ({ key: `n/${String(i).padStart(3, '0')}`, value: { i } })),
      }),
    });
    expect(batch.status).toBe(200);
    const put = await fetch(`${base}/notes/records/hello`, {
      method: 'PUT',
      headers: { 'content-type': 'text/plain' },
      body: 'world',
    });
    expect(put.status).toBe(201);
    const duplicate = await fetch(`${base}/notes/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        records: [
          { key: 'd', value: 1 },
          { key: 'd', value: 2 },
        ],
      }),
    });
    expect(duplicate.status).toBe(422);
    expect(await first.stop()).toBe(143);
  } finally {
    await first.stop();
  }

  const second = await start();
  try {
    const got = await fetch(`${base}/notes/records/hello`);
    expect(await got.text()).toBe('world');
    const listed = (await (await fetch(`${base}/notes/records?prefix=n/&limit=250`)).json()) as {
      records: Array<{ key: string; value: string }>;
      cursor: string | null;
    };
    expect(listed.records).toHaveLength(250);
    expect(listed.records[7]).toMatchObject({ key: 'n/007', value: '{"i":7}' });
    expect(listed.cursor).not.toBeNull();
    const count = (await (await fetch(`${base}/notes/count?pattern=n/2*`)).json()) as { count: number };
    expect(count.count).toBe(100);
    expect((await fetch(`${base}/notes/records/d`)).status).toBe(404);
  } finally {
    expect(await second.stop()).toBe(143);
  }
});
