/**
 * The shipped dev overlay on the sandbox's real node, applied as a user applies it (`kubectl apply`
 * of `kubectl kustomize manifests/overlays/dev`, the image name set to the project's image built
 * here, as skaffold or `kustomize edit set image` would): every pod starts in containers, the init
 * containers decide the roles, the functions write labels, the EndpointSlice of `redis-master` and
 * its ConfigMap, and a sentinel-unaware client writing through the ClusterIP (kube-proxy) follows a
 * failover. Nothing here writes a pod's status.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CoreV1Api, DiscoveryV1Api, dumpYaml, loadAllYaml } from "@kubernetes/client-node";
import type { V1Container, V1Pod, V1PodTemplateSpec, V1Secret } from "@kubernetes/client-node";
import { binaryPath, startSandbox, waitFor } from "../../sandbox/index.ts";
import type { Sandbox } from "../../sandbox/index.ts";
import { PROJECT_IMAGE } from "../../sandbox/images.ts";
import { Writer } from "../../sandbox/writer.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const run = promisify(execFile);
const NS = "redis"; // the dev overlay's namespace
const PODS = 15; // redis x3, sentinel x3, nats, relay x2, six functions

let sb: Sandbox;
let core: CoreV1Api;
let password: string;
let sentinelPassword: string;

interface Obj {
  kind: string;
  metadata: { name: string };
  spec?: { template?: V1PodTemplateSpec };
  [key: string]: unknown;
}

/** What skaffold does to the rendered manifests: the artifact's image name becomes the built image. */
function setImage(objs: Obj[], from: string, to: string): Obj[] {
  for (const o of objs) {
    const spec = o.spec?.template?.spec;
    for (const c of [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])] as V1Container[]) if (c.image === from) c.image = to;
  }
  return objs;
}

const ready = (p: V1Pod) => p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;

async function pods(): Promise<V1Pod[]> {
  return (await core.listNamespacedPod({ namespace: NS })).items;
}

/** The cluster's picture of the master: labels, the EndpointSlice's addresses, the ConfigMap. */
async function picture(): Promise<{ labelled: string[]; endpoints: string[]; configMapPod: string | undefined; ipOf: Record<string, string> }> {
  const all = await pods();
  const slices = await sb.kubeConfig.makeApiClient(DiscoveryV1Api).listNamespacedEndpointSlice({ namespace: NS, labelSelector: "kubernetes.io/service-name=redis-master" });
  const cm = await core.readNamespacedConfigMap({ name: "redis-master", namespace: NS }).catch(() => undefined);
  return {
    labelled: all.filter((p) => p.metadata?.labels?.["redis-role"] === "master").map((p) => p.metadata!.name!),
    endpoints: slices.items.flatMap((s) => (s.endpoints ?? []).flatMap((e) => e.addresses)),
    configMapPod: cm?.data?.pod,
    ipOf: Object.fromEntries(all.map((p) => [p.metadata!.name!, p.status?.podIP ?? ""])),
  };
}

beforeAll(async () => {
  // The sandbox's own process pods go elsewhere: namespace redis is the overlay's.
  sb = await startSandbox({ node: true, nats: false, masters: 1, redisPerMaster: 1, sentinels: 1, namespace: "sandbox-processes" });
  core = sb.kubeConfig.makeApiClient(CoreV1Api);
  const { stdout } = await run(binaryPath("kubectl"), ["kustomize", join(ROOT, "manifests/overlays/dev")], { maxBuffer: 16 << 20 });
  const objs = setImage(loadAllYaml(stdout) as Obj[], "failover-functions", PROJECT_IMAGE.dev);
  const secret = objs.find((o) => o.kind === "Secret" && o.metadata.name.startsWith("redis-auth")) as unknown as V1Secret;
  password = Buffer.from(secret.data!.password!, "base64").toString();
  sentinelPassword = Buffer.from(secret.data!["sentinel-password"]!, "base64").toString();
  const file = join(mkdtempSync(join(tmpdir(), "stack-")), "dev.yaml");
  writeFileSync(file, objs.map((o) => dumpYaml(o)).join("---\n"));
  const t0 = performance.now();
  await sb.kubectl("apply", "--server-side", "-f", file);
  await waitFor(
    "every pod of the dev overlay Running and Ready",
    async () => {
      const all = await pods();
      return all.length === PODS && all.every(ready);
    },
    { timeoutMs: 240_000, intervalMs: 500 },
  ).catch(async (err: unknown) => {
    throw new Error(`not all pods Ready:\n${await sb.kubectl("get", "pods", "-n", NS, "-o", "wide")}`, { cause: err });
  });
  console.log(`[figure] kubectl apply of overlays/dev -> all ${PODS} pods Ready on the node: ${Math.round(performance.now() - t0)} ms`);
}, 600_000);

