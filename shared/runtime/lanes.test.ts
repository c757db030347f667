import { describe, expect, it } from "vitest";
import { Lanes } from "./lanes.ts";

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("Lanes", () => {
  it("runs one key in order, one at a time, and different keys in parallel", async () => {
    const lanes = new Lanes();
    const log: string[] = [];
    const job = (key: string, id: number, ms: number) =>
      lanes.run(key, async () => {
        log.push(`start ${key}${id}`);
        await tick(ms);
        log.push(`end ${key}${id}`);
      });
    await Promise.all([job("a", 1, 30), job("a", 2, 1), job("b", 1, 5)]);
    expect(log.indexOf("end a1")).toBeLessThan(log.indexOf("start a2"));
    expect(log.indexOf("start b1")).toBeLessThan(log.indexOf("end a1"));
  });

  it("keeps going after a failure in the lane", async () => {
    const lanes = new Lanes();
    await expect(lanes.run("a", () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    await expect(lanes.run("a", () => Promise.resolve(7))).resolves.toBe(7);
    await lanes.idle();
  });
});
