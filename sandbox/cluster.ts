/**
 * The API objects that stand in for a running cluster: Nodes (Ready, no heartbeats), and for
 * every redis and sentinel process a StatefulSet-owned Pod bound to a Node, whose status (written
 * through `/status`, as a kubelet would) says Running/Ready with `podIP` = the process's address.
 * Writing pod status is the one simulated part of the sandbox.
 */
import { CoreV1Api, KubernetesObjectApi, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import type { KubeConfig, KubernetesObject, V1Pod, V1StatefulSet } from "@kubernetes/client-node";
import { nodeIp } from "./addresses.ts";
import { waitFor } from "./wait.ts";

export const SANDBOX_FIELD_MANAGER = "failover-sandbox";

/** Server-side apply of any object, as the sandbox's own field manager. */
export async function apply<T extends KubernetesObject>(kc: KubeConfig, object: T): Promise<T> {
  const client = KubernetesObjectApi.makeApiClient(kc);
  return client.patch(object, undefined, undefined, SANDBOX_FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
}

export interface PodSpecInput {
  namespace: string;
  statefulSet: string;
  ordinal: number;
  node: string;
  ip: string;
  /** app.kubernetes.io/name: redis | sentinel */
  app: "redis" | "sentinel";
  /** Extra labels, e.g. the master name. */
  labels: Record<string, string>;
  containerPort: number;
}

export function podName(statefulSet: string, ordinal: number): string {
  return `${statefulSet}-${ordinal}`;
}

export async function applyNodes(kc: KubeConfig, count: number, options: { unschedulable?: boolean } = {}): Promise<string[]> {
  const core = kc.makeApiClient(CoreV1Api);
  const names: string[] = [];
  for (let n = 0; n < count; n++) {
    const name = `node-${n}`;
    names.push(name);
    await apply(kc, {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name, labels: { "kubernetes.io/hostname": name, "topology.kubernetes.io/zone": `zone-${n}` } },
      ...(options.unschedulable ? { spec: { unschedulable: true } } : {}),
    });
    const now = new Date().toISOString();
    await core.patchNodeStatus(
      {
        name,
        body: {
          status: {
            addresses: [
              { type: "InternalIP", address: nodeIp(n) },
              { type: "Hostname", address: name },
            ],
            capacity: { cpu: "8", memory: "32Gi", pods: "110" },
            allocatable: { cpu: "8", memory: "32Gi", pods: "110" },
            conditions: [
              {
                type: "Ready",
                status: "True",
                reason: "KubeletReady",
                message: "sandbox node",
                lastHeartbeatTime: now as unknown as Date,
                lastTransitionTime: now as unknown as Date,
              },
            ],
          },
        },
      },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
  }
  return names;
}

/**
 * A StatefulSet whose pods the sandbox creates itself, BEFORE the StatefulSet exists: the
 * controller then adopts them (matching selector and identity) instead of racing to create its
 * own, pod-less-of-status copies. OnDelete: it never replaces them.
 */
export async function applyStatefulSet(
  kc: KubeConfig,
  namespace: string,
  name: string,
  app: "redis" | "sentinel",
  labels: Record<string, string>,
  replicas: number,
  containerPort: number,
): Promise<V1StatefulSet> {
  const selector = { "app.kubernetes.io/name": app, "app.kubernetes.io/instance": name };
  return apply<V1StatefulSet>(kc, {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name, namespace, labels: { ...selector, ...labels } },
    spec: {
      replicas,
      serviceName: name,
      podManagementPolicy: "Parallel",
      updateStrategy: { type: "OnDelete" },
      selector: { matchLabels: selector },
      template: {
        metadata: { labels: { ...selector, ...labels } },
        spec: { containers: [{ name: app, image: `sandbox/${app}:local`, ports: [{ name: app, containerPort }] }] },
      },
    },
  });
}

/** The headless Service of a StatefulSet (DNS names `<pod>.<service>`). */
export async function applyHeadlessService(
  kc: KubeConfig,
  namespace: string,
  name: string,
  app: "redis" | "sentinel",
  containerPort: number,
): Promise<void> {
  const selector = { "app.kubernetes.io/name": app, "app.kubernetes.io/instance": name };
  await apply(kc, {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace, labels: selector },
    spec: { clusterIP: "None", selector, ports: [{ name: app, port: containerPort }], publishNotReadyAddresses: true },
  });
}

/** Creates (or re-applies) one pod of a StatefulSet's set, then writes its status as the kubelet would. */
export async function applyPod(kc: KubeConfig, input: PodSpecInput): Promise<V1Pod> {
  const name = podName(input.statefulSet, input.ordinal);
  const selector = { "app.kubernetes.io/name": input.app, "app.kubernetes.io/instance": input.statefulSet };
  await apply(kc, {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace: input.namespace,
      labels: {
        ...selector,
        ...input.labels,
        "statefulset.kubernetes.io/pod-name": name,
        "apps.kubernetes.io/pod-index": String(input.ordinal),
      },
    },
    spec: {
      nodeName: input.node,
      hostname: name,
      subdomain: input.statefulSet,
      automountServiceAccountToken: false,
      containers: [
        { name: input.app, image: `sandbox/${input.app}:local`, ports: [{ name: input.app, containerPort: input.containerPort }] },
      ],
    },
  });
  return setPodStatus(kc, input.namespace, name, {
    ip: input.ip,
    nodeIp: nodeIp(Number(input.node.split("-")[1] ?? 0)),
    ready: true,
    app: input.app,
  });
}

/** Writes a pod's status through the /status subresource: Running with `ip`, Ready or not. */
export async function setPodStatus(
  kc: KubeConfig,
  namespace: string,
  name: string,
  status: { ip: string; nodeIp: string; ready: boolean; app: string; phase?: "Running" | "Pending" | "Unknown" },
): Promise<V1Pod> {
  const core = kc.makeApiClient(CoreV1Api);
  const now = new Date().toISOString() as unknown as Date;
  const flag = status.ready ? "True" : "False";
  return core.patchNamespacedPodStatus(
    {
      name,
      namespace,
      body: {
        status: {
          phase: status.phase ?? "Running",
          podIP: status.ip,
          podIPs: [{ ip: status.ip }],
          hostIP: status.nodeIp,
          hostIPs: [{ ip: status.nodeIp }],
          startTime: now,
          conditions: [
            { type: "PodScheduled", status: "True", lastTransitionTime: now },
            { type: "Initialized", status: "True", lastTransitionTime: now },
            { type: "ContainersReady", status: flag, lastTransitionTime: now },
            { type: "Ready", status: flag, lastTransitionTime: now },
          ],
          containerStatuses: [
            {
              name: status.app,
              image: `sandbox/${status.app}:local`,
              imageID: "",
              ready: status.ready,
              started: true,
              restartCount: 0,
              state: { running: { startedAt: now } },
            },
          ],
        },
      },
    },
    setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
  );
}

export async function applyNamespace(kc: KubeConfig, namespace: string): Promise<void> {
  await apply(kc, { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
  // The ServiceAccount admission plugin refuses pods until the controller-manager made `default`.
  const core = kc.makeApiClient(CoreV1Api);
  await waitFor(
    `ServiceAccount default in namespace ${namespace}`,
    () => core.readNamespacedServiceAccount({ name: "default", namespace }).then(() => true),
    { timeoutMs: 30_000 },
  );
}
