import type { HandlerContext } from '@connectrpc/connect';

/**
 * The Connect protocol's unary wire form, as both ends of our fast path use it: POST to
 * `/<package.Service>/<Method>` with a binary protobuf body, `application/proto` both ways on
 * success, and a JSON error body (errorToJson) with the status of its code otherwise.
 */
export const UNARY_CONTENT_TYPE = 'application/proto';
export const PROTOCOL_VERSION_HEADER = 'connect-protocol-version';
export const TIMEOUT_HEADER = 'connect-timeout-ms';

export function unaryPath(serviceTypeName: string, methodName: string): string {
  return `/${serviceTypeName}/${methodName}`;
}

/** Where the lean path's handler context keeps its raw header reader (see server.ts). */
export const RAW_HEADER = Symbol('rawHeader');

/**
 * One request header of a call, read without building the context's Headers object when the
 * lean path served the call (a handler that checks one header on every call needs no more).
 */
export function requestHeaderValue(context: HandlerContext, name: string): string | null {
  const raw = (context as { [RAW_HEADER]?: (name: string) => string | null })[RAW_HEADER];
  return raw === undefined ? context.requestHeader.get(name) : raw(name);
}
