import { SignJWT } from 'jose';

/**
 * Kopano access tokens in the tests: the api's settings for tokens as Kopano Konnect issues
 * them (HS256 with `secret`, its `kc.*` claims, accounts made on first use), and a token.
 */
export function kopanoJwtEnv(secret: string): Record<string, string> {
  return {
    JWT_SECRET: secret,
    JWT_REQUIRED_TRUE_CLAIM: 'kc.isAccessToken',
    JWT_SCOPES_CLAIM: 'kc.authorizedScopes',
    JWT_SUBJECT_CLAIM: 'kc.identity/kc.i.id,sub',
    JWT_REQUIRE_EXP: 'false',
    JWT_CREATE_ACCOUNTS: 'true',
  };
}

/** An access token of `subject` with the kvs scope, signed with `secret`. */
export function kopanoToken(secret: string, subject: string): Promise<string> {
  return new SignJWT({ 'kc.isAccessToken': true, 'kc.authorizedScopes': ['kopano/kvs'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(subject)
    .sign(new TextEncoder().encode(secret));
}
