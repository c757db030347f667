import { describe, expect, it } from "vitest";
import { configOf, fakeContext, fakePod, replicaInfo, sentinelMasterReply, verifiedMaster } from "../../shared/runtime/testing/index.ts";
import type { SentinelReplies } from "../../shared/runtime/testing/index.ts";
import sentinelReset, { LOOK_AGAIN_MS } from "./index.ts";

const pods = [
  fakePod({ name: "redis-0", ip: "198.18.100.10" }),
  fakePod({ name: "redis-1", ip: "198.18.100.11" }),
  fakePod({ name: "redis-2", ip: "198.18.100.12" }),
];
const master = verifiedMaster({ host: "198.18.100.10", epoch: 4 });
const agreeing = sentinelMasterReply({
  name: "mymaster",
  ip: "198.18.100.10",
  port: 6379,
  "config-epoch": 4,
  flags: "master",
  quorum: 2,
  "down-after-milliseconds": 5000,
  "failover-timeout": 60000,
  "parallel-syncs": 1,
  "num-other-sentinels": 2,
});
const replicas = (...ips: string[]) => ips.map((ip) => sentinelMasterReply({ ip, port: 6379 }));
const following = {
  "198.18.100.11:6379": () => replicaInfo("198.18.100.10", 6379),
  "198.18.100.12:6379": () => replicaInfo("198.18.100.10", 6379),
};

/** Every Sentinel agrees on the master; `listed(i)` is what Sentinel i lists as replicas (before a RESET). */
function sentinels(listed: (i: number) => string[]): SentinelReplies {
  const reset = new Set<number>();
  return (i, [sub]) => {
    if (sub === "MASTER") return agreeing;
    if (sub === "REPLICAS") return replicas(...(reset.has(i) ? ["198.18.100.11", "198.18.100.12"] : listed(i)));
    if (sub === "RESET") {
      reset.add(i);
      return 1;
    }
    return "OK";
  };
}

