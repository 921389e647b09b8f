import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ERROR_CODES } from '@rosetta/core';
import { errorBody, renderFailure, RIVET_STATUS, writeError, writeText } from './render';

/** Serves one request with `handler`, and returns what a client received. */
async function exchange(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  init: { method?: string; path?: string } = {},
): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const res = await fetch(`http://127.0.0.1:${port}${init.path ?? '/x'}`, { method: init.method ?? 'GET' });
    return { status: res.status, headers: Object.fromEntries(res.headers), body: await res.text() };
  } finally {
    server.close();
  }
}

describe('errorBody (Echo’s default error handler)', () => {
  it('is compact JSON and a newline, or indented by two spaces with ?pretty', () => {
    expect(errorBody('Not Found', false)).toBe('{"message":"Not Found"}\n');
    expect(errorBody('Not Found', true)).toBe('{\n  "message": "Not Found"\n}\n');
  });
});

describe('writeError', () => {
  it('sends the status text as Echo does, with its content type', async () => {
    const res = await exchange((req, r) => writeError(req, r, 405));
    expect(res).toMatchObject({
      status: 405,
      body: '{"message":"Method Not Allowed"}\n',
      headers: { 'content-type': 'application/json; charset=UTF-8', 'content-length': '33' },
    });
  });

  it('indents for ?pretty, takes a custom message and extra headers', async () => {
    const pretty = await exchange((req, r) => writeError(req, r, 404), { path: '/x?a=1&pretty' });
    expect(pretty.body).toBe('{\n  "message": "Not Found"\n}\n');
    const custom = await exchange((req, r) =>
      writeError(req, r, 500, { message: 'key required', headers: { allow: 'GET' } }),
    );
    expect(custom).toMatchObject({ status: 500, body: '{"message":"key required"}\n', headers: { allow: 'GET' } });
  });

  it('sends no body to HEAD requests', async () => {
    const res = await exchange((req, r) => writeError(req, r, 401), { method: 'HEAD' });
    expect(res.status).toBe(401);
    expect(res.body).toBe('');
    expect(res.headers['content-type']).toBe('application/json; charset=UTF-8');
  });
});

describe('renderFailure', () => {
  it('maps every domain code to a status with a Go status text', async () => {
    for (const code of ERROR_CODES) {
      const res = await exchange((req, r) =>
        renderFailure(req, r, { code, status: 0, message: 'ignored', unexpected: false }),
      );
      expect(res.status).toBe(RIVET_STATUS[code]);
      expect(JSON.parse(res.body)).toEqual({ message: expect.stringMatching(/^[A-Z][A-Za-z ]+$/) });
    }
  });

  it('answers a session of another user (SPACE_NOT_FOUND) as Rivet does: 401', async () => {
    const res = await exchange((req, r) =>
      renderFailure(req, r, { code: 'SPACE_NOT_FOUND', status: 404, message: 'x', unexpected: false }),
    );
    expect([res.status, res.body]).toEqual([401, '{"message":"Unauthorized"}\n']);
  });

  it('says when to retry a rate limit or an outage', async () => {
    const limited = await exchange((req, r) =>
      renderFailure(req, r, {
        code: 'RATE_LIMITED',
        status: 429,
        message: 'x',
        unexpected: false,
        retryAfterSeconds: 7,
      }),
    );
    expect([limited.status, limited.headers['retry-after'], limited.body]).toEqual([
      429,
      '7',
      '{"message":"Too Many Requests"}\n',
    ]);
    const down = await exchange((req, r) =>
      renderFailure(req, r, { code: 'UNAVAILABLE', status: 503, message: 'x', unexpected: true }),
    );
    expect([down.status, down.headers['retry-after'], down.body]).toEqual([
      503,
      '1',
      '{"message":"Service Unavailable"}\n',
    ]);
  });

  it('hides the detail of unexpected failures behind Internal Server Error', async () => {
    const res = await exchange((req, r) =>
      renderFailure(req, r, {
        code: 'INTERNAL',
        status: 500,
        message: 'internal error (error id x)',
        unexpected: true,
      }),
    );
    expect([res.status, res.body]).toEqual([500, '{"message":"Internal Server Error"}\n']);
  });
});

describe('writeText (Echo’s String)', () => {
  it('labels text and bytes alike as text/plain; charset=UTF-8, without a trailing newline', async () => {
    const text = await exchange((_req, r) => writeText(r, 201, 'profile/bio'));
    expect(text).toMatchObject({
      status: 201,
      body: 'profile/bio',
      headers: { 'content-type': 'text/plain; charset=UTF-8', 'content-length': '11' },
    });
    const bytes = await exchange((_req, r) => writeText(r, 200, new Uint8Array([0xe2, 0x82, 0xac]).subarray(1)));
    expect(bytes.headers['content-length']).toBe('2');
  });
});
