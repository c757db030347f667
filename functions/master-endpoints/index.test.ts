import { describe, expect, it } from "vitest";
import type { V1EndpointSlice, V1Service } from "@kubernetes/client-node";
import { fakeContext, fakePod, verifiedMaster } from "../../shared/runtime/testing/index.ts";
import masterEndpoints, { MANAGED_BY, sliceName } from "./index.ts";

const pods = [fakePod({ name: "redis-0", ip: "198.18.100.10" }), fakePod({ name: "redis-1", ip: "198.18.100.11" })];
const slice = (ctx: ReturnType<typeof fakeContext>) =>
  ctx.cluster.get<V1EndpointSlice>("EndpointSlice", "default", sliceName("default", "redis-master"));

describe("master-endpoints", () => {
  it("writes one ready endpoint, the master, with its pod as targetRef", async () => {
    const ctx = fakeContext({ objects: pods });
    await masterEndpoints.reconcile(ctx, verifiedMaster({ host: "198.18.100.11", epoch: 5 }));
    const s = slice(ctx);
    expect(s?.addressType).toBe("IPv4");
    expect(s?.endpoints).toHaveLength(1);
    expect(s?.endpoints?.[0]).toMatchObject({
      addresses: ["198.18.100.11"],
      conditions: { ready: true },
      targetRef: { name: "redis-1", uid: "uid-redis-1" },
    });
    expect(s?.metadata?.labels).toMatchObject({
      "kubernetes.io/service-name": "redis-master",
      "endpointslice.kubernetes.io/managed-by": MANAGED_BY,
    });
    expect(s?.metadata?.annotations?.["failover.io/epoch"]).toBe("5");
  });

  it("follows a failover and then writes nothing while converged", async () => {
    const ctx = fakeContext({ objects: pods });
    await masterEndpoints.reconcile(ctx, verifiedMaster({ host: "198.18.100.10", epoch: 1 }));
    await masterEndpoints.reconcile(ctx, verifiedMaster({ host: "198.18.100.11", epoch: 2 }));
    await masterEndpoints.reconcile(ctx, verifiedMaster({ host: "198.18.100.11", epoch: 2 }));
    expect(ctx.kube.applied).toHaveLength(2);
    expect(slice(ctx)?.endpoints?.map((e) => e.addresses)).toEqual([["198.18.100.11"]]);
  });

  it("never moves the slice back to an older epoch", async () => {
    const ctx = fakeContext({ objects: pods });
    await masterEndpoints.reconcile(ctx, verifiedMaster({ host: "198.18.100.11", epoch: 7 }));
    await masterEndpoints.reconcile(ctx, verifiedMaster({ host: "198.18.100.10", epoch: 6 }));
    expect(slice(ctx)?.endpoints?.[0]?.addresses).toEqual(["198.18.100.11"]);
  });

  it("creates the selectorless Service when the mapping asks for it", async () => {
    const ctx = fakeContext({ objects: pods });
    await masterEndpoints.reconcile(ctx, verifiedMaster({ host: "198.18.100.10", mapping: { createService: true } }));
    const svc = ctx.cluster.get<V1Service>("Service", "default", "redis-master");
    expect(svc?.spec?.selector).toBeUndefined();
    expect(svc?.spec?.ports?.[0]).toMatchObject({ name: "redis", port: 6379 });
  });
});
