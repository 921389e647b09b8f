import { createClient, type Client } from '@connectrpc/connect';
import { createConnectTransport, Http2SessionManager } from '@connectrpc/connect-node';
import { ChangeFeedService, CollectionService, RecordService } from '@rosetta/proto';

/**
 * The record service as the gateway sees it: one client per contract service. In the cluster
 * it speaks Connect over one reused HTTP/2 connection; in the all-in-one process it is the
 * direct binding (`createDirectClient`), with the same shape.
 */
export interface RecordApi {
  readonly records: Client<typeof RecordService>;
  readonly collections: Client<typeof CollectionService>;
  readonly changes: Client<typeof ChangeFeedService>;
}

/** Deadline for a streamed scan: long enough to export millions of records. */
export const STREAM_TIMEOUT_MS = 6 * 60 * 60 * 1000;

export interface HttpRecordApiOptions {
  readonly baseUrl: string;
  /** Deadline of unary calls. */
  readonly timeoutMs: number;
  readonly maxMessageBytes: number;
}

export function createHttpRecordApi(options: HttpRecordApiOptions): RecordApi & { close(): void } {
  const sessionManager = new Http2SessionManager(options.baseUrl, {
    // Detect a dead connection (the api restarted) instead of hanging on it.
    pingIntervalMs: 10_000,
    pingTimeoutMs: 5_000,
  });
  const transport = createConnectTransport({
    httpVersion: '2',
    baseUrl: options.baseUrl,
    sessionManager,
    useBinaryFormat: true,
    defaultTimeoutMs: options.timeoutMs,
    readMaxBytes: options.maxMessageBytes,
    writeMaxBytes: options.maxMessageBytes,
  });
  return {
    records: createClient(RecordService, transport),
    collections: createClient(CollectionService, transport),
    changes: createClient(ChangeFeedService, transport),
    close: () => sessionManager.abort(),
  };
}
