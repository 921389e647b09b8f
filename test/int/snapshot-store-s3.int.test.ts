import { CreateBucketCommand, ListObjectsV2Command, NoSuchBucket, S3Client } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import S3rver from 's3rver';
import { parseEnv } from '../../packages/platform/src/env';
import {
  createSnapshotStore,
  FileSnapshotStore,
  SnapshotMissing,
  type SnapshotStore,
  SnapshotStoreConfigSchema,
} from '../../packages/platform/src/snapshot-store';

/**
 * The snapshot stores against what they store in: FileSnapshotStore in a temporary directory and
 * S3SnapshotStore against s3rver, a real S3-compatible server (an HTTP server speaking the S3 REST
 * API, with SigV4 checks, storing in a temporary directory) on 127.0.0.1. Both stores run one
 * table of cases: the file store's behaviour is the contract. s3rver lacks
 * AbortMultipartUpload (it answers 405), so the abort of a failed upload is checked as the
 * request the store sends, not as the parts the server frees.
 */

const BUCKET = 'rosetta-snapshots';
const PREFIX = 'rosetta/';
const MiB = 1024 * 1024;
/** The smallest part of a multipart upload: bodies larger than this are uploaded in parts. */
const PART = 5 * MiB;

let server: Server;
let endpoint: string;
let s3rverDirectory: string;
let fileDirectory: string;
/** Every request s3rver received, as `METHOD /path?query`. */
const requests: string[] = [];
/** s3rver's fixed credentials, given through the environment as a deployment would give them. */
const CREDENTIALS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };
const savedEnv = Object.fromEntries(Object.keys(CREDENTIALS).map((name) => [name, process.env[name]]));

/** A store of the bucket as the processes build it: from the settings, credentials from the SDK's chain. */
function s3Store(env: Record<string, string> = {}): Promise<SnapshotStore> {
  return createSnapshotStore(
    parseEnv(SnapshotStoreConfigSchema, {
      SNAPSHOT_S3_BUCKET: BUCKET,
      SNAPSHOT_S3_PREFIX: PREFIX,
      SNAPSHOT_S3_ENDPOINT: endpoint,
      SNAPSHOT_S3_FORCE_PATH_STYLE: 'true',
      ...env,
    }),
  );
}

