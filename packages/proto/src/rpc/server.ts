import type http2 from 'node:http2';
import {
  create,
  fromBinary,
  toBinary,
  type DescMessage,
  type DescMethodUnary,
  type DescService,
} from '@bufbuild/protobuf';
import {
  Code,
  ConnectError,
  createContextValues,
  type ContextValues,
  type HandlerContext,
  type ServiceImpl,
} from '@connectrpc/connect';
import { codeToHttpStatus, errorToJsonBytes } from '@connectrpc/connect/protocol-connect';
import { PROTOCOL_VERSION_HEADER, RAW_HEADER, TIMEOUT_HEADER, UNARY_CONTENT_TYPE, unaryPath } from './wire';

export { requestHeaderValue } from './wire';
export { CONNECTION_WINDOW_BYTES, UNARY_STREAM_WINDOW_BYTES, widenConnectionWindow } from './windows';
export { createRpcObserver, rpcCodeName, RPC_SYSTEM, type RpcObserver, type RpcObserverOptions } from './observe';

type UnaryHandler = (request: unknown, context: HandlerContext) => unknown;

interface Route {
  readonly service: DescService;
  readonly method: DescMethodUnary<DescMessage, DescMessage>;
  readonly handler: UnaryHandler;
}

export interface ServiceBinding<S extends DescService = DescService> {
  readonly service: S;
  readonly impl: ServiceImpl<S>;
}

export function bind<S extends DescService>(service: S, impl: ServiceImpl<S>): ServiceBinding {
  return { service, impl } as unknown as ServiceBinding;
}

/**
 * Serves the Connect protocol's plain unary calls (binary protobuf, no compression) straight
 * off the HTTP/2 request: the body is read, decoded once, handed to the implementation, and
 * the answer encoded once. Anything else — streams, JSON, gRPC, gRPC-Web, compressed bodies —
 * returns false so that Connect's own handler serves it. Both paths share the implementations,
 * so a call behaves the same whichever path takes it.
 */
export function createUnaryFastPath(
  bindings: readonly ServiceBinding[],
  options: { readonly maxMessageBytes: number },
): (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => boolean {
  const routes = new Map<string, Route>();
  for (const { service, impl } of bindings) {
    const handlers = impl as unknown as Record<string, UnaryHandler | undefined>;
    for (const method of service.methods) {
      const handler = handlers[method.localName];
      if (method.methodKind !== 'unary' || handler === undefined) continue;
      routes.set(unaryPath(service.typeName, method.name), {
        service,
        method: method as DescMethodUnary<DescMessage, DescMessage>,
        handler,
      });
    }
  }

  const fail = (res: http2.Http2ServerResponse, error: ConnectError, metadata?: Record<string, string>) => {
    if (res.headersSent || res.stream.destroyed) return;
    res.writeHead(codeToHttpStatus(error.code), { ...metadata, 'content-type': 'application/json' });
    res.end(errorToJsonBytes(error, {}));
  };

  return (req, res) => {
    if (req.method !== 'POST') return false;
    const route = routes.get(req.url);
    const headers = req.headers;
    if (
      route === undefined ||
      headers['content-type'] !== UNARY_CONTENT_TYPE ||
      headers[PROTOCOL_VERSION_HEADER] !== '1' ||
      (headers['content-encoding'] !== undefined && headers['content-encoding'] !== 'identity')
    ) {
      return false;
    }
    const timeoutHeader = headers[TIMEOUT_HEADER];
    const timeoutMs =
      typeof timeoutHeader === 'string' && /^\d{1,10}$/.test(timeoutHeader) ? Number(timeoutHeader) : undefined;
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > options.maxMessageBytes) {
        fail(res, new ConnectError(`message exceeds ${options.maxMessageBytes} bytes`, Code.ResourceExhausted));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > options.maxMessageBytes) return;
      void (async () => {
        const context = lazyContext(route, req, timeoutMs);
        try {
          const bytes = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
          const input = fromBinary(route.method.input, bytes);
          const output = await route.handler(input, context);
          const body = toBinary(route.method.output, create(route.method.output, output as never));
          if (res.stream.destroyed) return;
          res.writeHead(200, { ...context.metadata(), 'content-type': UNARY_CONTENT_TYPE });
          res.end(body);
        } catch (error) {
          // What the handler put in its headers goes with its error too, as Connect's handler does.
          fail(res, ConnectError.from(error, Code.Internal), context.metadata());
        } finally {
          context.done();
        }
      })();
    });
    return true;
  };
}

/**
 * A HandlerContext whose costly parts (the AbortSignal, the header objects) are made only when a
 * handler asks for them: unary handlers rarely do, and building them eagerly (as
 * createHandlerContext does) cost the record service a tenth of its CPU per call.
 */
function lazyContext(
  route: Route,
  req: http2.Http2ServerRequest,
  timeoutMs: number | undefined,
): HandlerContext & {
  metadata(): Record<string, string>;
  done(): void;
  [RAW_HEADER](name: string): string | null;
} {
  const started = Date.now();
  let controller: AbortController | undefined;
  let requestHeader: Headers | undefined;
  let responseHeader: Headers | undefined;
  let responseTrailer: Headers | undefined;
  let values: ContextValues | undefined;
  let timer: NodeJS.Timeout | undefined;
  const onClose = () => controller?.abort(new ConnectError('the client went away', Code.Canceled));
  return {
    service: route.service,
    method: route.method,
    requestMethod: 'POST',
    protocolName: 'connect',
    url: req.url,
    timeoutMs: () => (timeoutMs === undefined ? undefined : timeoutMs - (Date.now() - started)),
    get signal() {
      if (controller === undefined) {
        controller = new AbortController();
        req.stream.once('close', onClose);
        if (timeoutMs !== undefined) {
          const remaining = Math.max(0, timeoutMs - (Date.now() - started));
          timer = setTimeout(
            () => controller?.abort(new ConnectError('deadline exceeded', Code.DeadlineExceeded)),
            remaining,
          );
        }
      }
      return controller.signal;
    },
    get requestHeader() {
      if (requestHeader === undefined) {
        requestHeader = new Headers();
        for (const [name, value] of Object.entries(req.headers)) {
          if (!name.startsWith(':') && typeof value === 'string') requestHeader.set(name, value);
        }
      }
      return requestHeader;
    },
    [RAW_HEADER](name: string) {
      const value = req.headers[name];
      return typeof value === 'string' ? value : null;
    },
    get responseHeader() {
      return (responseHeader ??= new Headers());
    },
    get responseTrailer() {
      return (responseTrailer ??= new Headers());
    },
    get values() {
      return (values ??= createContextValues());
    },
    /** What the handler put in its response headers and trailers (trailers as `trailer-*`, per the protocol). */
    metadata() {
      const out: Record<string, string> = {};
      responseHeader?.forEach((value, name) => (out[name] = value));
      responseTrailer?.forEach((value, name) => (out[`trailer-${name}`] = value));
      return out;
    },
    done() {
      clearTimeout(timer);
      if (controller !== undefined) {
        req.stream.off('close', onClose);
        controller.abort(new ConnectError('the call is over', Code.Canceled));
      }
    },
  };
}
