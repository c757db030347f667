import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { processCpuMs, processTreeCpuMs } from "./cpu-share.ts";

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill("SIGKILL");
});

/** A node process that spins nothing itself and runs `child` (a spin of `ms`) with `how`; the parent then idles. */
function parentOf(how: "spawn" | "spawnSync", ms: number): number {
  const script = `
    const cp = require("node:child_process");
    cp.${how}(process.execPath, ["-e", "const end = Date.now() + ${ms}; while (Date.now() < end) {}"], { stdio: "ignore" });
    setInterval(() => {}, 1000);`;
  const parent = spawn(process.execPath, ["-e", script], { stdio: "ignore" });
  children.push(parent);
  return parent.pid!;
}

describe("processTreeCpuMs", () => {
  it("counts the work of a live child and of a reaped one, which the process's own figure does not", async () => {
    // Each spinner ends by itself (3 s, 600 ms), also when the test fails.
    const live = parentOf("spawn", 3000);
    const reaped = parentOf("spawnSync", 600);
    await sleep(1500);
    for (const pid of [live, reaped]) expect(processCpuMs(pid)).toBeLessThan(300);
    // ~1.3 s of spinning so far (less on a busy machine), and 600 ms reaped.
    expect(processTreeCpuMs(live) - processCpuMs(live)).toBeGreaterThan(400);
    expect(processTreeCpuMs(reaped) - processCpuMs(reaped)).toBeGreaterThan(400);
  });
});
