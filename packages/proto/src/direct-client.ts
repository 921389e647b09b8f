import { create, type DescMessage, type DescService } from '@bufbuild/protobuf';
import {
  ConnectError,
  createHandlerContext,
  makeAnyClient,
  type CallOptions,
  type Client,
  type HandlerContext,
  type ServiceImpl,
} from '@connectrpc/connect';

type AnyUnary = (request: unknown, context: HandlerContext) => unknown;
type AnyStreaming = (request: unknown, context: HandlerContext) => AsyncIterable<unknown>;

/**
 * The in-process binding of a service: a client with exactly the shape of a Connect client
 * whose calls go straight to the implementation, with no serialization and no socket. The
 * all-in-one process uses it; the cluster uses the HTTP/2 transport. Both see the same
 * messages, headers, cancellation and ConnectErrors, so callers cannot tell them apart.
 */
export function createDirectClient<S extends DescService>(service: S, impl: ServiceImpl<S>): Client<S> {
  const handlers = impl as unknown as Record<string, AnyUnary | AnyStreaming | undefined>;
  const contextFor = (method: S['methods'][number], options: CallOptions | undefined) =>
    createHandlerContext({
      service,
      method,
      protocolName: 'direct',
      requestMethod: 'POST',
      url: `direct:///${service.typeName}/${method.name}`,
      requestSignal: options?.signal,
      timeoutMs: options?.timeoutMs,
      requestHeader: options?.headers,
      contextValues: options?.contextValues,
    });
  return makeAnyClient(service, (method) => {
    const handler = handlers[method.localName];
    if (handler === undefined) return null;
    const output: DescMessage = method.output;
    if (method.methodKind === 'unary') {
      return async (request: unknown, options?: CallOptions) => {
        const context = contextFor(method, options);
        try {
          const result = await (handler as AnyUnary)(create(method.input, request as never), context);
          return create(output, result as never);
        } catch (error) {
          throw ConnectError.from(error);
        } finally {
          context.abort();
        }
      };
    }
    if (method.methodKind === 'server_streaming') {
      return async function* (request: unknown, options?: CallOptions) {
        const context = contextFor(method, options);
        try {
          for await (const message of (handler as AnyStreaming)(create(method.input, request as never), context)) {
            yield create(output, message as never);
          }
        } catch (error) {
          throw ConnectError.from(error);
        } finally {
          context.abort();
        }
      };
    }
    return null;
  }) as Client<S>;
}
