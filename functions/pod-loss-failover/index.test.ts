import type { V1Pod } from "@kubernetes/client-node";
import { ReplyError } from "ioredis";
import { describe, expect, it } from "vitest";
import { configOf, fakeContext, fakePod, sentinelMasterReply, verifiedMaster } from "../../shared/runtime/testing/index.ts";
import type { FakeContext } from "../../shared/runtime/testing/index.ts";
import podLossFailover, { podLoss } from "./index.ts";

const config = configOf(podLossFailover, {});
let n = 0;

/** A fresh master name per test: the function keeps per-master state across reconciles. */
function world({
  pod = (p: V1Pod) => p,
  answers = false,
  sentinelFlags = "master",
  sentinelEpoch = 3,
  failoverReply = "OK",
}: {
  pod?: (p: V1Pod) => V1Pod | undefined;
  answers?: boolean | "reply-error";
  sentinelFlags?: string;
  sentinelEpoch?: number;
  failoverReply?: unknown;
} = {}): { ctx: FakeContext<typeof config>; master: ReturnType<typeof verifiedMaster>; setPod: (p: V1Pod | undefined) => void } {
  const name = `m-loss-${++n}`;
  const running = fakePod({ name: "redis-0", ip: "198.18.100.10", master: name });
  running.status = {
    ...running.status,
    containerStatuses: [{ name: "redis", ready: true, restartCount: 0, image: "r", imageID: "r", state: { running: {} } }],
  };
  const first = pod(structuredClone(running));
  const ctx = fakeContext({
    objects: first ? [first] : [],
    config,
    sentinels: {
      replies: (_i, args) => {
        if (args[0] === "MASTER")
          return sentinelMasterReply({ name, ip: "198.18.100.10", port: 6379, flags: sentinelFlags, "config-epoch": sentinelEpoch });
        if (args[0] === "FAILOVER") return failoverReply;
        return undefined;
      },
    },
    redis:
      answers === false
        ? {}
        : {
            "198.18.100.10:6379": () => {
              if (answers === "reply-error")
                // ioredis types ReplyError as `any`: it is the class of a server's error reply.
                throw new (ReplyError as new (message: string) => Error)("LOADING Redis is loading the dataset in memory");
              return "PONG";
            },
          },
  });
  const master = verifiedMaster({ name, host: "198.18.100.10", epoch: 3 });
  return {
    ctx,
    master,
    setPod: (p) => {
      ctx.cluster.delete("Pod", "default", "redis-0");
      if (p) ctx.cluster.put(p);
    },
  };
}

const failovers = (ctx: FakeContext<typeof config>) => ctx.sentinels.callsOf("FAILOVER");

describe("podLoss", () => {
  const base = fakePod({ name: "redis-0", ip: "198.18.100.10" });
  const withState = (state: object, extra: Partial<V1Pod["metadata"]> = {}): V1Pod => ({
    ...base,
    metadata: { ...base.metadata, ...extra },
    status: { ...base.status, containerStatuses: [{ name: "redis", ready: false, restartCount: 1, image: "r", imageID: "r", state }] },
  });

  it("is lost in CrashLoopBackOff, when ended, and when being deleted with redis stopped", () => {
    expect(podLoss(withState({ waiting: { reason: "CrashLoopBackOff" } }), "redis")).toMatch(/CrashLoopBackOff/);
    expect(podLoss({ ...base, status: { phase: "Failed" } }, "redis")).toMatch(/ended \(phase Failed\)/);
    expect(podLoss(withState({ terminated: { exitCode: 137 } }, { deletionTimestamp: new Date() }), "redis")).toMatch(/being deleted/);
  });

  it("is not lost while redis runs (even in a pod being deleted: its preStop hands over), nor when it just exited (the kubelet restarts it)", () => {
    expect(podLoss(withState({ running: {} }), "redis")).toBeUndefined();
    expect(podLoss(withState({ running: {} }, { deletionTimestamp: new Date() }), "redis")).toBeUndefined();
    expect(podLoss(withState({ terminated: { exitCode: 137 } }), "redis")).toBeUndefined();
    expect(podLoss(withState({ waiting: { reason: "ContainerCreating" } }), "redis")).toBeUndefined();
  });
});

