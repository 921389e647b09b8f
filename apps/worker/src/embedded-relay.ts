import type { Logger } from '@rosetta/platform';
import { eventsRelayJob } from '@rosetta/proto';
import { isPermanentError } from './job-errors';
import { relayEvents, type RelayEventsDeps } from './jobs/events-relay';

export interface EmbeddedRelayOptions extends Omit<RelayEventsDeps, 'signal'> {
  /** Pause between the end of one run and the start of the next (ms). */
  readonly intervalMs: number;
  readonly logger: Logger;
}

export interface EmbeddedRelay {
  /** Stops scheduling, lets a running relay finish its current page, and resolves once it has. */
  stop(): Promise<void>;
}

/** Cap of the extra pause after repeated failures, so that an outage logs about twice a minute. */
const MAX_BACKOFF_MS = 30_000;

/**
 * The outbox relay without Redis or BullMQ, for the all-in-one process: the same `relayEvents`
 * run on a timer. A run starts `intervalMs` after the previous one ended, so runs never overlap;
 * after a failure the pause grows like BullMQ's exponential backoff of the catalog's policy.
 */
export function createEmbeddedRelay(options: EmbeddedRelayOptions): EmbeddedRelay {
  const { intervalMs, logger, ...deps } = options;
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let failures = 0;

  const run = async (): Promise<void> => {
    try {
      const relayed = await relayEvents({ ...deps, signal: controller.signal });
      failures = 0;
      if (relayed > 0) logger.debug({ relayed }, 'change events relayed');
    } catch (error) {
      failures += 1;
      const context = { err: error, job: eventsRelayJob.name, failures };
      if (isPermanentError(error)) logger.error(context, 'relaying change events failed permanently');
      else logger.warn(context, 'relaying change events failed');
    }
  };

  const schedule = (delayMs: number): void => {
    timer = setTimeout(() => {
      timer = undefined;
      running = run().then(() => {
        running = undefined;
        if (controller.signal.aborted) return;
        const backoff = failures === 0 ? 0 : eventsRelayJob.backoffMs * 2 ** (failures - 1);
        schedule(intervalMs + Math.min(backoff, MAX_BACKOFF_MS));
      });
    }, delayMs);
  };

  schedule(0);
  return {
    async stop() {
      controller.abort();
      clearTimeout(timer);
      await running;
    },
  };
}
