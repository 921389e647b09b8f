import { parseEnv } from './env';
import { checkSnapshotName } from './snapshot-store-contract';
import { createSnapshotStore, FileSnapshotStore, SnapshotStoreConfigSchema } from './snapshot-store';
import { S3SnapshotStore } from './snapshot-store-s3';

const load = (env: Record<string, string | undefined>) => parseEnv(SnapshotStoreConfigSchema, env);

describe('SnapshotStoreConfigSchema', () => {
  it('applies the defaults: a directory, no bucket', () => {
    expect(load({})).toEqual({
      SNAPSHOT_DIR: './snapshots',
      SNAPSHOT_S3_BUCKET: undefined,
      SNAPSHOT_S3_PREFIX: '',
      SNAPSHOT_S3_ENDPOINT: undefined,
      SNAPSHOT_S3_REGION: 'us-east-1',
      SNAPSHOT_S3_FORCE_PATH_STYLE: false,
    });
  });

  it.each([
    ['SNAPSHOT_DIR', '/var/lib/rosetta/snapshots', '/var/lib/rosetta/snapshots'],
    ['SNAPSHOT_S3_BUCKET', ' rosetta-snapshots ', 'rosetta-snapshots'],
    ['SNAPSHOT_S3_BUCKET', '  ', undefined],
    ['SNAPSHOT_S3_PREFIX', 'rosetta/', 'rosetta/'],
    ['SNAPSHOT_S3_ENDPOINT', 'http://127.0.0.1:9000', 'http://127.0.0.1:9000'],
    ['SNAPSHOT_S3_ENDPOINT', 'https://s3.example.org', 'https://s3.example.org'],
    ['SNAPSHOT_S3_ENDPOINT', '', undefined],
    ['SNAPSHOT_S3_REGION', 'eu-central-1', 'eu-central-1'],
    ['SNAPSHOT_S3_FORCE_PATH_STYLE', 'true', true],
    ['SNAPSHOT_S3_FORCE_PATH_STYLE', '1', true],
    ['SNAPSHOT_S3_FORCE_PATH_STYLE', 'off', false],
  ])('reads %s=%j', (name, raw, expected) => {
    expect(load({ [name]: raw })[name as keyof ReturnType<typeof load>]).toEqual(expected);
  });

  it.each([
    ['SNAPSHOT_DIR', ''],
    ['SNAPSHOT_S3_ENDPOINT', 'not a url'],
    ['SNAPSHOT_S3_ENDPOINT', 'ftp://127.0.0.1:9000'],
    ['SNAPSHOT_S3_REGION', ''],
    ['SNAPSHOT_S3_FORCE_PATH_STYLE', 'maybe'],
  ])('refuses %s=%j, naming the variable', (name, raw) => {
    expect(() => load({ [name]: raw })).toThrow(new RegExp(`^invalid configuration:\\n  ${name}: `));
  });
});

describe('createSnapshotStore', () => {
  it('stores in the directory when no bucket is set', async () => {
    expect(await createSnapshotStore(load({ SNAPSHOT_S3_ENDPOINT: 'http://127.0.0.1:9000' }))).toBeInstanceOf(
      FileSnapshotStore,
    );
  });

  it('stores in the bucket when one is set, with the client the settings describe', async () => {
    const store = await createSnapshotStore(
      load({
        SNAPSHOT_S3_BUCKET: 'rosetta-snapshots',
        SNAPSHOT_S3_ENDPOINT: 'http://127.0.0.1:9000',
        SNAPSHOT_S3_REGION: 'eu-central-1',
        SNAPSHOT_S3_FORCE_PATH_STYLE: 'true',
      }),
    );
    expect(store).toBeInstanceOf(S3SnapshotStore);
    const { config } = (store as S3SnapshotStore)['client'];
    expect(await config.region()).toBe('eu-central-1');
    expect(config.forcePathStyle).toBe(true);
    expect(await config.endpoint?.()).toMatchObject({ protocol: 'http:', hostname: '127.0.0.1', port: 9000 });
  });

  it('leaves the endpoint to the SDK when none is set', async () => {
    const store = await createSnapshotStore(load({ SNAPSHOT_S3_BUCKET: 'rosetta-snapshots' }));
    expect((store as S3SnapshotStore)['client'].config.endpoint).toBeUndefined();
  });
});

describe('checkSnapshotName', () => {
  it.each(['default/notes/42.ndjson.gz', 'a', 'alice%40example.org/caf%C3%A9/7.ndjson.gz', '...'])(
    'accepts %j',
    (name) => {
      expect(checkSnapshotName(name)).toBe(name);
    },
  );

  it.each(['', '/etc/passwd', '../escape', 'a/../../escape', 'a/..', '..', './a', 'a/./b', 'a//b', 'a/'])(
    'refuses %j',
    (name) => {
      expect(() => checkSnapshotName(name)).toThrow(/is not a plain relative path/);
    },
  );
});
