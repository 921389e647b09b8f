// The gateway as one process per core: a second gateway beside the cluster's, on the same api,
// started with GATEWAY_PROCESSES = the number of cores. Its primary forks that many workers that
// share its port (node:cluster); the group is measured as one: RSS and CPU of the primary and its
// workers, summed.
import { availableParallelism } from 'node:os';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { childrenOf } from './sampler.mjs';

/** GATEWAY_PROCESSES of the second gateway: one process per core. */
export const GATEWAY_PROCESSES = availableParallelism();

/** The primary's pid and its workers'. */
export function groupOf(proc) {
  return [proc.pid, ...childrenOf(proc.pid)];
}

/**
 * Once the gateway answers (a worker does, when it forks): waits up to `timeoutMs` for all
 * GATEWAY_PROCESSES workers. Resolves with how many it forked; 0 when it ignores the setting and
 * serves from its one process.
 */
export async function waitForWorkers(proc, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  let workers = childrenOf(proc.pid).length;
  while (workers > 0 && workers < GATEWAY_PROCESSES && Date.now() < deadline) {
    await sleep(100);
    workers = childrenOf(proc.pid).length;
  }
  return workers;
}

/**
 * Kills, by pid, the workers in `pids` that outlived their primary (one stopped with SIGKILL cannot
 * stop them), after checking each still runs `entry`. Returns how many it killed.
 */
export function killOrphans(pids, entry) {
  let killed = 0;
  for (const pid of pids) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(entry)) continue;
      process.kill(pid, 'SIGKILL');
      killed++;
    } catch {
      // gone already
    }
  }
  return killed;
}
