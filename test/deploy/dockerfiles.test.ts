import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { z } from 'zod';
import { MIGRATIONS_DIR } from '../../apps/api/src/db/migrate';
import {
  APP_CONFIG,
  APPS,
  ROOT,
  copiedPaths,
  dockerignoreMatcher,
  execForm,
  loadDockerfile,
  loadDockerignore,
  readPackageJson,
  workdir,
  workspaceClosure,
  workspaceDirs,
  type Instruction,
  type Stage,
} from './support';

const NODE_IMAGE = 'node:20-bookworm-slim';

function runs(stage: Stage): Instruction[] {
  return stage.instructions.filter((i) => i.keyword === 'RUN');
}

function last(stage: Stage, keyword: string): Instruction | undefined {
  return stage.instructions.filter((i) => i.keyword === keyword).at(-1);
}

describe.each(APPS)('apps/%s/Dockerfile', (app) => {
  const stages = loadDockerfile(app);
  const build = stages.find((s) => s.name === 'build');
  const runtime = stages.at(-1);
  if (build === undefined || runtime === undefined || runtime === build) {
    throw new Error(`apps/${app}/Dockerfile needs a "build" stage and a final runtime stage`);
  }
  const appDir = `apps/${app}`;
  const image = copiedPaths(runtime);
  const imageTargets = image.map((c) => c.target);

  it(`builds and runs on ${NODE_IMAGE}`, () => {
    expect(stages.map((s) => s.image)).toEqual(stages.map(() => NODE_IMAGE));
  });

  it('copies the manifests of every workspace before npm install, which runs no install scripts', () => {
    const ci = build.instructions.findIndex((i) => i.keyword === 'RUN' && /\bnpm install\b/.test(i.args));
    expect(ci).toBeGreaterThan(-1);
    // Only manifests before the install, so editing a source file keeps the install layer cached.
    const before = copiedPaths({ ...build, instructions: build.instructions.slice(0, ci) });
    const sources = before.map((c) => c.source);
    expect(sources.filter((s) => !/\.json$/.test(s))).toEqual([]);
    expect(sources).toEqual(
      expect.arrayContaining([
        'package.json',
        'package-lock.json',
        'turbo.json',
        'tsconfig.base.json',
        ...workspaceDirs().map((d) => `${d}/package.json`),
      ]),
    );
    // Each manifest lands at the same path under WORKDIR, where the workspace globs find it.
    for (const { source, target } of before) expect(target).toBe(posix.join(workdir(build), source));
    // The root allowScripts denies every install script; the image's npm does not read that field.
    expect(build.instructions[ci]?.args).toMatch(/--ignore-scripts\b/);
  });

  it(`builds @rosetta/${app} and its workspace dependencies with turbo, then drops dev dependencies`, () => {
    const commands = runs(build).map((i) => i.args);
    const buildAt = commands.findIndex((c) => /\bturbo run build\b/.test(c));
    expect(buildAt).toBeGreaterThan(-1);
    expect(commands[buildAt]).toContain(`--filter=@rosetta/${app}...`);
    const pruneAt = commands.findIndex((c) => /\bnpm prune\b.*--omit=dev/.test(c));
    expect(pruneAt).toBeGreaterThanOrEqual(buildAt);
    if (pruneAt === buildAt) {
      expect(commands[buildAt]?.indexOf('npm prune')).toBeGreaterThan(
        commands[buildAt]?.indexOf('turbo run build') ?? 0,
      );
    }
  });

  it('copies from the build context only paths that exist and .dockerignore keeps', () => {
    const ignored = loadDockerignore();
    for (const stage of stages) {
      for (const { from, source } of copiedPaths(stage)) {
        if (from !== undefined) continue;
        expect({ source, exists: existsSync(join(ROOT, source)), ignored: ignored(source) }).toEqual({
          source,
          exists: true,
          ignored: false,
        });
      }
    }
  });

  it('ships node_modules and the manifest and dist of exactly the workspaces the app needs', () => {
    const dir = workdir(build);
    const fromBuild = image.filter((c) => c.from === build.name);
    for (const { source, target } of fromBuild) {
      // Same layout as in the build, so the node_modules/@rosetta symlinks resolve.
      expect(posix.relative(dir, source)).toBe(posix.relative(workdir(runtime), target));
    }
    const shipped = fromBuild.map((c) => posix.relative(dir, c.source));
    const needed = workspaceClosure(appDir);
    expect(needed).toEqual(expect.arrayContaining([appDir, 'packages/core', 'packages/platform', 'packages/proto']));
    expect(shipped.sort()).toEqual(
      ['node_modules', 'package.json', ...needed.flatMap((d) => [`${d}/dist`, `${d}/package.json`])].sort(),
    );
    // Nothing else from the context: no sources, no dev tooling.
    expect(image.filter((c) => c.from === undefined).map((c) => c.source)).toEqual(['scripts/healthcheck.mjs']);
  });

  it('runs as the non-root node user, in production mode, stopped with SIGTERM', () => {
    expect(last(runtime, 'USER')?.args).toBe('node');
    const env = runtime.instructions.filter((i) => i.keyword === 'ENV').map((i) => i.args);
    expect(env.some((e) => /(^|\s)NODE_ENV=production(\s|$)/.test(e))).toBe(true);
    expect(last(runtime, 'STOPSIGNAL')?.args).toBe('SIGTERM');
  });

  it('starts the entry point the build produces from src/main.ts', () => {
    const cmd = execForm(last(runtime, 'CMD')?.args ?? 'null');
    expect(cmd).toEqual(['node', '--enable-source-maps', `${appDir}/dist/main.js`]);
    const entry = posix.resolve(workdir(runtime), cmd[2] ?? '');
    expect(imageTargets.some((t) => entry.startsWith(`${t}/`))).toBe(true);
    const tsconfig = z
      .object({ compilerOptions: z.object({ rootDir: z.string(), outDir: z.string() }) })
      .parse(JSON.parse(readFileSync(join(ROOT, appDir, 'tsconfig.build.json'), 'utf8')));
    expect(tsconfig.compilerOptions).toEqual({ rootDir: 'src', outDir: 'dist' });
    expect(existsSync(join(ROOT, appDir, 'src', 'main.ts'))).toBe(true);
  });

  it('holds the health probe where the compose healthcheck runs it (WORKDIR/scripts)', () => {
    expect(imageTargets).toContain(posix.join(workdir(runtime), 'scripts/healthcheck.mjs'));
  });

  it("declares a HEALTHCHECK on the port variable's default", () => {
    const probe = last(runtime, 'HEALTHCHECK')?.args ?? '';
    const view = APP_CONFIG[app];
    const match = /\$\{(\w+):-(\d+)\}/.exec(probe);
    expect(match?.[1]).toBe(view.portVariable);
    expect(view.variables).toContain(view.portVariable);
    expect(Number(match?.[2])).toBe(view.load({}).port);
    expect(probe).toContain('scripts/healthcheck.mjs');
    expect(probe.includes('--h2c')).toBe(view.h2c);
  });
});

