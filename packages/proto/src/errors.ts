import { create } from '@bufbuild/protobuf';
import { type Code, ConnectError } from '@connectrpc/connect';
import { ErrorDetailSchema } from './gen/rosetta/v1/common_pb';

/** What the record service says about a failed call, as carried on the wire. */
export interface WireError {
  /** A domain ErrorCode, or undefined when the failure was not a domain error. */
  readonly code: string | undefined;
  readonly publicMessage: string | undefined;
  /** For RATE_LIMITED: whole seconds until a retry may succeed. */
  readonly retryAfterSeconds: number | undefined;
  /** The Connect status (tells UNAVAILABLE and DEADLINE_EXCEEDED from the rest). */
  readonly connectCode: Code;
}

/** Builds the ConnectError the record service returns for a domain error. */
export function wireError(
  connectCode: Code,
  code: string,
  publicMessage: string | undefined,
  retryAfterSeconds?: number,
): ConnectError {
  const detail = create(ErrorDetailSchema, {
    code,
    publicMessage: publicMessage ?? '',
    retryAfterSeconds: retryAfterSeconds ?? 0,
  });
  return new ConnectError(publicMessage ?? code, connectCode, undefined, [{ desc: ErrorDetailSchema, value: detail }]);
}

/** Reads the domain code back from any error thrown by a record service client. */
export function readWireError(error: unknown): WireError {
  const connectError = ConnectError.from(error);
  const [detail] = connectError.findDetails(ErrorDetailSchema);
  return {
    code: detail?.code || undefined,
    publicMessage: detail?.publicMessage || undefined,
    retryAfterSeconds: detail?.retryAfterSeconds || undefined,
    connectCode: connectError.code,
  };
}
