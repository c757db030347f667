import { describe, expect, it } from "vitest";
import type { V1ConfigMap } from "@kubernetes/client-node";
import { fakeContext, fakePod, verifiedMaster } from "../../shared/runtime/testing/index.ts";
import masterConfigmap from "./index.ts";

const pods = [fakePod({ name: "redis-0", ip: "198.18.100.10" }), fakePod({ name: "redis-1", ip: "198.18.100.11" })];
const record = (ctx: ReturnType<typeof fakeContext>) => ctx.cluster.get<V1ConfigMap>("ConfigMap", "default", "redis-master");

describe("master-configmap", () => {
  it("records host, port, pod and epoch of the master", async () => {
    const ctx = fakeContext({ objects: pods });
    await masterConfigmap.reconcile(ctx, verifiedMaster({ host: "198.18.100.11", epoch: 3 }));
    expect(record(ctx)?.data).toMatchObject({ master: "mymaster", host: "198.18.100.11", port: "6379", pod: "redis-1", epoch: "3" });
    expect(Date.parse(record(ctx)?.data?.updatedAt ?? "")).not.toBeNaN();
  });

  it("writes only when host, port or epoch change", async () => {
    const ctx = fakeContext({ objects: pods });
    await masterConfigmap.reconcile(ctx, verifiedMaster({ host: "198.18.100.11", epoch: 3 }));
    await masterConfigmap.reconcile(ctx, verifiedMaster({ host: "198.18.100.11", epoch: 3 }));
    expect(ctx.kube.applied).toHaveLength(1);
    await masterConfigmap.reconcile(ctx, verifiedMaster({ host: "198.18.100.10", epoch: 4 }));
    expect(ctx.kube.applied).toHaveLength(2);
    expect(record(ctx)?.data?.pod).toBe("redis-0");
  });

  it("never overwrites a record of a newer epoch", async () => {
    const ctx = fakeContext({ objects: pods });
    await masterConfigmap.reconcile(ctx, verifiedMaster({ host: "198.18.100.11", epoch: 8 }));
    await masterConfigmap.reconcile(ctx, verifiedMaster({ host: "198.18.100.10", epoch: 7 }));
    expect(record(ctx)?.data).toMatchObject({ host: "198.18.100.11", epoch: "8" });
  });
});
