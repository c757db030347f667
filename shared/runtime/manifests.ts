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

/** What differs between a function's own Deployment and the functions host's. */
interface Workload {
  name: string;
  /** The comment lines above it. */
  header: string;
  /** Another image than this project's (a hook's own). */
  image?: string;
  args: readonly string[];
  redis: boolean;
  /** More `env:` entries, each a YAML flow mapping. */
  env?: readonly string[];
  resources: string;
}

/** The Deployment running `failover run <module>` and its metrics Service. */
export function renderDeployment(fn: FunctionDefinition, o: ManifestOptions = {}): string {
  const n = fn.name;
  return renderWorkload({
    name: n,
    header: header(fn, fn.description ?? "a failover function."),
    image: o.image,
    args: ["run", o.module ?? n],
    redis: fn.access?.redis === true,
    resources: "requests: {cpu: 20m, memory: 64Mi}\n            limits: {cpu: 500m, memory: 192Mi}",
  });
}

function renderWorkload(w: Workload): string {
  const n = w.name;
  const labels = `{app.kubernetes.io/name: ${n}, app.kubernetes.io/component: function}`;
  // On the Deployment only: it runs this project's own image (an overlay's image patches, such as
  // components/dev-sources' `node --watch` for the dev target, select it by this; a hook's own image has none).
  const deploymentLabels =
    w.image === undefined ? `{app.kubernetes.io/name: ${n}, app.kubernetes.io/component: function, ${PROJECT_IMAGE_LABEL}}` : labels;
  const redis = w.redis ? `            - {name: REDIS_PASSWORD, valueFrom: {secretKeyRef: {name: redis-auth, key: password}}}\n` : "";
  const env = (w.env ?? []).map((e) => `            - ${e}\n`).join("");
  return `${w.header}apiVersion: apps/v1
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
          image: ${w.image ?? "failover-functions"}
          args: ${list(w.args)}
          ports:
            - {name: http, containerPort: 8080}
          envFrom:
            - configMapRef: {name: failover-settings}
          env:
            - {name: NAMESPACE, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
            - {name: SENTINEL_PASSWORD, valueFrom: {secretKeyRef: {name: redis-auth, key: sentinel-password}}}
${redis}            - {name: NATS_USER, valueFrom: {secretKeyRef: {name: nats-auth, key: user}}}
            - {name: NATS_PASSWORD, valueFrom: {secretKeyRef: {name: nats-auth, key: password}}}
${env}          readinessProbe:
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
            ${w.resources}
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

function renderRule(r: Pick<KubeRule, "why" | "names"> & { apiGroup: string; resource: string; verbs: readonly string[] }): string {
  return `${r.why ? `  # ${r.why}\n` : ""}  - apiGroups: ${list([r.apiGroup])}
    resources: ${list([r.resource])}
${r.names ? `    resourceNames: ${list(r.names)}\n` : ""}    verbs: ${list(r.verbs)}
`;
}

/** A ServiceAccount, its Role (`rules`, each rendered) and the RoleBinding between them. */
function renderAccount(n: string, labels: string, rules: readonly string[], roleComment = ""): string {
  return `apiVersion: v1
kind: ServiceAccount
metadata:
  name: ${n}
  labels: ${labels}
---
${roleComment}apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: ${n}
  labels: ${labels}
rules:
${rules.join("")}---
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

/** The ServiceAccount, the Role (declared rules, then Events) and the RoleBinding. */
export function renderRbac(fn: FunctionDefinition): string {
  const n = fn.name;
  const labels = `{app.kubernetes.io/name: ${n}, app.kubernetes.io/part-of: failover-functions}`;
  const rules = [
    ...(fn.access?.kube ?? []).map((r) => ({ ...r, apiGroup: KUBE_RESOURCES[r.resource] })),
    { apiGroup: "events.k8s.io", resource: "events", verbs: ["create"] as const },
  ];
  return `${header(fn, "least privilege. Every function records Warning Events (no quorum, forged event).")}${renderAccount(n, labels, rules.map(renderRule))}`;
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

/** The functions host's name: its Deployment, ServiceAccount, Role and metrics Service. */
export const HOST_NAME = "functions-host";

const READ_VERBS = new Set<string>(["get", "list", "watch"]);

/** The reads of every function's rules (its watch caches run as the host), one rule per resource and names. */
function hostReadRules(functions: readonly FunctionDefinition[]) {
  const rules = new Map<string, { apiGroup: string; resource: string; names?: readonly string[]; verbs: string[] }>();
  for (const fn of functions) {
    for (const r of fn.access?.kube ?? []) {
      const verbs = r.verbs.filter((v) => READ_VERBS.has(v));
      if (verbs.length === 0) continue;
      const key = `${r.resource}/${(r.names ?? []).join(",")}`;
      const rule = rules.get(key) ?? { apiGroup: KUBE_RESOURCES[r.resource], resource: r.resource, names: r.names, verbs: [] };
      for (const v of verbs) if (!rule.verbs.includes(v)) rule.verbs.push(v);
      rules.set(key, rule);
    }
  }
  const order = ["get", "list", "watch"];
  return [...rules.values()]
    .sort((a, b) => (a.resource + a.names?.join() < b.resource + b.names?.join() ? -1 : 1))
    .map((r) => ({ ...r, verbs: r.verbs.sort((a, b) => order.indexOf(a) - order.indexOf(b)) }));
}

/**
 * components/functions-host: `functions` in ONE process (one Node runtime, one verification of the
 * Sentinels per event shared by all, one connection pool), each still its own consumer, lane, field
 * manager and metrics, and each writing as its own ServiceAccount (FUNCTION_IDENTITY=impersonate):
 * the host's Role may only read what their caches watch and impersonate their ServiceAccounts.
 * The component deletes their own Deployments and metrics Services; their RBAC stays.
 */
export function renderHostFiles(functions: readonly FunctionDefinition[], o: ManifestOptions = {}): Record<string, string> {
  const n = HOST_NAME;
  const names = functions.map((f) => f.name);
  const rbacLabels = `{app.kubernetes.io/name: ${n}, app.kubernetes.io/part-of: failover-functions}`;
  const generated = `# Generated from the functions' declarations by \`failover manifests --host-out\`: edit the declarations, not this file.\n`;
  const rules = [
    ...hostReadRules(functions).map(renderRule),
    renderRule({
      apiGroup: "",
      resource: "serviceaccounts",
      names,
      verbs: ["impersonate"],
      why: "each function's calls are made as its own ServiceAccount (Impersonate-User), under its own Role",
    }),
  ];
  const host = `# ${n}: ${names.join(", ")} in one process, each acting as its own ServiceAccount.
${generated}${renderAccount(n, rbacLabels, rules, "# Reads for the shared watch caches, and impersonating the hosted functions: no write of its own.\n")}---
${renderWorkload({
  name: n,
  header: `# The Deployment running them all.\n`,
  image: o.image,
  args: ["run", ...names],
  redis: functions.some((f) => f.access?.redis === true),
  env: ["{name: FUNCTION_IDENTITY, value: impersonate}"],
  resources: "requests: {cpu: 50m, memory: 96Mi}\n            limits: {cpu: 1000m, memory: 256Mi}",
})}`;
  const deletions = names
    .flatMap((f) => [
      `  - patch: |-\n      $patch: delete\n      apiVersion: apps/v1\n      kind: Deployment\n      metadata: {name: ${f}}\n`,
      `  - patch: |-\n      $patch: delete\n      apiVersion: v1\n      kind: Service\n      metadata: {name: ${f}-metrics}\n`,
    ])
    .join("");
  const kustomization = `# components/functions-host: the functions below in one process (Deployment ${n}) instead of a
# Deployment each: ${names.join(", ")}.
# Each keeps its own JetStream consumer, lane, field manager, metrics (label fn) and ServiceAccount
# + Role: the host impersonates it for every write and Event, so a function may still do only what
# its own Role allows. Add it to an overlay's components: [../../components/functions-host]
# On a running deployment, apply it and then delete what it replaces (applying removes nothing):
#   kubectl delete ${names.map((f) => `deployment/${f}`).join(" ")}
#   kubectl delete ${names.map((f) => `service/${f}-metrics`).join(" ")}
${generated}apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
resources:
  - host.yaml
patches:
  # The hosted functions' own Deployments and metrics Services go; their RBAC stays (the host acts as them).
${deletions}`;
  return { "kustomization.yaml": kustomization, "host.yaml": host };
}
