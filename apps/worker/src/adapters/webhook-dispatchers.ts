import type { Queue } from 'bullmq';
import type { Logger } from '@rosetta/platform';
import { encodeEventMessage, webhooksDeliverJob, type ChangeEvent } from '@rosetta/proto';
import { timeJob } from '../metrics';
import { deliverWebhook, DeliveryFailed, type WebhookDispatcher, type WebhookTargets } from '../jobs/webhooks';

type RecordDelivery = Parameters<typeof deliverWebhook>[0]['webhooks'];

export interface RetryPolicy {
  readonly attempts: number;
  /** The first retry's delay (ms); each later one doubles it. */
  readonly backoffMs: number;
}

/** The id of an event's delivery job to a webhook: the same however often the event is relayed. */
const jobId = (webhookId: bigint, event: ChangeEvent) => `wh-${webhookId}-${event.position.replace('.', '-')}`;

/** The clustered worker's: one `webhooks.deliver` job per webhook and event, retried by BullMQ. */
export class QueueWebhookDispatcher implements WebhookDispatcher {
  constructor(
    private readonly queue: Queue,
    private readonly targets: WebhookTargets,
    private readonly policy: RetryPolicy,
  ) {}

  watches(events: readonly ChangeEvent[]): Promise<boolean> {
    return this.targets.watchAny(events);
  }

  async dispatch(events: readonly ChangeEvent[]): Promise<void> {
    const jobs = [];
    for (const event of events) {
      for (const { webhook } of await this.targets.of(event)) {
        if (webhook === undefined) continue;
        jobs.push({
          name: webhooksDeliverJob.name,
          data: { webhookId: String(webhook.id), event: encodeEventMessage(event) },
          opts: {
            jobId: jobId(webhook.id, event),
            attempts: this.policy.attempts,
            backoff: { type: 'exponential', delay: this.policy.backoffMs },
          },
        });
      }
    }
    if (jobs.length > 0) await this.queue.addBulk(jobs);
  }
}

/**
 * The all-in-one process's: each delivery runs in process, retried after the same exponential
 * backoff as BullMQ's. Deliveries in flight when the process stops are lost with it (the
 * in-process relay starts from the feed's tail again); the clustered worker keeps them in Redis.
 */
export class InProcessWebhookDispatcher implements WebhookDispatcher {
  private readonly stopping = new AbortController();
  private readonly running = new Set<Promise<void>>();

  constructor(
    private readonly targets: WebhookTargets,
    private readonly webhooks: RecordDelivery,
    private readonly policy: RetryPolicy,
    private readonly logger: Logger,
  ) {}

  watches(events: readonly ChangeEvent[]): Promise<boolean> {
    return this.targets.watchAny(events);
  }

  async dispatch(events: readonly ChangeEvent[]): Promise<void> {
    for (const event of events) {
      for (const target of await this.targets.of(event)) {
        const delivery = this.deliver(target, event).finally(() => this.running.delete(delivery));
        this.running.add(delivery);
      }
    }
  }

  private async deliver(target: Awaited<ReturnType<WebhookTargets['of']>>[number], event: ChangeEvent): Promise<void> {
    const signal = this.stopping.signal;
    for (let attempt = 1; attempt <= this.policy.attempts && !signal.aborted; attempt++) {
      try {
        // Each attempt is a run of `webhooks.deliver`, as each attempt of the queued job is.
        await timeJob(webhooksDeliverJob.name, () =>
          deliverWebhook({
            target,
            event,
            attempt,
            final: attempt === this.policy.attempts,
            webhooks: this.webhooks,
            signal,
          }),
        );
        return;
      } catch (error) {
        if (!(error instanceof DeliveryFailed)) this.logger.warn({ err: error }, 'webhook delivery failed');
        if (attempt === this.policy.attempts) return;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.policy.backoffMs * 2 ** (attempt - 1));
          signal.addEventListener('abort', () => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    }
  }

  /** Stops retrying, cancels attempts in flight, and resolves once every delivery has ended. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await Promise.allSettled([...this.running]);
  }
}
