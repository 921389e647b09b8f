import { posix } from 'node:path';
import fc from 'fast-check';
import { claimOf, cleanPath, decodePath, escapePath, kvsTarget, queryFlag } from './paths';

describe('claimOf', () => {
  it.each([
    ['/api/kvs/v1/kv/user/a', 'plugin'],
    ['/api/kvs/v1/', 'plugin'],
    ['/api/kvs/v1/../x', 'plugin'],
    ['/api/kvs/v1', 'base'],
    ['/api/kvs/v1?x=1', 'base'],
    ['/api/kvs/v10/kv/user/a', 'none'],
    ['/api/kvs/v2/kv/user/a', 'none'],
    ['/api/node/abc/kv/key/a', 'none'],
    ['/v1/spaces', 'none'],
    ['//api/kvs/v1/kv/user/a', 'none'],
  ])('%s is %s', (url, claim) => {
    expect(claimOf(url)).toBe(claim);
  });
});

describe('decodePath', () => {
  it.each([
    ['/a/b', '/a/b'],
    ['/a%2Fb', '/a/b'],
    ['/a%2fb', '/a/b'],
    ['/a+b', '/a+b'],
    ['/%C3%A9t%C3%A9', '/été'],
    ['/a%20b', '/a b'],
    ['/%00', '/\u0000'],
    ['%EF%BB%BFa', '\ufeffa'],
  ])('%s decodes to %j', (raw, decoded) => {
    expect(decodePath(raw)).toBe(decoded);
  });

  it.each(['/a%', '/a%2', '/a%zz', '/%FF', '/%C3', '/%ED%A0%80'])('%s is refused', (raw) => {
    expect(decodePath(raw)).toBeUndefined();
  });
});

describe('cleanPath (gorilla/mux: Go path.Clean, trailing slash kept)', () => {
  it.each([
    ['/a/b', '/a/b'],
    ['/a//b', '/a/b'],
    ['/a/./b', '/a/b'],
    ['/a/../b', '/b'],
    ['/a/b/', '/a/b/'],
    ['/a/b//', '/a/b/'],
    ['/a/.', '/a'],
    ['/a/./', '/a/'],
    ['/..', '/'],
    ['/../a/', '/a/'],
    ['/a/...', '/a/...'],
    ['/a/..b/', '/a/..b/'],
    ['/', '/'],
  ])('%s → %s', (path, cleaned) => {
    expect(cleanPath(path)).toBe(cleaned);
  });

  it('agrees with POSIX normalisation on every rooted path, and is idempotent', () => {
    const segment = fc.constantFrom('', '.', '..', 'a', 'b.c', '...', ' ');
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 8 }), (segments) => {
        const path = `/${segments.join('/')}`;
        expect(cleanPath(path)).toBe(posix.normalize(path));
        expect(cleanPath(cleanPath(path))).toBe(cleanPath(path));
      }),
    );
  });
});

describe('escapePath (Go url.URL.EscapedPath)', () => {
  it('keeps what Go keeps in a path and escapes the rest, byte by byte, in upper-case hex', () => {
    expect(escapePath('/az-AZ_09.~$&+,/:;=@')).toBe('/az-AZ_09.~$&+,/:;=@');
    expect(escapePath('/a b!*\'()?#%"é€')).toBe('/a%20b%21%2A%27%28%29%3F%23%25%22%C3%A9%E2%82%AC');
  });

  it('round-trips through decodePath', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (text) => {
        expect(decodePath(escapePath(`/${text}`))).toBe(`/${text}`);
      }),
    );
  });
});

describe('kvsTarget', () => {
  it('gives the key of the user realm: the rest of the decoded path, slashes and all', () => {
    expect(kvsTarget('/api/kvs/v1/kv/user/test1/doc1')).toEqual({ kind: 'key', key: 'test1/doc1', query: '' });
    expect(kvsTarget('/api/kvs/v1/kv/user/a%2Fb/?raw=1')).toEqual({ kind: 'key', key: 'a/b/', query: 'raw=1' });
    expect(kvsTarget('/api/kvs/v1/kv/user/')).toEqual({ kind: 'key', key: '', query: '' });
    expect(kvsTarget('/api/kvs/v1/kv/user/?recurse=1')).toEqual({ kind: 'key', key: '', query: 'recurse=1' });
  });

  it('answers 404 outside /kv/user/', () => {
    for (const url of ['/api/kvs/v1/', '/api/kvs/v1/kv/user', '/api/kvs/v1/kv/group/a', '/api/kvs/v1/kv/User/a']) {
      expect(kvsTarget(url)).toEqual({ kind: 'not-found' });
    }
  });

  it('redirects unclean paths to the cleaned, re-escaped path, keeping the query', () => {
    expect(kvsTarget('/api/kvs/v1/kv/user//a')).toEqual({ kind: 'redirect', location: '/api/kvs/v1/kv/user/a' });
    expect(kvsTarget('/api/kvs/v1/kv/user/a/./b?raw=1&x')).toEqual({
      kind: 'redirect',
      location: '/api/kvs/v1/kv/user/a/b?raw=1&x',
    });
    expect(kvsTarget('/api/kvs/v1/kv/user/a%2F%2Fb%20c?')).toEqual({
      kind: 'redirect',
      location: '/api/kvs/v1/kv/user/a/b%20c?',
    });
    expect(kvsTarget('/api/kvs/v1/kv/user/x/..')).toEqual({ kind: 'redirect', location: '/api/kvs/v1/kv/user' });
    expect(kvsTarget('/api/kvs/v1/../../../../x/')).toEqual({ kind: 'redirect', location: '/x/' });
  });

  it('refuses malformed escapes and bytes that are not UTF-8', () => {
    expect(kvsTarget('/api/kvs/v1/kv/user/%zz')).toEqual({ kind: 'bad-request' });
    expect(kvsTarget('/api/kvs/v1/kv/user/%FF')).toEqual({ kind: 'bad-request' });
  });

  it('never throws, and every redirect leads to a clean path', () => {
    const char = fc.constantFrom('/', '.', '%', '2', 'F', 'f', 'a', '?', '&', '=', ' ', 'é', '%2F', '%2E', '%C3%A9');
    fc.assert(
      fc.property(fc.array(char, { maxLength: 20 }), (parts) => {
        const target = kvsTarget(`/api/kvs/v1/${parts.join('')}`);
        if (target.kind !== 'redirect') return;
        const location = target.location.split('?')[0] as string;
        const decoded = decodePath(location);
        expect(decoded).toBeDefined();
        expect(cleanPath(decoded as string)).toBe(decoded);
      }),
    );
  });
});

describe('queryFlag (Go 1.14 ParseQuery + Values.Get, exact value 1)', () => {
  it.each([
    ['raw=1', true],
    ['raw=1&raw=0', true],
    ['raw=0&raw=1', false],
    ['raw=%31', true],
    ['x=1;raw=1', true],
    ['a=%zz&raw=1', true],
    ['raw=%zz&raw=1', true],
    ['raw', false],
    ['raw=', false],
    ['raw=true', false],
    ['raw=+1', false],
    ['raw=01', false],
    ['RAW=1', false],
    ['r%61w=1', true],
    ['', false],
  ])('raw in %j is %s', (query, set) => {
    expect(queryFlag(query, 'raw')).toBe(set);
  });
});
