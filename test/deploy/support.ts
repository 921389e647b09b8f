/**
 * What the deployment tests read without a Docker engine: docker-compose.yml (as YAML), the
 * Dockerfiles (a small parser for the instructions we use) and .dockerignore (Docker's matching
 * rules). Pure parsing: nothing here runs `docker`.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { ApiConfigSchema, loadConfig as loadApiConfig } from '../../apps/api/src/config';
import { GatewayConfigSchema, loadConfig as loadGatewayConfig } from '../../apps/gateway/src/config';
import { WorkerConfigSchema, loadConfig as loadWorkerConfig } from '../../apps/worker/src/config';

export const ROOT = join(__dirname, '..', '..');

/** The three app services; each is also the folder under apps/ and the image's Dockerfile. */
export const APPS = ['api', 'gateway', 'worker'] as const;
export type AppName = (typeof APPS)[number];

// ---------------------------------------------------------------------------------------------
// docker-compose.yml

const HealthcheckSchema = z.object({
  test: z.array(z.string()).min(2),
  interval: z.string().optional(),
  timeout: z.string().optional(),
  retries: z.number().int().optional(),
  start_period: z.string().optional(),
});

/** The part of a compose service the deployment relies on; other keys pass through. */
const ServiceSchema = z.looseObject({
  image: z.string().optional(),
  build: z.object({ context: z.string(), dockerfile: z.string() }).optional(),
  command: z.array(z.string()).optional(),
  // Strings only: YAML would turn `on`, `1e3` or `010` into something else than the app reads.
  environment: z.record(z.string(), z.string()).optional(),
  depends_on: z.record(z.string(), z.object({ condition: z.string() })).optional(),
  ports: z.array(z.string()).optional(),
  expose: z.array(z.unknown()).optional(),
  network_mode: z.string().optional(),
  volumes: z.array(z.string()).optional(),
  healthcheck: HealthcheckSchema.optional(),
  restart: z.string().optional(),
  stop_grace_period: z.string().optional(),
});

const ComposeSchema = z.looseObject({
  services: z.record(z.string(), ServiceSchema),
  volumes: z.record(z.string(), z.null()).optional(),
});

export type ComposeFile = z.output<typeof ComposeSchema>;
export type ComposeService = z.output<typeof ServiceSchema>;

/** Parses docker-compose.yml the way Compose does (YAML merge keys on); throws on any YAML error or warning. */
export function loadCompose(): ComposeFile {
  const doc = parseDocument(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true, uniqueKeys: true });
  const problems = [...doc.errors, ...doc.warnings];
  if (problems.length > 0) throw new Error(`docker-compose.yml: ${problems.map((p) => p.message).join('; ')}`);
  return ComposeSchema.parse(doc.toJS());
}

export function service(compose: ComposeFile, name: string): ComposeService {
  const found = compose.services[name];
  if (found === undefined) throw new Error(`docker-compose.yml has no service "${name}"`);
  return found;
}

/** A Compose duration (`30s`, `1m30s`, `500ms`) in milliseconds. */
export function durationMs(text: string): number {
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|us|h|m|s)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) throw new Error(`not a duration: ${text}`);
  return parts.reduce((sum, [, n, unit]) => sum + Number(n) * (units[unit ?? ''] ?? NaN), 0);
}

// ---------------------------------------------------------------------------------------------
// Dockerfiles

export interface Instruction {
  /** Upper-cased keyword: FROM, COPY, RUN… */
  readonly keyword: string;
  /** Everything after the keyword, continuation lines joined. */
  readonly args: string;
  /** 1-based line where the instruction starts. */
  readonly line: number;
}

export interface Stage {
  readonly name: string;
  readonly image: string;
  readonly instructions: readonly Instruction[];
}

export function dockerfilePath(app: AppName): string {
  return join(ROOT, 'apps', app, 'Dockerfile');
}

