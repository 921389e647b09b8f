import { isOpenFnName, isOpenFnPath, matchOpenFnPath } from './paths';

describe('matchOpenFnPath (Phoenix routing)', () => {
  it.each([
    ['/collections/patients', { kind: 'collection', name: 'patients' }],
    ['/collections/patients/', { kind: 'collection', name: 'patients' }],
    ['//collections//patients//', { kind: 'collection', name: 'patients' }],
    ['/collections/patients/p-1', { kind: 'item', name: 'patients', key: 'p-1' }],
    ['/collections/patients/a%2Fb', { kind: 'item', name: 'patients', key: 'a/b' }],
    ['/collections/patients/a+b%20c', { kind: 'item', name: 'patients', key: 'a+b c' }],
    ['/collections/patients/%E2%82%AC', { kind: 'item', name: 'patients', key: '€' }],
    ['/collections/Pat%69ents', { kind: 'collection', name: 'Patients' }],
    ['/collections', { kind: 'unknown' }],
    ['/collections/', { kind: 'unknown' }],
    ['/collections/a/b/c', { kind: 'unknown' }],
    ['/collectionsx/a', { kind: 'unknown' }],
    ['/collections/a/%', { kind: 'malformed' }],
    ['/collections/a/%E2%82', { kind: 'malformed' }],
    ['/collections/%ZZ', { kind: 'malformed' }],
  ])('%p → %p', (path, expected) => {
    expect(matchOpenFnPath(path)).toEqual(expected);
  });

  it('claims only /collections and what lies under it', () => {
    expect(['/collections', '/collections/', '/collections/a'].map(isOpenFnPath)).toEqual([true, true, true]);
    expect(['/collectionsx', '/v1/collections', '/', '/data'].map(isOpenFnPath)).toEqual([false, false, false, false]);
  });
});

describe('isOpenFnName (Lightning’s URL-safe names)', () => {
  it.each(['patients', 'cat-breeds', 'a.b_c-1', '0', 'a1-b2.c3_d4'])('accepts %p', (name) => {
    expect(isOpenFnName(name)).toBe(true);
  });

  it.each(['', 'Patients', '-a', 'a-', 'a--b', 'a-.b', 'a b', 'a/b', 'é', 'a_', '_a', 'a..b'])('refuses %p', (name) => {
    expect(isOpenFnName(name)).toBe(false);
  });
});
