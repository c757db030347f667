/**
 * RSS and CPU of processes, sampled from /proc every few hundred ms: VmRSS and RssAnon from
 * /proc/<pid>/status, utime + stime from /proc/<pid>/stat, and the time their threads spent
 * runnable but waiting for a CPU (the run queue) from /proc/<pid>/task/<tid>/schedstat. A target is a name and the pids it has
 * now (one process, or a group such as every redis-server, summed); a pid that goes away or a new
 * one that appears (a restarted process) is handled by accumulating per-pid CPU deltas, so the
 * cumulative CPU of a target never goes backwards. Figures are read for any time window afterwards.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { procStat } from "../../sandbox/process.ts";

export interface SamplerTarget {
  name: string;
  /** The pids of this target right now (empty while it is not running). */
  pids: () => number[];
  /** Sample only every n-th tick (for large groups). Default 1. */
  every?: number;
}

export interface Sample {
  /** performance.now() */
  at: number;
  /** Sum of VmRSS over the target's pids, KiB. */
  rssKiB: number;
  /**
   * Sum of RssAnon, KiB: the part of the RSS that is the process's own memory (heap, stacks, JIT
   * code); the rest is file pages (its binary and libraries), shared with every process that maps
   * the same file and given back by the kernel under memory pressure.
   */
  anonKiB: number;
  /** Cumulative CPU seconds (user + system) since the sampler first saw the target. */
  cpuSeconds: number;
  /** Cumulative seconds its threads were runnable but waited for a CPU, since the sampler first saw the target. */
  runQueueSeconds: number;
  /** Number of live pids at this sample. */
  processes: number;
}

export interface WindowFigures {
  name: string;
  /** RSS at the first sample of the window, MiB. */
  rssStartMiB: number;
  peakRssMiB: number;
  rssEndMiB: number;
  /** The largest RssAnon in the window, MiB. */
  peakAnonMiB: number;
  cpuSeconds: number;
  /**
   * Seconds its threads were runnable but not running (waiting for a CPU) in the window, summed
   * over threads; a thread that ended takes its share with it, so this is a lower bound.
   */
  runQueueSeconds: number;
  /** CPU seconds / wall seconds of the window, in % of one core. */
  avgCpuPercent: number;
  /** Highest CPU % of one core over any >= 1 s stretch of the window. */
  peakCpuPercent1s: number;
  samples: number;
}

function clockTicks(): number {
  try {
    const n = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
}

/** utime + stime of one pid in clock ticks, or undefined when it is gone. */
function cpuTicks(pid: number): number | undefined {
  try {
    const rest = procStat(pid);
    return Number(rest[11]) + Number(rest[12]); // fields 14 (utime) and 15 (stime)
  } catch {
    return undefined;
  }
}

/**
 * Nanoseconds the threads of one pid have waited on a run queue (the second field of each
 * /proc/<pid>/task/<tid>/schedstat), or undefined when it is gone or the kernel has no schedstat.
 */
function runQueueNs(pid: number): number | undefined {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[1]);
      } catch {
        // a thread that ended between the listing and the read
      }
    }
    return ns;
  } catch {
    return undefined;
  }
}

/** VmRSS and RssAnon of one pid in KiB, or undefined when it is gone (or a zombie). */
function memoryKiB(pid: number): { rss: number; anon: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const rss = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    const anon = /^RssAnon:\s+(\d+)\s+kB/m.exec(status);
    return rss && anon ? { rss: Number(rss[1]), anon: Number(anon[1]) } : undefined;
  } catch {
    return undefined;
  }
}

interface TargetState {
  target: SamplerTarget;
  lastTicks: Map<number, number>;
  cumulativeTicks: number;
  lastWaitNs: Map<number, number>;
  cumulativeWaitNs: number;
  series: Sample[];
}

export class ProcessSampler {
  readonly intervalMs: number;
  readonly #ticksPerSecond = clockTicks();
  readonly #targets = new Map<string, TargetState>();
  #timer: NodeJS.Timeout | undefined;
  #tick = 0;

  constructor(intervalMs = 200) {
    this.intervalMs = intervalMs;
  }

