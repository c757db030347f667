import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { availableParallelism } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { ProcessSampler } from "./proc-sampler.ts";
import type { WindowFigures } from "./proc-sampler.ts";

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill("SIGKILL");
});

/** A process that spins on one thread until it is killed. */
function spinner(): number {
  const child = spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" });
  children.push(child);
  return child.pid!;
}

/** Samples `targets` every 50 ms for 1.5 s; each one's figures over that window. */
async function sampled(targets: Record<string, () => number[]>): Promise<Record<string, WindowFigures>> {
  const sampler = new ProcessSampler(50);
  for (const [name, pids] of Object.entries(targets)) sampler.add({ name, pids });
  sampler.start();
  const from = performance.now();
  await sleep(1500);
  const to = performance.now();
  sampler.stop();
  return Object.fromEntries(Object.keys(targets).map((name) => [name, sampler.window(name, from, to)!]));
}

describe("ProcessSampler", () => {
  it("counts CPU and the time runnable threads waited for a CPU, over a window", async () => {
    // Twice as many spinners as cores: each can run at most about half the time and waits the rest.
    const pids = Array.from({ length: 2 * availableParallelism() }, spinner);
    const { spinners: spin, idle } = await sampled({ spinners: () => pids, idle: () => [process.pid] });
    // Wall ~1.5 s on every core: the spinners' CPU is most of cores x 1.5 s, and they waited about as long.
    expect(spin!.cpuSeconds).toBeGreaterThan(0.5 * availableParallelism());
    expect(spin!.runQueueSeconds).toBeGreaterThan(0.5 * availableParallelism());
    // This process mostly sleeps: it can hardly have waited for a CPU as long as the spinners did.
    expect(idle!.runQueueSeconds).toBeLessThan(spin!.runQueueSeconds / 4);
  });

  it("reads the anonymous part of the RSS apart from the file pages", async () => {
    // 128 MiB written in a Buffer outside V8's heap: anonymous memory the process itself touched.
    const child = spawn(process.execPath, ["-e", "const b = Buffer.alloc(128 * 2 ** 20, 1); setInterval(() => b[0]++, 1000);"], {
      stdio: "ignore",
    });
    children.push(child);
    const { holder } = await sampled({ holder: () => [child.pid!] });
    expect(holder!.peakAnonMiB).toBeGreaterThan(128);
    // node's own binary is mapped from a file: part of the RSS, not of the anonymous memory.
    expect(holder!.peakRssMiB).toBeGreaterThan(holder!.peakAnonMiB + 10);
  });
});
