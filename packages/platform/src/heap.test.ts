import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { HEAP_FLAGS, tuneHeap } from './heap';

/**
 * Runs tuneHeap (this source, transpiled) in a fresh node with a small young generation, then
 * allocates 50,000 objects from one site and keeps them all, the pattern that makes V8 pretenure
 * a site, and asks V8 where that site's next 1000 objects are born.
 */
function probe(execArgv: readonly string[]): { applied: string[]; young: number } {
  const dir = mkdtempSync(join(tmpdir(), 'rosetta-heap-'));
  try {
    const heapJs = join(dir, 'heap.js');
    const source = readFileSync(join(__dirname, 'heap.ts'), 'utf8');
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
    });
    writeFileSync(heapJs, outputText);
    const script = `
      const applied = require(${JSON.stringify(heapJs)}).tuneHeap(${JSON.stringify(execArgv)});
      const make = new Function('i', 'return { a: i, b: [i] };');
      const keep = [];
      for (let i = 0; i < 50000; i++) keep.push(make(i));
      let young = 0;
      for (let i = 0; i < 1000; i++) if (%InYoungGeneration(make(i))) young++;
      console.log(JSON.stringify({ applied, young, kept: keep.length }));
    `;
    const out = execFileSync(process.execPath, ['--max-semi-space-size=1', '--allow-natives-syntax', '-e', script], {
      encoding: 'utf8',
    });
    return JSON.parse(out) as { applied: string[]; young: number };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('tuneHeap', () => {
  it('turns allocation-site pretenuring off: objects of a site that survived are still born young', () => {
    expect(probe([])).toEqual({ applied: [...HEAP_FLAGS], young: 1000, kept: 50000 });
  });

  it('leaves an explicit choice on the command line alone (and V8 then pretenures the site)', () => {
    expect(probe(['--allocation-site-pretenuring'])).toEqual({ applied: [], young: 0, kept: 50000 });
  });

  it.each([['--no-allocation-site-pretenuring'], ['--allocation_site_pretenuring']])(
    'recognises %s as an explicit choice',
    (flag) => {
      expect(tuneHeap(['--inspect', flag])).toEqual([]);
    },
  );
});