describe('apps/api image', () => {
  it('carries the SQL migrations: the build copies them next to the compiled migrator', () => {
    expect(MIGRATIONS_DIR).toBe(join(ROOT, 'apps/api/src/db/migrations'));
    expect(readPackageJson('apps/api')).toEqual(
      expect.objectContaining({
        scripts: expect.objectContaining({ build: expect.stringMatching(/src\/db\/migrations.*dist\/db\/migrations/) }),
      }),
    );
  });
});

describe('.dockerignore', () => {
  const ignored = loadDockerignore();

  it.each([
    'node_modules/zod/package.json',
    'packages/core/node_modules/x/index.js',
    'apps/api/dist/main.js',
    'apps/api/dist/.tsbuildinfo',
    'packages/proto/.turbo/turbo-build.log',
    '.turbo/cache/x',
    '.git/HEAD',
    'data/pg/PG_VERSION',
    'coverage/lcov.info',
    'bench/results/run.json',
    '.env',
  ])('keeps %s out of the build context', (path) => {
    expect(ignored(path)).toBe(true);
  });

  it('keeps what the build needs', () => {
    const needed = ['package.json', 'package-lock.json', 'turbo.json', 'tsconfig.base.json', 'scripts/healthcheck.mjs'];
    for (const dir of workspaceDirs()) needed.push(`${dir}/package.json`, `${dir}/tsconfig.build.json`, `${dir}/src`);
    needed.push('apps/api/src/db/migrations/0001_init.sql', 'packages/proto/src/gen/rosetta/v1/records_pb.ts');
    expect(needed.filter((path) => ignored(path))).toEqual([]);
  });

  it('follows Docker matching: a bare name only matches at the context root', () => {
    const match = dockerignoreMatcher('dist\n**/node_modules\n*.log\n!keep.log\n');
    expect(match('dist/x.js')).toBe(true);
    expect(match('apps/api/dist/x.js')).toBe(false);
    expect(match('node_modules/a')).toBe(true);
    expect(match('apps/api/node_modules/a')).toBe(true);
    expect(match('x.log')).toBe(true);
    expect(match('apps/x.log')).toBe(false);
    expect(match('keep.log')).toBe(false);
  });
});
