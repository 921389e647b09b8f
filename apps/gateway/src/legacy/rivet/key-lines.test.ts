import { createServer, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeKeyLines } from './key-lines';

async function* keysOf(keys: readonly string[]): AsyncGenerator<string> {
  for (const key of keys) yield key;
}

/** Serves one request with `respond`; returns what the client read and what the handler settled with. */
async function exchange(respond: (res: ServerResponse) => Promise<void>) {
  let settled: Promise<void> = Promise.resolve();
  const server = createServer((_req, res) => {
    settled = respond(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const res = await fetch(`http://127.0.0.1:${port}/`);
    const body = await res.text();
    await settled;
    return { status: res.status, headers: Object.fromEntries(res.headers), body };
  } finally {
    server.close();
  }
}

describe('writeKeyLines', () => {
  it('answers an empty listing with an empty 200', async () => {
    const res = await exchange((r) => writeKeyLines(r, keysOf([])));
    expect(res).toMatchObject({
      status: 200,
      body: '',
      headers: { 'content-type': 'text/plain; charset=UTF-8', 'content-length': '0' },
    });
  });

  it('joins keys with newlines, without a trailing one, and sends a short listing whole', async () => {
    const res = await exchange((r) => writeKeyLines(r, keysOf(['a', 'b/c', 'é'])));
    expect(res.body).toBe('a\nb/c\né');
    expect(res.headers['content-length']).toBe(String(Buffer.byteLength('a\nb/c\né')));
  });

  it('streams a long listing in chunks, keeping every key', async () => {
    const keys = Array.from({ length: 30_000 }, (_, i) => `key-${String(i).padStart(6, '0')}`);
    const res = await exchange((r) => writeKeyLines(r, keysOf(keys)));
    expect(res.headers['transfer-encoding']).toBe('chunked');
    expect(res.body).toBe(keys.join('\n'));
  });

  it('stops pulling keys once the client has gone away', async () => {
    let pulled = 0;
    let finished = false;
    async function* endless(): AsyncGenerator<string> {
      try {
        for (;;) {
          pulled += 1;
          yield `${'k'.repeat(1000)}${pulled}`;
        }
      } finally {
        finished = true;
      }
    }
    let settled: Promise<void> = Promise.resolve();
    const server = createServer((_req, res) => {
      settled = writeKeyLines(res, endless());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => {
      const req = request({ port, host: '127.0.0.1', path: '/' }, (res) => {
        res.once('data', () => {
          res.destroy();
          resolve();
        });
      });
      req.end();
    });
    await settled;
    server.close();
    expect(finished).toBe(true);
    expect(pulled).toBeLessThan(1_000_000);
  });
});
