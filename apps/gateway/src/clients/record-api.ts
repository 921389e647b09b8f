import { createClient, type Client } from '@connectrpc/connect';
import {
  AdminService,
  AuthService,
  ChangeFeedService,
  CollectionService,
  HealthService,
  RecordService,
  VersionService,
  WebhookService,
  JobService,
  SnapshotService,
  createRpcTransport,
} from '@rosetta/proto';
import { addApiCall } from '../http/server-timing';

/**
 * The record service as the gateway sees it: one client per contract service. In the cluster
 * it speaks the Connect protocol over HTTP/2 (`createRpcTransport`); in the all-in-one process
 * it is the direct binding (`createDirectClient`), with the same shape.
 */
export interface RecordApi {
  readonly records: Client<typeof RecordService>;
  readonly collections: Client<typeof CollectionService>;
  readonly changes: Client<typeof ChangeFeedService>;
  readonly auth: Client<typeof AuthService>;
  readonly admin: Client<typeof AdminService>;
  readonly health: Client<typeof HealthService>;
  readonly versions: Client<typeof VersionService>;
  readonly webhooks: Client<typeof WebhookService>;
  readonly jobs: Client<typeof JobService>;
  readonly snapshots: Client<typeof SnapshotService>;
}

/** Deadline for a streamed scan: long enough to export millions of records. */
export const STREAM_TIMEOUT_MS = 6 * 60 * 60 * 1000;

export interface HttpRecordApiOptions {
  readonly baseUrl: string;
  /** Deadline of unary calls. */
  readonly timeoutMs: number;
  /** How long a call the record service refused before running it is sent again (ms); see createRpcTransport. */
  readonly refusedRetryMs?: number;
  readonly maxMessageBytes: number;
  /**
   * Add what each unary call's Server-Timing header reports (the api's SERVER_TIMING) to the
   * gateway request it was made for (the gateway's SERVER_TIMING; see http/server-timing.ts).
   */
  readonly serverTiming?: boolean;
}

export function createHttpRecordApi(options: HttpRecordApiOptions): RecordApi & { close(): void } {
  const transport = createRpcTransport({
    baseUrl: options.baseUrl,
    defaultTimeoutMs: options.timeoutMs,
    maxMessageBytes: options.maxMessageBytes,
    ...(options.refusedRetryMs === undefined ? {} : { refusedRetryMs: options.refusedRetryMs }),
    ...(options.serverTiming === true ? { onServerTiming: addApiCall } : {}),
  });
  return {
    records: createClient(RecordService, transport),
    collections: createClient(CollectionService, transport),
    changes: createClient(ChangeFeedService, transport),
    auth: createClient(AuthService, transport),
    admin: createClient(AdminService, transport),
    health: createClient(HealthService, transport),
    versions: createClient(VersionService, transport),
    webhooks: createClient(WebhookService, transport),
    jobs: createClient(JobService, transport),
    snapshots: createClient(SnapshotService, transport),
    close: () => transport.close(),
  };
}
