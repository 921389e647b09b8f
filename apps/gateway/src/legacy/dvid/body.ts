import { DvidError, goQuote, isGoPrintable } from './errors';

/*
 * Parsers of DVID request bodies. Each takes the raw bytes and throws DvidError(400) with DVID's
 * message. DVID decodes bodies three ways, and the parsers follow whichever the endpoint uses:
 *   - a config (repos, repo info, instances): an object whose top-level keys are lower-cased, so
 *     they match case-insensitively; an empty body is an empty config;
 *   - a Go struct (commit, newversion, branch): fields also match case-insensitively (Go's
 *     encoding/json folds case for struct fields), `null` is an empty object;
 *   - a Go map (note, log, tags): keys match exactly and every value must have the map's type.
 * Where several spellings of a key appear, the last one wins. The text after a colon in a
 * message is our JSON parser's, not Go's, except Go's `unexpected end of JSON input` for an
 * empty body, which the spec quotes for the empty commit body.
 */

const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
const ONLY_WHITESPACE = /^[ \t\r\n]*$/;

/** JSON.parse, a failure becoming DvidError(400, `<prefix><parser message>`); empty input fails as in Go. */
function decodeJson(text: string, prefix: string): unknown {
  if (ONLY_WHITESPACE.test(text)) throw new DvidError(400, `${prefix}unexpected end of JSON input`);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new DvidError(400, `${prefix}${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const describe = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value));

/** Go's `json.Decoder.Decode` into a map: an empty body decodes to nothing, `null` too. */
function decodeObject(bytes: Uint8Array, prefix: string): Record<string, unknown> {
  const text = decoder.decode(bytes);
  if (ONLY_WHITESPACE.test(text)) return {};
  const value = decodeJson(text, prefix);
  if (value === null) return {};
  if (!isObject(value)) throw new DvidError(400, `${prefix}expected a JSON object`);
  return value;
}

/** The object's entries under lower-cased keys, the last spelling winning. */
function foldKeys(object: Record<string, unknown>): ReadonlyMap<string, unknown> {
  return new Map(Object.entries(object).map(([key, value]) => [key.toLowerCase(), value]));
}

/** DVID's `Config.GetString`: undefined when absent, else the string or an error text. */
function configString(config: ReadonlyMap<string, unknown>, name: string, prefix: string): string | undefined {
  const value = config.get(name.toLowerCase());
  if (value === undefined || typeof value === 'string') return value;
  throw new DvidError(400, `${prefix}Setting for '${name}' was not a string: ${describe(value)}`);
}

export interface RepoCreate {
  readonly alias: string;
  readonly description: string;
  readonly passcode: string;
  /** The UUID to give the root node (DVID does not check its format); undefined when absent or empty. */
  readonly root: string | undefined;
}

/** `POST /api/repos` (spec 4.1). */
export function parseRepoCreate(bytes: Uint8Array): RepoCreate {
  const config = foldKeys(
    decodeObject(bytes, 'Error decoding POSTed JSON config for new repo: Malformed JSON request in body: '),
  );
  const field = (name: string) => configString(config, name, `POST on repos endpoint requires valid '${name}': `);
  const alias = field('alias') ?? '';
  const description = field('description') ?? '';
  const passcode = field('passcode') ?? '';
  const root = configString(config, 'root', "POST on repos endpoint with error on getting 'root': ");
  return { alias, description, passcode, root: root === '' ? undefined : root };
}

export interface RepoInfoUpdate {
  /** Undefined: left as it is. */
  readonly alias: string | undefined;
  readonly description: string | undefined;
}

/** `POST /api/repo/<uuid>/info`. */
export function parseRepoInfo(bytes: Uint8Array): RepoInfoUpdate {
  const config = foldKeys(
    decodeObject(bytes, 'Error decoding POSTed JSON config for POST repo: Malformed JSON request in body: '),
  );
  const field = (name: string) => configString(config, name, `POST on repo/info endpoint requires valid '${name}': `);
  return { alias: field('alias'), description: field('description') };
}

/**
 * Names a data instance may not take. DVID reserves the first five; `status` and `tag` are ours,
 * since they too are node actions.
 */
export const RESERVED_DATA_NAMES: ReadonlySet<string> = new Set([
  'log',
  'branch',
  'note',
  'commit',
  'newversion',
  'status',
  'tag',
]);

export interface InstanceCreate {
  readonly typeName: 'keyvalue';
  readonly dataName: string;
  readonly versioned: boolean;
  /** The info label of spec 5.2, e.g. `LZ4 compression, level -1`. */
  readonly compression: string;
  /** `No checksum` or `CRC32 checksum`. */
  readonly checksum: string;
  /** Null unless `Tags` was given (DVID's info then shows `"Tags":null`). */
  readonly tags: Readonly<Record<string, string>> | null;
}

const DEFAULT_LEVEL = -1;
const COMPRESSIONS: ReadonlyMap<string, string> = new Map([
  ['none', 'No compression'],
  ['snappy', 'Go Snappy compression'],
  ['lz4', 'LZ4 compression'],
  ['gzip', 'gzip compression'],
]);

function compressionLabel(setting: string): string {
  const format = setting.toLowerCase();
  const label = COMPRESSIONS.get(format);
  if (label !== undefined) return `${label}, level ${DEFAULT_LEVEL}`;
  const gzip = /^gzip:([1-9])$/.exec(format);
  if (gzip !== null) return `gzip compression, level ${gzip[1] ?? ''}`;
  throw new DvidError(400, `Illegal compression specified: ${setting}`);
}

function checksumLabel(setting: string): string {
  switch (setting.toLowerCase()) {
    case 'none':
      return 'No checksum';
    case 'crc32':
      return 'CRC32 checksum';
    default:
      throw new DvidError(400, `Illegal checksum specified: ${setting}`);
  }
}

function versionedSetting(value: unknown): boolean {
  if (value === undefined) return true;
  if (typeof value === 'boolean') return value;
  if (typeof value !== 'string') {
    throw new DvidError(400, `Setting for 'Versioned' was not a string: ${describe(value)}`);
  }
  switch (value.toLowerCase()) {
    case 'true':
    case '1':
      return true;
    case 'false':
    case '0':
      return false;
    default:
      throw new DvidError(400, `Illegal setting for 'versioned' (needs to be 'false', '0', 'true', or '1'): ${value}`);
  }
}

/** `k1=v1,k2=v2`; pieces without exactly one `=` or with an empty name are skipped, as in DVID. */
function tagsSetting(setting: string): Record<string, string> {
  return Object.fromEntries(
    setting.split(',').flatMap((assignment) => {
      const [name = '', value, ...more] = assignment.split('=');
      return name !== '' && value !== undefined && more.length === 0 ? [[name, value] as const] : [];
    }),
  );
}

/**
 * `POST /api/repo/<uuid>/instance` (spec 4.3), in DVID's order of checks: typename and dataname
 * present, the type served, the name not reserved, then compression, checksum, versioned and tags.
 * (DVID checks for a duplicate name between the type and the reserved name; that needs the repo,
 * so it is the caller's, after this.)
 */
export function parseInstanceCreate(bytes: Uint8Array): InstanceCreate {
  const config = foldKeys(
    decodeObject(bytes, "Error decoding POSTed JSON config for 'new': Malformed JSON request in body: "),
  );
  const missing = (name: string) =>
    new DvidError(400, `POST on repo endpoint requires specification of valid '${name}'`);
  const typeName = config.get('typename');
  if (typeof typeName !== 'string') throw missing('typename');
  const dataName = config.get('dataname');
  // An empty name is refused too: DVID would create it, but no path could address it.
  if (typeof dataName !== 'string' || dataName === '') throw missing('dataname');
  if (typeName !== 'keyvalue') {
    throw new DvidError(400, `Data type ${goQuote(typeName)} is not supported by current DVID server`);
  }
  if (RESERVED_DATA_NAMES.has(dataName)) throw new DvidError(400, `cannot use reserved name ${goQuote(dataName)}`);
  const compression = configString(config, 'Compression', '');
  const checksum = configString(config, 'Checksum', '');
  const versioned = versionedSetting(config.get('versioned'));
  const tags = configString(config, 'Tags', '');
  return {
    typeName,
    dataName,
    compression: compressionLabel(compression ?? 'lz4'),
    checksum: checksumLabel(checksum ?? 'none'),
    versioned,
    tags: tags === undefined ? null : tagsSetting(tags),
  };
}

const MALFORMED_BODY = 'Malformed JSON request in body: ';

/** Go's `json.Unmarshal` into a struct: the body must be an object (or `null`); empty fails. */
function decodeStruct(bytes: Uint8Array): ReadonlyMap<string, unknown> {
  const value = decodeJson(decoder.decode(bytes), MALFORMED_BODY);
  if (value === null) return new Map();
  if (!isObject(value)) throw new DvidError(400, `${MALFORMED_BODY}expected a JSON object`);
  return foldKeys(value);
}

/** A string field of a Go struct: absent or null is empty. */
function stringField(fields: ReadonlyMap<string, unknown>, name: string): string {
  const value = fields.get(name);
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new DvidError(400, `${MALFORMED_BODY}'${name}' must be a string`);
  return value;
}

/** A `[]string` value: null is empty and null elements are empty strings, as Go decodes them. */
function stringList(value: unknown, name: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new DvidError(400, `${MALFORMED_BODY}'${name}' must be an array of strings`);
  return value.map((item: unknown) => {
    if (item === null) return '';
    if (typeof item !== 'string') throw new DvidError(400, `${MALFORMED_BODY}'${name}' must be an array of strings`);
    return item;
  });
}

export interface CommitRequest {
  /** Empty: the node's note is left as it is. */
  readonly note: string;
  readonly log: readonly string[];
}

/** `POST /api/node/<uuid>/commit` (spec 4.4): a body is required, `{}` will do. */
export function parseCommit(bytes: Uint8Array): CommitRequest {
  const fields = decodeStruct(bytes);
  return { note: stringField(fields, 'note'), log: stringList(fields.get('log'), 'log') };
}

export interface NewVersionRequest {
  readonly note: string;
  /** The child's UUID when the client assigns it, lower-cased. */
  readonly uuid: string | undefined;
}

export interface BranchRequest extends NewVersionRequest {
  readonly branch: string;
}

/**
 * DVID's `StringToUUID`: exactly 32 bytes of hex (any case). Go counts bytes and reports the first
 * byte that is not hex.
 */
function assignedUuid(value: string): string | undefined {
  if (value === '') return undefined;
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.byteLength !== 32) {
    throw new DvidError(400, 'Bad UUID provided: UUID must be 32 character hexadecimal string');
  }
  const bad = bytes.find((byte) => !/[0-9a-fA-F]/.test(String.fromCharCode(byte)));
  if (bad !== undefined) {
    const shown = isGoPrintable(bad) ? ` '${String.fromCharCode(bad)}'` : '';
    const code = bad.toString(16).toUpperCase().padStart(4, '0');
    throw new DvidError(400, `Bad UUID provided: encoding/hex: invalid byte: U+${code}${shown}`);
  }
  return value.toLowerCase();
}

/** A struct body that may be empty (newversion, branch): nothing at all is `{}`. */
function decodeOptionalStruct(bytes: Uint8Array): ReadonlyMap<string, unknown> {
  return bytes.byteLength === 0 ? new Map() : decodeStruct(bytes);
}

/** `POST /api/node/<uuid>/newversion` (spec 4.5): `{"note"?, "uuid"?}`, the body optional. */
export function parseNewVersion(bytes: Uint8Array): NewVersionRequest {
  const fields = decodeOptionalStruct(bytes);
  const note = stringField(fields, 'note');
  return { note, uuid: assignedUuid(stringField(fields, 'uuid')) };
}

/** `POST /api/node/<uuid>/branch` (spec 4.5): `{"branch", "note"?, "uuid"?}`. */
export function parseBranch(bytes: Uint8Array): BranchRequest {
  const fields = decodeOptionalStruct(bytes);
  const branch = stringField(fields, 'branch');
  const note = stringField(fields, 'note');
  const uuid = assignedUuid(stringField(fields, 'uuid'));
  // The master branch is the empty name, and it exists from the start.
  if (branch === '' || branch === 'master') throw new DvidError(400, 'Cannot create a master branch');
  return { branch, note, uuid };
}

/** Go's `json.Decoder.Decode` into a `map[string]<T>`: exact keys, every value of the map's type. */
function decodeMap<T>(bytes: Uint8Array, prefix: string, valueOf: (value: unknown, key: string) => T): Map<string, T> {
  const object = decodeObject(bytes, prefix);
  return new Map(Object.entries(object).map(([key, value]) => [key, valueOf(value, key)]));
}

function stringValue(prefix: string) {
  return (value: unknown, key: string): string => {
    if (value === null) return '';
    if (typeof value !== 'string') throw new DvidError(400, `${prefix}'${key}' must be a string`);
    return value;
  };
}

/** `POST /api/node/<uuid>/note`: `{"note": "..."}`. */
export function parseNote(bytes: Uint8Array): string {
  const note = decodeMap(bytes, MALFORMED_BODY, stringValue(MALFORMED_BODY)).get('note');
  if (note === undefined) throw new DvidError(400, "Could not find 'note' value in POSTed JSON.");
  return note;
}

/** `POST /api/node/<uuid>/log` and `POST /api/repo/<uuid>/log`: `{"log": ["...", ...]}`. */
export function parseLog(bytes: Uint8Array): string[] {
  const log = decodeMap(bytes, MALFORMED_BODY, (value, key) => stringList(value, key)).get('log');
  if (log === undefined) throw new DvidError(400, "Could not find 'log' value in POSTed JSON.");
  return log;
}

const TAGS_PREFIX = 'Malformed JSON request in tags setter: ';

/** `POST .../<data>/tags`: an object of string to string; an empty body sets nothing. */
export function parseTags(bytes: Uint8Array): Record<string, string> {
  return Object.fromEntries(decodeMap(bytes, TAGS_PREFIX, stringValue(TAGS_PREFIX)));
}

/**
 * The body of `GET /keyvalues` in json and tar modes: a JSON array of key strings, `null` being
 * none and a `null` element the empty key (as Go decodes them). DVID master also takes objects `{"key", "byte_start"?, "byte_end"?}` to read slices of
 * values; we serve no byte ranges, so such objects are refused with a message that says so rather
 * than read as whole values. Throws the bare message: `keyValuesError` adds DVID's prefix.
 */
export function parseKeyList(bytes: Uint8Array): string[] {
  const value = decodeJson(decoder.decode(bytes), '');
  if (value === null) return [];
  if (!Array.isArray(value)) throw new DvidError(400, 'expected a JSON array of key strings');
  return value.map((item: unknown) => {
    if (typeof item === 'string') return item;
    if (item === null) return '';
    if (isObject(item)) {
      throw new DvidError(400, 'key objects with byte ranges are not supported; send a JSON array of key strings');
    }
    throw new DvidError(400, 'expected a JSON array of key strings');
  });
}

/** DVID's wrapping of every `GET /keyvalues` error: `GET /keyvalues on <n> keys, data "<name>": …`. */
export function keyValuesError(error: DvidError, keyCount: number, dataName: string): DvidError {
  return new DvidError(
    error.status,
    `GET /keyvalues on ${keyCount} keys, data ${goQuote(dataName)}: ${error.message}`,
    { cause: error },
  );
}
