/**
 * The project itself on the sandbox, as it runs in a cluster: its RBAC objects and the selectorless
 * `redis-master` Service applied to the apiserver, two sentinel-relay processes, and one process per
 * function, each authenticated as its own ServiceAccount (a TokenRequest token), so the Roles the
 * manifests ship are the only permissions the functions have. With `host`: the functions in ONE
 * process as components/functions-host runs them, authenticated as ServiceAccount functions-host
 * (that component's Role) and acting as each function's own (FUNCTION_IDENTITY=impersonate).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CoreV1Api, loadAllYaml } from "@kubernetes/client-node";
import type { KubernetesObject } from "@kubernetes/client-node";
import { baseFunctionNames } from "../functions/index.ts";
import { HOST_NAME } from "../shared/runtime/manifests.ts";
import { apply } from "./cluster.ts";
import { failoverProcess, HOST_OBJECTS, sandboxEnv, startRelays } from "./failover-process.ts";
import type { ProcessCode } from "./failover-process.ts";
import { writeKubeconfig } from "./pki.ts";
import type { ManagedProcess } from "./process.ts";
import type { Sandbox } from "./sandbox.ts";

export const RBAC_DIR = fileURLToPath(new URL("../manifests/base/functions/rbac/", import.meta.url));
/** Every base function (functions/index.ts), one process each. */
export const DEFAULT_FUNCTIONS = baseFunctionNames;

export interface ProjectOptions {
  functions?: string[];
  relays?: number;
  resyncIntervalMs?: number;
  /** Extra environment for every function process. */
  env?: Record<string, string>;
  /** The functions in one process, as components/functions-host runs them (httpPort(fn) is then the host's for every fn). */
  host?: boolean;
  /** NODE_OPTIONS of every process, relays included (default: the image's). */
  nodeOptions?: string;
  /** The sources (default) or dist/, as the production image runs it (build it first: buildDist). */
  code?: ProcessCode;
}

export interface Project {
  relays: ManagedProcess[];
  functions: Map<string, ManagedProcess>;
  /** HTTP port (/metrics, /readyz) of a function process. */
  httpPort(fn: string): number;
  stop(): Promise<void>;
}

/** The webhook function is an optional component of the manifests; its RBAC lives there. */
export const WEBHOOK_RBAC = fileURLToPath(new URL("../manifests/components/webhook/rbac.yaml", import.meta.url));
export const POD_LOSS_RBAC = fileURLToPath(
  new URL("../manifests/components/pod-loss-failover/rbac/pod-loss-failover.yaml", import.meta.url),
);

/** The RBAC objects of every function, from the manifests, in `namespace`. */
export function rbacObjects(namespace: string): KubernetesObject[] {
  return [
    ...readdirSync(RBAC_DIR)
      .filter((f) => f.endsWith(".yaml"))
      .map((f) => join(RBAC_DIR, f)),
    WEBHOOK_RBAC,
    POD_LOSS_RBAC,
  ]
    .flatMap((f) => loadAllYaml(readFileSync(f, "utf8")) as KubernetesObject[])
    .map((o) => ({ ...o, metadata: { ...o.metadata, namespace } }));
}

/** A kubeconfig that authenticates as ServiceAccount `name` (a 1-hour TokenRequest token). */
export async function serviceAccountKubeconfig(sb: Sandbox, name: string): Promise<string> {
  const core = sb.kubeConfig.makeApiClient(CoreV1Api);
  const token = await core.createNamespacedServiceAccountToken({
    name,
    namespace: sb.namespace,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  return writeKubeconfig(
    join(sb.dir, `${name}.kubeconfig`),
    sb.controlPlane!.pki,
    sb.controlPlane!.server,
    { name, token: token.status?.token ?? "" },
    sb.namespace,
  );
}

export async function startProject(sb: Sandbox, options: ProjectOptions = {}): Promise<Project> {
  const ns = sb.namespace;
  for (const o of rbacObjects(ns)) await apply(sb.kubeConfig, o);
  await apply(sb.kubeConfig, {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "redis-master", namespace: ns },
    spec: { ports: [{ name: "redis", port: 6379, targetPort: 6379, protocol: "TCP" }] },
  });
  const names = options.functions ?? DEFAULT_FUNCTIONS;
  if (options.host) {
    // the host's ServiceAccount, Role and RoleBinding are applied; its Deployment is this process
    const rbac = (loadAllYaml(readFileSync(HOST_OBJECTS, "utf8")) as KubernetesObject[]).filter((o) =>
      /^(ServiceAccount|Role|RoleBinding)$/.test(o.kind ?? ""),
    );
    for (const o of rbac) await apply(sb.kubeConfig, { ...o, metadata: { ...o.metadata, namespace: ns } });
  }
  // one process per function, or the host's one for all
  const processes = options.host ? [{ name: HOST_NAME, run: names }] : names.map((n) => ({ name: n, run: [n] }));
  const ports = new Map(processes.flatMap((p, i) => p.run.map((fn) => [fn, 18090 + i] as const)));
  const functions = new Map<string, ManagedProcess>();
  const started: ManagedProcess[] = [];
  const nodeOptions: Record<string, string> = options.nodeOptions === undefined ? {} : { NODE_OPTIONS: options.nodeOptions };
  const code = options.code ? { code: options.code } : {};
  try {
    for (const { name, run } of processes) {
      const kubeconfig = await serviceAccountKubeconfig(sb, name);
      const proc = failoverProcess({
        name: options.host ? name : `function ${name}`,
        args: ["run", ...run],
        env: {
          ...sandboxEnv(sb),
          KUBECONFIG: kubeconfig,
          NAMESPACE: ns,
          RESYNC_INTERVAL_MS: String(options.resyncIntervalMs ?? 30_000),
          ...(options.host ? { FUNCTION_IDENTITY: "impersonate" } : {}),
          ...nodeOptions,
          ...options.env,
        },
        httpPort: ports.get(run[0]!)!,
        logFile: join(sb.dir, `function-${name}.log`),
        ...code,
      });
      for (const fn of run) functions.set(fn, proc);
      started.push(proc);
    }
    await Promise.all(started.map((p) => p.start()));
    const relays = await startRelays(sb, { count: options.relays ?? 2, env: nodeOptions, ...code });
    started.push(...relays);
    return {
      relays,
      functions,
      httpPort: (fn) => ports.get(fn)!,
      stop: async () => {
        await Promise.all(started.map((p) => p.stop()));
      },
    };
  } catch (err) {
    await Promise.all(started.map((p) => p.stop()));
    throw err;
  }
}
