import { invalid } from './errors';
import { MAX_KEY_BYTES } from './keys';
import { utf8ByteLength } from './utf8';

/**
 * Webhooks of a collection: each change event of the collection that passes a webhook's filter
 * (its ops and its key prefix) is POSTed to its URL, signed with its secret. These are the rules
 * of what a webhook may be; the record service stores them, the worker matches events to them
 * and delivers.
 */

/** The event ops a webhook may ask for (a webhook cannot exist before its collection's creation). */
export const WEBHOOK_OPS = ['put', 'delete', 'collection.updated', 'collection.deleted'] as const;
export type WebhookOp = (typeof WEBHOOK_OPS)[number];

/** `rosetta`: the change event as JSON; `dvid`: DVID's mutation-log message (puts and deletes). */
export const WEBHOOK_FORMATS = ['rosetta', 'dvid'] as const;
export type WebhookFormat = (typeof WEBHOOK_FORMATS)[number];

/** Where a delivery stands: `dead` means every attempt failed (the dead-letter list). */
export const DELIVERY_STATES = ['retrying', 'delivered', 'dead'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

export const MAX_WEBHOOKS_PER_COLLECTION = 20;
export const MIN_WEBHOOK_SECRET_CHARS = 16;
export const MAX_WEBHOOK_SECRET_CHARS = 256;
export const MAX_WEBHOOK_URL_CHARS = 2048;

/** What a caller asks for when creating a webhook (the contract's fields, unvalidated). */
export interface WebhookInput {
  readonly url: string;
  readonly secret: string;
  readonly ops: readonly string[];
  readonly keyPrefix: string;
  /** Empty: `rosetta`. */
  readonly format: string;
}

/** A valid webhook definition. */
export interface WebhookSpec {
  readonly url: string;
  readonly secret: string;
  /** Empty: every op. */
  readonly ops: readonly WebhookOp[];
  /** Empty: every key. */
  readonly keyPrefix: string;
  readonly format: WebhookFormat;
}

const isOneOf = <T extends string>(values: readonly T[], value: string): value is T =>
  (values as readonly string[]).includes(value);

/** Control characters and whitespace, which no URL needs and `new URL` would silently drop. */
// eslint-disable-next-line no-control-regex
const UNSAFE_URL_CHARS = /[\u0000-\u0020\u007f]/;

/**
 * An absolute http or https URL, kept as given (it is what the receiver is called at).
 * Anything else — another scheme, a relative or malformed URL, whitespace — is refused.
 */
export function validateWebhookUrl(url: string): string {
  if (url.length === 0) throw invalid('INVALID_ARGUMENT', 'url is required');
  if (url.length > MAX_WEBHOOK_URL_CHARS) {
    throw invalid('INVALID_ARGUMENT', `url must be at most ${MAX_WEBHOOK_URL_CHARS} characters`);
  }
  if (UNSAFE_URL_CHARS.test(url) || !url.isWellFormed()) {
    throw invalid('INVALID_ARGUMENT', 'url must not contain whitespace or control characters');
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid('INVALID_ARGUMENT', 'url is not a valid absolute URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw invalid('INVALID_ARGUMENT', `url must be http or https, not ${parsed.protocol.slice(0, -1)}`);
  }
  if (parsed.hostname === '') throw invalid('INVALID_ARGUMENT', 'url must name a host');
  return url;
}

/** 16–256 characters (code points), without NUL. */
export function validateWebhookSecret(secret: string): string {
  const chars = Array.from(secret).length;
  if (chars < MIN_WEBHOOK_SECRET_CHARS || chars > MAX_WEBHOOK_SECRET_CHARS) {
    throw invalid(
      'INVALID_ARGUMENT',
      `secret must be ${MIN_WEBHOOK_SECRET_CHARS} to ${MAX_WEBHOOK_SECRET_CHARS} characters long`,
    );
  }
  if (secret.includes('\u0000') || !secret.isWellFormed()) {
    throw invalid('INVALID_ARGUMENT', 'secret must be valid UTF-8 without NUL');
  }
  return secret;
}

/** Each op once, each one of WEBHOOK_OPS; empty means every op. */
export function validateWebhookOps(ops: readonly string[]): WebhookOp[] {
  const seen = new Set<WebhookOp>();
  for (const op of ops) {
    if (!isOneOf(WEBHOOK_OPS, op)) {
      throw invalid('INVALID_ARGUMENT', `unknown op "${op}"; ops are ${WEBHOOK_OPS.join(', ')}`);
    }
    if (seen.has(op)) throw invalid('INVALID_ARGUMENT', `op "${op}" is listed twice`);
    seen.add(op);
  }
  return [...seen];
}

/** A key prefix: empty, or UTF-8 of at most MAX_KEY_BYTES bytes without NUL. */
export function validateWebhookKeyPrefix(prefix: string): string {
  if (utf8ByteLength(prefix) > MAX_KEY_BYTES || !prefix.isWellFormed() || prefix.includes('\u0000')) {
    throw invalid('INVALID_ARGUMENT', `key_prefix must be valid UTF-8 of at most ${MAX_KEY_BYTES} bytes, without NUL`);
  }
  return prefix;
}

/** `rosetta` (also for empty) or `dvid`. */
export function validateWebhookFormat(format: string): WebhookFormat {
  if (format === '') return 'rosetta';
  if (!isOneOf(WEBHOOK_FORMATS, format)) {
    throw invalid('INVALID_ARGUMENT', `unknown format "${format}"; formats are ${WEBHOOK_FORMATS.join(', ')}`);
  }
  return format;
}

/** Checks every field of a new webhook; the first failure is thrown as INVALID_ARGUMENT. */
export function validateWebhook(input: WebhookInput): WebhookSpec {
  return {
    url: validateWebhookUrl(input.url),
    secret: validateWebhookSecret(input.secret),
    ops: validateWebhookOps(input.ops),
    keyPrefix: validateWebhookKeyPrefix(input.keyPrefix),
    format: validateWebhookFormat(input.format),
  };
}

/** The state filter of a delivery listing: undefined (every state) for empty. */
export function validateDeliveryStateFilter(state: string): DeliveryState | undefined {
  if (state === '') return undefined;
  if (!isOneOf(DELIVERY_STATES, state)) {
    throw invalid('INVALID_ARGUMENT', `unknown state "${state}"; states are ${DELIVERY_STATES.join(', ')}`);
  }
  return state;
}

export function isDeliveryState(value: string): value is DeliveryState {
  return isOneOf(DELIVERY_STATES, value);
}
