/**
 * A function's Kubernetes objects from its own declaration (name, description, access), so no
 * Deployment or Role is copied by hand: its Deployment + metrics Service, and its ServiceAccount +
 * least-privilege Role (the declared rules, then creating Events) + RoleBinding. The text is the
 * one manifests/base/functions/ commits (a unit test compares them); `failover manifests` writes it.
 */
import { KUBE_RESOURCES } from "./define-function.ts";
import type { FunctionDefinition, KubeRule } from "./define-function.ts";

export interface ManifestOptions {
  /** The container image (kustomize `images:` rewrites it per overlay). */
  image?: string;
  /** What `failover run` is given: the built-in's name (default) or the module's path in the image. */
  module?: string;
}

/** The label of a Deployment that runs this project's image (`failover-functions`), as `key: value`. */
export const PROJECT_IMAGE_LABEL = "failover.io/image: failover-functions";

const list = (items: readonly string[]) => `[${items.map((i) => JSON.stringify(i)).join(", ")}]`;

function header(fn: FunctionDefinition, what: string): string {
  return `# ${fn.name}: ${what}\n# Generated from the function's declaration by \`failover manifests\`: edit the declaration, not this file.\n`;
}

/** The Deployment running `failover run <module>` and its metrics Service. */
export function renderDeployment(fn: FunctionDefinition, o: ManifestOptions = {}): string {
  const n = fn.name;
  const labels = `{app.kubernetes.io/name: ${n}, app.kubernetes.io/component: function}`;
  // On the Deployment only: it runs this project's own image (an overlay's image patches, such as
  // overlays/dev's `node --watch` for the dev target, select it by this; a hook's own image has none).
  const deploymentLabels =
    o.image === undefined ? `{app.kubernetes.io/name: ${n}, app.kubernetes.io/component: function, ${PROJECT_IMAGE_LABEL}}` : labels;
  const redis = fn.access?.redis
    ? `            - {name: REDIS_PASSWORD, valueFrom: {secretKeyRef: {name: redis-auth, key: password}}}\n`
    : "";
  return `${header(fn, fn.description ?? "a failover function.")}apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${n}
  labels: ${deploymentLabels}
spec:
  replicas: 1
  revisionHistoryLimit: 3
  selector:
    matchLabels: {app.kubernetes.io/name: ${n}}
  template:
    metadata:
      labels: ${labels}
    spec:
      serviceAccountName: ${n}
      automountServiceAccountToken: true
      # SIGTERM drains the consumer (in-flight reconciles finish, the rest is redelivered).
      terminationGracePeriodSeconds: 30
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        runAsGroup: 65532
        seccompProfile: {type: RuntimeDefault}
      containers:
        - name: function
          image: ${o.image ?? "failover-functions"}
          args: ${list(["run", o.module ?? n])}
          ports:
            - {name: http, containerPort: 8080}
          envFrom:
            - configMapRef: {name: failover-settings}
          env:
            - {name: NAMESPACE, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
            - {name: SENTINEL_PASSWORD, valueFrom: {secretKeyRef: {name: redis-auth, key: sentinel-password}}}
${redis}            - {name: NATS_USER, valueFrom: {secretKeyRef: {name: nats-auth, key: user}}}
            - {name: NATS_PASSWORD, valueFrom: {secretKeyRef: {name: nats-auth, key: password}}}
          readinessProbe:
            httpGet: {path: /readyz, port: http}
            periodSeconds: 5
          # Liveness starts once /healthz answers: a function on a busy node (16 pods starting
          # Node at once on 2 cores) took over 40 s to serve it, and was killed by liveness.
          startupProbe:
            httpGet: {path: /healthz, port: http}
            periodSeconds: 2
            failureThreshold: 90
          livenessProbe:
            httpGet: {path: /healthz, port: http}
            initialDelaySeconds: 10
            periodSeconds: 10
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: ["ALL"]}
          resources:
            requests: {cpu: 20m, memory: 64Mi}
            limits: {cpu: 500m, memory: 192Mi}
---
# /metrics (Prometheus), /healthz, /readyz
apiVersion: v1
kind: Service
metadata:
  name: ${n}-metrics
  labels: ${labels}
spec:
  selector: {app.kubernetes.io/name: ${n}}
  ports:
    - {name: metrics, port: 8080, targetPort: http}
`;
}

function renderRule(r: Pick<KubeRule, "why" | "names" | "verbs"> & { apiGroup: string; resource: string }): string {
  return `${r.why ? `  # ${r.why}\n` : ""}  - apiGroups: ${list([r.apiGroup])}
    resources: ${list([r.resource])}
${r.names ? `    resourceNames: ${list(r.names)}\n` : ""}    verbs: ${list(r.verbs)}
`;
}

/** The ServiceAccount, the Role (declared rules, then Events) and the RoleBinding. */
export function renderRbac(fn: FunctionDefinition): string {
  const n = fn.name;
  const labels = `{app.kubernetes.io/name: ${n}, app.kubernetes.io/part-of: failover-functions}`;
  const rules = [
    ...(fn.access?.kube ?? []).map((r) => ({ ...r, apiGroup: KUBE_RESOURCES[r.resource] })),
    { apiGroup: "events.k8s.io", resource: "events", verbs: ["create"] as const },
  ];
  return `${header(fn, "least privilege. Every function records Warning Events (no quorum, forged event).")}apiVersion: v1
kind: ServiceAccount
metadata:
  name: ${n}
  labels: ${labels}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: ${n}
  labels: ${labels}
rules:
${rules.map(renderRule).join("")}---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: ${n}
  labels: ${labels}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: ${n}}
subjects:
  - {kind: ServiceAccount, name: ${n}}
`;
}

/** Files under a kustomize directory: `deployments/<name>.yaml` and `rbac/<name>.yaml` per function. */
export function renderFunctionFiles(functions: readonly FunctionDefinition[], o: ManifestOptions = {}): Record<string, string> {
  return Object.fromEntries(
    functions.flatMap((fn) => [
      [`rbac/${fn.name}.yaml`, renderRbac(fn)],
      [`deployments/${fn.name}.yaml`, renderDeployment(fn, o)],
    ]),
  );
}
