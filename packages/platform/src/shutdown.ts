import type { Logger } from 'pino';

interface Step {
  readonly name: string;
  readonly run: () => Promise<void> | void;
}

/**
 * Graceful shutdown in reverse order of creation: register each resource right after creating
 * it, and `run` closes them last-created-first. Every step is guarded (a failing step is logged
 * and the next one still runs) and the whole sequence has one deadline.
 */
export class ShutdownManager {
  private readonly steps: Step[] = [];
  private running: Promise<void> | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly deadlineMs: number,
  ) {}

  add(name: string, run: () => Promise<void> | void): void {
    this.steps.push({ name, run });
  }

  /** Runs the steps once; later calls return the same promise. */
  run(reason: string): Promise<void> {
    this.running ??= this.runSteps(reason);
    return this.running;
  }

  private async runSteps(reason: string): Promise<void> {
    this.logger.info({ reason }, 'shutting down');
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'deadline'>((resolve) => {
      timer = setTimeout(() => resolve('deadline'), this.deadlineMs);
      timer.unref();
    });
    const sequence = (async () => {
      for (const step of [...this.steps].reverse()) {
        try {
          await step.run();
        } catch (error) {
          this.logger.error({ err: error, step: step.name }, 'shutdown step failed');
        }
      }
    })();
    const outcome = await Promise.race([sequence.then(() => 'done' as const), deadline]);
    clearTimeout(timer);
    if (outcome === 'deadline') this.logger.error({ deadlineMs: this.deadlineMs }, 'shutdown deadline passed');
  }

  /** SIGTERM and SIGINT run the steps, then exit with 128 + the signal's number. */
  installSignalHandlers(): void {
    const onSignal = (signal: NodeJS.Signals, code: number) => {
      void this.run(signal).finally(() => process.exit(128 + code));
    };
    process.once('SIGTERM', () => onSignal('SIGTERM', 15));
    process.once('SIGINT', () => onSignal('SIGINT', 2));
  }
}
