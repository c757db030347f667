import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { processCpuMs, processTreeCpuMs } from "./cpu-share.ts";

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill("SIGKILL");
});

/**
 * A node process that spins nothing itself and runs a child spinning `cpuMs` of its own CPU time
 * (not wall time: a busy machine only makes it take longer), with `how`; then it idles.
 */
function parentOf(how: "spawn" | "spawnSync", cpuMs: number): { pid: number; started: Promise<void> } {
  const spin = `while (process.cpuUsage().user < ${cpuMs * 1000}) {}`;
  const script = `
    require("node:child_process").${how}(process.execPath, ["-e", ${JSON.stringify(spin)}], { stdio: "ignore" });
    console.log("returned");
    setInterval(() => {}, 1000);`;
  const parent = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "ignore"] });
  children.push(parent);
  // spawn returns at once; spawnSync once the child has ended and been reaped.
  const started = new Promise<void>((resolve) => parent.stdout.once("data", () => resolve()));
  return { pid: parent.pid!, started };
}

/** Until the CPU of `pid`'s tree beyond its own exceeds `ms`; false after 15 s. */
async function treeExceeds(pid: number, ms: number): Promise<boolean> {
  for (const end = Date.now() + 15_000; Date.now() < end; await sleep(100)) if (processTreeCpuMs(pid) - processCpuMs(pid) > ms) return true;
  return false;
}

describe("processTreeCpuMs", () => {
  it("counts the work of a live child and of a reaped one, which the process's own figure does not", async () => {
    // Each spinner ends by itself (3 s and 600 ms of CPU), also when the test fails.
    const live = parentOf("spawn", 3000);
    const reaped = parentOf("spawnSync", 600);
    expect(await treeExceeds(live.pid, 400)).toBe(true);
    await reaped.started; // its child is gone: only what the parent reaped can count it now
    expect(processTreeCpuMs(reaped.pid) - processCpuMs(reaped.pid)).toBeGreaterThan(500);
    for (const { pid } of [live, reaped]) expect(processCpuMs(pid)).toBeLessThan(300);
  }, 30_000);
});
