import fc from 'fast-check';
import { isDomainError } from '@rosetta/core';
import { isRivetPath, matchRivetPath, routedMethods } from './paths';

describe('isRivetPath', () => {
  it.each([
    ['/login', true],
    ['/logout', true],
    ['/login/x', true],
    ['/store', true],
    ['/store/', true],
    ['/store/alice/a/b', true],
    ['/loginx', false],
    ['/storex/alice', false],
    ['/v1/spaces', false],
    ['/', false],
    ['', false],
  ])('%s → %s', (path, claimed) => {
    expect(isRivetPath(path)).toBe(claimed);
  });
});

describe('matchRivetPath', () => {
  it.each([
    ['/login', { kind: 'login' }],
    ['/logout', { kind: 'logout' }],
    ['/login/', { kind: 'unknown' }],
    ['/logout/x', { kind: 'unknown' }],
    ['/store', { kind: 'store-root' }],
    ['/store/', { kind: 'store-root' }],
    ['/store/alice', { kind: 'keys', user: 'alice' }],
    ['/store/alice%40example.com', { kind: 'keys', user: 'alice@example.com' }],
    ['/store/alice/', { kind: 'record', user: 'alice', key: '' }],
    ['/store/alice/profile/bio', { kind: 'record', user: 'alice', key: 'profile/bio' }],
    ['/store/alice/profile/bio/', { kind: 'record', user: 'alice', key: 'profile/bio/' }],
    ['/store/alice/a%20b', { kind: 'record', user: 'alice', key: 'a b' }],
    ['/store/alice/a%2Fb', { kind: 'record', user: 'alice', key: 'a/b' }],
    ['/store/alice/%C3%A9', { kind: 'record', user: 'alice', key: 'é' }],
    ['/store//k', { kind: 'record', user: '', key: 'k' }],
  ])('%s', (path, expected) => {
    expect(matchRivetPath(path)).toEqual(expected);
  });

  it.each(['/store/alice/%zz', '/store/alice/%', '/store/alice/%FF', '/store/%E2%82/k', '/store/%zz'])(
    'refuses the malformed escape in %s with INVALID_ARGUMENT',
    (path) => {
      expect(() => matchRivetPath(path)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    },
  );

  it('decodes what encodeURIComponent encodes, for any user and key', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (user, key) => {
        const encodedKey = key.split('/').map(encodeURIComponent).join('/');
        const path = `/store/${encodeURIComponent(user)}/${encodedKey}`;
        expect(matchRivetPath(path)).toEqual({ kind: 'record', user, key });
      }),
    );
  });

  it('answers any path below the claimed roots, or refuses it with a domain error only', () => {
    const root = fc.constantFrom('/login', '/logout', '/store');
    fc.assert(
      fc.property(root, fc.string({ unit: 'binary' }), (prefix, rest) => {
        const path = `${prefix}/${rest}`;
        expect(isRivetPath(path)).toBe(true);
        try {
          expect(matchRivetPath(path).kind).toMatch(/^(unknown|store-root|keys|record)$/);
        } catch (error) {
          expect(isDomainError(error) && error.code === 'INVALID_ARGUMENT').toBe(true);
        }
      }),
    );
  });
});

describe('routedMethods', () => {
  it('routes GET on sessions and listings, the four verbs on keys, and every method elsewhere', () => {
    expect(routedMethods({ kind: 'login' })).toEqual(['GET']);
    expect(routedMethods({ kind: 'logout' })).toEqual(['GET']);
    expect(routedMethods({ kind: 'keys', user: 'a' })).toEqual(['GET']);
    expect(routedMethods({ kind: 'record', user: 'a', key: 'k' })).toEqual(['GET', 'POST', 'PUT', 'DELETE']);
    expect(routedMethods({ kind: 'store-root' })).toBeUndefined();
    expect(routedMethods({ kind: 'unknown' })).toBeUndefined();
  });
});