  add(target: SamplerTarget): void {
    if (!this.#targets.has(target.name))
      this.#targets.set(target.name, {
        target,
        lastTicks: new Map(),
        cumulativeTicks: 0,
        lastWaitNs: new Map(),
        cumulativeWaitNs: 0,
        series: [],
      });
  }

  get names(): string[] {
    return [...this.#targets.keys()];
  }

  start(): void {
    if (this.#timer) return;
    this.sampleNow();
    this.#timer = setInterval(() => this.sampleNow(), this.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Takes one sample of every target (also called by the timer). */
  sampleNow(): void {
    const tick = this.#tick++;
    for (const state of this.#targets.values()) {
      if (tick % (state.target.every ?? 1) !== 0) continue;
      const at = performance.now();
      let rss = 0;
      let anon = 0;
      let live = 0;
      const seen = new Map<number, number>();
      const waited = new Map<number, number>();
      const first = state.series.length === 0;
      for (const pid of state.target.pids()) {
        const ticks = cpuTicks(pid);
        const memory = memoryKiB(pid);
        if (ticks === undefined || memory === undefined) continue;
        live++;
        rss += memory.rss;
        anon += memory.anon;
        seen.set(pid, ticks);
        // A pid seen for the first time: all its CPU happened since it started (after the sampler did,
        // or before it: then it counts in the first sample's baseline, which windows subtract).
        const before = state.lastTicks.get(pid) ?? (first ? ticks : 0);
        state.cumulativeTicks += Math.max(0, ticks - before);
        const ns = runQueueNs(pid);
        if (ns === undefined) continue;
        waited.set(pid, ns);
        // the same for the wait; a sum that went down lost an ended thread: count from the new sum on
        state.cumulativeWaitNs += Math.max(0, ns - (state.lastWaitNs.get(pid) ?? (first ? ns : 0)));
      }
      state.lastTicks = seen;
      state.lastWaitNs = waited;
      state.series.push({
        at,
        rssKiB: rss,
        anonKiB: anon,
        cpuSeconds: state.cumulativeTicks / this.#ticksPerSecond,
        runQueueSeconds: state.cumulativeWaitNs / 1e9,
        processes: live,
      });
    }
  }

  series(name: string): Sample[] {
    return this.#targets.get(name)?.series ?? [];
  }

  /** Figures of one target between `from` and `to` (performance.now() values). */
  window(name: string, from: number, to: number): WindowFigures | undefined {
    const all = this.series(name);
    // the last sample before the window is its CPU baseline
    const startIdx = Math.max(0, all.findIndex((s) => s.at >= from) - 1);
    const inside = all.filter((s, i) => i >= startIdx && s.at <= to);
    if (inside.length < 2) return undefined;
    const first = inside[0]!;
    const last = inside.at(-1)!;
    const mib = (k: number) => Math.round((k / 1024) * 10) / 10;
    const cpu = last.cpuSeconds - first.cpuSeconds;
    const wall = (last.at - first.at) / 1000;
    // highest rate over the shortest stretch of at least 1 s ending at each sample
    let peak1s = 0;
    let j = 0;
    for (let i = 1; i < inside.length; i++) {
      while (j + 1 < i && inside[i]!.at - inside[j + 1]!.at >= 1000) j++;
      const dt = (inside[i]!.at - inside[j]!.at) / 1000;
      if (dt >= 1) peak1s = Math.max(peak1s, ((inside[i]!.cpuSeconds - inside[j]!.cpuSeconds) / dt) * 100);
    }
    if (wall < 1) peak1s = (cpu / (wall || 1)) * 100;
    return {
      name,
      rssStartMiB: mib(first.rssKiB),
      peakRssMiB: mib(Math.max(...inside.map((s) => s.rssKiB))),
      rssEndMiB: mib(last.rssKiB),
      peakAnonMiB: mib(Math.max(...inside.map((s) => s.anonKiB))),
      cpuSeconds: Math.round(cpu * 100) / 100,
      runQueueSeconds: Math.round((last.runQueueSeconds - first.runQueueSeconds) * 100) / 100,
      avgCpuPercent: Math.round((cpu / (wall || 1)) * 1000) / 10,
      peakCpuPercent1s: Math.round(peak1s * 10) / 10,
      samples: inside.length,
    };
  }
}

/** Reads the pid of a process (or undefined) as a target's pid list. */
export function pidsOf(...procs: { pid: number | undefined; running: boolean }[]): () => number[] {
  return () => procs.flatMap((p) => (p.running && p.pid !== undefined ? [p.pid] : []));
}

/** Cumulative CPU ticks of the whole machine from /proc/stat: busy (not idle, not iowait) and total. */
export function machineTicks(): { busy: number; total: number } {
  try {
    const cpu = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0); // user nice system idle iowait irq softirq steal
    return { busy: total - cpu[3]! - cpu[4]!, total };
  } catch {
    return { busy: 0, total: 0 };
  }
}

/** Busy % of the whole machine (100 = every core busy) between two machineTicks() readings. */
export function machineBusyPercent(a: { busy: number; total: number }, b: { busy: number; total: number }): number {
  const total = b.total - a.total;
  return total > 0 ? Math.round(((b.busy - a.busy) / total) * 1000) / 10 : Number.NaN;
}
