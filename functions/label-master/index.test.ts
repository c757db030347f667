import { describe, expect, it } from "vitest";
import type { V1EndpointSlice, V1Pod } from "@kubernetes/client-node";
import { RetryableError } from "../../shared/errors.ts";
import { fakeContext, fakePod, verifiedMaster } from "../../shared/runtime/testing/index.ts";
import labelMaster, { ROLE_LABEL, WAIT_FOR_SLICE_MS } from "./index.ts";

/** The master Service's EndpointSlice (master-endpoints') naming `ip`. */
const masterSlice = (ip: string): V1EndpointSlice => ({
  apiVersion: "discovery.k8s.io/v1",
  kind: "EndpointSlice",
  metadata: { name: "redis-master-abcde", namespace: "default", labels: { "kubernetes.io/service-name": "redis-master" } },
  addressType: "IPv4",
  endpoints: [{ addresses: [ip] }],
});

const pods = () => [
  fakePod({ name: "redis-0", ip: "198.18.100.10" }),
  fakePod({ name: "redis-1", ip: "198.18.100.11", labels: { [ROLE_LABEL]: "master" } }),
  fakePod({ name: "redis-2", ip: "198.18.100.12" }),
];
const roles = async (ctx: ReturnType<typeof fakeContext>): Promise<Record<string, string | undefined>> =>
  Object.fromEntries(
    (await ctx.caches.pods("default", "redis.failover.io/master=mymaster")).map((p: V1Pod) => [
      p.metadata?.name ?? "",
      p.metadata?.labels?.[ROLE_LABEL],
    ]),
  );

describe("label-master", () => {
  it("labels the quorum's master and demotes every other pod first, recording the epoch", async () => {
    const ctx = fakeContext({ objects: pods() });
    await labelMaster.reconcile(ctx, verifiedMaster({ host: "198.18.100.12", epoch: 4 }));
    expect(await roles(ctx)).toEqual({ "redis-0": "replica", "redis-1": "replica", "redis-2": "master" });
    const order = ctx.kube.applied.map((a) => a.object.metadata?.labels?.[ROLE_LABEL]);
    expect(order.at(-1)).toBe("master");
    expect(order.slice(0, -1).every((r) => r === "replica")).toBe(true);
    expect(
      ctx.kube.applied.every((a) => a.object.metadata?.annotations?.["failover.io/epoch"] === "4" && a.fieldManager === ctx.fieldManager),
    ).toBe(true);
  });

  it("writes nothing when the labels are already right", async () => {
    const ctx = fakeContext({ objects: pods() });
    const master = verifiedMaster({ host: "198.18.100.11", epoch: 2 });
    await labelMaster.reconcile(ctx, master);
    const first = ctx.kube.applied.length;
    await labelMaster.reconcile(ctx, master);
    expect(first).toBe(2);
    expect(ctx.kube.applied).toHaveLength(first);
  });

  it("never overwrites a label written for a newer epoch", async () => {
    const newer = fakePod({
      name: "redis-0",
      ip: "198.18.100.10",
      labels: { [ROLE_LABEL]: "master" },
      annotations: { "failover.io/epoch": "9" },
    });
    const ctx = fakeContext({ objects: [newer, fakePod({ name: "redis-1", ip: "198.18.100.11" })] });
    await labelMaster.reconcile(ctx, verifiedMaster({ host: "198.18.100.11", epoch: 3 }));
    expect((await roles(ctx))["redis-0"]).toBe("master");
  });

  it("relabels only once the master Service's EndpointSlice names the new master (kube-proxy's one sync per second), woken by the slice watch", async () => {
    const ctx = fakeContext({ objects: [...pods(), masterSlice("198.18.100.11")] });
    const master = verifiedMaster({ host: "198.18.100.12", epoch: 5 });
    const t0 = performance.now();
    const running = labelMaster.reconcile(ctx, master);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(ctx.kube.applied).toHaveLength(0); // still waiting for the slice
    ctx.cluster.put(masterSlice("198.18.100.12"));
    expect(await running).toBeUndefined();
    expect(performance.now() - t0).toBeLessThan(WAIT_FOR_SLICE_MS);
    expect((await roles(ctx))["redis-2"]).toBe("master");
  });

  it("relabels anyway once the slice has named another address for WAIT_FOR_SLICE_MS, and does not wait again for that epoch", async () => {
    const ctx = fakeContext({ objects: [...pods(), masterSlice("198.18.100.11")] });
    const master = verifiedMaster({ host: "198.18.100.12", epoch: 6 });
    const t0 = performance.now();
    await labelMaster.reconcile(ctx, master);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(WAIT_FOR_SLICE_MS - 5);
    expect((await roles(ctx))["redis-2"]).toBe("master");
    ctx.cluster.put(fakePod({ name: "redis-3", ip: "198.18.100.13", labels: { [ROLE_LABEL]: "master" } }));
    const t1 = performance.now();
    await labelMaster.reconcile(ctx, master);
    expect(performance.now() - t1).toBeLessThan(100);
    expect((await roles(ctx))["redis-3"]).toBe("replica");
  });

  it("stops waiting for the slice when the process stops, to be retried", async () => {
    const abort = new AbortController();
    const ctx = fakeContext({ objects: [...pods(), masterSlice("198.18.100.11")], signal: abort.signal });
    const running = labelMaster.reconcile(ctx, verifiedMaster({ host: "198.18.100.12", epoch: 7 }));
    abort.abort();
    await expect(running).rejects.toBeInstanceOf(RetryableError);
    expect(ctx.kube.applied).toHaveLength(0);
  });

  it("retries when no pod has the master's address yet", async () => {
    const ctx = fakeContext({ objects: pods() });
    await expect(labelMaster.reconcile(ctx, verifiedMaster({ host: "198.18.100.99" }))).rejects.toBeInstanceOf(RetryableError);
    expect(ctx.kube.applied).toHaveLength(0);
  });
});
