/**
 * kube-events: a Normal Kubernetes Event (events.k8s.io/v1) on the new master pod and on the
 * StatefulSet for every failover, so `kubectl describe` and `kubectl events` show it. One Event
 * per master and epoch (deterministic names: a second replica or a resync gets 409 and moves on).
 */
import { hostname } from "node:os";
import { defineFunction, podAt } from "../../shared/runtime/define-function.ts";
import { microTime } from "../../shared/runtime/kube.ts";
import { RetryableError } from "../../shared/errors.ts";

const reported = new Map<string, number>();

export default defineFunction({
  name: "kube-events",
  description: "a Kubernetes Event on the new master pod and the StatefulSet per failover.",
  access: { kube: [{ resource: "pods", verbs: ["list", "watch"] }] },
  on: ["switch-master"],
  async reconcile(ctx, master) {
    const { namespace, podSelector, statefulSet } = master.mapping;
    // Epoch 0 is the initial configuration: no failover to report. On a resync, skip what this
    // process already reported; on an event, try anyway (a 409 says it exists).
    if (master.epoch === 0 || (!ctx.event && (reported.get(`${namespace}/${master.name}`) ?? -1) >= master.epoch)) return;
    const pod = podAt(await ctx.caches.pods(namespace, podSelector), master.host);
    if (!pod) throw new RetryableError(`no pod of ${podSelector} has the master's address ${master.host} (yet)`);
    const from = ctx.event?.data.newMaster?.host === master.host ? ctx.event.data.oldMaster : undefined;
    const note = `Redis master ${master.name} is ${master.host}:${master.port} (pod ${pod.metadata?.name}) at config epoch ${master.epoch}${from ? `, was ${from.host}:${from.port}` : ""}; ${master.votes}/${master.asked} Sentinels agree`;
    const targets = [
      { apiVersion: "v1", kind: "Pod", name: pod.metadata?.name ?? "", uid: pod.metadata?.uid },
      { apiVersion: "apps/v1", kind: "StatefulSet", name: statefulSet, uid: undefined },
    ];
    for (const t of targets) {
      // "exists": this failover's Event was recorded already (another replica, or before a restart).
      await ctx.kube.createEvent({
        metadata: { name: `${t.name}.${master.name.toLowerCase().replace(/[^a-z0-9-]/g, "-")}.epoch-${master.epoch}`.slice(0, 253), namespace },
        eventTime: microTime(),
        reportingController: "failover-functions.io/kube-events",
        reportingInstance: `${hostname()}/kube-events`.slice(0, 128),
        action: "Failover",
        reason: "MasterSwitched",
        note,
        type: "Normal",
        regarding: { apiVersion: t.apiVersion, kind: t.kind, name: t.name, namespace, uid: t.uid },
      });
    }
    reported.set(`${namespace}/${master.name}`, master.epoch);
    ctx.log.info({ epoch: master.epoch, pod: pod.metadata?.name }, "failover event recorded");
  },
});
