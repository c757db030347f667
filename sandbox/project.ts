/**
 * The project itself on the sandbox, as it runs in a cluster: its RBAC objects and the selectorless
 * `redis-master` Service applied to the apiserver, two sentinel-relay processes, and one process per
 * function, each authenticated as its own ServiceAccount (a TokenRequest token), so the Roles the
 * manifests ship are the only permissions the functions have.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CoreV1Api, loadAllYaml } from "@kubernetes/client-node";
import type { KubernetesObject } from "@kubernetes/client-node";
import { baseFunctionNames } from "../functions/index.ts";
import { apply } from "./cluster.ts";
import { failoverProcess, sandboxEnv, startRelays } from "./failover-process.ts";
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

/** The RBAC objects of every function, from the manifests, in `namespace`. */
export function rbacObjects(namespace: string): KubernetesObject[] {
  return [
    ...readdirSync(RBAC_DIR)
      .filter((f) => f.endsWith(".yaml"))
      .map((f) => join(RBAC_DIR, f)),
    WEBHOOK_RBAC,
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
  const ports = new Map(names.map((n, i) => [n, 18090 + i]));
  const functions = new Map<string, ManagedProcess>();
  const started: ManagedProcess[] = [];
  try {
    for (const name of names) {
      const kubeconfig = await serviceAccountKubeconfig(sb, name);
      const proc = failoverProcess({
        name: `function ${name}`,
        args: ["run", name],
        env: {
          ...sandboxEnv(sb),
          KUBECONFIG: kubeconfig,
          NAMESPACE: ns,
          RESYNC_INTERVAL_MS: String(options.resyncIntervalMs ?? 30_000),
          ...options.env,
        },
        httpPort: ports.get(name)!,
        logFile: join(sb.dir, `function-${name}.log`),
      });
      functions.set(name, proc);
      started.push(proc);
    }
    await Promise.all(started.map((p) => p.start()));
    const relays = await startRelays(sb, options.relays ?? 2);
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
