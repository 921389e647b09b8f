// Bulk writes from the bench process: a body per batch, a few in flight.
import { performance } from 'node:perf_hooks';
import { median } from './report.mjs';

/**
 * Sends records 0…total-1 in batches of `size`, `lanes` batches in flight: `build(from, to)` makes
 * the body of records [from, to) (not timed), `send(body, count)` posts it (timed). Resolves with
 * the whole run's milliseconds and the sends' p50 and p99.
 */
export async function sendInBatches(total, size, lanes, build, send) {
  const batches = Math.ceil(total / size);
  const latencies = [];
  let next = 0;
  const started = performance.now();
  const lane = async () => {
    while (next < batches) {
      const from = next++ * size;
      const to = Math.min(total, from + size);
      const body = build(from, to);
      const t0 = performance.now();
      await send(body, to - from);
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: lanes }, lane));
  const totalMs = performance.now() - started;
  latencies.sort((a, b) => a - b);
  return {
    totalMs,
    p50Ms: median(latencies),
    p99Ms: latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))],
  };
}
