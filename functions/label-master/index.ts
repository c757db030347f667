/**
 * label-master: `redis-role=master` on the pod whose address the Sentinels name, `redis-role=replica`
 * on the other pods of that master's set. Demotes before it promotes, so no moment has two
 * masters labelled; skips pods already right (no write at all when converged); never overwrites a
 * label written for a newer epoch.
 */
import { RetryableError } from "../../shared/errors.ts";
import { defineFunction, EPOCH_ANNOTATION, podAt, recordedEpoch } from "../../shared/runtime/define-function.ts";

export const ROLE_LABEL = "redis-role";

export default defineFunction({
  name: "label-master",
  description: "pod labels redis-role=master|replica.",
  access: {
    kube: [
      {
        resource: "pods",
        verbs: ["list", "watch", "patch"],
        why: "read pods from a watch cache, patch their redis-role label (server-side apply)",
      },
    ],
  },
  on: ["switch-master"],
  async reconcile(ctx, master) {
    const { namespace, podSelector } = master.mapping;
    const pods = await ctx.caches.pods(namespace, podSelector);
    const masterPod = podAt(pods, master.host);
    if (!masterPod) throw new RetryableError(`no pod of ${podSelector} in ${namespace} has address ${master.host} (yet)`);
    const want = (name: string) => (name === masterPod.metadata?.name ? "master" : "replica");
    const writes = pods
      .filter((p) => p.metadata?.labels?.[ROLE_LABEL] !== want(p.metadata?.name ?? "") && recordedEpoch(p) <= master.epoch)
      // replicas first: demote before promote
      .sort((a, b) => (want(a.metadata?.name ?? "") === "replica" ? -1 : 0) - (want(b.metadata?.name ?? "") === "replica" ? -1 : 0));
    for (const p of writes) {
      const name = p.metadata?.name ?? "";
      await ctx.kube.apply(
        {
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name, namespace, labels: { [ROLE_LABEL]: want(name) }, annotations: { [EPOCH_ANNOTATION]: String(master.epoch) } },
        },
        ctx.fieldManager,
      );
      ctx.log.info({ pod: name, role: want(name), epoch: master.epoch }, "pod relabelled");
    }
  },
});
