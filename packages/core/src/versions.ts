/**
 * DVID version selectors (`<uuid>` path segments: a UUID prefix, `P:branch`, `P:branch~N`), the
 * caller-supplied UUIDs and branch names of the repo routes, and DVID's mutation-log JSON. The
 * message texts copy DVID's (`datastore/repo_local.go`, `server/web.go`) because its dialect shows
 * them verbatim; quoted parts are quoted the way Go's `%q` does it.
 */
import { invalid, type DomainError } from './errors';
import type { ChangeEvent } from './events';

/** Longest version spec parsed: a full UUID is 32 characters, a branch suffix rarely much more. */
export const MAX_VERSION_SPEC_LENGTH = 200;

/** Longest branch name, in code points. */
export const MAX_BRANCH_NAME_LENGTH = 200;

/** Longest repo root UUID a client may choose. */
export const MAX_ROOT_UUID_LENGTH = 64;

/** At most this many code points of caller text are echoed in a message. */
const MAX_ECHO = 200;

/**
 * A parsed `<uuid>` path segment. `prefix` '' means "the only repo" (`:B`); `branch` is the stored
 * branch name ('' is master); `ancestor` N selects element N of the branch ancestry, leaf first.
 */
export type VersionSpec =
  | { readonly kind: 'prefix'; readonly prefix: string }
  | { readonly kind: 'branch'; readonly prefix: string; readonly branch: string; readonly ancestor: number };

export type BranchVersionSpec = Extract<VersionSpec, { kind: 'branch' }>;

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
const DIGITS = /^[0-9]+$/;

/**
 * The syntax half of DVID's UUID resolution (spec 1.5); the resolver matches the result against the
 * database. Only printable ASCII up to 200 characters is accepted: no UUID, tag or usable branch
 * spec needs more, and it keeps every echo in a message short and plain.
 *
 * Like DVID: `P:` is the plain prefix P, `:` is master of the only repo, and a branch text with
 * more than one `~` is a branch name as a whole (which will not be found). Unlike DVID, a bad `~N`
 * is refused here, before the prefix is matched, and `-1` or `+1` are not numbers.
 */
export function parseVersionSpec(spec: string): VersionSpec {
  if (spec.length === 0 || spec.length > MAX_VERSION_SPEC_LENGTH || !PRINTABLE_ASCII.test(spec)) {
    throw badSpec(spec);
  }
  const parts = spec.split(':');
  if (parts.length > 2) throw badSpec(spec);
  const [prefix = '', branchText] = parts;
  if (branchText === undefined || (branchText === '' && prefix !== '')) return { kind: 'prefix', prefix };

  const pieces = branchText.split('~');
  if (pieces.length !== 2) return { kind: 'branch', prefix, branch: storedBranch(branchText), ancestor: 0 };
  const [name = '', parent = ''] = pieces;
  const ancestor = DIGITS.test(parent) ? Number(parent) : Number.NaN;
  // Go's Atoi fails past int64; past 2^53 no ancestry is that long anyway.
  if (!Number.isSafeInteger(ancestor)) {
    throw invalid('INVALID_ARGUMENT', `can't parse parent ${goQuote(parent)} in branch ${goQuote(name)}`);
  }
  return { kind: 'branch', prefix, branch: storedBranch(name), ancestor };
}

function badSpec(spec: string): DomainError {
  return invalid('INVALID_ARGUMENT', `bad UUID specification ${goQuote(capped(spec))}`);
}

function storedBranch(name: string): string {
  return name === 'master' ? '' : name;
}

/** The name DVID prints for a stored branch: master is stored as ''. */
function branchLabel(stored: string): string {
  return stored === '' ? 'master' : stored;
}

/** The prefix (the text before any `:`) matches more than one node UUID. */
export function ambiguousVersion(prefix: string): DomainError {
  return invalid('INVALID_ARGUMENT', `more than one UUID matches ${goEscape(capped(prefix), false)}`);
}

