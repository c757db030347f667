/** What Kubernetes says about the master right now, for the functions' integration tests. */
import { EventsV1Api } from "@kubernetes/client-node";
import type { Sandbox } from "../../sandbox/sandbox.ts";
import { masterState } from "../../sandbox/stack.ts";
import type { MasterState } from "../../sandbox/stack.ts";

export { masterState };
export type { MasterState };

/** Is the state fully converged on the master at `host` (pod `pod`) with `epoch`? */
export function convergedOn(s: MasterState, pod: string, host: string, epoch: number): boolean {
  return (
    s.masters.length === 1 &&
    s.masters[0] === pod &&
    s.replicas.length === 2 &&
    s.sliceAddresses.length === 1 &&
    s.sliceAddresses[0] === host &&
    s.sliceTargets[0] === pod &&
    s.configMap?.host === host &&
    s.configMap.epoch === String(epoch) &&
    s.configMap.pod === pod
  );
}

export async function eventsFor(sb: Sandbox, name: string): Promise<{ reason: string; type: string; note: string }[]> {
  const list = await sb.kubeConfig.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: sb.namespace });
  return list.items
    .filter((e) => e.regarding?.name === name)
    .map((e) => ({ reason: e.reason ?? "", type: e.type ?? "", note: e.note ?? "" }));
}
