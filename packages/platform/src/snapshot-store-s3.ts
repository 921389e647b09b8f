import { DeleteObjectCommand, GetObjectCommand, NoSuchKey, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable } from 'node:stream';
import { checkSnapshotName, SnapshotMissing, type SnapshotStore } from './snapshot-store-contract';

/**
 * Objects in an S3 bucket (or an S3-compatible service), each under `prefix` + its name. A write
 * is a multipart upload of parts buffered from the stream, since its length is unknown until it
 * ends: the object appears only when the upload completes, and a failed upload is aborted, which
 * frees its parts (those of a process killed mid-write are left to the bucket's lifecycle rules).
 */
export class S3SnapshotStore implements SnapshotStore {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly prefix = '',
  ) {}

  private keyOf(name: string): string {
    return `${this.prefix}${checkSnapshotName(name)}`;
  }

  async write(name: string, body: Readable): Promise<number> {
    let size = 0;
    async function* counted(): AsyncGenerator<Buffer> {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        size += chunk.length;
        yield chunk;
      }
    }
    // One part in flight: with several, lib-storage settles only once every uploader has stopped,
    // so after one part failed the others would go on uploading until the body ends (or wait
    // forever on a stalled one). The producer is paused meanwhile, and at most a part is buffered.
    const upload = new Upload({
      client: this.client,
      queueSize: 1,
      params: { Bucket: this.bucket, Key: this.keyOf(name), Body: Readable.from(counted()) },
    });
    try {
      await upload.done();
    } catch (error) {
      // A failed upload (lib-storage has aborted it by now) ends the body, as the file store's
      // pipeline does. A body that failed by itself is the cause, whatever the abort answered.
      body.destroy();
      throw body.errored ?? error;
    }
    return size;
  }

  async read(name: string): Promise<Readable> {
    const key = this.keyOf(name);
    try {
      const { Body } = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      if (!(Body instanceof Readable)) throw new Error(`S3 returned no body stream for ${key}`);
      return Body;
    } catch (error) {
      if (isMissingObject(error)) throw new SnapshotMissing(name);
      throw error;
    }
  }

  async delete(name: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.keyOf(name) }));
  }
}

/**
 * NoSuchKey, or a bare 404 from services that send no error code; a missing bucket is a
 * misconfiguration, not a missing object.
 */
function isMissingObject(error: unknown): boolean {
  if (error instanceof NoSuchKey) return true;
  return error instanceof S3ServiceException && error.$metadata.httpStatusCode === 404 && error.name !== 'NoSuchBucket';
}

export interface S3Settings {
  readonly bucket: string;
  readonly prefix: string;
  readonly region: string;
  /** For S3-compatible services; undefined: AWS S3 of the region. */
  readonly endpoint: string | undefined;
  readonly forcePathStyle: boolean;
}

/** A store in the bucket, with a client of the settings and credentials from the SDK's chain. */
export function createS3SnapshotStore(settings: S3Settings): S3SnapshotStore {
  const client = new S3Client({
    region: settings.region,
    endpoint: settings.endpoint,
    forcePathStyle: settings.forcePathStyle,
  });
  return new S3SnapshotStore(client, settings.bucket, settings.prefix);
}
