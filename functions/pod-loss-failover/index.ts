/**
 * pod-loss-failover: starts Sentinel's failover at once when Kubernetes already knows the master is
 * gone, instead of waiting for Sentinel's down-after-milliseconds. Optional
 * (manifests/components/pod-loss-failover).
 *
 * It converges to "the master the Sentinels name runs in a pod Kubernetes keeps": woken by every
 * change of the masters' pods (wakeOnPods) and by +switch-master, it reads the quorum's master,
 * then its pod. It acts only when all of these hold:
 *  - Kubernetes shows the master's pod lost: deleted (a pod this process saw at that address is
 *    gone), being deleted with its redis container stopped (the preStop did not hand over), ended
 *    (phase Failed or Succeeded), or its redis container in CrashLoopBackOff (the kubelet waits 10 s
 *    or more before the next restart). A container that just exited is not enough: the kubelet
 *    restarts it within a second or two with its AOF, and failing over then could drop writes that
 *    the restart keeps;
 *  - the master does not answer a PING within POD_LOSS_PROBE_TIMEOUT_MS (an error reply is an
 *    answer): a frozen, partitioned or restarting master that answers is never failed over here;
 *  - no Sentinel is failing it over already, and no Sentinel knows a newer epoch;
 *  - it started no failover for this master and epoch before, and the loss was first seen less
 *    than POD_LOSS_WINDOW_MS ago (after that, Sentinel's own detection has it).
 * Then it asks one Sentinel for `SENTINEL FAILOVER <master>` and records a Warning Event.
 */
import { z } from "zod";
import type { V1Pod } from "@kubernetes/client-node";
import { millis } from "../../shared/config.ts";
import { isServerReply } from "../../shared/redis-probe.ts";
import { fieldsToRecord } from "../../shared/sentinel-quorum.ts";
import { defineFunction, podAt } from "../../shared/runtime/define-function.ts";
import type { ReconcileContext, VerifiedMaster } from "../../shared/runtime/define-function.ts";

export const podLossConfigSchema = z.object({
  /** The redis container's name in the master's pod. */
  POD_LOSS_CONTAINER: z.string().min(1).default("redis"),
  /** Deadline of the probe's connect and of its PING. */
  POD_LOSS_PROBE_TIMEOUT_MS: millis(10).default(300),
  /** How long after Kubernetes first shows the loss this function may still start the failover. */
  POD_LOSS_WINDOW_MS: millis(100).default(15_000),
});
type PodLossConfig = z.output<typeof podLossConfigSchema>;

/** Why Kubernetes shows `pod` lost for Redis, or undefined while it keeps (or restarts) it. */
export function podLoss(pod: V1Pod, container: string): string | undefined {
  const status = pod.status?.containerStatuses?.find((c) => c.name === container);
  if (status?.state?.waiting?.reason === "CrashLoopBackOff") return `its ${container} container is in CrashLoopBackOff`;
  const phase = pod.status?.phase;
  if (phase === "Failed" || phase === "Succeeded") return `its pod has ended (phase ${phase})`;
  if (pod.metadata?.deletionTimestamp && !status?.state?.running) return `its pod is being deleted and its ${container} container stopped`;
  return undefined;
}

/** Per master (namespace/name): the address whose pod this process saw, and the loss it is acting on. */
const seenAt = new Map<string, string>();
const losses = new Map<string, { host: string; epoch: number; since: number; started: boolean }>();

/** Whether the master answers a PING (an error reply such as NOAUTH or LOADING is an answer). */
async function answers(ctx: ReconcileContext<PodLossConfig>, master: VerifiedMaster): Promise<boolean> {
  const ms = ctx.config.POD_LOSS_PROBE_TIMEOUT_MS;
  try {
    await ctx.redis.session(master, (r) => r.call("PING"), { connectTimeoutMs: ms, commandTimeoutMs: ms });
    return true;
  } catch (err) {
    return isServerReply(err);
  }
}

/** Whether any Sentinel is failing `master` over already or knows a newer epoch of it. */
async function failoverUnderway(ctx: ReconcileContext<PodLossConfig>, master: VerifiedMaster): Promise<boolean> {
  const replies = await Promise.all(Array.from({ length: ctx.sentinels.size }, (_, i) => ctx.sentinels.sentinel(i, "MASTER", master.name)));
  return replies.some((reply) => {
    if (reply === undefined) return false;
    const f = fieldsToRecord(reply);
    return (f.flags ?? "").split(",").includes("failover_in_progress") || Number(f["config-epoch"] ?? 0) > master.epoch;
  });
}

export default defineFunction({
  name: "pod-loss-failover",
  description: "SENTINEL FAILOVER at once when Kubernetes shows the master's pod lost and the master does not answer.",
  access: {
    kube: [{ resource: "pods", verbs: ["list", "watch"], why: "the masters' pods (its watch cache, which also wakes it)" }],
    redis: true,
  },
  config: podLossConfigSchema,
  on: ["switch-master"],
  wakeOnPods: true,
  async reconcile(ctx, master) {
    const { namespace, podSelector, statefulSet } = master.mapping;
    const key = `${namespace}/${master.name}`;
    const pod = podAt(await ctx.caches.pods(namespace, podSelector), master.host);
    if (pod) seenAt.set(key, master.host);
    const lost = pod ? podLoss(pod, ctx.config.POD_LOSS_CONTAINER) : seenAt.get(key) === master.host ? "its pod was deleted" : undefined;
    if (!lost) {
      losses.delete(key);
      return;
    }
    let loss = losses.get(key);
    if (!loss || loss.host !== master.host || loss.epoch !== master.epoch) {
      loss = { host: master.host, epoch: master.epoch, since: Date.now(), started: false };
      losses.set(key, loss);
    }
    // Started once per master and epoch: its +switch-master wakes this function again. Past the
    // window, Sentinel's own detection has it.
    if (loss.started || Date.now() - loss.since > ctx.config.POD_LOSS_WINDOW_MS) return;
    const log = ctx.log.child({ pod: pod?.metadata?.name, host: master.host, epoch: master.epoch });
    if (await answers(ctx, master)) {
      log.info({ lost }, "master answers although its pod is lost, looking again");
      return { requeueAfterMs: 100 };
    }
    if (await failoverUnderway(ctx, master)) return;
    for (let i = 0; i < ctx.sentinels.size; i++) {
      if ((await ctx.sentinels.sentinel(i, "FAILOVER", master.name)) !== "OK") continue;
      loss.started = true;
      log.warn({ lost, sentinel: i }, "failover started");
      await ctx.recordEvent(
        { kind: "StatefulSet", name: statefulSet, namespace, uid: undefined },
        "Warning",
        "FailoverStarted",
        `Redis master ${master.name} at ${master.host}:${master.port} (epoch ${master.epoch}) does not answer and Kubernetes shows ${lost}: asked Sentinel ${i} for SENTINEL FAILOVER`,
      );
      return;
    }
    // None accepted (no replica it can promote yet, or none answers): look again soon, within the window.
    log.info({ lost }, "no Sentinel accepted SENTINEL FAILOVER, looking again");
    return { requeueAfterMs: 200 };
  },
});