/** Splits a Dockerfile into stages of instructions (comments dropped, `\` continuations joined). */
export function parseDockerfile(text: string): Stage[] {
  const instructions: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const first = i + 1;
    let current = (lines[i] ?? '').trim();
    if (current === '' || current.startsWith('#')) continue;
    while (current.endsWith('\\') && i + 1 < lines.length) {
      i++;
      const next = (lines[i] ?? '').trim();
      current = current.slice(0, -1).trimEnd() + (next.startsWith('#') ? '' : ` ${next}`);
    }
    const match = /^(\S+)\s*(.*)$/s.exec(current);
    if (match === null) continue;
    instructions.push({ keyword: (match[1] ?? '').toUpperCase(), args: (match[2] ?? '').trim(), line: first });
  }
  const stages: { name: string; image: string; instructions: Instruction[] }[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const words = instruction.args.split(/\s+/).filter((w) => !w.startsWith('--'));
      const image = words[0] ?? '';
      const name = words[1]?.toUpperCase() === 'AS' ? (words[2] ?? '') : String(stages.length);
      stages.push({ name, image, instructions: [] });
    } else {
      const stage = stages.at(-1);
      if (stage === undefined) throw new Error(`line ${instruction.line}: ${instruction.keyword} before FROM`);
      stage.instructions.push(instruction);
    }
  }
  return stages;
}

export function loadDockerfile(app: AppName): Stage[] {
  return parseDockerfile(readFileSync(dockerfilePath(app), 'utf8'));
}

export interface CopyInstruction {
  /** `--from=` stage or image, if any. */
  readonly from: string | undefined;
  readonly sources: readonly string[];
  readonly destination: string;
}

/** Flags (`--from=build`, `--chown=…`) and operands of a COPY, in shell or JSON form. */
export function parseCopy(args: string): CopyInstruction {
  const flags: string[] = [];
  let rest = args;
  for (let m = /^(--\S+)\s+/.exec(rest); m !== null; m = /^(--\S+)\s+/.exec(rest)) {
    flags.push(m[1] ?? '');
    rest = rest.slice(m[0].length);
  }
  const operands = rest.startsWith('[') ? z.array(z.string()).parse(JSON.parse(rest)) : rest.split(/\s+/);
  const destination = operands.at(-1);
  if (destination === undefined || operands.length < 2)
    throw new Error(`COPY needs a source and a destination: ${args}`);
  const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
  return { from, sources: operands.slice(0, -1), destination };
}

/** The exec-form (JSON array) arguments of CMD or ENTRYPOINT. */
export function execForm(args: string): string[] {
  return z.array(z.string()).parse(JSON.parse(args));
}

/** The WORKDIR in effect at the end of a stage. */
export function workdir(stage: Stage): string {
  let dir = '/';
  for (const i of stage.instructions) if (i.keyword === 'WORKDIR') dir = posix.resolve(dir, i.args);
  return dir;
}

/**
 * Where each COPY of a stage lands, as absolute paths in the image: one entry per source, with
 * the source it came from. Follows Docker's rule that a destination ending in `/` (or a COPY of
 * several sources) is a directory the sources go into.
 */
