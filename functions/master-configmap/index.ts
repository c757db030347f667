/**
 * master-configmap: ConfigMap `redis-master` = the current-master record (host, port, pod, epoch,
 * updatedAt) that init containers read when no Sentinel answers, and that apps and GitOps tools can
 * read. Written only when host, port or epoch change; never for an older epoch than recorded.
 */
import { defineFunction, EPOCH_ANNOTATION, podAt, recordedEpoch } from "../../shared/runtime/define-function.ts";

export default defineFunction({
  name: "master-configmap",
  description: "ConfigMap redis-master (the last-known master, read by the init containers).",
  access: {
    kube: [
      {
        resource: "configmaps",
        verbs: ["list", "watch", "create"],
        why: "the current-master record (list/watch: its own watch cache, by label)",
      },
      { resource: "configmaps", names: ["redis-master"], verbs: ["patch"] },
      { resource: "pods", verbs: ["list", "watch"] },
    ],
  },
  on: ["switch-master"],
  async reconcile(ctx, master) {
    const { namespace, configMap, podSelector } = master.mapping;
    const current = await ctx.caches.configMap(namespace, configMap);
    const d = current?.data;
    if (d?.host === master.host && d.port === String(master.port) && d.epoch === String(master.epoch)) return;
    if (recordedEpoch(current) > master.epoch) {
      ctx.log.warn({ recorded: recordedEpoch(current), epoch: master.epoch }, "configmap holds a newer epoch, not overwriting");
      return;
    }
    const pod = podAt(await ctx.caches.pods(namespace, podSelector), master.host);
    await ctx.kube.apply(
      {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: {
          name: configMap,
          namespace,
          labels: { "app.kubernetes.io/managed-by": "failover-functions" },
          annotations: { [EPOCH_ANNOTATION]: String(master.epoch) },
        },
        data: {
          master: master.name,
          host: master.host,
          port: String(master.port),
          pod: pod?.metadata?.name ?? "",
          epoch: String(master.epoch),
          updatedAt: new Date().toISOString(),
        },
      },
      ctx.fieldManager,
    );
    ctx.log.info({ configMap, host: master.host, epoch: master.epoch }, "configmap records the master");
  },
});
