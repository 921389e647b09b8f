import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { APPS, ROOT, loadDockerfile } from './support';

/**
 * scripts/malloc-env.mjs: the C allocator's settings every Rosetta process runs with. Read here
 * through node itself, as the start script and the bench import it.
 */
function evaluate(expression: string): unknown {
  const module = JSON.stringify(join(ROOT, 'scripts', 'malloc-env.mjs'));
  const run = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', `const m = await import(${module}); console.log(JSON.stringify(${expression}));`],
    { encoding: 'utf8' },
  );
  if (run.status !== 0) throw new Error(run.stderr);
  return JSON.parse(run.stdout) as unknown;
}

const MALLOC_ENV = evaluate('m.MALLOC_ENV') as Record<string, string>;

// Large buffers freed while small long-lived ones are made between them, as a service's batches,
// bind messages and pages are: how much of the large ones' memory the process keeps afterwards.
const RETENTION_PROBE = `
const rss = () => process.memoryUsage().rss;
const kept = [];
const before = rss();
for (let round = 0; round < 5; round++) {
  let large = [];
  for (let i = 0; i < 64; i++) {
    large.push(Buffer.alloc(1024 * 1024 + i * 4096, 1));
    kept.push(Buffer.alloc(5000, 2));
  }
  large = [];
  gc();
}
gc();
console.log(JSON.stringify({ retainedMb: (rss() - before) / 1048576, kept: kept.length }));
`;

function retainedMb(env: NodeJS.ProcessEnv): number {
  const run = spawnSync(process.execPath, ['--expose-gc', '-e', RETENTION_PROBE], { encoding: 'utf8', env });
  if (run.status !== 0) throw new Error(run.stderr);
  const { retainedMb: retained, kept } = JSON.parse(run.stdout) as { retainedMb: number; kept: number };
  expect(kept).toBe(320);
  return retained;
}

describe('scripts/malloc-env.mjs', () => {
  const withoutSettings = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('MALLOC_')),
  );

  it('fixes glibc’s mmap threshold at its default of 128 KiB', () => {
    expect(MALLOC_ENV).toEqual({ MALLOC_MMAP_THRESHOLD_: '131072' });
  });

  it('adds its settings to an environment, where that environment has none of its own', () => {
    expect(evaluate("m.withMallocEnv({ PORT: '8080' })")).toEqual({ ...MALLOC_ENV, PORT: '8080' });
    expect(evaluate("m.withMallocEnv({ MALLOC_MMAP_THRESHOLD_: '65536' })")).toEqual({
      MALLOC_MMAP_THRESHOLD_: '65536',
    });
  });

  it('lets a process give back the large buffers it freed, which it keeps without the settings', () => {
    const without = retainedMb(withoutSettings);
    const tuned = retainedMb({ ...withoutSettings, ...MALLOC_ENV });
    // glibc's own choice keeps most of the last round's 64 MB; the fixed threshold gives it back.
    expect(without).toBeGreaterThan(40);
    expect(tuned).toBeLessThan(without / 2);
  });

  it.each(APPS)('is set in the image of apps/%s by its Dockerfile', (app) => {
    const runtime = loadDockerfile(app).at(-1);
    const env = (runtime?.instructions ?? []).filter((i) => i.keyword === 'ENV').flatMap((i) => i.args.split(/\s+/));
    for (const [name, value] of Object.entries(MALLOC_ENV)) expect(env).toContain(`${name}=${value}`);
  });
});
