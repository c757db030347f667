/**
 * kube-events: a Normal Kubernetes Event (events.k8s.io/v1) on the new master pod and on the
 * StatefulSet for every failover, so `kubectl describe` and `kubectl events` show it. One Event
 * per master and epoch (deterministic names: a second replica or a resync gets 409 and moves on).
 */
import type { EventTarget } from "../../shared/runtime/context.ts";
import { defineFunction, podAt } from "../../shared/runtime/define-function.ts";
import { kubeEvent } from "../../shared/runtime/kube-event.ts";
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
    const targets: EventTarget[] = [
      { kind: "Pod", name: pod.metadata?.name ?? "", namespace, uid: pod.metadata?.uid },
      { kind: "StatefulSet", name: statefulSet, namespace, uid: undefined },
    ];
    for (const target of targets) {
      // "exists": this failover's Event was recorded already (another replica, or before a restart).
      const name = `${target.name}.${master.name.toLowerCase().replace(/[^a-z0-9-]/g, "-")}.epoch-${master.epoch}`.slice(0, 253);
      await ctx.kube.createEvent(
        kubeEvent({ fn: "kube-events", name, target, type: "Normal", action: "Failover", reason: "MasterSwitched", note }),
      );
    }
    reported.set(`${namespace}/${master.name}`, master.epoch);
    ctx.log.info({ epoch: master.epoch, pod: pod.metadata?.name }, "failover event recorded");
  },
});
