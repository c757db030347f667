import { describe, expect, it } from "vitest";
import { RetryableError } from "../../shared/errors.ts";
import { configOf, fakeContext, fakePod, replicaInfo, sentinelMasterReply, verifiedMaster } from "../../shared/runtime/testing/index.ts";
import type { SentinelReplies } from "../../shared/runtime/testing/index.ts";
import sentinelReset from "./index.ts";

const pods = [fakePod({ name: "redis-0", ip: "198.18.100.10" }), fakePod({ name: "redis-1", ip: "198.18.100.11" }), fakePod({ name: "redis-2", ip: "198.18.100.12" })];
const master = verifiedMaster({ host: "198.18.100.10", epoch: 4 });
const agreeing = sentinelMasterReply({ name: "mymaster", ip: "198.18.100.10", port: 6379, "config-epoch": 4, flags: "master", quorum: 2, "down-after-milliseconds": 5000, "failover-timeout": 60000, "parallel-syncs": 1, "num-other-sentinels": 2 });
const replicas = (...ips: string[]) => ips.map((ip) => sentinelMasterReply({ ip, port: 6379 }));
const following = { "198.18.100.11:6379": () => replicaInfo("198.18.100.10", 6379), "198.18.100.12:6379": () => replicaInfo("198.18.100.10", 6379) };

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
  it("resets only the Sentinel that lists an address no pod has, once the set replicates again", async () => {
    const ctx = fakeContext({ objects: pods, redis: following, sentinels: { replies: sentinels((i) => (i === 1 ? ["198.18.100.11", "198.18.100.12", "198.18.100.99"] : ["198.18.100.11", "198.18.100.12"])) } });
    await sentinelReset.reconcile(ctx, master);
    expect(ctx.sentinels.callsOf("RESET")).toEqual([{ index: 1, args: ["RESET", "mymaster"] }]);
    expect(ctx.recorded.map((e) => [e.type, e.reason])).toEqual([["Normal", "SentinelReset"]]);
    expect(ctx.recorded[0]?.note).toMatch(/198\.18\.100\.99/);
  });

  it("waits (retryably) while a replica pod does not follow the master yet", async () => {
    const ctx = fakeContext({ objects: pods, redis: { ...following, "198.18.100.12:6379": () => replicaInfo("198.18.100.10", 6379, "down") }, sentinels: { replies: sentinels(() => ["198.18.100.99"]) } });
    await expect(sentinelReset.reconcile(ctx, master)).rejects.toBeInstanceOf(RetryableError);
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
    expect(ctx.sentinels.calls.filter((c) => c.index === 2 && ["REMOVE", "MONITOR", "SET"].includes(c.args[0]!)).map((c) => c.args.join(" "))).toEqual([
      "REMOVE mymaster",
      "MONITOR mymaster 198.18.100.10 6379 2",
      "SET mymaster down-after-milliseconds 5000 failover-timeout 60000 parallel-syncs 1 auth-pass s3cret",
    ]);
    expect(ctx.recorded.map((e) => [e.type, e.reason])).toEqual([["Warning", "SentinelRepointed"]]);
  });

  it("leaves a Sentinel alone that still reaches its master (a failover in flight)", async () => {
    const other = sentinelMasterReply({ name: "mymaster", ip: "198.18.100.11", port: 6379, "config-epoch": 3, flags: "master" });
    const base = sentinels(() => ["198.18.100.11", "198.18.100.12"]);
    const ctx = fakeContext({ objects: pods, redis: following, sentinels: { replies: (i, args) => (i === 0 && args[0] === "MASTER" ? other : base(i, args)) } });
    await sentinelReset.reconcile(ctx, master);
    expect(ctx.sentinels.callsOf("REMOVE")).toEqual([]);
    expect(ctx.sentinels.callsOf("MONITOR")).toEqual([]);
  });
});
