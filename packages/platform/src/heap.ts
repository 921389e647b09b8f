import { setFlagsFromString } from 'node:v8';

/**
 * V8 heap settings every Rosetta process applies at start, before it serves anything
 * (docs/benchmarks.md, "Pretenuring" and "How far the heap grows", has the measurements).
 *
 * `--no-allocation-site-pretenuring`: V8 watches how many objects of each allocation site survive
 * the young generation's collections, and from a site whose objects mostly survived it allocates
 * straight into the old generation from then on. A long stream (an export, a listing, a seed of
 * many records) makes the sites of the request path look long-lived; V8 then kept allocating
 * them in the old generation after the stream had ended, where every young object they point to
 * survives the next scavenges too: the gateway's hot GET after an export paused 9–15 ms at each
 * scavenge instead of 1 ms, and its p99 went from 11 to 27–29 ms.
 *
 * `--heap-growing-percent=50`: after a full collection V8 lets the old generation grow to a
 * multiple of what survived before it collects again, by default up to 4× when the process is
 * busy. Rosetta's processes hold little (30–50 MB live) and pass a lot through, and the buffers
 * that garbage holds (socket reads, request bodies, rows, encoded messages) are freed only when
 * their objects are collected, so the allowance was mostly dead bytes: the api rose to 260 MB
 * during a listing of a million items. At 1.5× it stayed at 158 MB, with the same throughput.
 *
 * A flag given on node's command line (`--allocation-site-pretenuring`,
 * `--heap-growing-percent=0` for V8's own choice, …) wins over its setting here.
 */
export const HEAP_FLAGS: readonly string[] = ['--no-allocation-site-pretenuring', '--heap-growing-percent=50'];

/** The V8 flag an argument names (`--no-a_b=1` → `a-b`), if it is one. */
function flagName(arg: string): string | undefined {
  return /^--(?:no-)?([a-z0-9_-]+?)(?:=.*)?$/i.exec(arg)?.[1]?.replace(/_/g, '-');
}

/** HEAP_FLAGS but those that node's command line (`execArgv`) set itself. */
export function heapFlagsFor(execArgv: readonly string[]): string[] {
  const chosen = new Set(execArgv.map(flagName));
  return HEAP_FLAGS.filter((flag) => !chosen.has(flagName(flag)));
}

/** Applies the heap flags the command line left to Rosetta; returns them. */
export function tuneHeap(execArgv: readonly string[] = process.execArgv): string[] {
  const applied = heapFlagsFor(execArgv);
  for (const flag of applied) setFlagsFromString(flag);
  return applied;
}
