/**
 * A real process of the sandbox: started with its output in a log file, probed until ready,
 * stopped (SIGTERM, then SIGKILL), paused and resumed. Every live process is tracked, and all of
 * them are SIGKILLed if the Node process exits without stopping them.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { ProcessStartError } from "../shared/errors.ts";

export interface ProcessSpec {
  /** Name used in errors and logs, e.g. `redis-1` or `kube-apiserver`. */
  name: string;
  command: string;
  args: string[];
  logFile: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Resolves true once the process serves; called repeatedly until then. */
  ready: () => Promise<boolean>;
  readyTimeoutMs?: number;
  stopTimeoutMs?: number;
  /** Called with the pid right after spawning, before the readiness probe (e.g. to enter a cgroup). */
  onSpawn?: (pid: number) => void;
}

const live = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

/**
 * The fields of /proc/<pid>/stat from field 3 (state) on: index i is field i + 3. The command
 * (field 2) may hold spaces and parentheses, so they start after its last ")". Throws when the
 * process is gone.
 */
export function procStat(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** The niceness of a running process (field 19 of /proc/<pid>/stat). */
export function nicenessOf(pid: number): number {
  return Number(procStat(pid)[16]);
}

/** Whether `n` is a niceness setpriority(2) accepts: an integer from -20 to 19. */
export function isNiceness(n: number): boolean {
  return Number.isInteger(n) && n >= -20 && n <= 19;
}

/** Pids of every process the sandbox started and has not seen exit. */
export function livePids(): number[] {
  return [...live].flatMap((c) => (c.pid === undefined ? [] : [c.pid]));
}

export function logTail(file: string, lines = 20): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

export class ManagedProcess {
  readonly spec: ProcessSpec;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #paused = false;

  constructor(spec: ProcessSpec) {
    this.spec = spec;
  }

  get name(): string {
    return this.spec.name;
  }
  get pid(): number | undefined {
    return this.#child?.pid;
  }
  /** Exit code of the last run (null while running, or when it died by a signal). */
  get exitCode(): number | null {
    return this.#child?.exitCode ?? null;
  }
  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }
  get paused(): boolean {
    return this.#paused;
  }

  async start(): Promise<void> {
    if (this.running) return;
    const { name, command, args, logFile, cwd, env, ready, readyTimeoutMs = 30_000 } = this.spec;
    const fd = openSync(logFile, "a");
    let child: ChildProcess;
    try {
      child = spawn(command, args, { cwd, env: env ?? process.env, stdio: ["ignore", fd, fd] });
    } finally {
      closeSync(fd);
    }
    this.#child = child;
    this.#paused = false;
    live.add(child);
    if (child.pid !== undefined && this.spec.onSpawn) {
      try {
        this.spec.onSpawn(child.pid);
      } catch (err) {
        child.kill("SIGKILL");
        throw new ProcessStartError(name, `could not be set up after spawning (${(err as Error).message})`, "", { cause: err });
      }
    }
    let spawnError: Error | undefined;
    this.#exited = new Promise<void>((resolve) => {
      child.once("error", (err) => {
        spawnError = err;
        live.delete(child);
        resolve();
      });
      child.once("exit", () => {
        live.delete(child);
        resolve();
      });
    });
    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
      if (spawnError) throw new ProcessStartError(name, `could not be spawned (${spawnError.message})`, "", { cause: spawnError });
      if (!this.running) {
        const how = child.signalCode ? `signal ${child.signalCode}` : `exit code ${String(child.exitCode)}`;
        throw new ProcessStartError(name, `exited while starting (${how}); log: ${logFile}`, logTail(logFile));
      }
      if (await ready().catch(() => false)) return;
      if (Date.now() > deadline) {
        await this.kill();
        throw new ProcessStartError(name, `not ready after ${readyTimeoutMs} ms; log: ${logFile}`, logTail(logFile));
      }
      await sleep(50);
    }
  }

  /** SIGTERM (or `signal`), then SIGKILL after stopTimeoutMs. Resolves once the process is gone. */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const child = this.#child;
    if (!child || !this.running) return this.#exited;
    if (this.#paused) child.kill("SIGCONT");
    child.kill(signal);
    const timeout = this.spec.stopTimeoutMs ?? 5_000;
    const gone = await Promise.race([this.#exited.then(() => true), sleep(timeout).then(() => false)]);
    if (!gone) child.kill("SIGKILL");
    await this.#exited;
    this.#paused = false;
  }

  /** SIGKILL: the process dies at once, as in a crash. */
  async kill(): Promise<void> {
    if (this.running) this.#child?.kill("SIGKILL");
    await this.#exited;
    this.#paused = false;
  }

  /** SIGSTOP: the process hangs (still holds its sockets) until resume(). */
  pause(): void {
    if (this.running) {
      this.#child?.kill("SIGSTOP");
      this.#paused = true;
    }
  }

  resume(): void {
    if (this.running) {
      this.#child?.kill("SIGCONT");
      this.#paused = false;
    }
  }

  /** Resolves when the process has exited (at once if it is not running). */
  exited(): Promise<void> {
    return this.#exited;
  }
}
