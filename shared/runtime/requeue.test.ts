import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { Requeue } from "./requeue.ts";

describe("Requeue", () => {
  it("runs work after its delay, once per key, the sooner request winning", async () => {
    const q = new Requeue();
    const ran: string[] = [];
    q.after("a", 60, () => ran.push("a late"));
    q.after("a", 10, () => ran.push("a soon"));
    q.after("a", 80, () => ran.push("a later still"));
    q.after("b", 20, () => ran.push("b"));
    expect(q.has("a")).toBe(true);
    await sleep(120);
    expect(ran).toEqual(["a soon", "b"]);
    expect(q.has("a")).toBe(false);
  });

  it("drops what waits on stop, and takes nothing after", async () => {
    const q = new Requeue();
    const ran: string[] = [];
    q.after("a", 10, () => ran.push("a"));
    q.stop();
    q.after("b", 1, () => ran.push("b"));
    await sleep(40);
    expect(ran).toEqual([]);
  });
});