afterAll(async () => {
  await sb?.stop();
  expect(sb?.nodeLeftovers ?? []).toEqual([]);
});

describe("the dev overlay on the real node", () => {
  it("comes up complete on one node, its volumes bound, with exactly one master in every picture", async () => {
    const claims = (await core.listNamespacedPersistentVolumeClaim({ namespace: NS })).items;
    expect(claims.map((c) => c.status?.phase)).toEqual(claims.map(() => "Bound"));
    expect(claims.length).toBe(4); // redis x3, nats
    const p = await waitFor(
      "the functions to name the master",
      async () => {
        const now = await picture();
        return now.labelled.length === 1 && now.endpoints.length === 1 && now.configMapPod === now.labelled[0] ? now : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    expect(p.endpoints).toEqual([p.ipOf[p.labelled[0]!]]);
    // The master the Sentinels name is the one Kubernetes names.
    const sentinelSays = await sb.kubectl("exec", "-n", NS, "sentinel-0", "-c", "sentinel", "--", "redis-cli", "-p", "26379", "-a", sentinelPassword, "--no-auth-warning", "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster");
    expect(sentinelSays.split("\n")[0]).toBe(p.ipOf[p.labelled[0]!]);
  });

  it("hands the master over when its pod is deleted: a plain client through the ClusterIP loses no acknowledged write", async () => {
    const before = await picture();
    const oldMaster = before.labelled[0]!;
    const oldUid = (await core.readNamespacedPod({ name: oldMaster, namespace: NS })).metadata!.uid!;
    const clusterIp = (await core.readNamespacedService({ name: "redis-master", namespace: NS })).spec!.clusterIP!;
    const writer = new Writer({ target: () => ({ host: clusterIp, port: 6379 }), password, keyPrefix: "e2e", commandTimeoutMs: 500 });
    const violations: string[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const now = await picture().catch(() => undefined);
        if (now && (now.labelled.length > 1 || now.endpoints.length > 1)) violations.push(JSON.stringify({ labelled: now.labelled, endpoints: now.endpoints }));
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    writer.start();
    await waitFor("the writer's first acknowledgements", () => writer.acks.length > 50, { timeoutMs: 10_000 });
    const t0 = performance.now();
    await sb.kubectl("delete", "pod", "-n", NS, oldMaster, "--wait=false");
    const after = await waitFor(
      "a new master in every picture",
      async () => {
        const now = await picture();
        const m = now.labelled[0];
        return m && m !== oldMaster && now.labelled.length === 1 && now.endpoints[0] === now.ipOf[m] && now.configMapPod === m ? now : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 100 },
    );
    const movedMs = performance.now() - t0;
    // The deleted pod comes back (StatefulSet) and its init container makes it a replica.
    await waitFor(
      "the old master's pod recreated and Ready",
      async () => {
        const p = await core.readNamespacedPod({ name: oldMaster, namespace: NS }).catch(() => undefined);
        return p !== undefined && p.metadata!.uid !== oldUid && ready(p);
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    const role = await sb.kubectl("exec", "-n", NS, oldMaster, "-c", "redis", "--", "redis-cli", "-a", password, "--no-auth-warning", "ROLE");
    expect(role.split("\n")[0]).toBe("slave");
    await new Promise((r) => setTimeout(r, 1000));
    await writer.stop();
    sampling = false;
    await sampler;
    const lost = await writer.checkLost({ host: clusterIp, port: 6379 }, password);
    let gap = 0;
    for (let i = 1; i < writer.acks.length; i++) gap = Math.max(gap, writer.acks[i]!.at - writer.acks[i - 1]!.at);
    console.log(
      `[figure] kubectl delete pod (master, preStop handover), plain client via kube-proxy: ${writer.acks.length} acknowledged, ${lost.length} lost, longest gap ${Math.round(gap)} ms; labels+slice+ConfigMap on the new master after ${Math.round(movedMs)} ms`,
    );
    expect(after.labelled[0]).not.toBe(oldMaster);
    expect(violations).toEqual([]);
    expect(lost).toEqual([]);
    expect(writer.acks.length).toBeGreaterThan(100);
  });
});
