/**
 * label-master: `redis-role=master` on the pod whose address the Sentinels name, `redis-role=replica`
 * on the other pods of that master's set. Demotes before it promotes, so no moment has two
 * masters labelled; skips pods already right (no write at all when converged); never overwrites a
 * label written for a newer epoch.
 *
 * It relabels after the master Service's EndpointSlice names the new master, when such a slice
 * exists (master-endpoints'), waiting for it (woken by the slice watch) at most WAIT_FOR_SLICE_MS
 * per epoch: kube-proxy applies at most one rule sync per minSyncPeriod (1 s by default), so a
 * `redis-replicas` change (these labels, through the EndpointSlice controller) that reaches it
 * first delays the `redis-master` rules by up to that second. Measured on the sandbox's node after
 * a master's pod was force-deleted: the recreated pod labelled replica 117 ms before the slice was
 * written, and kube-proxy programmed `redis-master` 1.05 s after it received it.
 */
import type { V1EndpointSlice } from "@kubernetes/client-node";
import { RetryableError } from "../../shared/errors.ts";
import { defineFunction, EPOCH_ANNOTATION, podAt, recordedEpoch } from "../../shared/runtime/define-function.ts";

export const ROLE_LABEL = "redis-role";
/** How long, per master and epoch, the labels wait for the master Service's EndpointSlice to name the new master. */
export const WAIT_FOR_SLICE_MS = 1000;
/** Per master (namespace/name): the epoch this process first waited for, and since when. */
const waiting = new Map<string, { epoch: number; since: number }>();

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
      { resource: "endpointslices", verbs: ["list", "watch"], why: "relabel after the master Service's EndpointSlice names the master" },
    ],
  },
  on: ["switch-master"],
  async reconcile(ctx, master) {
    const { namespace, podSelector } = master.mapping;
    const pods = await ctx.caches.pods(namespace, podSelector);
    const masterPod = podAt(pods, master.host);
    if (!masterPod) throw new RetryableError(`no pod of ${podSelector} in ${namespace} has address ${master.host} (yet)`);
    const key = `${namespace}/${master.name}`;
    let w = waiting.get(key);
    if (w?.epoch !== master.epoch) {
      w = { epoch: master.epoch, since: Date.now() };
      waiting.set(key, w);
    }
    // Woken by the slice watch, not by a requeue: a requeue verifies against the Sentinels again, and
    // every 10 ms per waiting master, 200 masters failing over together made that thousands of
    // quorum reads a second on Sentinels busy failing over.
    const { service } = master.mapping;
    let named: string[] = [];
    const slicePermits = (slices: readonly V1EndpointSlice[]) => {
      named = slices.flatMap((s) => s.endpoints?.flatMap((e) => e.addresses) ?? []);
      return named.length === 0 || named.includes(master.host);
    };
    const left = WAIT_FOR_SLICE_MS - (Date.now() - w.since);
    if (!(await ctx.caches.untilEndpointSlices(namespace, service, slicePermits, left, ctx.signal))) {
      if (ctx.signal.aborted) throw new RetryableError("stopped while waiting for the master Service's EndpointSlice");
      ctx.log.warn({ epoch: master.epoch, named }, "master Service's EndpointSlice still names another address, relabelling anyway");
    }
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
