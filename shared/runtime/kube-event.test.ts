import { hostname } from "node:os";
import { describe, expect, it } from "vitest";
import { kubeEvent } from "./kube-event.ts";

describe("kubeEvent", () => {
  it("reports as failover-functions.io/<fn> from this host, about a Pod (v1) or a StatefulSet (apps/v1) in its namespace", () => {
    const pod = kubeEvent({
      fn: "label-master",
      name: "redis-1.x",
      target: { kind: "Pod", name: "redis-1", namespace: "shop", uid: "u1" },
      type: "Warning",
      action: "Fence",
      reason: "StaleMasterFenced",
      note: "n",
    });
    expect(pod).toMatchObject({
      metadata: { name: "redis-1.x", namespace: "shop" },
      reportingController: "failover-functions.io/label-master",
      reportingInstance: `${hostname()}/label-master`.slice(0, 128),
      action: "Fence",
      reason: "StaleMasterFenced",
      type: "Warning",
      regarding: { apiVersion: "v1", kind: "Pod", name: "redis-1", namespace: "shop", uid: "u1" },
    });
    expect(String(pod.eventTime)).toMatch(/\.\d{6}Z$/);
    const set = kubeEvent({
      fn: "kube-events",
      name: "redis.y",
      target: { kind: "StatefulSet", name: "redis", namespace: "shop" },
      type: "Normal",
      action: "Failover",
      reason: "MasterSwitched",
      note: "n",
    });
    expect(set.regarding).toMatchObject({ apiVersion: "apps/v1", kind: "StatefulSet" });
  });
});