beforeAll(async () => {
  Object.assign(process.env, CREDENTIALS);
  s3rverDirectory = await mkdtemp(join(tmpdir(), 'rosetta-s3rver-'));
  fileDirectory = await mkdtemp(join(tmpdir(), 'rosetta-snapshots-'));
  const handle = new S3rver({ directory: s3rverDirectory, silent: true }).callback();
  server = createServer((req, res) => {
    requests.push(`${req.method ?? ''} ${req.url ?? ''}`);
    handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true });
  await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
  client.destroy();
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(s3rverDirectory, { recursive: true, force: true });
  await rm(fileDirectory, { recursive: true, force: true });
  for (const [name, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

/** `bytes` as a stream of 64 KiB chunks, failing with `error` after the last one when given. */
function streamOf(bytes: Buffer, error?: Error): Readable {
  return Readable.from(
    (function* () {
      for (let offset = 0; offset < bytes.length; offset += 64 * 1024) yield bytes.subarray(offset, offset + 64 * 1024);
      if (error !== undefined) throw error;
    })(),
  );
}

async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

let names = 0;
/** A name no other case uses, shaped as the api makes them. */
const fresh = () => `default/notes%2Fs3/${++names}.ndjson.gz`;

const cases: Array<[string, (store: SnapshotStore) => Promise<void>]> = [
  [
    'writes a streamed body of several parts and reads it back byte for byte, reporting its size',
    async (store) => {
      const name = fresh();
      const body = randomBytes(2 * PART + 12_345);
      expect(await store.write(name, streamOf(body))).toBe(body.length);
      const read = await bytesOf(await store.read(name));
      expect(read.length).toBe(body.length);
      expect(sha256(read)).toBe(sha256(body));
    },
  ],
  [
    'writes and reads an empty body',
    async (store) => {
      const name = fresh();
      expect(await store.write(name, streamOf(Buffer.alloc(0)))).toBe(0);
      expect(await bytesOf(await store.read(name))).toEqual(Buffer.alloc(0));
    },
  ],
  [
    'replaces an object written again under its name',
    async (store) => {
      const name = fresh();
      await store.write(name, streamOf(Buffer.from('first version')));
      expect(await store.write(name, streamOf(Buffer.from('second')))).toBe(6);
      expect((await bytesOf(await store.read(name))).toString()).toBe('second');
    },
  ],
  [
    'rejects the read of a missing name with SnapshotMissing',
    async (store) => {
      const name = fresh();
      const error = await store.read(name).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SnapshotMissing);
      expect(error).toMatchObject({ object: name });
    },
  ],
  [
    'deletes an object: reading it then rejects with SnapshotMissing',
    async (store) => {
      const name = fresh();
      await store.write(name, streamOf(Buffer.from('doomed')));
      await store.delete(name);
      await expect(store.read(name)).rejects.toBeInstanceOf(SnapshotMissing);
    },
  ],
  [
    'deletes a missing name without error',
    async (store) => {
      await expect(store.delete(fresh())).resolves.toBeUndefined();
    },
  ],
  [
    'rejects a write whose body fails midway with its error, and stores nothing under the name',
    async (store) => {
      const name = fresh();
      const failure = new Error('the export broke off');
      await expect(store.write(name, streamOf(randomBytes(PART + MiB), failure))).rejects.toBe(failure);
      await expect(store.read(name)).rejects.toBeInstanceOf(SnapshotMissing);
    },
  ],
  [
    'keeps the object a failed write would have replaced',
    async (store) => {
      const name = fresh();
      await store.write(name, streamOf(Buffer.from('kept')));
      await expect(store.write(name, streamOf(randomBytes(PART + MiB), new Error('broke off')))).rejects.toThrow(
        'broke off',
      );
      expect((await bytesOf(await store.read(name))).toString()).toBe('kept');
    },
  ],
  [
    'refuses names that are not plain relative paths, touching nothing',
    async (store) => {
      for (const name of ['../escape.ndjson.gz', '/absolute.ndjson.gz', 'a//b', 'a/./b', '']) {
        await expect(store.write(name, streamOf(Buffer.from('x')))).rejects.toThrow(/not a plain relative path/);
        await expect(store.read(name)).rejects.toThrow(/not a plain relative path/);
        await expect(store.delete(name)).rejects.toThrow(/not a plain relative path/);
      }
    },
  ],
];

describe.each<[string, () => SnapshotStore | Promise<SnapshotStore>]>([
  ['FileSnapshotStore', () => new FileSnapshotStore(fileDirectory)],
  ['S3SnapshotStore', () => s3Store()],
])('%s', (_, storeOf) => {
  it.each(cases)('%s', async (_, check) => {
    await check(await storeOf());
  });
});

describe('S3SnapshotStore against the server', () => {
  async function keysIn(prefix: string): Promise<string[]> {
    const client = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true });
    try {
      const listed = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
      return (listed.Contents ?? []).map((object) => object.Key ?? '');
    } finally {
      client.destroy();
    }
  }

  it('stores each object under the prefix', async () => {
    await (await s3Store()).write('prefixed/notes/1.ndjson.gz', streamOf(Buffer.from('under the prefix')));
    expect(await keysIn('')).toContain(`${PREFIX}prefixed/notes/1.ndjson.gz`);
    expect(await keysIn('prefixed/')).toEqual([]);
    const unprefixed = await s3Store({ SNAPSHOT_S3_PREFIX: '' });
    await expect(unprefixed.read('prefixed/notes/1.ndjson.gz')).rejects.toBeInstanceOf(SnapshotMissing);
    const read = await unprefixed.read(`${PREFIX}prefixed/notes/1.ndjson.gz`);
    expect((await bytesOf(read)).toString()).toBe('under the prefix');
  });

  it('aborts the multipart upload of a failed write and never completes it', async () => {
    const name = 'aborted/notes/1.ndjson.gz';
    const path = `/${BUCKET}/${PREFIX}${name}`;
    await expect(
      (await s3Store()).write(name, streamOf(randomBytes(2 * PART), new Error('broke off'))),
    ).rejects.toThrow('broke off');
    const upload = requests.filter((request) => request.split(' ')[1]?.startsWith(`${path}?`));
    expect(upload).toContainEqual(expect.stringMatching(/^POST [^?]+\?uploads/));
    expect(upload).toContainEqual(expect.stringMatching(/^PUT [^?]+\?.*uploadId=/));
    expect(upload).toContainEqual(expect.stringMatching(/^DELETE [^?]+\?.*uploadId=/));
    expect(upload).not.toContainEqual(expect.stringMatching(/^POST [^?]+\?.*uploadId=/));
    expect(await keysIn(`${PREFIX}aborted/`)).toEqual([]);
  });

  it('does not take a missing bucket for a missing object', async () => {
    await expect(
      (await s3Store({ SNAPSHOT_S3_BUCKET: 'no-such-bucket' })).read('default/notes/1.ndjson.gz'),
    ).rejects.toThrow(NoSuchBucket);
  });

  it('ends the body when the upload fails, and rejects with the upload’s error', async () => {
    const body = new Readable({ read() {} });
    body.push(randomBytes(PART + MiB));
    const written = (await s3Store({ SNAPSHOT_S3_BUCKET: 'no-such-bucket' })).write('default/notes/1.ndjson.gz', body);
    await expect(written).rejects.toThrow(NoSuchBucket);
    expect(body.destroyed).toBe(true);
  });
});
