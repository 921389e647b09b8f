import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { HEAP_FLAGS, heapFlagsFor } from './heap';

/**
 * Runs `tuneHeap(execArgv)` (this source, transpiled) first thing in a fresh node, then `body`,
 * which prints one JSON line; returns what tuneHeap applied and that line.
 */
function inFreshNode<T>(execArgv: readonly string[], body: string, nodeArgs: readonly string[] = []) {
  const dir = mkdtempSync(join(tmpdir(), 'rosetta-heap-'));
  try {
    const heapJs = join(dir, 'heap.js');
    const { outputText } = ts.transpileModule(readFileSync(join(__dirname, 'heap.ts'), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
    });
    writeFileSync(heapJs, outputText);
    const script = `const applied = require(${JSON.stringify(heapJs)}).tuneHeap(${JSON.stringify(execArgv)});
      ${body}`;
    const out = execFileSync(process.execPath, [...nodeArgs, '-e', script], { encoding: 'utf8' });
    return JSON.parse(out) as { applied: string[] } & T;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * 50,000 objects from one site, all kept: the pattern that makes V8 pretenure a site. Then where
 * the site's next 1000 objects are born (a small young generation makes it quick).
 */
const PRETENURING = `
  const make = new Function('i', 'return { a: i, b: [i] };');
  const keep = [];
  for (let i = 0; i < 50000; i++) keep.push(make(i));
  let young = 0;
  for (let i = 0; i < 1000; i++) if (%InYoungGeneration(make(i))) young++;
  console.log(JSON.stringify({ applied, young, kept: keep.length }));`;

/**
 * 50,000 live objects, then 3 million that each live while the next 100,000 are made (long
 * enough to be promoted): the heap's peak size, in MB.
 */
const GROWTH = `
  const v8 = require('node:v8');
  const live = [];
  for (let i = 0; i < 50000; i++) live.push({ i, s: 'x'.repeat(100) + i });
  const ring = new Array(100000);
  let peak = 0;
  for (let i = 0; i < 3000000; i++) {
    ring[i % 100000] = { i, a: [i, i + 1], s: 'y' + i };
    if (i % 10000 === 0) peak = Math.max(peak, v8.getHeapStatistics().total_heap_size);
  }
  console.log(JSON.stringify({ applied, peakMb: peak / 2 ** 20, live: live.length }));`;

describe('tuneHeap', () => {
  it('turns allocation-site pretenuring off: objects of a site that survived are still born young', () => {
    const args = ['--max-semi-space-size=1', '--allow-natives-syntax'];
    expect(inFreshNode([], PRETENURING, args)).toEqual({ applied: [...HEAP_FLAGS], young: 1000, kept: 50000 });
    // V8's default, left alone when the command line chose it, tenures the site.
    expect(inFreshNode(['--allocation-site-pretenuring'], PRETENURING, args)).toEqual({
      applied: ['--heap-growing-percent=50'],
      young: 0,
      kept: 50000,
    });
  });

  it("lets the old generation grow to 1.5× what survived, not V8's own multiple", () => {
    const tuned = inFreshNode<{ peakMb: number; live: number }>([], GROWTH);
    const v8Default = inFreshNode<{ peakMb: number }>(['--heap-growing-percent=0'], GROWTH);
    expect(tuned.applied).toEqual([...HEAP_FLAGS]);
    expect(v8Default.applied).toEqual(['--no-allocation-site-pretenuring']);
    expect(tuned.live).toBe(50000);
    expect(tuned.peakMb).toBeLessThan(v8Default.peakMb * 0.75);
  });

  it.each([
    ['--no-allocation-site-pretenuring', ['--heap-growing-percent=50']],
    ['--allocation_site_pretenuring', ['--heap-growing-percent=50']],
    ['--heap-growing-percent=20', ['--no-allocation-site-pretenuring']],
    ['--heap_growing_percent=0', ['--no-allocation-site-pretenuring']],
  ])('leaves %s on the command line alone and applies the rest', (flag, rest) => {
    expect(heapFlagsFor(['--inspect', flag])).toEqual(rest);
  });

  it('applies every flag when the command line chose none', () => {
    expect(heapFlagsFor(['--inspect', '--enable-source-maps'])).toEqual([...HEAP_FLAGS]);
  });
});
