import { SignJWT } from 'jose';
import { JwtVerifier, type JwtSettings } from './jwt';

const SECRET = 'jwt-unit-secret-0123456789abcdef0123456789';

const settings = (overrides: Partial<JwtSettings> = {}): JwtSettings => ({
  jwksUrl: undefined,
  publicKey: undefined,
  secret: SECRET,
  issuer: undefined,
  audience: undefined,
  algorithms: [],
  subjectClaims: ['kc.identity/kc.i.id', 'sub'],
  scopesClaim: 'kc.authorizedScopes',
  requiredTrueClaim: 'kc.isAccessToken',
  clockToleranceSeconds: 0,
  requireExp: false,
  ...overrides,
});

const sign = (claims: Record<string, unknown>, subject?: string) => {
  const jwt = new SignJWT({ 'kc.isAccessToken': true, ...claims }).setProtectedHeader({ alg: 'HS256' });
  return (subject === undefined ? jwt : jwt.setSubject(subject)).sign(new TextEncoder().encode(SECRET));
};

describe('JwtVerifier subject paths', () => {
  const verifier = new JwtVerifier(settings());

  it('reads a nested claim first and falls back to the next path', async () => {
    const nested = await sign({ 'kc.identity': { 'kc.i.id': 'u-42' } }, 'sub-1');
    expect((await verifier.verify(nested)).subject).toBe('u-42');
    expect((await verifier.verify(await sign({ 'kc.identity': { 'kc.i.id': '' } }, 'sub-1'))).subject).toBe('sub-1');
    expect((await verifier.verify(await sign({ 'kc.identity': 'flat' }, 'sub-2'))).subject).toBe('sub-2');
  });

  it('refuses a token with no subject on any path', async () => {
    await expect(verifier.verify(await sign({ 'kc.identity': { 'kc.i.id': 7 } }))).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
    });
  });

  it('reads scopes from the configured claim only, and requires the true claim', async () => {
    const token = await sign({ 'kc.authorizedScopes': ['kopano/kvs', 3], scope: 'other' }, 's');
    expect((await verifier.verify(token)).scopes).toEqual(['kopano/kvs']);
    await expect(verifier.verify(await sign({ 'kc.isAccessToken': 'true' }, 's'))).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
    });
  });
});
