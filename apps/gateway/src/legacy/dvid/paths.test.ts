import fc from 'fast-check';
import { DvidError } from './errors';
import { keyOf, NODE_ACTIONS, parseDvidPath, rangeOf, routeTemplateOf, type InstancePath } from './paths';

const instance = (rest: string[], keyword = 'key'): InstancePath => ({
  kind: 'instance',
  uuid: 'u',
  dataName: 'kv',
  keyword,
  rest,
  path: '/api/node/u/kv/key',
});

describe('parseDvidPath', () => {
  it.each([
    ['/api/server/info', 'server-info'],
    ['/api/server/info/', 'server-info'],
    ['/api/server/types', 'server-types'],
    ['/api/server/compiled-types/', 'compiled-types'],
    ['/api/help', 'help'],
    ['/api/help/', 'help'],
    ['/api/heartbeat', 'heartbeat'],
    ['/api/load', 'load'],
    ['/api/repos', 'repos'],
    ['/api/repos/info', 'repos-info'],
    ['/api/repos/info/', 'repos-info'],
    ['/api/server%2Finfo', 'server-info'],
  ])('%s is the server route %s', (path, route) => {
    expect(parseDvidPath(path)).toEqual({ kind: 'server', route, path: decodeURIComponent(path) });
  });

  it('reads the type of /api/help/<type>', () => {
    expect(parseDvidPath('/api/help/keyvalue')).toEqual({
      kind: 'type-help',
      typeName: 'keyvalue',
      path: '/api/help/keyvalue',
    });
    expect(parseDvidPath('/api/help/labelmap/')).toMatchObject({ kind: 'type-help', typeName: 'labelmap' });
  });

  it.each([
    ['/api/repo/abc', { action: 'root' }],
    ['/api/repo/abc/', { action: 'root' }],
    ['/api/repo/abc/info', { action: 'info' }],
    ['/api/repo/abc/instance', { action: 'instance' }],
    ['/api/repo/abc/log/', { action: 'log' }],
    ['/api/repo/abc/branch-versions/master', { action: 'branch-versions', branch: 'master' }],
    ['/api/repo/abc/branch-versions/a%20b', { action: 'branch-versions', branch: 'a b' }],
    ['/api/repo/ab:master/info', { action: 'info', uuid: 'ab:master' }],
  ])('%s is a repo route', (path, fields) => {
    expect(parseDvidPath(path)).toEqual({ kind: 'repo', uuid: 'abc', path: decodeURIComponent(path), ...fields });
  });

  it.each(NODE_ACTIONS)('/api/node/<uuid>/%s is a node route, with or without a trailing slash', (action) => {
    expect(parseDvidPath(`/api/node/abc/${action}`)).toEqual({
      kind: 'node',
      action,
      uuid: 'abc',
      path: `/api/node/abc/${action}`,
    });
    expect(parseDvidPath(`/api/node/abc/${action}/`)).toMatchObject({ kind: 'node', action });
  });

  it.each([
    ['/api/node/abc/kv/keys', { dataName: 'kv', keyword: 'keys', rest: [] }],
    ['/api/node/abc/kv/keys/', { dataName: 'kv', keyword: 'keys', rest: [] }],
    ['/api/node/abc/kv/key/k1', { keyword: 'key', rest: ['k1'] }],
    ['/api/node/abc/kv/key/a/b', { keyword: 'key', rest: ['a', 'b'] }],
    ['/api/node/abc/kv/key/a%2Fb', { keyword: 'key', rest: ['a', 'b'] }],
    ['/api/node/abc/kv/key/a%20b%3F', { keyword: 'key', rest: ['a b?'] }],
    ['/api/node/abc/kv/key/%C3%A9', { keyword: 'key', rest: ['é'] }],
    ['/api/node/abc/kv/key//', { keyword: 'key', rest: [''] }],
    ['/api/node/abc/kv/keyrange/%20/%7F', { keyword: 'keyrange', rest: [' ', '\u007f'] }],
    ['/api/node/abc/kv/key/a+b', { keyword: 'key', rest: ['a+b'] }],
    // A data name may be a node action's name: four segments or more are always an instance's.
    ['/api/node/abc/log/info', { dataName: 'log', keyword: 'info', rest: [] }],
  ])('%s is an instance route', (path, fields) => {
    expect(parseDvidPath(path)).toEqual({
      kind: 'instance',
      uuid: 'abc',
      dataName: 'kv',
      path: decodeURIComponent(path),
      ...fields,
    });
  });

  it('keeps the decoded full path, trailing slash included', () => {
    expect(parseDvidPath('/api/node/ab%63/kv/keys/').path).toBe('/api/node/abc/kv/keys/');
  });

  it.each([
    '/',
    '/api',
    '/api/',
    '/apix/server/info',
    '/v1/api/server/info',
    '/api/server',
    '/api/server/note',
    '/api/server/info/x',
    '/api/help/a/b',
    '/api/help//',
    '/api//server/info',
    '/api/heartbeat/x',
    '/api/repos/x',
    '/api/repo',
    '/api/repo/',
    '/api/repo//info',
    '/api/repo/abc//',
    '/api/repo/abc/merge',
    '/api/repo/abc/info/x',
    '/api/repo/abc/branch-versions',
    '/api/repo/abc/branch-versions/',
    '/api/repo/abc/branch-versions/a/b',
    '/api/node',
    '/api/node/abc',
    '/api/node/abc/',
    '/api/node/abc//',
    '/api/node//kv/keys',
    '/api/node/abc//keys',
    '/api/node/abc/kv',
    '/api/node/abc/kv/',
    '/api/node/abc/kv//',
    '/api/node/abc/nope',
    '/api/node/abc/Commit',
    '/api/unknown/x/y/z',
  ])('%s has no route', (path) => {
    expect(parseDvidPath(path)).toEqual({ kind: 'not-found', path: decodeURIComponent(path) });
  });

  it.each(['/api/node/abc/kv/key/%', '/api/node/abc/kv/key/%zz', '/api/node/abc/kv/key/%FF', '/api/%E2%82/x'])(
    '%s is malformed, with its raw path',
    (path) => {
      expect(parseDvidPath(path)).toEqual({ kind: 'malformed', path });
    },
  );

  it('addresses any encoded key as the first segment after the keyword', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (key, tail) => {
        const parsed = parseDvidPath(`/api/node/abc/kv/key/${encodeURIComponent(key)}/${encodeURIComponent(tail)}`);
        if (parsed.kind !== 'instance') throw new Error(`not an instance path: ${parsed.kind}`);
        expect(keyOf(parsed)).toBe(key.split('/')[0]);
      }),
    );
  });

  it('classifies every path without throwing', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (rest) => {
        expect(parseDvidPath(`/api/${rest}`).kind).toMatch(
          /^(server|type-help|repo|node|instance|not-found|malformed)$/,
        );
      }),
    );
  });
});

