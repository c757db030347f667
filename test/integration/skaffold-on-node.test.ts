/**
 * `skaffold dev` on the sandbox's real node, as a user runs it against a local cluster: skaffold
 * builds the Dockerfile's dev target (buildah, profile `sandbox`: no Docker daemon here), pushes it
 * to the node's registry (`--default-repo`), renders manifests/overlays/dev, applies it, and its own
 * status check waits for every rollout. Then: every pod runs in containers, the init containers
 * decide the roles, the functions write labels, the EndpointSlice of `redis-master` and its
 * ConfigMap; skaffold's port-forward of localhost:6379 reaches the master, also after a failover;
 * a `.ts` edit is synced into the running pods and restarts the function without a rebuild; and a
 * sentinel-unaware client writing through the ClusterIP (kube-proxy) follows a failover. Nothing
 * here writes a pod's status. skaffold runs in a copy of the checkout (the test edits a file).
 */
import { appendFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CoreV1Api } from "@kubernetes/client-node";
import { Redis } from "ioredis";
import { waitFor } from "../../sandbox/index.ts";
import type { Sandbox } from "../../sandbox/index.ts";
import { REGISTRY } from "../../sandbox/addresses.ts";
import {
  copyCheckout,
  NS,
  picture as pictureOf,
  podsIn,
  ready,
  skaffold as startSkaffold,
  startNodeSandbox,
  startWriters,
  waitOneMaster,
} from "../../sandbox/stack.ts";
import type { Skaffold } from "../../sandbox/stack.ts";

const PODS = 17; // redis x3, sentinel x3, nats, relay x2, six functions, pod-loss-failover, the master-forward relay
const FORWARD = { host: "127.0.0.1", port: 6379 }; // skaffold.yaml's portForward of redis-master-forward
// overlays/dev's secretGenerator
const password = "dev-redis-password-change-me";
const sentinelPassword = "dev-sentinel-password-change-me";

let sb: Sandbox;
let core: CoreV1Api;
let workdir: string;
let dev: Skaffold | undefined;
const output = () => dev?.output() ?? "";
const count = (text: string, needle: string) => text.split(needle).length - 1;
const pods = () => podsIn(sb);
const picture = () => pictureOf(sb);

