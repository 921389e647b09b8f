import { isUtf8 } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import type { Caller, CredentialInit } from '../../auth/callers';
import { passwordCredential, unauthenticated } from '../../auth/credentials';
import type { DialectContext } from '../dialect';
import type { JidParts } from './paths';

/** The JID and password of a Basic header, as the module reads them. */
export interface BasicLogin {
  readonly node: string;
  readonly host: string;
  readonly password: string;
}

/** A bare or full JID: `node@host`, optionally `/resource` (dropped); node and host without `@` or `/`. */
const JID = /^([^@/]+)@([^@/]+)(?:\/[^]+)?$/;

/**
 * nodeprep/nameprep, approximated: NFKC and lower case. The full stringprep tables are not worth
 * their weight: account names are restricted to letters, digits and `. _ + -` anyway, so any
 * other character fails authentication whatever the mapping.
 */
const prep = (text: string): string => text.normalize('NFKC').toLowerCase();

/**
 * The login of an `Authorization` value as mod_data_access reads it (spec §3): the text after
 * the LAST space is Base64 (the scheme word is not checked), split at the first `:` into JID and
 * password. Undefined when it is malformed: no colon, not UTF-8, or a JID without a node or host
 * (Prosody crashes on the last with a raw 500; we refuse it as bad credentials). The password is
 * taken as is (no SASLprep), so it matches the password the account has everywhere else.
 */
export function parseLogin(authorization: string): BasicLogin | undefined {
  const decoded = Buffer.from(authorization.slice(authorization.lastIndexOf(' ') + 1), 'base64');
  if (!isUtf8(decoded)) return undefined;
  const text = decoded.toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  const jid = JID.exec(prep(text.slice(0, colon)));
  if (jid === null) return undefined;
  const [, node = '', host = ''] = jid;
  return { node, host, password: text.slice(colon + 1) };
}

/** A text as a byte string (its UTF-8 bytes, one char per byte), as path items are compared. */
export const byteString = (text: string): string => Buffer.from(text, 'utf8').toString('latin1');

/** The caller's account as path items name it: host and node as byte strings. */
export const jidOf = (caller: Caller): JidParts => ({
  host: byteString(caller.principal.host),
  node: byteString(caller.principal.account),
});

/** The password credential of an `Authorization` value; UNAUTHENTICATED when it is malformed. */
function credentialOf(authorization: string): CredentialInit {
  const login = parseLogin(authorization);
  if (login === undefined) throw unauthenticated('malformed Basic credentials');
  return passwordCredential(`${login.node}@${login.host}`, login.password);
}

/**
 * The caller of a request with its `Authorization` value. Verified credentials are remembered
 * for up to a second under the exact header, so a client sending the same header on every
 * request, as this API requires, is neither re-parsed nor re-hashed each time. The key is the
 * one /v1 uses for Basic, so a header /v1 verified for an account without a host (a login
 * without `@`, which this dialect refuses) can come back from the cache: such callers are
 * refused here.
 */
export async function authenticate(
  context: DialectContext,
  req: IncomingMessage,
  authorization: string,
): Promise<Caller> {
  const caller = await context.callers.authenticate(
    `p ${authorization}`,
    () => credentialOf(authorization),
    context.callers.clientAddress(req),
  );
  if (caller.principal.host === '') throw unauthenticated('a Prosody login is user@host');
  return caller;
}
