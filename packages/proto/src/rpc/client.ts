import http2 from 'node:http2';
import { connect } from 'node:net';
import {
  create,
  fromBinary,
  toBinary,
  type DescMessage,
  type DescMethodStreaming,
  type DescMethodUnary,
  type MessageInitShape,
} from '@bufbuild/protobuf';
import { Code, ConnectError, type Transport } from '@connectrpc/connect';
import { codeFromHttpStatus, errorFromJsonBytes } from '@connectrpc/connect/protocol-connect';
import { createConnectTransport, Http2SessionManager } from '@connectrpc/connect-node';
import { PROTOCOL_VERSION_HEADER, TIMEOUT_HEADER, UNARY_CONTENT_TYPE, unaryPath } from './wire';

export interface RpcTransportOptions {
  /** `http://host:port` of the service (HTTP/2 cleartext). */
  readonly baseUrl: string;
  /** Deadline of unary calls that set none. */
  readonly defaultTimeoutMs: number;
  readonly maxMessageBytes: number;
}

export interface RpcTransport extends Transport {
  /** Closes the connections; calls in flight fail. */
  close(): void;
}

const PING_INTERVAL_MS = 10_000;
/** As on the server (apps/api transport): many concurrent streams outgrow Node's 10 MB default. */
const SESSION_MEMORY_MB = 256;

/** The lean path reads no response metadata: every unary response shares these (never written). */
const NO_HEADERS = new Headers();

type HeaderInit = Parameters<Transport['unary']>[3];

/**
 * A Connect-protocol transport over HTTP/2 cleartext, split in two:
 *
 * - Unary calls go over a lean path of our own: one reused HTTP/2 session with TCP_NODELAY, the
 *   body encoded once, the response decoded once. Measured on this project's 2-core machine, the
 *   generic Connect client spent ~0.25 ms of CPU per call in its stream pipeline (async
 *   iterables, an AbortSignal and an Error per call), capping a gateway at ~2,500 calls/s;
 *   the lean path does the same wire exchange with a fraction of that.
 * - Streaming calls (scans) use Connect's own transport: their cost is in the payload.
 *
 * Errors are ConnectErrors carrying the server's details either way.
 */
