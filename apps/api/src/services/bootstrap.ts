import { hashSecret, newTokenSecret } from '../auth/secrets';
import type { AccountRecord, AccountsRepository } from './auth-ports';
import { passwordHashFor, personalSpaceOf } from './auth-service';

export const ADMIN_ACCOUNT = { name: 'admin', host: '' } as const;

/** Name of the token row that holds ROSETTA_ADMIN_TOKEN's hash. */
export const CONFIGURED_TOKEN_NAME = 'ROSETTA_ADMIN_TOKEN';

export interface BootstrapSettings {
  readonly adminPassword: string | undefined;
  readonly adminToken: string | undefined;
  /** The space created at start-up; the admin owns it. */
  readonly defaultSpace: string;
}

export interface BootstrapResult {
  readonly admin: AccountRecord;
  /** Set only on the very first start without a configured password or token: print it once. */
  readonly generatedToken: string | undefined;
}

/** An unrestricted, never-expiring token of the admin. */
function addAdminToken(accounts: AccountsRepository, admin: AccountRecord, name: string, secretHash: Uint8Array) {
  return accounts.createToken({
    accountId: admin.id,
    kind: 'token',
    name,
    secretHash,
    scopes: [],
    readOnly: false,
    rateLimit: 0,
    expiresInSeconds: undefined,
  });
}

/**
 * Makes a new store usable: on first start, an `admin` account (with ROSETTA_ADMIN_PASSWORD
 * when set) that owns the default space. ROSETTA_ADMIN_TOKEN, when set, is the admin's API token
 * (stored hashed; changing it revokes the old one). With neither set on a first start, a token is
 * generated for the caller to print once. No default password ever exists.
 */
export async function bootstrapAdmin(
  accounts: AccountsRepository,
  settings: BootstrapSettings,
): Promise<BootstrapResult> {
  let admin = await accounts.findAccount(ADMIN_ACCOUNT);
  const firstStart = admin === undefined;
  if (admin === undefined) {
    admin =
      (await accounts.createAccount({
        ...ADMIN_ACCOUNT,
        passwordHash: settings.adminPassword === undefined ? null : await passwordHashFor(settings.adminPassword),
        admin: true,
        personalSpace: personalSpaceOf(ADMIN_ACCOUNT),
      })) ?? (await accounts.findAccount(ADMIN_ACCOUNT));
    if (admin === undefined) throw new Error('could not create the admin account');
    await accounts.setMember(settings.defaultSpace, admin.id, 'owner');
  }
  if (settings.adminToken !== undefined) {
    const hash = hashSecret(settings.adminToken);
    const known = await accounts.findToken(hash);
    if (known === undefined) {
      await accounts.revokeTokensNamed(admin.id, CONFIGURED_TOKEN_NAME);
      await addAdminToken(accounts, admin, CONFIGURED_TOKEN_NAME, hash);
    }
    return { admin, generatedToken: undefined };
  }
  if (!firstStart || settings.adminPassword !== undefined) return { admin, generatedToken: undefined };
  const generatedToken = newTokenSecret();
  await addAdminToken(accounts, admin, 'generated at first start', hashSecret(generatedToken));
  return { admin, generatedToken };
}

/** The lines that show a generated admin token, once, on the terminal (never in the log). */
export const firstStartBanner = (token: string): string =>
  `\n  First start: the admin's API token (shown only now; only its hash is kept):\n\n      ${token}\n\n`;
