/**
 * pod-loss-failover on real processes: real Sentinels (down-after 20 s, so no failover here can be
 * Sentinel's own detection), redis-servers, NATS and kube-apiserver. Stand-in, named in the README:
 * the pods are written by the sandbox, as a kubelet would; deleting one is what Kubernetes shows
 * when a pod goes without its preStop. The real node's kubelet: failover-on-node.
 *  - a pod deleted while its master still answers: the function looks, and starts no failover;
 *  - the master SIGKILLed and its pod deleted: a failover starts at once (a Warning Event says so),
 *    the new master within seconds, not the 20 s Sentinel would wait.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSandbox, waitFor } from "../../sandbox/index.ts";
import type { Sandbox } from "../../sandbox/index.ts";
import { startProject } from "../../sandbox/project.ts";
import type { Project } from "../../sandbox/project.ts";
import { eventsFor } from "../support/kube-state.ts";
import { SERVER } from "../support/server-family.ts";

const DOWN_AFTER_MS = 20_000;
let sb: Sandbox;
let project: Project;

beforeAll(async () => {
  sb = await startSandbox({ server: SERVER, downAfterMs: DOWN_AFTER_MS, failoverTimeoutMs: 10_000 });
  project = await startProject(sb, { functions: ["pod-loss-failover"], resyncIntervalMs: 60_000 });
});

afterAll(async () => {
  await project?.stop();
  await sb?.stop();
});

/** A counter of pod-loss-failover's /metrics (summed over its labels). */
async function counter(name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${project.httpPort("pod-loss-failover")}/metrics`)).text();
  return text
    .split("\n")
    .filter((l) => l.startsWith(`${name}{`) && l.includes('fn="pod-loss-failover"'))
    .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
}

const failoverStarted = async () => (await eventsFor(sb, "redis")).filter((e) => e.reason === "FailoverStarted");

describe("pod-loss-failover", () => {
  it("starts no failover when the master's pod is deleted but the master still answers", async () => {
    const before = await sb.currentMaster("mymaster");
    const r = sb.redisAt(before.address)!;
    const requeues = await counter("failover_requeues_total");
    const restore = await sb.deleteRedisPod(r);
    try {
      // It saw the loss and probed: a master that answers is looked at again every 100 ms.
      await waitFor(
        "pod-loss-failover looking again at a master that answers",
        async () => (await counter("failover_requeues_total")) >= requeues + 3,
        {
          timeoutMs: 10_000,
        },
      );
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const now = await sb.currentMaster("mymaster");
      expect([now.host, now.epoch]).toEqual([before.host, before.epoch]);
      expect(await failoverStarted()).toEqual([]);
    } finally {
      await restore();
    }
  });

  it("fails over at once when the master is SIGKILLed and its pod deleted, and says so in a Warning Event", async () => {
    await sb.waitSettled();
    const before = await sb.currentMaster("mymaster");
    const r = sb.redisAt(before.address)!;
    const killedAt = performance.now();
    await r.process.kill();
    const restore = await sb.deleteRedisPod(r);
    try {
      const now = await sb.waitForNewMaster("mymaster", before.address, { timeoutMs: DOWN_AFTER_MS });
      const ms = performance.now() - killedAt;
      expect(now.epoch).toBeGreaterThan(before.epoch);
      // Sentinel alone cannot name a new master before down-after (20 s) has passed.
      expect(ms).toBeLessThan(DOWN_AFTER_MS / 4);
      const events = await failoverStarted();
      expect(events).toHaveLength(1);
      expect(events[0]!.type).toBe("Warning");
      expect(events[0]!.note).toContain(`${before.host}:${before.port}`);
      expect(events[0]!.note).toContain("its pod was deleted");
      console.log(
        `pod-loss-failover: SIGKILL + pod deleted -> new master named by a quorum in ${ms.toFixed(0)} ms (down-after ${DOWN_AFTER_MS} ms)`,
      );
      await r.restart({ replicaOf: now.address });
    } finally {
      await restore();
    }
  });
});