describe("pod-loss-failover", () => {
  it("starts a failover on one Sentinel when the master's pod it saw is deleted and the master does not answer", async () => {
    const { ctx, master, setPod } = world();
    await podLossFailover.reconcile(ctx, master);
    expect(failovers(ctx)).toHaveLength(0); // the pod runs
    setPod(undefined);
    await podLossFailover.reconcile(ctx, master);
    expect(failovers(ctx)).toEqual([{ index: 0, args: ["FAILOVER", master.name] }]);
    expect(ctx.recorded.map((e) => [e.type, e.reason, e.target.kind, e.target.name])).toEqual([
      ["Warning", "FailoverStarted", "StatefulSet", "redis"],
    ]);
    expect(ctx.recorded[0]?.note).toMatch(/does not answer and Kubernetes shows its pod was deleted/);
    // Once per master and epoch: a second wake (the pod recreated, the resync) asks no Sentinel again.
    await podLossFailover.reconcile(ctx, master);
    expect(failovers(ctx)).toHaveLength(1);
  });

  it("never fails over a master that answers, an error reply included; it looks again soon", async () => {
    for (const answers of [true, "reply-error"] as const) {
      const { ctx, master, setPod } = world({ answers });
      await podLossFailover.reconcile(ctx, master);
      setPod(undefined);
      expect(await podLossFailover.reconcile(ctx, master)).toEqual({ requeueAfterMs: 100 });
      expect(failovers(ctx)).toHaveLength(0);
    }
  });

  it("does nothing for a pod it never saw at that address (a wrong selector is not a death)", async () => {
    const { ctx, master } = world({ pod: () => undefined });
    await podLossFailover.reconcile(ctx, master);
    expect(failovers(ctx)).toHaveLength(0);
    expect(ctx.redis.calls).toHaveLength(0);
  });

  it("leaves a failover a Sentinel already runs (the preStop's, Sentinel's own) or a newer epoch alone", async () => {
    for (const opts of [{ sentinelFlags: "master,s_down,failover_in_progress" }, { sentinelEpoch: 4 }]) {
      const { ctx, master } = world({ ...opts, pod: (p) => ({ ...p, status: { ...p.status, phase: "Failed" } }) });
      await podLossFailover.reconcile(ctx, master);
      expect(failovers(ctx)).toHaveLength(0);
    }
  });

  it("asks the next Sentinel when one refuses, and looks again soon when none accepts", async () => {
    const { ctx, master } = world({ failoverReply: null, pod: (p) => ({ ...p, status: { ...p.status, phase: "Failed" } }) });
    expect(await podLossFailover.reconcile(ctx, master)).toEqual({ requeueAfterMs: 200 });
    expect(failovers(ctx).map((c) => c.index)).toEqual([0, 1, 2]);
  });

  it("stops trying once the loss is older than POD_LOSS_WINDOW_MS", async () => {
    const { ctx, master } = world({ answers: true, pod: (p) => ({ ...p, status: { ...p.status, phase: "Failed" } }) });
    ctx.config = { ...config, POD_LOSS_WINDOW_MS: 100 };
    expect(await podLossFailover.reconcile(ctx, master)).toEqual({ requeueAfterMs: 100 });
    await new Promise((r) => setTimeout(r, 150));
    expect(await podLossFailover.reconcile(ctx, master)).toBeUndefined();
    expect(ctx.redis.calls).toHaveLength(1);
  });

  it("names the bad setting", () => {
    expect(() => configOf(podLossFailover, { POD_LOSS_PROBE_TIMEOUT_MS: "soon" })).toThrow(/POD_LOSS_PROBE_TIMEOUT_MS/);
  });
});