describe("sentinel-reset", () => {
  it("resets only the Sentinel that lists an address no pod has, once the set replicates again, and looks again after", async () => {
    const ctx = fakeContext({
      objects: pods,
      redis: following,
      sentinels: {
        replies: sentinels((i) => (i === 1 ? ["198.18.100.11", "198.18.100.12", "198.18.100.99"] : ["198.18.100.11", "198.18.100.12"])),
      },
    });
    expect(await sentinelReset.reconcile(ctx, master)).toEqual({ requeueAfterMs: LOOK_AGAIN_MS });
    expect(ctx.sentinels.callsOf("RESET")).toEqual([{ index: 1, args: ["RESET", "mymaster"] }]);
    expect(ctx.recorded.map((e) => [e.type, e.reason])).toEqual([["Normal", "SentinelReset"]]);
    expect(ctx.recorded[0]?.note).toMatch(/198\.18\.100\.99/);
    // the requeued run: nothing stale any more, nothing to do, no further requeue
    expect(await sentinelReset.reconcile(ctx, master)).toBeUndefined();
    expect(ctx.sentinels.callsOf("RESET")).toHaveLength(1);
  });

  it("resets one Sentinel per run, the next only once the first has relearned the set", async () => {
    const relearned = { done: false };
    const base = sentinels(() => ["198.18.100.11", "198.18.100.12", "198.18.100.99"]);
    const replies: SentinelReplies = (i, args) => {
      // Sentinel 0, just reset, lists one replica of two until it has relearned the set
      if (i === 0 && args[0] === "REPLICAS" && ctx.sentinels.callsOf("RESET").length > 0 && !relearned.done)
        return replicas("198.18.100.11");
      return base(i, args);
    };
    const ctx = fakeContext({ objects: pods, redis: following, sentinels: { replies } });
    expect(await sentinelReset.reconcile(ctx, master)).toEqual({ requeueAfterMs: LOOK_AGAIN_MS });
    expect(ctx.sentinels.callsOf("RESET").map((c) => c.index)).toEqual([0]);
    expect(await sentinelReset.reconcile(ctx, master)).toEqual({ requeueAfterMs: LOOK_AGAIN_MS });
    expect(ctx.sentinels.callsOf("RESET").map((c) => c.index)).toEqual([0]); // waited: Sentinel 0 misses 198.18.100.12
    relearned.done = true;
    await sentinelReset.reconcile(ctx, master);
    expect(ctx.sentinels.callsOf("RESET").map((c) => c.index)).toEqual([0, 1]);
  });

  it("resets no Sentinel while one still names another master (a failover it has not learned yet)", async () => {
    const behind = sentinelMasterReply({ name: "mymaster", ip: "198.18.100.11", port: 6379, "config-epoch": 3, flags: "master" });
    let learned = false;
    const replies = sentinels((i) => (i === 1 ? ["198.18.100.11", "198.18.100.12", "198.18.100.99"] : ["198.18.100.11", "198.18.100.12"]));
    const ctx = fakeContext({
      objects: pods,
      redis: following,
      sentinels: { replies: (i, args) => (i === 1 && args[0] === "MASTER" && !learned ? behind : replies(i, args)) },
    });
    expect(await sentinelReset.reconcile(ctx, master)).toEqual({ requeueAfterMs: LOOK_AGAIN_MS });
    expect(ctx.sentinels.callsOf("RESET")).toEqual([]);
    // once it names the quorum's master, its stale entry goes
    learned = true;
    await sentinelReset.reconcile(ctx, master);
    expect(ctx.sentinels.callsOf("RESET")).toEqual([{ index: 1, args: ["RESET", "mymaster"] }]);
  });

  it("waits (a requeue, not a failure) while a replica pod does not follow the master yet", async () => {
    const ctx = fakeContext({
      objects: pods,
      redis: { ...following, "198.18.100.12:6379": () => replicaInfo("198.18.100.10", 6379, "down") },
      sentinels: { replies: sentinels(() => ["198.18.100.99"]) },
    });
    expect(await sentinelReset.reconcile(ctx, master)).toEqual({ requeueAfterMs: LOOK_AGAIN_MS });
    expect(ctx.sentinels.callsOf("RESET")).toEqual([]);
  });

  it("re-points a Sentinel left on an unreachable master at an older epoch, with the agreeing one's settings and the password", async () => {
    const stale = sentinelMasterReply({ name: "mymaster", ip: "198.18.100.50", port: 6379, "config-epoch": 2, flags: "master,s_down" });
    const base = sentinels(() => ["198.18.100.11", "198.18.100.12"]);
    const ctx = fakeContext({
      objects: pods,
      redis: following,
      config: configOf(sentinelReset, { REDIS_PASSWORD: "s3cret" }),
      sentinels: { replies: (i, args) => (i === 2 && args[0] === "MASTER" ? stale : base(i, args)) },
    });
    await sentinelReset.reconcile(ctx, master);
    expect(
      ctx.sentinels.calls.filter((c) => c.index === 2 && ["REMOVE", "MONITOR", "SET"].includes(c.args[0]!)).map((c) => c.args.join(" ")),
    ).toEqual([
      "REMOVE mymaster",
      "MONITOR mymaster 198.18.100.10 6379 2",
      "SET mymaster down-after-milliseconds 5000 failover-timeout 60000 parallel-syncs 1 auth-pass s3cret",
    ]);
    expect(ctx.recorded.map((e) => [e.type, e.reason])).toEqual([["Warning", "SentinelRepointed"]]);
  });

  it("leaves a Sentinel alone that still reaches its master (a failover in flight)", async () => {
    const other = sentinelMasterReply({ name: "mymaster", ip: "198.18.100.11", port: 6379, "config-epoch": 3, flags: "master" });
    const base = sentinels(() => ["198.18.100.11", "198.18.100.12"]);
    const ctx = fakeContext({
      objects: pods,
      redis: following,
      sentinels: { replies: (i, args) => (i === 0 && args[0] === "MASTER" ? other : base(i, args)) },
    });
    await sentinelReset.reconcile(ctx, master);
    expect(ctx.sentinels.callsOf("REMOVE")).toEqual([]);
    expect(ctx.sentinels.callsOf("MONITOR")).toEqual([]);
  });
});
