import { authorize, authorizeFilter, authorizeKeys, readableKeys, type Principal, type Scope } from './access';
import type { DomainError } from './errors';

const principal = (overrides: Partial<Principal> = {}): Principal => ({
  accountId: 1,
  account: 'alice',
  host: '',
  admin: false,
  readOnly: false,
  scopes: [],
  via: 'token',
  credentialId: 1,
  externalScopes: [],
  rateLimit: 0,
  ...overrides,
});

const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return (error as DomainError).code;
  }
  return 'allowed';
};

const scope = (s: Partial<Scope>): Scope => ({ space: 's', collection: '', write: false, keyPrefix: '', ...s });

describe('authorize', () => {
  const target = { space: 's', collection: 'c' };

  it('follows roles: readers read, writers write, owners manage; non-members see nothing', () => {
    expect(codeOf(() => authorize(principal(), target, 'read', 'reader'))).toBe('allowed');
    expect(codeOf(() => authorize(principal(), target, 'write', 'reader'))).toBe('PERMISSION_DENIED');
    expect(codeOf(() => authorize(principal(), target, 'write', 'writer'))).toBe('allowed');
    expect(codeOf(() => authorize(principal(), target, 'manage', 'writer'))).toBe('PERMISSION_DENIED');
    expect(codeOf(() => authorize(principal(), target, 'manage', 'owner'))).toBe('allowed');
    expect(codeOf(() => authorize(principal(), target, 'read', undefined))).toBe('SPACE_NOT_FOUND');
    expect(codeOf(() => authorize(principal({ admin: true }), target, 'manage', undefined))).toBe('allowed');
  });

  it('never lets a read-only credential write, whatever the role', () => {
    expect(codeOf(() => authorize(principal({ readOnly: true }), target, 'write', 'owner'))).toBe('PERMISSION_DENIED');
    expect(codeOf(() => authorize(principal({ readOnly: true, admin: true }), target, 'write', undefined))).toBe(
      'PERMISSION_DENIED',
    );
  });

  it('limits scoped tokens to their space, collection and access', () => {
    const scoped = principal({ scopes: [scope({ collection: 'c', write: true, keyPrefix: 'p/' })] });
    expect(authorize(scoped, target, 'write', 'owner')).toHaveLength(1);
    expect(codeOf(() => authorize(scoped, { space: 's', collection: 'd' }, 'read', 'owner'))).toBe('PERMISSION_DENIED');
    expect(codeOf(() => authorize(scoped, { space: 't', collection: 'c' }, 'read', 'owner'))).toBe('PERMISSION_DENIED');
    expect(codeOf(() => authorize(scoped, target, 'manage', 'owner'))).toBe('PERMISSION_DENIED');
    expect(codeOf(() => authorize(scoped, { space: 's' }, 'read', 'owner'))).toBe('allowed');
    const readOnlyScope = principal({ scopes: [scope({})] });
    expect(codeOf(() => authorize(readOnlyScope, target, 'write', 'owner'))).toBe('PERMISSION_DENIED');
  });
});

describe('key prefixes of scopes', () => {
  const scopes = [scope({ keyPrefix: 'pub/' })];

  it('checks keys', () => {
    expect(codeOf(() => authorizeKeys(scopes, ['pub/a', 'pub/b']))).toBe('allowed');
    expect(codeOf(() => authorizeKeys(scopes, ['pub/a', 'priv/b']))).toBe('PERMISSION_DENIED');
    expect(codeOf(() => authorizeKeys([], ['anything']))).toBe('allowed');
  });

  it('narrows listings to the prefix, keeps narrower ones, refuses disjoint ones', () => {
    expect(authorizeFilter(scopes, {})).toEqual({ prefix: 'pub/' });
    expect(authorizeFilter(scopes, { prefix: 'pu' })).toEqual({ prefix: 'pub/' });
    expect(authorizeFilter(scopes, { prefix: 'pub/x' })).toEqual({ prefix: 'pub/x' });
    expect(codeOf(() => authorizeFilter(scopes, { prefix: 'priv/' }))).toBe('PERMISSION_DENIED');
    expect(codeOf(() => authorizeFilter([scope({ keyPrefix: 'a/' }), scope({ keyPrefix: 'b/' })], {}))).toBe(
      'PERMISSION_DENIED',
    );
  });
});

describe('readableKeys', () => {
  it('lets an unscoped principal read every key', () => {
    expect(readableKeys(principal(), 's', 'c')('anything')).toBe(true);
  });

  it('limits a scoped principal to the prefixes of the scopes that name the collection', () => {
    const scoped = principal({
      scopes: [
        scope({ collection: 'c', keyPrefix: 'pub/' }),
        scope({ collection: 'c', keyPrefix: 'shared/' }),
        scope({ collection: 'other', keyPrefix: '' }),
      ],
    });
    const readable = readableKeys(scoped, 's', 'c');
    expect(['pub/a', 'shared/b', 'priv/c', ''].map(readable)).toEqual([true, true, false, false]);
  });

  it('opens every key when a matching scope has no prefix, and none when no scope matches', () => {
    expect(readableKeys(principal({ scopes: [scope({ keyPrefix: '' })] }), 's', 'c')('x')).toBe(true);
    expect(readableKeys(principal({ scopes: [scope({ space: 'elsewhere' })] }), 's', 'c')('x')).toBe(false);
  });
});
