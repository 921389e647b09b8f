import { createHash, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Secrets and their hashes. Random secrets (tokens, sessions) carry 192 or 256 bits of entropy,
 * so one SHA-256 is enough to store them: nobody can brute-force the preimage. Passwords are
 * chosen by people and get scrypt, with a random salt per password.
 */

/** Prefix of API and run tokens, so that they are recognisable (and findable by secret scanners). */
export const TOKEN_PREFIX = 'rst_';

export const newTokenSecret = (): string => `${TOKEN_PREFIX}${randomBytes(24).toString('base64url')}`;

/** Session tokens are 64 lower-case hex digits, as Rivet's are. */
export const newSessionSecret = (): string => randomBytes(32).toString('hex');

export const hashSecret = (secret: string): Buffer => createHash('sha256').update(secret, 'utf8').digest();

/** Compares two secrets in time that does not depend on where they differ (nor on their lengths). */
export function secretsEqual(a: string, b: string): boolean {
  return timingSafeEqual(hashSecret(a), hashSecret(b));
}

const SCRYPT = { N: 16_384, r: 8, p: 1, keyLength: 32, maxmem: 64 * 1024 * 1024 } as const;

function derive(password: string, salt: Buffer, options: ScryptOptions & { keyLength: number }): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, options.keyLength, options, (error, key) =>
      error === null ? resolve(key) : reject(error),
    );
  });
}

/** `scrypt$N$r$p$salt$hash`, salt and hash in base64url. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, SCRYPT);
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** A hash of no password at all, checked against for unknown accounts so that they take as long as known ones. */
const DECOY = hashPassword(randomBytes(16).toString('hex'));

export async function verifyPassword(password: string, stored: string | null): Promise<boolean> {
  const parts = (stored ?? (await DECOY)).split('$');
  const [kind, n, r, p, salt, hash] = parts;
  if (parts.length !== 6 || kind !== 'scrypt' || salt === undefined || hash === undefined) return false;
  const expected = Buffer.from(hash, 'base64url');
  const key = await derive(password, Buffer.from(salt, 'base64url'), {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    keyLength: expected.byteLength,
    maxmem: SCRYPT.maxmem,
  });
  return timingSafeEqual(key, expected) && stored !== null;
}