/** The prefix matches no node UUID. DVID answers 400 for this too; the transport decides. */
export function unknownVersion(prefix: string): DomainError {
  return invalid('VERSION_NOT_FOUND', `could not find UUID with partial match to ${goEscape(capped(prefix), false)}`);
}

/** `:B` (empty prefix) while the server holds more than one repo. */
export function repoRequired(): DomainError {
  return invalid('INVALID_ARGUMENT', 'UUID must be specified if more than one repo exists');
}

/**
 * No node of the repo is on `branch` (the stored name; '' prints as `master`). DVID prints the
 * node UUID the prefix matched, not the root, and '' when the spec had no prefix (`:B`).
 */
export function unknownBranch(branch: string, repoUuid: string): DomainError {
  return invalid('VERSION_NOT_FOUND', `branch ${goQuote(branchLabel(branch))} not found in repo ${goQuote(repoUuid)}`);
}

/** `B~N` asked for an ancestor past the root; `branchText` is the branch as the caller wrote it. */
export function ancestorOutOfRange(n: number, branchText: string): DomainError {
  return invalid('INVALID_ARGUMENT', `parent ${n} is out of range for branch ${goQuote(branchText)}`);
}

/**
 * Element `spec.ancestor` of a branch ancestry listed leaf first (following first parents to the
 * repo root). DVID answers an unknown branch in `B~N` with this error, not "not found", because it
 * reads an empty ancestry; resolvers that want that exactness pass the empty list.
 */
export function pickAncestor<T>(ancestry: readonly T[], spec: Pick<BranchVersionSpec, 'branch' | 'ancestor'>): T {
  if (spec.ancestor >= ancestry.length) throw ancestorOutOfRange(spec.ancestor, branchLabel(spec.branch));
  return ancestry[spec.ancestor] as T;
}

const HEX_UUID = /^[0-9a-f]{32}$/i;
const ROOT_UUID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * A child UUID assigned by the caller of `/newversion` or `/branch`: 32 hex digits, as DVID
 * requires. DVID keeps the case as given, which would put an uppercase UUID out of reach of
 * (lowercase) prefix matching, so it is returned lower-cased. DVID treats an empty `uuid` as
 * absent; callers check that before calling this.
 */
export function validateAssignedUuid(uuid: string): string {
  if (!HEX_UUID.test(uuid)) throw invalid('INVALID_ARGUMENT', `Bad UUID provided: ${goEscape(capped(uuid), false)}`);
  return uuid.toLowerCase();
}

/**
 * A repo root UUID chosen by the client of `POST /api/repos`. DVID takes any string here, and
 * tag nodes already have non-hex UUIDs, so this is looser than `validateAssignedUuid` (no hex, no
 * fixed length, case kept: prefix matching is case-sensitive, so the client gets back what it
 * sent). The alphabet keeps it usable as a path segment and inside a version spec: no `:` or `~`.
 */
export function validateRootUuid(uuid: string): string {
  if (!ROOT_UUID.test(uuid)) {
    throw invalid(
      'INVALID_ARGUMENT',
      `bad root UUID ${goQuote(capped(uuid))}: 1–${MAX_ROOT_UUID_LENGTH} letters, digits, '.', '_' or '-'`,
    );
  }
  return uuid;
}

const CONTROL = /\p{Cc}/u;

/** The name of a new branch (`/branch`), returned as stored. Master cannot be created again. */
export function validateBranchName(name: string): string {
  if (name === '' || name === 'master') throw invalid('INVALID_ARGUMENT', 'Cannot create a master branch');
  // A lone surrogate has no UTF-8 form to store, so it is refused like a control character.
  if (exceedsCodePoints(name, MAX_BRANCH_NAME_LENGTH) || CONTROL.test(name) || !name.isWellFormed()) {
    throw invalid('INVALID_ARGUMENT', 'bad branch name');
  }
  return name;
}

