import { describe, expect, it } from "vitest";
import { defineFunction } from "./define-function.ts";
import { renderDeployment, renderHostFiles, renderRbac } from "./manifests.ts";

const hook = defineFunction({
  name: "my-hook",
  on: ["switch-master"],
  access: {
    kube: [
      { resource: "endpointslices", verbs: ["list", "watch"], why: "read slices" },
      { resource: "configmaps", names: ["mine"], verbs: ["patch"] },
    ],
    redis: true,
  },
  reconcile: () => Promise.resolve(),
});

describe("a function's manifests from its declaration", () => {
  it("grants the declared rules with their API group, then creating Events, and nothing else", () => {
    const rbac = renderRbac(hook);
    const rules = rbac.slice(rbac.indexOf("rules:"), rbac.indexOf("---", rbac.indexOf("rules:")));
    expect(rules).toBe(`rules:
  # read slices
  - apiGroups: ["discovery.k8s.io"]
    resources: ["endpointslices"]
    verbs: ["list", "watch"]
  - apiGroups: [""]
    resources: ["configmaps"]
    resourceNames: ["mine"]
    verbs: ["patch"]
  - apiGroups: ["events.k8s.io"]
    resources: ["events"]
    verbs: ["create"]
`);
    expect(rbac).toContain("subjects:\n  - {kind: ServiceAccount, name: my-hook}");
  });

  it("a function with no access declared may create Events only", () => {
    const none = defineFunction({ name: "quiet", on: ["sdown"], reconcile: () => Promise.resolve() });
    expect(renderRbac(none).match(/apiGroups/g)).toHaveLength(1);
    expect(renderDeployment(none)).not.toContain("REDIS_PASSWORD");
  });

  it("runs the module given, on the image given, with REDIS_PASSWORD when it uses Redis", () => {
    const d = renderDeployment(hook, { image: "registry.example/my-hook:1", module: "/app/hooks/my-hook/index.js" });
    expect(d).toContain("image: registry.example/my-hook:1");
    expect(d).toContain('args: ["run", "/app/hooks/my-hook/index.js"]');
    expect(d).toContain("{name: REDIS_PASSWORD, valueFrom: {secretKeyRef: {name: redis-auth, key: password}}}");
    expect(renderDeployment(hook)).toContain('args: ["run", "my-hook"]');
  });
});

describe("the functions host's manifests", () => {
  const other = defineFunction({
    name: "other",
    on: ["switch-master"],
    access: {
      kube: [
        { resource: "pods", verbs: ["list", "watch", "patch"] },
        { resource: "endpointslices", verbs: ["watch", "get"] },
      ],
    },
    reconcile: () => Promise.resolve(),
  });
  const files = renderHostFiles([hook, other]);
  const host = files["host.yaml"]!;
  const kustomization = files["kustomization.yaml"]!;
  const role = host.slice(host.indexOf("kind: Role\n"), host.indexOf("---", host.indexOf("kind: Role\n")));

  it("may read what the functions' caches read, impersonate their ServiceAccounts, and write nothing", () => {
    expect(role.slice(role.indexOf("rules:"))).toBe(`rules:
  - apiGroups: ["discovery.k8s.io"]
    resources: ["endpointslices"]
    verbs: ["get", "list", "watch"]
  - apiGroups: [""]
    resources: ["pods"]
    verbs: ["list", "watch"]
  # each function's calls are made as its own ServiceAccount (Impersonate-User), under its own Role
  - apiGroups: [""]
    resources: ["serviceaccounts"]
    resourceNames: ["my-hook", "other"]
    verbs: ["impersonate"]
`);
  });

  it("runs them all in one process as themselves, with Redis access if any needs it, instead of their own Deployments", () => {
    expect(host).toContain('args: ["run", "my-hook", "other"]');
    expect(host).toContain("{name: FUNCTION_IDENTITY, value: impersonate}");
    expect(host).toContain("{name: REDIS_PASSWORD,");
    expect(host).toContain("serviceAccountName: functions-host");
    for (const name of ["my-hook", "other"]) {
      expect(kustomization).toContain(`kind: Deployment\n      metadata: {name: ${name}}`);
      expect(kustomization).toContain(`kind: Service\n      metadata: {name: ${name}-metrics}`);
    }
    expect(kustomization).not.toMatch(/kind: (ServiceAccount|Role)/);
  });
});