export function copiedPaths(stage: Stage): { from: string | undefined; source: string; target: string }[] {
  const out: { from: string | undefined; source: string; target: string }[] = [];
  let dir = '/';
  for (const i of stage.instructions) {
    if (i.keyword === 'WORKDIR') dir = posix.resolve(dir, i.args);
    if (i.keyword !== 'COPY') continue;
    const copy = parseCopy(i.args);
    const destination = posix.resolve(dir, copy.destination);
    const intoDirectory = copy.destination.endsWith('/') || copy.sources.length > 1;
    for (const source of copy.sources) {
      const target = intoDirectory ? posix.join(destination, posix.basename(source)) : destination;
      out.push({ from: copy.from, source, target });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// .dockerignore

/**
 * Docker's .dockerignore rules: patterns are relative to the context root (a bare `dist` is only
 * ./dist), `*` and `?` stay inside one path segment, `**` spans any number of them, a path is
 * excluded when it or one of its parent folders matches, and a later `!pattern` re-includes.
 */
export function dockerignoreMatcher(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = posix.normalize((negate ? l.slice(1) : l).trim()).replace(/^\/+|\/+$/g, '');
      let source = '';
      for (let i = 0; i < pattern.length; i++) {
        const c = pattern[i] ?? '';
        if (pattern.startsWith('**/', i)) {
          source += '(?:.*/)?';
          i += 2;
        } else if (pattern.startsWith('**', i)) {
          source += '.*';
          i += 1;
        } else if (c === '*') source += '[^/]*';
        else if (c === '?') source += '[^/]';
        else source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
      }
      return { negate, regex: new RegExp(`^${source}$`) };
    });
  return (path: string) => {
    const segments = posix.normalize(path).split('/');
    const prefixes = segments.map((_, n) => segments.slice(0, n + 1).join('/'));
    let excluded = false;
    for (const rule of rules) if (prefixes.some((p) => rule.regex.test(p))) excluded = !rule.negate;
    return excluded;
  };
}

export function loadDockerignore(): (path: string) => boolean {
  return dockerignoreMatcher(readFileSync(join(ROOT, '.dockerignore'), 'utf8'));
}

// ---------------------------------------------------------------------------------------------
// Workspaces

const PackageJsonSchema = z.looseObject({
  name: z.string(),
  workspaces: z.array(z.string()).optional(),
  dependencies: z.record(z.string(), z.string()).optional(),
});

export function readPackageJson(dir: string): z.output<typeof PackageJsonSchema> {
  return PackageJsonSchema.parse(JSON.parse(readFileSync(join(ROOT, dir, 'package.json'), 'utf8')));
}

/** Every workspace folder (`packages/core`, `apps/api`…), from the root package.json globs. */
export function workspaceDirs(): string[] {
  const globs = readPackageJson('.').workspaces ?? [];
  return globs.flatMap((glob) => {
    if (!glob.endsWith('/*')) return [glob];
    const parent = glob.slice(0, -2);
    return readdirSync(join(ROOT, parent), { withFileTypes: true })
      .filter((d) => d.isDirectory() && existsSync(join(ROOT, parent, d.name, 'package.json')))
      .map((d) => `${parent}/${d.name}`);
  });
}

/** The workspace folders `dir` needs at run time: itself and its @rosetta dependencies, transitively. */
export function workspaceClosure(dir: string): string[] {
  const byName = new Map(workspaceDirs().map((d) => [readPackageJson(d).name, d]));
  const seen = new Set<string>();
  const visit = (d: string) => {
    if (seen.has(d)) return;
    seen.add(d);
    for (const dep of Object.keys(readPackageJson(d).dependencies ?? {})) {
      const found = byName.get(dep);
      if (found !== undefined) visit(found);
    }
  };
  visit(dir);
  return [...seen].sort();
}

// ---------------------------------------------------------------------------------------------
// The apps' configuration, as far as the deployment cares

export interface AppConfigView {
  /** Every variable the app's zod schema declares. */
  readonly variables: readonly string[];
  /** The variable holding the port its health endpoints listen on. */
  readonly portVariable: string;
  /** Whether that port speaks HTTP/2 cleartext only (prior knowledge). */
  readonly h2c: boolean;
  /** Parses `env` with the app's own `loadConfig` and picks what the deployment relies on. */
  load(env: Record<string, string | undefined>): {
    readonly host: string;
    readonly port: number;
    readonly shutdownTimeoutMs: number;
    readonly redisUrl?: string;
    readonly redisPrefix?: string;
    readonly apiUrl?: string;
    readonly databaseUrl?: string;
  };
}

export const APP_CONFIG: Record<AppName, AppConfigView> = {
  api: {
    variables: Object.keys(ApiConfigSchema.shape),
    portVariable: 'API_PORT',
    h2c: true,
    load: (env) => {
      const c = loadApiConfig(env);
      return {
        host: c.API_HOST,
        port: c.API_PORT,
        shutdownTimeoutMs: c.SHUTDOWN_TIMEOUT_MS,
        redisUrl: c.REDIS_URL,
        redisPrefix: c.REDIS_PREFIX,
        databaseUrl: c.DATABASE_URL,
      };
    },
  },
  gateway: {
    variables: Object.keys(GatewayConfigSchema.shape),
    portVariable: 'PORT',
    h2c: false,
    load: (env) => {
      const c = loadGatewayConfig(env);
      return { host: c.HOST, port: c.PORT, shutdownTimeoutMs: c.SHUTDOWN_TIMEOUT_MS, apiUrl: c.API_URL };
    },
  },
  worker: {
    variables: Object.keys(WorkerConfigSchema.shape),
    portVariable: 'WORKER_HEALTH_PORT',
    h2c: false,
    load: (env) => {
      const c = loadWorkerConfig(env);
      return {
        host: c.WORKER_HEALTH_HOST,
        port: c.WORKER_HEALTH_PORT,
        shutdownTimeoutMs: c.SHUTDOWN_TIMEOUT_MS,
        redisUrl: c.REDIS_URL,
        redisPrefix: c.REDIS_PREFIX,
        apiUrl: c.API_URL,
      };
    },
  },
};
