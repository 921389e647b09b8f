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