describe('keyOf', () => {
  it('takes the first segment after the keyword, empty included', () => {
    expect(keyOf(instance(['a', 'b']))).toBe('a');
    expect(keyOf(instance(['']))).toBe('');
  });

  it('refuses a missing key with DVID’s message', () => {
    expect(() => keyOf(instance([]))).toThrow(DvidError);
    expect(() => keyOf(instance([]))).toThrow(
      expect.objectContaining({ status: 400, withPath: true, message: "expect key string to follow 'key' endpoint" }),
    );
  });
});

describe('rangeOf', () => {
  it('takes the two segments after the keyword', () => {
    expect(rangeOf(instance(['a', 'z', 'x'], 'keyrange'))).toEqual({ first: 'a', last: 'z' });
    expect(rangeOf(instance(['', ''], 'keyrange'))).toEqual({ first: '', last: '' });
  });

  it.each(['keyrange', 'keyrangevalues'])('refuses a missing bound of %s with DVID’s message', (keyword) => {
    const expected = expect.objectContaining({
      status: 400,
      withPath: true,
      message: `expect beginning and end keys to follow '${keyword}' endpoint`,
    });
    expect(() => rangeOf(instance(['a'], keyword))).toThrow(expected);
    expect(() => rangeOf(instance([], keyword))).toThrow(expected);
  });
});

describe('routeTemplateOf', () => {
  it.each([
    ['/api/server/info', '/api/server/info'],
    ['/api/repos/info/', '/api/repos/info'],
    ['/api/help/keyvalue', '/api/help/:type'],
    ['/api/repo/abc123', '/api/repo/:uuid'],
    ['/api/repo/abc123/info', '/api/repo/:uuid/info'],
    ['/api/repo/abc123/branch-versions/master', '/api/repo/:uuid/branch-versions/:branch'],
    ['/api/node/abc123/commit', '/api/node/:uuid/commit'],
    ['/api/node/abc123/notes/key/secret', '/api/node/:uuid/:instance/key/:key'],
    ['/api/node/abc123/notes/keyrange/a/z', '/api/node/:uuid/:instance/keyrange/:first/:last'],
    ['/api/node/abc123/notes/tags', '/api/node/:uuid/:instance/tags'],
    ['/api/node/abc123/notes/whatever', '/api/node/:uuid/:instance/:keyword'],
    ['/api/nothing/here', undefined],
    ['/api/%zz', undefined],
  ])('%s is %s', (path, template) => {
    expect(routeTemplateOf(parseDvidPath(path))).toBe(template);
  });

  it('never holds a segment of the path beyond the route’s own words', () => {
    const segment = fc.stringMatching(/^[a-z0-9]{8,12}$/);
    fc.assert(
      fc.property(
        fc.array(segment, { minLength: 1, maxLength: 6 }),
        fc.constantFrom('node', 'repo', 'help'),
        (segments, head) => {
          const template = routeTemplateOf(parseDvidPath(`/api/${head}/${segments.join('/')}`));
          for (const s of segments) expect(template ?? '').not.toContain(s);
        },
      ),
    );
  });
});
