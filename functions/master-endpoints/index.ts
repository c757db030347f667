/**
 * master-endpoints: owns the EndpointSlice of the selectorless Service `redis-master`: exactly one
 * endpoint, the master the Sentinels name, ready, with its pod as targetRef. It follows the
 * Sentinels, not pod readiness: a NotReady/Unknown pod that Sentinel names master still gets the
 * traffic, and the slice never lists two addresses. Optionally creates the Service.
 */
import { createHash } from "node:crypto";
import { isIP } from "node:net";
import { defineFunction, EPOCH_ANNOTATION, podAt, recordedEpoch } from "../../shared/runtime/define-function.ts";

/** The `endpointslice.kubernetes.io/managed-by` value (a label value: no slash). */
export const MANAGED_BY = "master-endpoints.failover-functions.io";

/** Deterministic `<service>-<hash>` name, so every replica of this function writes the same slice. */
export function sliceName(namespace: string, service: string): string {
  return `${service}-${createHash("sha256").update(`${namespace}/${service}/${MANAGED_BY}`).digest("hex").slice(0, 5)}`;
}

export default defineFunction({
  name: "master-endpoints",
  description: "the EndpointSlice of Service redis-master.",
  access: {
    kube: [
      {
        resource: "endpointslices",
        verbs: ["list", "watch", "create", "patch"],
        why: "own the EndpointSlice of redis-master (apply = create or patch)",
      },
      {
        resource: "services",
        names: ["redis-master"],
        verbs: ["patch"],
        why: "create/patch the selectorless Service only when CREATE_SERVICE=true",
      },
      { resource: "pods", verbs: ["list", "watch"] },
    ],
  },
  on: ["switch-master"],
  async reconcile(ctx, master) {
    const { namespace, service, podSelector, portName, createService } = master.mapping;
    if (createService) {
      await ctx.kube.apply(
        {
          apiVersion: "v1",
          kind: "Service",
          metadata: { name: service, namespace, labels: { "app.kubernetes.io/managed-by": "failover-functions" } },
          spec: { ports: [{ name: portName, port: master.port, targetPort: master.port, protocol: "TCP" }] },
        },
        ctx.fieldManager,
      );
    }
    const name = sliceName(namespace, service);
    const slices = await ctx.caches.endpointSlices(namespace, service);
    const current = slices.find((s) => s.metadata?.name === name);
    const addresses = current?.endpoints?.flatMap((e) => e.addresses) ?? [];
    const pod = podAt(await ctx.caches.pods(namespace, podSelector), master.host);
    const upToDate =
      addresses.length === 1 &&
      addresses[0] === master.host &&
      current?.ports?.[0]?.port === master.port &&
      (pod === undefined || current?.endpoints?.[0]?.targetRef?.uid === pod.metadata?.uid);
    if (upToDate) return;
    if (recordedEpoch(current) > master.epoch) {
      ctx.log.warn({ recorded: recordedEpoch(current), epoch: master.epoch }, "slice holds a newer epoch, not overwriting");
      return;
    }
    const family = isIP(master.host);
    await ctx.kube.apply(
      {
        apiVersion: "discovery.k8s.io/v1",
        kind: "EndpointSlice",
        metadata: {
          name,
          namespace,
          labels: {
            "kubernetes.io/service-name": service,
            "endpointslice.kubernetes.io/managed-by": MANAGED_BY,
            "app.kubernetes.io/managed-by": "failover-functions",
          },
          annotations: { [EPOCH_ANNOTATION]: String(master.epoch) },
        },
        addressType: family === 6 ? "IPv6" : family === 4 ? "IPv4" : "FQDN",
        ports: [{ name: portName, port: master.port, protocol: "TCP" }],
        endpoints: [
          {
            addresses: [master.host],
            conditions: { ready: true, serving: true, terminating: false },
            ...(pod
              ? { targetRef: { kind: "Pod", name: pod.metadata?.name, namespace, uid: pod.metadata?.uid }, nodeName: pod.spec?.nodeName }
              : {}),
          },
        ],
      },
      ctx.fieldManager,
    );
    ctx.log.info({ slice: name, address: master.host, epoch: master.epoch }, "endpointslice points at the master");
  },
});