export function createRpcTransport(options: RpcTransportOptions): RpcTransport {
  const url = new URL(options.baseUrl);
  const host = url.hostname;
  const port = Number(url.port || 80);
  // Without TCP_NODELAY, small requests wait for the peer's delayed ACK: ~40 ms per call.
  const createConnection = () => connect({ host, port, noDelay: true });
  const sessionManager = new Http2SessionManager(
    url,
    { pingIntervalMs: PING_INTERVAL_MS, pingTimeoutMs: 5_000 },
    { createConnection, maxSessionMemory: SESSION_MEMORY_MB },
  );
  const streaming = createConnectTransport({
    httpVersion: '2',
    baseUrl: options.baseUrl,
    sessionManager,
    useBinaryFormat: true,
    acceptCompression: [],
    readMaxBytes: options.maxMessageBytes,
    writeMaxBytes: options.maxMessageBytes,
  });

  let session: http2.ClientHttp2Session | undefined;
  let pinger: NodeJS.Timeout | undefined;
  const drop = (dead: http2.ClientHttp2Session) => {
    if (session === dead) {
      session = undefined;
      clearInterval(pinger);
    }
  };
  const openSession = (): http2.ClientHttp2Session => {
    if (session !== undefined && !session.closed && !session.destroyed) return session;
    const fresh = http2.connect(url, { createConnection, maxSessionMemory: SESSION_MEMORY_MB });
    fresh.on('error', () => drop(fresh));
    fresh.on('close', () => drop(fresh));
    fresh.on('goaway', () => drop(fresh));
    // Notice a dead peer (an api that was killed, a dropped connection) instead of hanging on it.
    clearInterval(pinger);
    pinger = setInterval(() => {
      fresh.ping((error) => {
        if (error !== null) fresh.destroy();
      });
    }, PING_INTERVAL_MS);
    pinger.unref();
    session = fresh;
    return fresh;
  };

  function unary<I extends DescMessage, O extends DescMessage>(
    method: DescMethodUnary<I, O>,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    header: HeaderInit,
    input: MessageInitShape<I>,
  ) {
    const timeout = timeoutMs ?? options.defaultTimeoutMs;
    const body = toBinary(method.input, create(method.input, input));
    const headers: http2.OutgoingHttpHeaders = {
      ':method': 'POST',
      ':path': unaryPath(method.parent.typeName, method.name),
      'content-type': UNARY_CONTENT_TYPE,
      [PROTOCOL_VERSION_HEADER]: '1',
      [TIMEOUT_HEADER]: String(timeout),
    };
    if (header !== undefined) new Headers(header).forEach((value, name) => (headers[name] = value));
    return new Promise<{
      stream: false;
      service: typeof method.parent;
      method: typeof method;
      header: Headers;
      message: ReturnType<typeof fromBinary<O>>;
      trailer: Headers;
    }>((resolve, reject) => {
      if (signal?.aborted) {
        reject(new ConnectError('the call was cancelled', Code.Canceled));
        return;
      }
      let stream: http2.ClientHttp2Stream;
      try {
        stream = openSession().request(headers);
      } catch (error) {
        reject(ConnectError.from(error, Code.Unavailable));
        return;
      }
      let status = 0;
      let received = 0;
      const chunks: Buffer[] = [];
      let settled = false;
      const finish = (error: ConnectError | undefined, message?: ReturnType<typeof fromBinary<O>>) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (error !== undefined) {
          if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
          reject(error);
        } else {
          resolve({
            stream: false,
            service: method.parent,
            method,
            header: NO_HEADERS,
            message: message as ReturnType<typeof fromBinary<O>>,
            trailer: NO_HEADERS,
          });
        }
      };
      const onAbort = () => finish(new ConnectError('the call was cancelled', Code.Canceled));
      signal?.addEventListener('abort', onAbort);
      const timer = setTimeout(
        () => finish(new ConnectError('the operation timed out', Code.DeadlineExceeded)),
        timeout,
      );
      stream.on('response', (responseHeaders) => {
        status = Number(responseHeaders[':status']);
      });
      stream.on('data', (chunk: Buffer) => {
        received += chunk.byteLength;
        if (received > options.maxMessageBytes) {
          finish(new ConnectError(`response exceeds ${options.maxMessageBytes} bytes`, Code.ResourceExhausted));
          return;
        }
        chunks.push(chunk);
      });
      stream.on('end', () => {
        if (settled) return;
        const bytes = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
        if (status === 200) {
          try {
            finish(undefined, fromBinary(method.output, bytes));
          } catch (error) {
            finish(ConnectError.from(error, Code.Internal));
          }
          return;
        }
        // errorFromJsonBytes throws the fallback when the body is not Connect's error JSON.
        const fallback = new ConnectError(`HTTP ${status}`, codeFromHttpStatus(status));
        try {
          finish(errorFromJsonBytes(bytes, undefined, fallback));
        } catch (error) {
          finish(ConnectError.from(error));
        }
      });
      stream.on('error', (error) => finish(ConnectError.from(error, Code.Unavailable)));
      stream.on('close', () => {
        if (!settled) finish(new ConnectError('the stream closed early', Code.Unavailable));
      });
      stream.end(body);
    });
  }

  return {
    unary,
    stream<I extends DescMessage, O extends DescMessage>(
      method: DescMethodStreaming<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: HeaderInit,
      input: AsyncIterable<MessageInitShape<I>>,
    ) {
      return streaming.stream(method, signal, timeoutMs, header, input);
    },
    close() {
      clearInterval(pinger);
      session?.close();
      session = undefined;
      sessionManager.abort();
    },
  };
}
