import { setFlagsFromString } from 'node:v8';

/**
 * V8 heap settings every Rosetta process applies at start, before it serves anything.
 *
 * `--no-allocation-site-pretenuring`: V8 watches how many objects of each allocation site survive
 * the young generation's collections, and from a site whose objects mostly survived it allocates
 * straight into the old generation from then on. A long stream (an export, a listing, a seed of
 * many records) makes the sites of the request path look long-lived; V8 then keeps allocating
 * them in the old generation after the stream has ended, where every young object they point to
 * survives the next scavenges too. Measured on the gateway after an export and a listing: each
 * scavenge of the hot GET promoted 2.6 MB instead of 0.2 MB and paused 9–15 ms instead of 1 ms,
 * the hot GET's p99 went from 11 to 27–29 ms and its RSS rose by 70 MB (docs/benchmarks.md,
 * "Pretenuring"). Without pretenuring, every object starts young and only what truly lives on is
 * promoted.
 *
 * An explicit `--allocation-site-pretenuring` (or its `--no-` form) on node's command line wins.
 */
export const HEAP_FLAGS = ['--no-allocation-site-pretenuring'] as const;

export function tuneHeap(execArgv: readonly string[] = process.execArgv): readonly string[] {
  const chosen = execArgv.some((arg) => /^--(no-)?allocation[-_]site[-_]pretenuring$/.test(arg));
  if (chosen) return [];
  for (const flag of HEAP_FLAGS) setFlagsFromString(flag);
  return HEAP_FLAGS;
}
