/** What Kubernetes says about the master right now, for the functions' integration tests. */
import { CoreV1Api, DiscoveryV1Api, EventsV1Api } from "@kubernetes/client-node";
import type { Sandbox } from "../../sandbox/sandbox.ts";

export interface MasterState {
  /** Pods labelled redis-role=master / replica. */
  masters: string[];
  replicas: string[];
  /** Addresses in the redis-master EndpointSlice(s). */
  sliceAddresses: string[];
  sliceTargets: string[];
  configMap: Record<string, string> | undefined;
  /** Every pod of the namespace (redis, sentinel, ...) with its pod IP. */
  podIPs: Record<string, string>;
}

export async function masterState(sb: Sandbox, ns = sb.namespace): Promise<MasterState> {
  const kc = sb.kubeConfig;
  // Every pod: only redis pods carry redis-role; the others are there for their IPs.
  const pods = await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: ns });
  const slices = await kc.makeApiClient(DiscoveryV1Api).listNamespacedEndpointSlice({ namespace: ns, labelSelector: "kubernetes.io/service-name=redis-master" });
  const cm = await kc.makeApiClient(CoreV1Api).readNamespacedConfigMap({ name: "redis-master", namespace: ns }).catch(() => undefined);
  const role = (r: string) => pods.items.filter((p) => p.metadata?.labels?.["redis-role"] === r).map((p) => p.metadata?.name ?? "").sort();
  const endpoints = slices.items.flatMap((s) => s.endpoints ?? []);
  return {
    masters: role("master"),
    replicas: role("replica"),
    sliceAddresses: endpoints.flatMap((e) => e.addresses).sort(),
    sliceTargets: endpoints.map((e) => e.targetRef?.name ?? ""),
    configMap: cm?.data,
    podIPs: Object.fromEntries(pods.items.map((p) => [p.metadata?.name ?? "", p.status?.podIP ?? ""])),
  };
}

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
  return list.items.filter((e) => e.regarding?.name === name).map((e) => ({ reason: e.reason ?? "", type: e.type ?? "", note: e.note ?? "" }));
}
