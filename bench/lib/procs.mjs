// Child processes of the benchmark: spawn with logs, wait for readiness, stop for sure.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, closeSync, constants, existsSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { basename, delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { httpRequest } from './http.mjs';

const STOP_GRACE_MS = 10_000;
/** Every child still running; cleanup stops them all. */
const live = new Set();

/** A free TCP port on 127.0.0.1, below the ephemeral range so wrk's own sockets never take it. */
export async function freePort(taken = new Set()) {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (taken.has(port)) continue;
    const server = createServer();
    const ok = await new Promise((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (ok) {
      await new Promise((resolve) => server.close(resolve));
      taken.add(port);
      return port;
    }
  }
  throw new Error('found no free port between 20000 and 32000 on 127.0.0.1');
}

/** The absolute path of an executable on PATH, or undefined. */
export function which(command) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function tail(file, lines = 30) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * A long-running child (a service). Its stdout and stderr go to `logFile`.
 * `proc.exited` resolves with { code, signal } when it ends.
 */
export function startService(name, command, args, { env, cwd, logFile }) {
  const fd = openSync(logFile, 'a');
  const child = spawn(command, args, { cwd, env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const proc = { name, child, pid: child.pid, logFile, running: true, exitInfo: undefined };
  live.add(proc);
  proc.exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      proc.running = false;
      proc.exitInfo = { code, signal };
      live.delete(proc);
      resolve(proc.exitInfo);
    });
    child.once('error', (error) => {
      proc.running = false;
      proc.exitInfo = { code: null, signal: null, error };
      live.delete(proc);
      resolve(proc.exitInfo);
    });
  });
  proc.logTail = () => tail(logFile);
  return proc;
}

/** Polls `url` until it answers 200; fails early if one of `watch` exits. */
export async function waitReady(url, { timeoutMs = 60_000, watch = [] } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    for (const proc of watch) {
      if (!proc.running) {
        const how = proc.exitInfo?.error?.message ?? `code ${proc.exitInfo?.code} signal ${proc.exitInfo?.signal}`;
        throw new Error(
          `${proc.name} exited before ${url} was ready (${how}). Last lines of ${proc.logFile}:\n${proc.logTail()}`,
        );
      }
    }
    try {
      const res = await httpRequest('GET', url, { timeoutMs: 3000 });
      if (res.status === 200) return;
      last = `HTTP ${res.status} ${res.body.toString('utf8', 0, 200)}`;
    } catch (error) {
      last = error instanceof Error ? (error.code ?? error.message) : String(error);
    }
    await sleep(200);
  }
  throw new Error(`${url} was not ready after ${timeoutMs / 1000} s (last: ${last})`);
}

/** SIGTERM, then SIGKILL after 10 s. */
export async function stopProcess(proc, graceMs = STOP_GRACE_MS) {
  if (!proc.running) return proc.exitInfo;
  proc.child.kill('SIGTERM');
  const timer = sleep(graceMs).then(() => 'timeout');
  const outcome = await Promise.race([proc.exited, timer]);
  if (outcome === 'timeout' && proc.running) {
    console.error(`  ${proc.name} (pid ${proc.pid}) did not stop within ${graceMs / 1000} s: SIGKILL`);
    proc.child.kill('SIGKILL');
    await proc.exited;
  }
  return proc.exitInfo;
}

/** Stops every child still running, in reverse start order, in parallel groups of one. */
export async function stopAll() {
  const procs = [...live].reverse();
  for (const proc of procs) await stopProcess(proc);
}

/** Signals every live child at once, synchronously (last resort on exit). */
export function killAllNow() {
  for (const proc of live) {
    try {
      proc.child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * Runs a command to completion (a load generator). Output is collected; the child is
 * registered so an interrupt stops it. When `stopWhen` resolves first, the child gets SIGINT
 * (wrk and bench/lib/autocannon-child.mjs then end early and print their figures).
 */
export async function runCommand(name, command, args, { env, cwd, onStart, stopWhen } = {}) {
  const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const proc = { name, child, pid: child.pid, running: true };
  live.add(proc);
  void stopWhen?.then(() => {
    if (proc.running) child.kill('SIGINT');
  });
  proc.exited = once(child, 'close').then(([code, signal]) => ({ code, signal }));
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  const failed = once(child, 'error').then(([error]) => ({ code: null, signal: null, error }));
  onStart?.(child.pid);
  const { code, signal, error } = await Promise.race([proc.exited, failed]);
  proc.running = false;
  live.delete(proc);
  if (error) throw new Error(`${name}: ${error.message}`);
  return { code, signal, stdout, stderr };
}

/**
 * A peer of ../shared/peers: the one already answering (`answers()`), or one its `script` starts
 * (which installs Debian's package; it needs root). Resolves with `stop`, which stops the peer
 * only if this run started it, or with undefined, after a warning, when neither works.
 */
export async function ensurePeer({ name, script, url, answers }, warn) {
  if (await answers()) return { stop: async () => {} };
  if (!existsSync(script)) {
    warn(`no ${name} answers at ${url} and ${script} does not exist: skipping the ${name} peer`);
    return undefined;
  }
  const { code, stderr, stdout } = await runCommand(basename(script), 'bash', [script, 'start']);
  if (code !== 0 || !(await answers())) {
    warn(`could not start the ${name} peer (${script} start exited with ${code}): ${(stderr || stdout).trim()}`);
    return undefined;
  }
  return {
    stop: async () => {
      await runCommand(basename(script), 'bash', [script, 'stop']);
    },
  };
}
