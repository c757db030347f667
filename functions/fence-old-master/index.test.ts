import { describe, expect, it } from "vitest";
import { RetryableError } from "../../shared/errors.ts";
import { fakeContext, fakePod, masterInfo, replicaInfo, switchMasterEvent, verifiedMaster } from "../../shared/runtime/testing/index.ts";
import type { RedisHandler } from "../../shared/runtime/testing/index.ts";
import fenceOldMaster from "./index.ts";

const pods = [
  fakePod({ name: "redis-0", ip: "198.18.100.10" }),
  fakePod({ name: "redis-1", ip: "198.18.100.11" }),
  fakePod({ name: "redis-2", ip: "198.18.100.12" }),
];

/** A server whose INFO says `info`; REPLICAOF / CLIENT KILL answer like Redis. */
const server =
  (info: () => string): RedisHandler =>
  (command) =>
    command === "INFO" ? info() : command === "CLIENT" ? 2 : "OK";

describe("fence-old-master", () => {
  it("makes a pod that still says master a replica of the quorum's master and drops its clients", async () => {
    const ctx = fakeContext({
      objects: pods,
      redis: {
        "198.18.100.11:6379": server(masterInfo),
        "198.18.100.10:6379": server(masterInfo),
        "198.18.100.12:6379": server(() => replicaInfo("198.18.100.11", 6379)),
      },
    });
    await fenceOldMaster.reconcile(ctx, verifiedMaster({ host: "198.18.100.11", epoch: 3 }));
    expect(ctx.redis.commandsTo("198.18.100.10:6379")).toEqual([
      "INFO replication",
      "REPLICAOF 198.18.100.11 6379",
      "CLIENT KILL TYPE normal",
    ]);
    expect(ctx.redis.commandsTo("198.18.100.12:6379")).toEqual(["INFO replication"]);
    expect(ctx.recorded.map((e) => [e.target.kind, e.target.name, e.type, e.reason])).toEqual([
      ["Pod", "redis-0", "Warning", "StaleMasterFenced"],
      ["StatefulSet", "redis", "Warning", "StaleMasterFenced"],
    ]);
  });

  it("does not fence a replica a Sentinel is promoting (a failover in progress), and looks again soon", async () => {
    const promoting = ["name", "redis-0", "ip", "198.18.100.10", "port", "6379", "flags", "slave,promoted"];
    const ctx = fakeContext({
      objects: pods,
      sentinels: { replies: (i, args) => (i === 1 && args[0] === "REPLICAS" ? [promoting] : []) },
      redis: {
        "198.18.100.11:6379": server(masterInfo),
        "198.18.100.10:6379": server(masterInfo),
        "198.18.100.12:6379": server(() => replicaInfo("198.18.100.11", 6379)),
      },
    });
    const result = await fenceOldMaster.reconcile(ctx, verifiedMaster({ host: "198.18.100.11", epoch: 3 }));
    expect(ctx.redis.commandsTo("198.18.100.10:6379")).toEqual(["INFO replication"]);
    expect(ctx.recorded).toEqual([]);
    expect(result).toEqual({ requeueAfterMs: 1000 });
  });

  it("fences no one while the quorum's master does not answer as master", async () => {
    const ctx = fakeContext({
      objects: pods,
      redis: { "198.18.100.11:6379": server(() => replicaInfo("198.18.100.10", 6379)), "198.18.100.10:6379": server(masterInfo) },
    });
    await fenceOldMaster.reconcile(ctx, verifiedMaster({ host: "198.18.100.11" }));
    expect(ctx.redis.commandsTo("198.18.100.10:6379")).toEqual([]);
    expect(ctx.recorded).toEqual([]);
  });

  it("drops the clients of the previous master the event names, already a replica, without an Event", async () => {
    const ctx = fakeContext({
      objects: pods,
      event: switchMasterEvent({ from: "198.18.100.10", to: "198.18.100.11", epoch: 2 }),
      redis: { "198.18.100.11:6379": server(masterInfo), "198.18.100.10:6379": server(() => replicaInfo("198.18.100.11", 6379)) },
    });
    await fenceOldMaster.reconcile(ctx, verifiedMaster({ host: "198.18.100.11", epoch: 2 }));
    expect(ctx.redis.commandsTo("198.18.100.10:6379")).toEqual(["INFO replication", "CLIENT KILL TYPE normal"]);
    expect(ctx.recorded).toEqual([]);
  });

  it("re-points a replica whose link is down to an address that is not a master", async () => {
    const ctx = fakeContext({
      objects: pods,
      redis: { "198.18.100.11:6379": server(masterInfo), "198.18.100.12:6379": server(() => replicaInfo("198.18.100.99", 6379, "down")) },
    });
    await fenceOldMaster.reconcile(ctx, verifiedMaster({ host: "198.18.100.11", epoch: 5 }));
    expect(ctx.redis.commandsTo("198.18.100.12:6379")).toEqual(["INFO replication", "REPLICAOF 198.18.100.11 6379"]);
    expect(ctx.recorded.map((e) => e.reason)).toEqual(["OrphanReplicaRepointed"]);
    expect(ctx.recorded[0]?.note).toMatch(/198\.18\.100\.99:6379/);
  });

  it("leaves a replica alone whose link is down to a master that answers", async () => {
    const ctx = fakeContext({
      objects: pods,
      redis: {
        "198.18.100.11:6379": server(masterInfo),
        "198.18.100.12:6379": server(() => replicaInfo("198.18.100.10", 6379, "down")),
        "198.18.100.10:6379": server(masterInfo),
      },
    });
    await fenceOldMaster.reconcile(ctx, verifiedMaster({ host: "198.18.100.11" }));
    expect(ctx.redis.commandsTo("198.18.100.12:6379")).toEqual(["INFO replication"]);
  });

  it("re-points a replica chained behind another replica, its link up (it followed a master fenced since)", async () => {
    const ctx = fakeContext({
      objects: pods,
      redis: {
        "198.18.100.11:6379": server(masterInfo),
        "198.18.100.10:6379": server(() => replicaInfo("198.18.100.11", 6379)),
        "198.18.100.12:6379": server(() => replicaInfo("198.18.100.10", 6379, "up")),
      },
    });
    await fenceOldMaster.reconcile(ctx, verifiedMaster({ host: "198.18.100.11", epoch: 6 }));
    expect(ctx.redis.commandsTo("198.18.100.12:6379")).toEqual(["INFO replication", "REPLICAOF 198.18.100.11 6379"]);
    expect(ctx.recorded.map((e) => e.reason)).toEqual(["OrphanReplicaRepointed"]);
  });

  it("looks again (retryable) while the switch's old master does not answer and its pod is there", async () => {
    const ctx = fakeContext({
      objects: pods,
      event: switchMasterEvent({ from: "198.18.100.10", to: "198.18.100.11", epoch: 2 }),
      redis: { "198.18.100.11:6379": server(masterInfo), "198.18.100.12:6379": server(() => replicaInfo("198.18.100.11", 6379)) },
    });
    await expect(fenceOldMaster.reconcile(ctx, verifiedMaster({ host: "198.18.100.11", epoch: 2 }))).rejects.toBeInstanceOf(RetryableError);
    // Its pod gone: nothing left to fence, no retry.
    const gone = fakeContext({
      objects: pods.filter((p) => p.metadata?.name !== "redis-0"),
      event: switchMasterEvent({ from: "198.18.100.10", to: "198.18.100.11", epoch: 2 }),
      redis: { "198.18.100.11:6379": server(masterInfo), "198.18.100.12:6379": server(() => replicaInfo("198.18.100.11", 6379)) },
    });
    await expect(fenceOldMaster.reconcile(gone, verifiedMaster({ host: "198.18.100.11", epoch: 2 }))).resolves.toBeUndefined();
  });
});
