import { describe, expect, it } from "vitest";
import { RetryableError } from "../../shared/errors.ts";
import { fakeContext, fakePod, switchMasterEvent, verifiedMaster } from "../../shared/runtime/testing/index.ts";
import kubeEvents from "./index.ts";

const pods = [fakePod({ name: "redis-0", ip: "198.18.100.10" }), fakePod({ name: "redis-1", ip: "198.18.100.11" })];

describe("kube-events", () => {
  it("records one MasterSwitched Event on the new master's pod and one on the StatefulSet, naming the old master", async () => {
    const ctx = fakeContext({ objects: pods, event: switchMasterEvent({ from: "198.18.100.10", to: "198.18.100.11", epoch: 2 }) });
    await kubeEvents.reconcile(
      ctx,
      verifiedMaster({
        name: "m-events-1",
        host: "198.18.100.11",
        epoch: 2,
        mapping: { podSelector: "redis.failover.io/master=mymaster" },
      }),
    );
    expect(ctx.kube.events.map((e) => [e.regarding?.kind, e.regarding?.name, e.reason])).toEqual([
      ["Pod", "redis-1", "MasterSwitched"],
      ["StatefulSet", "redis", "MasterSwitched"],
    ]);
    expect(ctx.kube.events[0]?.note).toMatch(/was 198\.18\.100\.10:6379/);
    expect(ctx.kube.events[0]?.metadata?.name).toBe("redis-1.m-events-1.epoch-2");
  });

  it("an event for a failover already recorded (409) is no error and adds nothing", async () => {
    const ctx = fakeContext({ objects: pods, event: switchMasterEvent({ from: "198.18.100.10", to: "198.18.100.11", epoch: 2 }) });
    const master = verifiedMaster({
      name: "m-events-2",
      host: "198.18.100.11",
      epoch: 2,
      mapping: { podSelector: "redis.failover.io/master=mymaster" },
    });
    await kubeEvents.reconcile(ctx, master);
    await kubeEvents.reconcile(ctx, master);
    expect(ctx.kube.events).toHaveLength(2);
  });

  it("reports nothing for epoch 0 (the initial configuration)", async () => {
    const ctx = fakeContext({ objects: pods });
    await kubeEvents.reconcile(
      ctx,
      verifiedMaster({
        name: "m-events-3",
        host: "198.18.100.10",
        epoch: 0,
        mapping: { podSelector: "redis.failover.io/master=mymaster" },
      }),
    );
    expect(ctx.kube.events).toHaveLength(0);
  });

  it("retries while no pod has the master's address", async () => {
    const ctx = fakeContext({ objects: pods });
    await expect(kubeEvents.reconcile(ctx, verifiedMaster({ name: "m-events-4", host: "198.18.100.99", epoch: 1 }))).rejects.toBeInstanceOf(
      RetryableError,
    );
  });
});
