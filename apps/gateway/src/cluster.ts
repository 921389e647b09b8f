import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { mergeExpositions, ShutdownManager, type Logger } from '@rosetta/platform';

/**
 * The gateway as one process per core: a primary that forks GATEWAY_PROCESSES workers sharing
 * the listening port (node:cluster hands connections out round-robin), restarts one that dies,
 * and answers a `/metrics` scrape that reached any of them with every worker's metrics, each
 * sample labelled `process="<slot>"` (slots 0…N-1 survive restarts, so the label stays bounded).
 */

/** A metric scrape asked of the primary by the worker that got `/metrics`, and the answer. */
interface MetricsRequest {
  readonly type: 'rosetta:metrics';
  readonly id: number;
}
interface MetricsAnswer {
  readonly type: 'rosetta:metrics-answer';
  readonly id: number;
  readonly text: string;
}
/** The primary asking each worker for its own scrape, and the answer. */
interface ScrapeRequest {
  readonly type: 'rosetta:scrape';
  readonly id: number;
}
interface ScrapeAnswer {
  readonly type: 'rosetta:scraped';
  readonly id: number;
  /** Absent when the worker could not collect its metrics. */
  readonly text?: string;
}

type Message = MetricsRequest | MetricsAnswer | ScrapeRequest | ScrapeAnswer;

const isMessage = (value: unknown): value is Message =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as { type?: unknown }).type === 'string' &&
  (value as { type: string }).type.startsWith('rosetta:') &&
  typeof (value as { id?: unknown }).id === 'number';

/** How long the primary waits for the workers' scrapes; a worker that has not answered by then is left out. */
const SCRAPE_TIMEOUT_MS = 5_000;
/** A worker that died is forked again after this pause. */
const RESTART_DELAY_MS = 1_000;

/** `GATEWAY_PROCESSES`: a count, or `auto` for one per core. */
export function processCount(setting: number | 'auto'): number {
  return setting === 'auto' ? availableParallelism() : setting;
}

export interface PrimaryOptions {
  readonly processes: number;
  readonly logger: Logger;
  /** The workers' own shutdown deadline: the primary waits this long (and a little more) before it kills them. */
  readonly shutdownTimeoutMs: number;
}

/**
 * Runs the primary: forks the workers (each runs this same entry point as a worker), and stops
 * them on SIGTERM or SIGINT. A worker that dies before it ever listened means the gateway cannot
 * start (a taken port, a bad setting): the primary stops the rest and exits with 1.
 */
export function runPrimary({ processes, logger, shutdownTimeoutMs }: PrimaryOptions): void {
  const slots = new Map<Worker, number>();
  /** Slots whose worker listened at least once (the gateway has started), and the workers listening now. */
  const listened = new Set<number>();
  const listening = new Set<Worker>();
  let stopping = false;
  let nextScrape = 0;
  const scrapes = new Map<number, { readonly texts: Map<number, string>; readonly done: () => void }>();

  const shutdown = new ShutdownManager(logger, shutdownTimeoutMs + 2_000);
  shutdown.installSignalHandlers();
  shutdown.add('gateway processes', async () => {
    stopping = true;
    const exits = [...slots.keys()].map(
      (worker) => new Promise<void>((resolve) => (worker.isDead() ? resolve() : worker.once('exit', () => resolve()))),
    );
    for (const worker of slots.keys()) worker.process.kill('SIGTERM');
    const late = setTimeout(() => {
      for (const worker of slots.keys()) if (!worker.isDead()) worker.process.kill('SIGKILL');
    }, shutdownTimeoutMs + 1_000);
    await Promise.all(exits);
    clearTimeout(late);
  });

  const scrapeAll = (): Promise<string> =>
    new Promise((resolve) => {
      const id = nextScrape++;
      const texts = new Map<number, string>();
      const live = [...slots].filter(([worker]) => listening.has(worker) && worker.isConnected());
      const finish = () => {
        clearTimeout(timer);
        scrapes.delete(id);
        const parts = [...texts].sort(([a], [b]) => a - b).map(([slot, text]) => ({ value: String(slot), text }));
        resolve(mergeExpositions('process', parts));
      };
      const timer = setTimeout(finish, SCRAPE_TIMEOUT_MS);
      scrapes.set(id, { texts, done: () => texts.size === live.length && finish() });
      for (const [worker] of live) worker.send({ type: 'rosetta:scrape', id } satisfies ScrapeRequest);
      if (live.length === 0) finish();
    });

  const fork = (slot: number): void => {
    const worker = cluster.fork();
    slots.set(worker, slot);
    worker.on('listening', () => {
      listening.add(worker);
      if (listened.has(slot)) return;
      listened.add(slot);
      if (listened.size === processes) logger.info({ processes }, 'gateway processes listening');
    });
    worker.on('message', (message: unknown) => {
      if (!isMessage(message)) return;
      if (message.type === 'rosetta:scraped') {
        const pending = scrapes.get(message.id);
        if (pending === undefined) return;
        pending.texts.set(slot, message.text ?? '');
        pending.done();
      } else if (message.type === 'rosetta:metrics') {
        void scrapeAll().then((text) => {
          if (worker.isConnected())
            worker.send({ type: 'rosetta:metrics-answer', id: message.id, text } satisfies MetricsAnswer);
        });
      }
    });
    worker.on('exit', (code, signal) => {
      slots.delete(worker);
      listening.delete(worker);
      for (const pending of scrapes.values()) pending.done();
      if (stopping) return;
      if (!listened.has(slot)) {
        logger.fatal({ slot, code, signal }, 'a gateway process exited before it listened; stopping');
        void shutdown.run('startup failed').finally(() => process.exit(1));
        return;
      }
      logger.error({ slot, code, signal, pid: worker.process.pid }, 'a gateway process exited; starting another');
      setTimeout(() => {
        if (!stopping) fork(slot);
      }, RESTART_DELAY_MS);
    });
  };
  for (let slot = 0; slot < processes; slot++) fork(slot);
}

/**
 * In a worker of the primary above: answers the primary's scrape requests with `scrapeOwn`, and
 * returns the scrape `/metrics` should serve — every worker's, merged by the primary.
 */
export function clusterScrape(scrapeOwn: () => Promise<string>): () => Promise<string> {
  const waiting = new Map<number, (text: string) => void>();
  let next = 0;
  process.on('message', (message: unknown) => {
    if (!isMessage(message)) return;
    if (message.type === 'rosetta:scrape') {
      scrapeOwn().then(
        (text) => process.send?.({ type: 'rosetta:scraped', id: message.id, text } satisfies ScrapeAnswer),
        () => process.send?.({ type: 'rosetta:scraped', id: message.id } satisfies ScrapeAnswer),
      );
    } else if (message.type === 'rosetta:metrics-answer') {
      waiting.get(message.id)?.(message.text);
      waiting.delete(message.id);
    }
  });
  return () =>
    new Promise((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error('the primary did not answer the metrics scrape in time'));
      }, SCRAPE_TIMEOUT_MS * 2);
      waiting.set(id, (text) => {
        clearTimeout(timer);
        resolve(text);
      });
      process.send?.({ type: 'rosetta:metrics', id } satisfies MetricsRequest);
    });
}
