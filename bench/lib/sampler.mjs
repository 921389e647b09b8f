// Samples memory (VmRSS every 100 ms) and CPU time of the processes under test from /proc,
// plus the CPU time of Postgres and Redis and of the whole machine, over one measured window.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { clearInterval, setInterval } from 'node:timers';

const SAMPLE_MS = 100;
/** Postgres and Redis processes are rediscovered every this many samples. */
const SCAN_EVERY = 5;
const SERVERS = { postgres: 'postgres', 'redis-server': 'redis' };
/** Groups of processes outside the benchmark, in report order. */
export const GROUPS = ['postgres', 'redis', 'kernel', 'others'];

let clkTck = 100;
try {
  clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  // keep the usual 100
}

export const procAvailable = (() => {
  try {
    readFileSync('/proc/self/status');
    return true;
  } catch {
    return false;
  }
})();

/** VmRSS and VmHWM of a process, in bytes (undefined if it is gone). */
export function readMemory(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name) => {
      const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
      return m ? Number(m[1]) * 1024 : undefined;
    };
    return { rss: field('VmRSS'), hwm: field('VmHWM') };
  } catch {
    return undefined;
  }
}

/** utime + stime (clock ticks) and parent pid of a process; undefined if it is gone. */
function readStat(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = text.lastIndexOf(')');
    const comm = text.slice(text.indexOf('(') + 1, close);
    const fields = text.slice(close + 2).split(' ');
    // fields[0] is field 3 (state): ppid is field 4, utime and stime are fields 14 and 15.
    return { comm, ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return undefined;
  }
}

const readTicks = (pid) => readStat(pid)?.ticks;

/** Busy, irq+softirq and total ticks of the whole machine. */
function readSystem() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = v[3] + (v[4] ?? 0);
  return { busy: total - idle, irq: (v[5] ?? 0) + (v[6] ?? 0), total };
}

/**
 * Every other process on the machine, grouped: postgres, redis, kernel (kernel threads: network,
 * memory reclaim… mostly work our load causes) and others (someone else's build or tests).
 */
function scanProcesses(skip) {
  const found = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (skip.has(pid)) continue;
    const stat = readStat(pid);
    if (stat === undefined) continue;
    const group = SERVERS[stat.comm] ?? (pid === 2 || stat.ppid === 2 ? 'kernel' : 'others');
    found.push({ pid, group, ticks: stat.ticks });
  }
  return found;
}

/** The processes whose parent is `pid` (a gateway's forked workers), from /proc. */
export function childrenOf(pid) {
  const children = [];
  for (const entry of readdirSync('/proc')) {
    if (/^\d+$/.test(entry) && readStat(Number(entry))?.ppid === pid) children.push(Number(entry));
  }
  return children;
}

/** RSS of a group of processes: the sum of their VmRSS (bytes), 0 for those gone. */
function groupRss(pids) {
  return pids.reduce((a, pid) => a + (readMemory(pid)?.rss ?? 0), 0);
}

/**
 * One measured window. `targets` maps a name (gateway, api, worker, anchor, ...) to a pid, or to
 * the pids of a group measured as one (a gateway's primary and its workers: RSS and CPU summed);
 * more can be added while it runs (the load generator, once spawned).
 */
export class Sampler {
  constructor(targets) {
    this.targets = new Map();
    this.servers = new Map();
    this.timer = undefined;
    this.count = 0;
    if (!procAvailable) return;
    this.startedAt = performance.now();
    this.system0 = readSystem();
    this.self0 = process.cpuUsage();
    for (const [name, pid] of Object.entries(targets)) if (pid !== undefined) this.add(name, pid, false);
    for (const { pid, group, ticks } of scanProcesses(this.skip()))
      this.servers.set(pid, { group, first: ticks, last: ticks });
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
    this.timer.unref();
  }

  /** Tracks one more process (or group); `fresh` says it started inside the window (its CPU counts from 0). */
  add(name, pidOrPids, fresh = true) {
    if (!procAvailable || pidOrPids === undefined) return;
    const pids = [pidOrPids].flat();
    const ticks = new Map(pids.map((pid) => [pid, readTicks(pid) ?? 0]));
    const rss = groupRss(pids);
    this.targets.set(name, {
      pids,
      first: new Map(pids.map((pid) => [pid, fresh ? 0 : ticks.get(pid)])),
      last: ticks,
      startRss: rss,
      peakRss: rss,
    });
  }

  sample() {
    this.count++;
    for (const t of this.targets.values()) {
      const rss = groupRss(t.pids);
      if (rss > t.peakRss) t.peakRss = rss;
      for (const pid of t.pids) {
        const ticks = readTicks(pid);
        if (ticks !== undefined) t.last.set(pid, ticks);
      }
    }
    if (this.count % SCAN_EVERY === 0) this.sampleServers();
  }

  /** Pids measured on their own: the targets and this process. */
  skip() {
    const pids = new Set([process.pid]);
    for (const t of this.targets.values()) for (const pid of t.pids) pids.add(pid);
    return pids;
  }

  sampleServers() {
    for (const { pid, group, ticks } of scanProcesses(this.skip())) {
      const known = this.servers.get(pid);
      if (known) known.last = ticks;
      else this.servers.set(pid, { group, first: 0, last: ticks });
    }
  }

  /** Ends the window: peak RSS (bytes) per target and CPU use as % of one core per group. */
  stop() {
    if (!procAvailable) return { windowMs: 0, peakRss: {}, startRss: {}, cpu: {} };
    clearInterval(this.timer);
    this.sample();
    this.sampleServers();
    const windowMs = performance.now() - this.startedAt;
    const seconds = windowMs / 1000;
    const pct = (ticks) => Math.round((ticks / clkTck / seconds) * 100 * 10) / 10;
    const peakRss = {};
    const startRss = {};
    const cpu = {};
    let counted = 0;
    for (const [name, t] of this.targets) {
      peakRss[name] = t.peakRss;
      startRss[name] = t.startRss;
      const used = t.pids.reduce((a, pid) => a + Math.max(0, t.last.get(pid) - t.first.get(pid)), 0);
      counted += used;
      cpu[name] = pct(used);
    }
    const groups = Object.fromEntries(GROUPS.map((g) => [g, 0]));
    const skip = this.skip();
    for (const [pid, s] of this.servers) {
      if (!skip.has(pid)) groups[s.group] += Math.max(0, s.last - s.first);
    }
    // A server measured as a target (redis-server for the raw Redis limit) stays in its group's column.
    for (const [group, ticks] of Object.entries(groups)) {
      counted += ticks;
      cpu[group] = (cpu[group] ?? 0) + pct(ticks);
    }
    const self = process.cpuUsage(this.self0);
    const selfTicks = ((self.user + self.system) / 1e6) * clkTck;
    counted += selfTicks;
    cpu.runner = pct(selfTicks);
    const system1 = readSystem();
    const busy = system1.busy - this.system0.busy;
    const irq = system1.irq - this.system0.irq;
    cpu.irq = pct(irq);
    counted += irq;
    cpu.machine = pct(busy);
    // Time no process was seen to use: short-lived processes that came and went between scans.
    cpu.unseen = Math.max(0, pct(busy - counted));
    cpu.other = Math.round((cpu.others + cpu.unseen) * 10) / 10;
    return { windowMs: Math.round(windowMs), peakRss, startRss, cpu };
  }
}
