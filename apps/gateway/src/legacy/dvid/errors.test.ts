import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { badRequest, DvidError, goQuote, isGoPrintable, keyNotFound, plainError, renderDvidError } from './errors';

/** Serves one request with `respond`, and returns what a client received. */
async function exchange(respond: (res: ServerResponse) => void, method = 'GET') {
  const server = createServer((_req, res) => respond(res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const res = await fetch(`http://127.0.0.1:${port}/`, { method });
    return { status: res.status, headers: Object.fromEntries(res.headers), body: await res.text() };
  } finally {
    server.close();
  }
}

const TEXT_HEADERS = { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' };

describe('badRequest', () => {
  it('answers 400 with the message, the decoded path and a newline, as DVID’s BadRequest', async () => {
    const res = await exchange((r) =>
      badRequest(r, 'could not find UUID with partial match to ffff', '/api/node/ffff/kv/keys'),
    );
    const body = 'could not find UUID with partial match to ffff (/api/node/ffff/kv/keys).\n';
    expect(res).toEqual({
      status: 400,
      headers: expect.objectContaining({ ...TEXT_HEADERS, 'content-length': String(body.length) }) as unknown,
      body,
    });
  });

  it('counts the Content-Length in bytes', async () => {
    const res = await exchange((r) => badRequest(r, 'clé', '/api/é'));
    expect(res.body).toBe('clé (/api/é).\n');
    expect(res.headers['content-length']).toBe(String(Buffer.byteLength('clé (/api/é).\n')));
  });
});

describe('plainError', () => {
  it('writes the message and a newline, without the path', async () => {
    const message = 'Bad API call (/api/node/u/kv/nope) for data "kv".  See API help at http://h/api/help/keyvalue';
    const res = await exchange((r) => plainError(r, 400, message));
    expect(res).toMatchObject({ status: 400, headers: TEXT_HEADERS, body: `${message}\n` });
  });

  it('answers Go’s http.NotFound text with 404', async () => {
    const res = await exchange((r) => plainError(r, 404, '404 page not found'));
    expect(res).toMatchObject({ status: 404, headers: TEXT_HEADERS, body: '404 page not found\n' });
  });

  it('sends no body to HEAD requests', async () => {
    const res = await exchange((r) => plainError(r, 400, 'nope'), 'HEAD');
    expect(res).toMatchObject({ status: 400, body: '' });
  });
});

describe('keyNotFound', () => {
  it('answers 404 with the key in Go’s %q quoting', async () => {
    const res = await exchange((r) => keyNotFound(r, 'a "b"\n'));
    expect(res).toMatchObject({ status: 404, headers: TEXT_HEADERS, body: 'Key "a \\"b\\"\\n" not found\n' });
  });
});

describe('DvidError and renderDvidError', () => {
  it('carries a status and, by default, the path suffix', () => {
    const error = new DvidError(400, 'invalid data instance name');
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ name: 'DvidError', status: 400, message: 'invalid data instance name' });
    expect(error.withPath).toBe(true);
    expect(error.cause).toBeUndefined();
  });

  it('keeps a cause', () => {
    const cause = new Error('storage');
    expect(new DvidError(500, 'x', { cause }).cause).toBe(cause);
  });

  it('renders with the path', async () => {
    const res = await exchange((r) => renderDvidError(r, new DvidError(400, 'invalid data instance name'), '/api/x'));
    expect(res).toMatchObject({ status: 400, headers: TEXT_HEADERS, body: 'invalid data instance name (/api/x).\n' });
  });

  it('renders without the path, with any status', async () => {
    const error = new DvidError(404, 'Key "k" not found', { withPath: false });
    const res = await exchange((r) => renderDvidError(r, error, '/api/x'));
    expect(res).toMatchObject({ status: 404, headers: TEXT_HEADERS, body: 'Key "k" not found\n' });
  });
});

describe('goQuote (Go’s strconv.Quote)', () => {
  it.each([
    ['', '""'],
    ['abc', '"abc"'],
    ['a b', '"a b"'],
    ['"', '"\\""'],
    ['\\', '"\\\\"'],
    ['\\x41', '"\\\\x41"'],
    ["'", '"\'"'],
    ['\u0007\b\f\n\r\t\v', '"\\a\\b\\f\\n\\r\\t\\v"'],
    ['\u0000', '"\\x00"'],
    ['\u001b', '"\\x1b"'],
    ['\u007f', '"\\x7f"'],
    ['\u0085', '"\\u0085"'],
    ['\u00a0', '"\\u00a0"'],
    ['\u2028', '"\\u2028"'],
    ['\u200b', '"\\u200b"'],
    ['\ufeff', '"\\ufeff"'],
    ['\u{e0001}', '"\\U000e0001"'],
    ['\u{10ffff}', '"\\U0010ffff"'],
    ['é日本', '"é日本"'],
    ['😀', '"😀"'],
    ['\ufffd', '"\ufffd"'],
    ['\u0301', '"\u0301"'],
    ['\ud800', '"\\xed\\xa0\\x80"'],
    ['a\udfffb', '"a\\xed\\xbf\\xbfb"'],
  ])('%j → %s', (text, quoted) => {
    expect(goQuote(text)).toBe(quoted);
  });

  it('always answers one quoted line of printable text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        const quoted = goQuote(text);
        expect(quoted.startsWith('"') && quoted.endsWith('"')).toBe(true);
        expect([...quoted].every((char) => char >= ' ' && char !== '\u007f')).toBe(true);
        expect(quoted.slice(1, -1)).not.toMatch(/(^|[^\\])(\\\\)*"/);
      }),
    );
  });

  it('reads back as the same text when it holds no lone surrogate (JSON shares the simple escapes)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (text) => {
        // One escape at a time from the left, so that `\\` is never read as the start of another.
        const json = goQuote(text).replace(/\\(U[0-9a-f]{8}|x[0-9a-f]{2}|[av]|.)/g, (escape, body: string) => {
          if (body.startsWith('U')) return String.fromCodePoint(parseInt(body.slice(1), 16));
          if (body.startsWith('x')) return `\\u00${body.slice(1)}`;
          if (body === 'a') return '\\u0007';
          return body === 'v' ? '\\u000b' : escape;
        });
        expect(JSON.parse(json)).toBe(text);
      }),
    );
  });
});

describe('isGoPrintable', () => {
  it('takes letters, marks, numbers, punctuation, symbols and the ASCII space only', () => {
    expect([0x41, 0x301, 0x39, 0x21, 0x24, 0x20, 0x1f600].every(isGoPrintable)).toBe(true);
    expect([0x09, 0xa0, 0x3000, 0x200b, 0xe000].some(isGoPrintable)).toBe(false);
  });
});