/**
 * A change event as DVID's mutation-log JSON (spec 7): keys in Go's map order (alphabetical) and
 * strings escaped as Go's `json.Marshal` does. `Timestamp` is Go's `time.Time.String()` of the
 * commit time in UTC, without the monotonic-clock suffix DVID's `time.Now()` carries. Only key
 * writes and deletes have a DVID message.
 */
export function dvidMutationMessage(
  event: Pick<ChangeEvent, 'op' | 'key' | 'size' | 'version' | 'at'>,
): string | undefined {
  if (event.op !== 'put' && event.op !== 'delete') return undefined;
  // Go's encoder sees bytes; a lone surrogate has none, so it goes out as U+FFFD.
  const key = event.key.toWellFormed();
  const Timestamp = goUtcTimeString(event.at);
  const UUID = event.version.toWellFormed();
  return event.op === 'put'
    ? goJson({ Action: 'postkv', Bytes: event.size, Key: key, Timestamp, UUID })
    : goJson({ Action: 'delete', Key: key, Timestamp, UUID });
}

/** JSON.stringify plus the escapes Go adds by default: HTML-sensitive characters and U+2028/9. */
function goJson(value: object): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${hex(c.charCodeAt(0), 4)}`);
}

/**
 * Go's `2006-01-02 15:04:05.999999999 -0700 MST` layout in UTC: the fraction loses its trailing
 * zeros, and the dot too when nothing is left.
 */
function goUtcTimeString(micros: number): string {
  const us = Math.floor(micros);
  const ms = Math.floor(us / 1000);
  const date = new Date(ms);
  if (Number.isNaN(date.getTime())) throw new RangeError(`timestamp out of range: ${micros}`);
  const year = date.getUTCFullYear();
  const yyyy = (year < 0 ? '-' : '') + pad(Math.abs(year), 4);
  const fraction = (pad(date.getUTCMilliseconds(), 3) + pad(us - ms * 1000, 3)).replace(/0+$/, '');
  return (
    `${yyyy}-${pad(date.getUTCMonth() + 1, 2)}-${pad(date.getUTCDate(), 2)} ` +
    `${pad(date.getUTCHours(), 2)}:${pad(date.getUTCMinutes(), 2)}:${pad(date.getUTCSeconds(), 2)}` +
    `${fraction === '' ? '' : `.${fraction}`} +0000 UTC`
  );
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

/** The first 200 code points of `text`: caller text in a message stays short. */
function capped(text: string): string {
  let count = 0;
  let end = 0;
  for (const ch of text) {
    if (count === MAX_ECHO) return text.slice(0, end);
    count += 1;
    end += ch.length;
  }
  return text;
}

function exceedsCodePoints(text: string, max: number): boolean {
  if (text.length <= max) return false;
  let count = 0;
  for (const _ of text) {
    count += 1;
    if (count > max) return true;
  }
  return false;
}

/** Go's `strconv.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space. */
const GO_PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;
const SHORT_ESCAPES: Readonly<Record<string, string>> = {
  '\u0007': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
};

/** `text` as Go's `%q` prints it. */
function goQuote(text: string): string {
  return `"${goEscape(text, true)}"`;
}

/**
 * Escapes what Go's `%q` escapes; unquoted (`%s` positions) only the unprintable characters, so
 * that control characters never reach a response or a log line raw.
 */
function goEscape(text: string, quoted: boolean): string {
  let out = '';
  for (const ch of text) {
    if (quoted && (ch === '"' || ch === '\\')) out += `\\${ch}`;
    else if (GO_PRINTABLE.test(ch)) out += ch;
    else out += escapeCodePoint(ch);
  }
  return out;
}

function escapeCodePoint(ch: string): string {
  const short = SHORT_ESCAPES[ch];
  if (short !== undefined) return short;
  const cp = ch.codePointAt(0) as number;
  if (cp < 0x80) return `\\x${hex(cp, 2)}`;
  if (cp < 0x10000) return `\\u${hex(cp, 4)}`;
  return `\\U${hex(cp, 8)}`;
}
