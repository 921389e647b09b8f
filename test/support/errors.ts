import { ConnectError } from '@connectrpc/connect';
import { isDomainError } from '../../packages/core/src';
import { readWireError } from '../../packages/proto/src';

/** The DomainError code `fn` throws, or undefined when it returns. Anything else is rethrown. */
export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (error) {
    if (isDomainError(error)) return error.code;
    throw error;
  }
}

/** The domain code a record-service call fails with (read from the wire), or undefined on success. */
export async function wireCodeOf(call: Promise<unknown>): Promise<string | undefined> {
  try {
    await call;
    return undefined;
  } catch (error) {
    if (error instanceof ConnectError) return readWireError(error).code;
    throw error;
  }
}