/** One write through skaffold's port-forward on a new connection. */
async function writeViaForward(key: string): Promise<boolean> {
  const client = new Redis({
    ...FORWARD,
    password,
    lazyConnect: true,
    connectTimeout: 1000,
    commandTimeout: 1000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on("error", () => {});
  try {
    await client.connect();
    return (await client.set(key, "1")) === "OK";
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

async function onPod(pod: string, ...cmd: string[]): Promise<string> {
  return (await sb.kubectl("exec", "-n", NS, pod, "-c", "redis", "--", "redis-cli", "-a", password, "--no-auth-warning", ...cmd)).trim();
}

beforeAll(async () => {
  sb = await startNodeSandbox();
  core = sb.kubeConfig.makeApiClient(CoreV1Api);
  workdir = await copyCheckout();
  const t0 = performance.now();
  dev = startSkaffold(sb, workdir, ["dev", "-p", "sandbox", "--port-forward=user", "--tag", "e2e", "--cleanup=true"], "skaffold-dev.log");
  await dev.waitOutput("Watching for changes...", "skaffold dev to build, deploy, pass its status check and watch", 420_000);
  const stabilized = /Deployments stabilized in ([^\n]+)/.exec(output());
  console.log(
    `[figure] skaffold dev -p sandbox (build+push, deploy overlays/dev, status check) -> watching: ${Math.round(performance.now() - t0)} ms; skaffold's own "Deployments stabilized in ${stabilized?.[1] ?? "?"}"`,
  );
}, 600_000);

afterAll(async () => {
  await dev?.interrupt(); // Ctrl-C: skaffold deletes what it deployed, then exits
  if (workdir) rmSync(workdir, { recursive: true, force: true });
  await sb?.stop();
  expect(sb?.nodeLeftovers ?? []).toEqual([]);
}, 240_000);

describe("skaffold dev -p sandbox on the real node", () => {
  it("builds once, deploys overlays/dev complete on one node, volumes bound, with exactly one master in every picture", async () => {
    expect(count(output(), "Building [failover-functions]...")).toBe(1);
    expect(output()).toContain(`${REGISTRY}/failover-functions:e2e`);
    expect(output()).toMatch(/Deployments stabilized in/);
    const all = await pods();
    expect(all.length).toBe(PODS);
    expect(all.filter((p) => !ready(p)).map((p) => p.metadata!.name)).toEqual([]);
    // Every project container runs what skaffold pushed to the node's registry.
    const images = new Set(all.flatMap((p) => [...(p.spec!.initContainers ?? []), ...p.spec!.containers].map((c) => c.image!)));
    expect(
      [...images].filter((i) => i.includes("failover-functions")).every((i) => i.startsWith(`${REGISTRY}/failover-functions:e2e@sha256:`)),
    ).toBe(true);
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
    const sentinelSays = await sb.kubectl(
      "exec",
      "-n",
      NS,
      "sentinel-0",
      "-c",
      "sentinel",
      "--",
      "redis-cli",
      "-p",
      "26379",
      "-a",
      sentinelPassword,
      "--no-auth-warning",
      "SENTINEL",
      "GET-MASTER-ADDR-BY-NAME",
      "mymaster",
    );
    expect(sentinelSays.split("\n")[0]).toBe(p.ipOf[p.labelled[0]!]);
  });

  it("sizes every Node process's V8 heap to a third of its container's memory limit, where V8's own default is above the limit", async () => {
    // `node` run in the container: the image's NODE_OPTIONS, the container's cgroup (its memory limit).
    const heapLimitMiB = async (pod: string, nodeOptions?: string) => {
      const env = nodeOptions === undefined ? [] : ["env", `NODE_OPTIONS=${nodeOptions}`];
      const script = "Math.round(require('v8').getHeapStatistics().heap_size_limit / 2 ** 20)";
      return Number((await sb.kubectl("exec", "-n", NS, pod, "-c", "function", "--", ...env, "node", "-p", script)).trim());
    };
    const all = await pods();
    for (const app of ["sentinel-relay", "label-master"]) {
      const pod = all.find((p) => p.metadata?.labels?.["app.kubernetes.io/name"] === app)!;
      const limit = pod.spec!.containers.find((c) => c.name === "function")!.resources!.limits!.memory as string;
      const limitMiB = Number(/^(\d+)Mi$/.exec(limit)![1]);
      const capped = await heapLimitMiB(pod.metadata!.name!);
      // old generation 33 % of the limit, plus the young generation's 2 x 2 MB and V8's rounding
      expect(capped).toBeGreaterThanOrEqual(Math.floor(limitMiB * 0.33));
      expect(capped).toBeLessThanOrEqual(Math.floor(limitMiB * 0.33) + 8);
      // the same container without the cap: V8 sizes its heap past the limit (the kernel's OOM kill comes first)
      const uncapped = await heapLimitMiB(pod.metadata!.name!, "--max-semi-space-size=2");
      expect(uncapped).toBeGreaterThan(limitMiB);
      console.log(
        `[figure] ${app}: V8 heap limit ${capped} MiB under its ${limitMiB} Mi container limit (V8's own default there: ${uncapped} MiB)`,
      );
    }
  });

  it("forwards localhost:6379 to the master (through redis-master-forward and Service redis-master)", async () => {
    expect(output()).toMatch(
      /Port forwarding service\/redis-master-forward in namespace redis, remote port 6379 -> http:\/\/127\.0\.0\.1:6379/,
    );
    const key = `forward-${Date.now()}`;
    expect(await writeViaForward(key)).toBe(true);
    const master = (await picture()).labelled[0]!;
    expect(await onPod(master, "GET", key)).toBe("1");
  });

  it("syncs an edited function file into its pod and restarts it there, without a rebuild", async () => {
    const builds = count(output(), "Building [failover-functions]...");
    const syncs = count(output(), "Syncing 1 files for");
    const marker = `sync-${Date.now()}`;
    const t0 = performance.now();
    let syncingMs: number | undefined;
    const seen = setInterval(() => {
      if (syncingMs === undefined && count(output(), "Syncing 1 files for") > syncs) syncingMs = performance.now() - t0;
    }, 20);
    appendFileSync(
      join(workdir, "functions/label-master/index.ts"),
      `console.log(JSON.stringify({ msg: "file sync e2e", marker: "${marker}" }));\n`,
    );
    await waitFor(
      "label-master to log the edited file's line",
      async () => (await sb.kubectl("logs", "-n", NS, "deploy/label-master", "--tail=200")).includes(marker),
      {
        timeoutMs: 60_000,
        intervalMs: 250,
      },
    );
    const ms = performance.now() - t0;
    clearInterval(seen);
    await new Promise((r) => setTimeout(r, 3000)); // a rebuild would have started by now
    console.log(
      `[figure] skaffold dev file sync: edit of functions/label-master/index.ts -> skaffold "Syncing" ${syncingMs === undefined ? "?" : Math.round(syncingMs)} ms -> the restarted function's new log line ${Math.round(ms)} ms`,
    );
    expect(count(output(), "Building [failover-functions]...")).toBe(builds);
    expect(output()).toMatch(/Syncing 1 files for/);
    expect(output()).not.toMatch(/sync error/);
    // The synced function still works: its pod is Ready again and the master is labelled.
    await waitFor(
      "label-master Ready again",
      async () => (await pods()).filter((p) => p.metadata!.name!.startsWith("label-master-")).every(ready),
      { timeoutMs: 60_000 },
    );
  });

  it("hands the master over when its pod is deleted: a plain client through the ClusterIP loses no acknowledged write, and the forward follows", async () => {
    const before = await picture();
    const oldMaster = before.labelled[0]!;
    const oldUid = (await core.readNamespacedPod({ name: oldMaster, namespace: NS })).metadata!.uid!;
    const clusterIp = (await core.readNamespacedService({ name: "redis-master", namespace: NS })).spec!.clusterIP!;
    // With the reference in the same failover: a sentinel-aware ioredis asking the Sentinel pods.
    const writers = await startWriters(sb, { clusterIp, password, sentinelPassword, keyPrefix: "e2e", commandTimeoutMs: 500 });
    const { plain: writer, aware } = writers;
    await waitFor("the writer's first acknowledgements", () => writer.acks.length > 50, { timeoutMs: 10_000 });
    const t0 = performance.now();
    await sb.kubectl("delete", "pod", "-n", NS, oldMaster, "--wait=false");
    // Through skaffold's forward, a new connection every 100 ms until one lands on the new master.
    let forwardMs: number | undefined;
    let forwardKey = "";
    const forwarding = (async () => {
      for (let i = 0; forwardMs === undefined && performance.now() - t0 < 90_000; i++) {
        const key = `forward-failover-${i}`;
        if (await writeViaForward(key)) {
          const now = await picture().catch(() => undefined);
          const m = now?.labelled[0];
          if (m && m !== oldMaster && (await onPod(m, "GET", key).catch(() => "")) === "1") {
            forwardMs = performance.now() - t0;
            forwardKey = key;
          }
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const after = await waitOneMaster(sb, "a new master in every picture", { not: oldMaster });
    const movedMs = performance.now() - t0;
    await forwarding;
    // The deleted pod comes back (StatefulSet) and its init container makes it a replica.
    await waitFor(
      "the old master's pod recreated and Ready",
      async () => {
        const p = await core.readNamespacedPod({ name: oldMaster, namespace: NS }).catch(() => undefined);
        return p !== undefined && p.metadata!.uid !== oldUid && ready(p);
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    const role = await onPod(oldMaster, "ROLE");
    expect(role.split("\n")[0]).toBe("slave");
    await new Promise((r) => setTimeout(r, 1000));
    const { plainLost: lost, awareLost, violations } = await writers.stop(clusterIp);
    console.log(
      `[figure] kubectl delete pod (master, preStop handover), plain client via kube-proxy: ${writer.acks.length} acknowledged, ${lost.length} lost, longest gap ${writer.longestGapMs()} ms; sentinel-aware ioredis: ${aware.acks.length} acknowledged, ${awareLost.length} lost, longest gap ${aware.longestGapMs()} ms; labels+slice+ConfigMap on the new master after ${Math.round(movedMs)} ms; localhost:6379 (skaffold port-forward) wrote to the new master ${forwardMs === undefined ? "never" : `${Math.round(forwardMs)} ms`} after the delete`,
    );
    expect(after.labelled[0]).not.toBe(oldMaster);
    expect(violations).toEqual([]);
    expect(lost).toEqual([]);
    expect(awareLost).toEqual([]);
    expect(writer.acks.length).toBeGreaterThan(100);
    expect(forwardKey).not.toBe("");
    // Still through the same skaffold session: its forward never had to be restarted by hand.
    expect(dev!.exited()).toBeUndefined();
  });
});
