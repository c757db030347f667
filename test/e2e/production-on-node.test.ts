/**
 * `skaffold run -p sandbox-production` on the sandbox's real node: the distroless production target,
 * overlays/production (NATS cluster of 3, stream replicas 3, the write fence, NetworkPolicies) with
 * only its scheduling relaxed for one node (sandbox/overlays/production-one-node), Secrets created
 * first as the README says. Then what users do to it and what they lose, through kube-proxy: a
 * sentinel-unaware client writes through the `redis-master` ClusterIP while the master's redis is
 * SIGKILLed, frozen past down-after, and while redis and sentinel are rolled together. Each
 * scenario prints a [figure] line (acknowledged, lost, longest time without an acknowledged write)
 * and asserts what the project promises there.
 */
import { readFileSync, rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CoreV1Api } from "@kubernetes/client-node";
import { Redis } from "ioredis";
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import { waitFor } from "../../sandbox/index.ts";
import type { Sandbox } from "../../sandbox/index.ts";
import { REGISTRY } from "../../sandbox/addresses.ts";
import { Writer } from "../../sandbox/writer.ts";
import {
  containerProcesses,
  copyCheckout,
  mainPid,
  NS,
  picture,
  podsIn,
  ready,
  skaffoldRun,
  startNodeSandbox,
  startWriters,
  waitOneMaster,
  watchForTwoMasters,
} from "../../sandbox/stack.ts";

const PODS = 17; // redis x3, sentinel x3, nats x3, relay x2, six functions
const PASSWORD = "e2e-production-redis-password";
const SENTINEL_PASSWORD = "e2e-production-sentinel-password";

let sb: Sandbox;
let core: CoreV1Api;
let workdir: string;
let clusterIp: string;

const redisCli = async (pod: string, ...cmd: string[]) =>
  (await sb.kubectl("exec", "-n", NS, pod, "-c", "redis", "--", "redis-cli", "-a", PASSWORD, "--no-auth-warning", ...cmd)).trim();
const sentinelCli = async (pod: string, ...cmd: string[]) =>
  (
    await sb.kubectl(
      "exec",
      "-n",
      NS,
      pod,
      "-c",
      "sentinel",
      "--",
      "redis-cli",
      "-p",
      "26379",
      "-a",
      SENTINEL_PASSWORD,
      "--no-auth-warning",
      ...cmd,
    )
  ).trim();

const summary = (w: Writer, lost: number[]) => `${w.acks.length} acknowledged, ${lost.length} lost, longest gap ${w.longestGapMs()} ms`;

/** Every Sentinel pod names `host` master. */
async function sentinelsAgree(host: string): Promise<boolean> {
  const named = await Promise.all(
    [0, 1, 2].map((j) => sentinelCli(`sentinel-${j}`, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster").catch(() => "")),
  );
  return named.every((n) => n.split("\n")[0] === host);
}

beforeAll(async () => {
  sb = await startNodeSandbox();
  core = sb.kubeConfig.makeApiClient(CoreV1Api);
  workdir = await copyCheckout();
  // What the README tells a production user to do before applying.
  await sb.kubectl("create", "namespace", NS);
  await sb.kubectl(
    "-n",
    NS,
    "create",
    "secret",
    "generic",
    "redis-auth",
    `--from-literal=password=${PASSWORD}`,
    `--from-literal=sentinel-password=${SENTINEL_PASSWORD}`,
  );
  await sb.kubectl(
    "-n",
    NS,
    "create",
    "secret",
    "generic",
    "nats-auth",
    "--from-literal=user=failover",
    "--from-literal=password=e2e-production-nats-password",
  );
  const t0 = performance.now();
  const out = await skaffoldRun(sb, workdir, ["-p", "sandbox-production", "--tag", "prod-e2e"], "skaffold-run-production.log", 900_000);
  console.log(
    `[figure] skaffold run -p sandbox-production (build+push of the production target, deploy, status check): ${Math.round(performance.now() - t0)} ms; skaffold's own "Deployments stabilized in ${/Deployments stabilized in ([^\n]+)/.exec(out)?.[1] ?? "?"}"`,
  );
  clusterIp = (await core.readNamespacedService({ name: "redis-master", namespace: NS })).spec!.clusterIP!;
}, 1_200_000);

afterAll(async () => {
  if (workdir) rmSync(workdir, { recursive: true, force: true });
  await sb?.stop();
  expect(sb?.nodeLeftovers ?? []).toEqual([]);
}, 300_000);

describe("overlays/production on the real node (skaffold run -p sandbox-production)", () => {
  it("comes up complete from the distroless image skaffold pushed, with one master in every picture", async () => {
    const all = await podsIn(sb);
    expect(all.length).toBe(PODS);
    expect(all.filter((p) => !ready(p)).map((p) => p.metadata!.name)).toEqual([]);
    const images = all
      .flatMap((p) => [...(p.spec!.initContainers ?? []), ...p.spec!.containers].map((c) => c.image!))
      .filter((i) => i.includes("failover-functions"));
    expect(images.length).toBeGreaterThan(0);
    expect(images.every((i) => i.startsWith(`${REGISTRY}/`) && i.includes(":prod-e2e@sha256:"))).toBe(true);
    const p = await waitOneMaster(sb, "the functions to name the master");
    expect(await sentinelsAgree(p.ipOf[p.master]!)).toBe(true);
  });

  it("runs every container as the non-root user its manifest names, on a read-only root filesystem (checked on the processes)", async () => {
    const specOf = new Map<string, { pod: V1Pod; c: V1Container }>();
    for (const pod of await podsIn(sb)) for (const c of pod.spec!.containers) specOf.set(`${pod.metadata!.name}/${c.name}`, { pod, c });
    const procs = await containerProcesses(sb);
    expect(procs.length).toBe([...specOf.keys()].length);
    const wrong: string[] = [];
    for (const { pod, container, pid } of procs) {
      const { pod: spec, c } = specOf.get(`${pod}/${container}`)!;
      const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]);
      const want = c.securityContext?.runAsUser ?? spec.spec!.securityContext?.runAsUser;
      // The container's root mount, as its own mount namespace sees it.
      const root = readFileSync(`/proc/${pid}/mountinfo`, "utf8")
        .split("\n")
        .find((l) => l.split(" ")[4] === "/");
      const readOnly = root?.split(" ")[5]?.split(",").includes("ro") ?? false;
      if (uid === 0 || uid !== want || !readOnly)
        wrong.push(`${pod}/${container}: uid ${uid} (manifest ${want}), root ${readOnly ? "ro" : "rw"}`);
    }
    expect(wrong).toEqual([]);
    // And a write attempt where the image has a shell (distroless has none: its mount said ro above).
    const write = await sb.kubectl("exec", "-n", NS, "redis-0", "-c", "redis", "--", "sh", "-c", "touch /probe 2>&1 || true");
    expect(write).toContain("Read-only file system");
  });

  it("SIGKILL of the master's redis: the kubelet restarts it, never two masters; what the plain client lost is reported", async () => {
    const before = await waitOneMaster(sb, "one master before the kill");
    const restarts = (await core.readNamespacedPod({ name: before.master, namespace: NS })).status!.containerStatuses!.find(
      (c) => c.name === "redis",
    )!.restartCount;
    const writers = await startWriters(sb, {
      clusterIp,
      password: PASSWORD,
      sentinelPassword: SENTINEL_PASSWORD,
      keyPrefix: "sigkill",
      commandTimeoutMs: 500,
    });
    const { plain: writer, aware } = writers;
    await waitFor("the writer's first acknowledgements", () => writer.acks.length > 50, { timeoutMs: 10_000 });
    const t0 = performance.now();
    process.kill(await mainPid(sb, before.master, "redis"), "SIGKILL");
    await waitFor(
      "the killed container restarted",
      async () => {
        const st = (await core.readNamespacedPod({ name: before.master, namespace: NS })).status!.containerStatuses!.find(
          (c) => c.name === "redis",
        )!;
        return st.restartCount > restarts && st.ready;
      },
      { timeoutMs: 120_000, intervalMs: 250 },
    );
    const after = await waitOneMaster(sb, "one master after the restart");
    await waitFor("a write acknowledged after the kill", () => writer.firstAckAfter(t0 + 1) !== undefined, { timeoutMs: 60_000 });
    await new Promise((r) => setTimeout(r, 2000));
    const { plainLost: lost, awareLost, violations } = await writers.stop(after.ipOf[after.master]!);
    console.log(
      `[figure] SIGKILL of the master's redis (production: down-after 5000 ms, appendfsync everysec): plain client via kube-proxy ${summary(writer, lost)}; sentinel-aware ioredis ${summary(aware, awareLost)}; master after: ${after.master === before.master ? "the same pod (restarted before down-after, no failover)" : `${after.master} (failed over)`}`,
    );
    expect(violations).toEqual([]);
    expect(await sentinelsAgree(after.ipOf[after.master]!)).toBe(true);
  });

  it("a master frozen past down-after and resumed: fence-old-master and the write fence drop it; nothing sent after the freeze is lost", async () => {
    const before = await waitOneMaster(sb, "one master before the freeze");
    // A long command timeout: the client keeps its connection (conntrack keeps it on the old pod)
    // through the freeze, as a client with default timeouts would.
    const writers = await startWriters(sb, {
      clusterIp,
      password: PASSWORD,
      sentinelPassword: SENTINEL_PASSWORD,
      keyPrefix: "freeze",
      commandTimeoutMs: 15_000,
    });
    const { plain: writer, aware } = writers;
    await waitFor("the writer's first acknowledgements", () => writer.acks.length > 50, { timeoutMs: 10_000 });
    const pid = await mainPid(sb, before.master, "redis");
    process.kill(pid, "SIGSTOP");
    let moved;
    let tResume = Infinity;
    try {
      moved = await waitOneMaster(sb, "a new master in every picture while the old one is frozen", {
        not: before.master,
        timeoutMs: 90_000,
      });
    } finally {
      tResume = performance.now();
      process.kill(pid, "SIGCONT");
    }
    await waitFor(
      "the resumed old master to become a replica",
      async () => (await redisCli(before.master, "ROLE")).split("\n")[0] === "slave",
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    await waitFor("a write acknowledged after the resume", () => writer.firstAckAfter(tResume) !== undefined, { timeoutMs: 60_000 });
    await new Promise((r) => setTimeout(r, 2000));
    const { plainLost: lost, awareLost, violations } = await writers.stop(moved.ipOf[moved.master]!);
    console.log(
      `[figure] master frozen (SIGSTOP) past down-after, then resumed (production, write fence on): plain client via kube-proxy ${summary(writer, lost)}; sentinel-aware ioredis ${summary(aware, awareLost)}`,
    );
    expect(violations).toEqual([]);
    // The write fence (min-replicas-to-write 1, max-lag 3) refuses what the resumed master is sent
    // after it is resumed. What it cannot cover, replication being asynchronous: a write
    // acknowledged just before the freeze whose replication had not left yet, or the command that
    // reached its socket while it was frozen, served on resume before Redis's once-a-second cron
    // recounts its good replicas (and acknowledged to a client whose timeout outlasted the freeze).
    // One per connection at most: this writer sends one command at a time.
    const sentBeforeResume = (w: Writer, ids: number[]) =>
      ids.every((id) => (w.acks.find((a) => a.id === id)?.sentAt ?? Infinity) < tResume);
    expect(sentBeforeResume(writer, lost)).toBe(true);
    expect(sentBeforeResume(aware, awareLost)).toBe(true);
    expect(lost.length).toBeLessThanOrEqual(1);
    expect(awareLost.length).toBeLessThanOrEqual(1);
    expect(await sentinelsAgree(moved.ipOf[moved.master]!)).toBe(true);
  });

  it("redis and sentinel rolled together (kubectl rollout restart): every pod comes back, the Sentinels agree, one master", async () => {
    const t0 = performance.now();
    await sb.kubectl("-n", NS, "rollout", "restart", "statefulset/redis", "statefulset/sentinel");
    for (const s of ["redis", "sentinel"]) await sb.kubectl("-n", NS, "rollout", "status", `statefulset/${s}`, "--timeout=600s");
    const after = await waitOneMaster(sb, "one master after the rolling restart", { timeoutMs: 120_000 });
    await waitFor("every Sentinel to name it", () => sentinelsAgree(after.ipOf[after.master]!), { timeoutMs: 120_000, intervalMs: 1000 });
    const all = await podsIn(sb);
    expect(all.filter((p) => !ready(p)).map((p) => p.metadata!.name)).toEqual([]);
    console.log(
      `[figure] rolling restart of redis + sentinel together -> all Ready, one master, every Sentinel agreeing: ${Math.round(performance.now() - t0)} ms`,
    );
    expect((await picture(sb)).labelled).toEqual([after.master]);
  });

  it("a Sentinel pod, then a function pod, deleted during a failover, and NATS restarted before one: everything converges", async () => {
    const writer = new Writer({
      target: () => ({ host: clusterIp, port: 6379 }),
      password: PASSWORD,
      keyPrefix: "during",
      commandTimeoutMs: 500,
    });
    const watch = watchForTwoMasters(sb);
    writer.start();
    const figures: string[] = [];
    const round = async (what: string, disturb: () => Promise<unknown>) => {
      const before = await waitOneMaster(sb, `one master before: ${what}`, { timeoutMs: 180_000 });
      // SENTINEL FAILOVER is refused while no replica qualifies yet (NOGOODSLAVE, right after pods
      // came back): ask again every second, keeping the replies for the failure message.
      const replies: string[] = [];
      const t0 = performance.now();
      await waitFor(
        `SENTINEL FAILOVER accepted (${what}; replies so far: ${replies.join(" | ")})`,
        async () => {
          const reply = await sentinelCli("sentinel-0", "SENTINEL", "FAILOVER", "mymaster").catch(
            (err: unknown) => `error: ${(err as Error).message}`,
          );
          replies.push(reply);
          if (reply !== "OK") await new Promise((r) => setTimeout(r, 1000));
          return reply === "OK";
        },
        { timeoutMs: 90_000, intervalMs: 0 },
      );
      await disturb();
      const after = await waitOneMaster(sb, `a new master after: ${what}`, { not: before.master, timeoutMs: 180_000 });
      await waitFor(`every Sentinel names the new master after: ${what}`, () => sentinelsAgree(after.ipOf[after.master]!), {
        timeoutMs: 180_000,
        intervalMs: 1000,
      });
      await waitFor(`every pod Ready after: ${what}`, async () => (await podsIn(sb)).every(ready), {
        timeoutMs: 180_000,
        intervalMs: 1000,
      });
      figures.push(`${what}: converged in ${Math.round(performance.now() - t0)} ms`);
      return after;
    };
    await round("sentinel-1 deleted", () => sb.kubectl("-n", NS, "delete", "pod", "sentinel-1", "--wait=false"));
    const fn = (await podsIn(sb)).find((p) => p.metadata!.name!.startsWith("master-endpoints-"))!.metadata!.name!;
    await round("the master-endpoints pod deleted", () => sb.kubectl("-n", NS, "delete", "pod", fn, "--wait=false"));
    await sb.kubectl("-n", NS, "rollout", "restart", "statefulset/nats");
    await sb.kubectl("-n", NS, "rollout", "status", "statefulset/nats", "--timeout=300s");
    const last = await round("NATS restarted (rolled) just before", () => Promise.resolve());
    await new Promise((r) => setTimeout(r, 2000));
    await writer.stop();
    const violations = await watch.stop();
    const lost = await writer.checkLost({ host: last.ipOf[last.master]!, port: 6379 }, PASSWORD);
    console.log(
      `[figure] SENTINEL FAILOVER x3 with a Sentinel pod / a function pod deleted, NATS rolled (production): ${figures.join("; ")}; plain client via kube-proxy over all three: ${summary(writer, lost)}`,
    );
    expect(violations).toEqual([]);
  });

  it("the StatefulSets deleted (not the PVCs) and applied again, then every container of the stack killed at once: one master, the last recorded one, data kept", async () => {
    const before = await waitOneMaster(sb, "one master before");
    const key = `kept-${Date.now()}`;
    expect(await redisCli(before.master, "SET", key, "v")).toBe("OK");
    expect(Number(await redisCli(before.master, "WAIT", "2", "5000"))).toBe(2);
    await sb.kubectl("-n", NS, "delete", "statefulset", "redis", "sentinel", "nats", "--wait=true", "--timeout=300s");
    await waitFor(
      "the stack's pods gone",
      async () => !(await podsIn(sb)).some((p) => /^(redis|sentinel|nats)-\d$/.test(p.metadata!.name!)),
      { timeoutMs: 300_000, intervalMs: 1000 },
    );
    // The master the functions recorded last (the deletion ran the master's preStop, which may
    // have handed over to a replica that was being deleted too).
    const recorded = (await picture(sb)).configMapPod;
    const t0 = performance.now();
    await skaffoldRun(sb, workdir, ["-p", "sandbox-production", "--tag", "prod-e2e"], "skaffold-run-production-again.log", 900_000);
    const reapplied = await waitOneMaster(sb, "one master after re-applying", { timeoutMs: 180_000 });
    const reappliedMs = performance.now() - t0;
    // Every container of the stack at once, as a node crash would (the kubelet restarts them).
    const recordedBeforeKill = (await picture(sb)).configMapPod;
    const t1 = performance.now();
    for (const c of await containerProcesses(sb)) {
      try {
        process.kill(c.pid, "SIGKILL");
      } catch {
        // gone already
      }
    }
    await new Promise((r) => setTimeout(r, 3000));
    await waitFor("every pod Ready again", async () => (await podsIn(sb)).every(ready), { timeoutMs: 600_000, intervalMs: 1000 });
    const after = await waitOneMaster(sb, "one master after the kill", { timeoutMs: 180_000 });
    await waitFor("every Sentinel names it", () => sentinelsAgree(after.ipOf[after.master]!), { timeoutMs: 180_000, intervalMs: 1000 });
    console.log(
      `[figure] StatefulSets deleted + skaffold run again: one master after ${Math.round(reappliedMs)} ms (${reapplied.master}; before the deletion ${before.master}, recorded last ${recorded ?? "none"}); every container SIGKILLed at once: all Ready with one master after ${Math.round(performance.now() - t1)} ms (${after.master}; recorded before the kill ${recordedBeforeKill ?? "none"})`,
    );
    expect(reapplied.master).toBe(recorded);
    expect(await redisCli(after.master, "GET", key)).toBe("v");
  });

  it("kubectl delete pod of the master while plain clients in pods write to redis-master.redis.svc.cluster.local: ioredis and redis-cli lose nothing", async () => {
    const before = await waitOneMaster(sb, "one master before the delete");
    const image = (await podsIn(sb)).flatMap((p) => p.spec!.containers).find((c) => c.image!.includes("failover-functions"))!.image!;
    const redisImage = (await core.readNamespacedPod({ name: before.master, namespace: NS })).spec!.containers.find(
      (c) => c.name === "redis",
    )!.image!;
    const host = `redis-master.${NS}.svc.cluster.local`;
    // Each prints the id of every acknowledged write, one per line; a failed write is retried
    // under a new id after 50 ms (a sentinel-unaware client that reconnects to the same name).
    const ioredisLoop = `const { Redis } = require("/app/node_modules/ioredis");
let id = 0; let client;
const connect = () => { client = new Redis({ host: "${host}", port: 6379, password: process.env.P, commandTimeout: 500, connectTimeout: 500, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: true }); client.on("error", () => {}); };
connect();
(async () => { for (;;) { const i = id++; try { await client.set("pod-ioredis:" + i, "1"); console.log(i); } catch { client.disconnect(); await new Promise((r) => setTimeout(r, 50)); connect(); } } })();`;
    const cliLoop = `i=0; while true; do if [ "$(redis-cli -h ${host} -a "$P" --no-auth-warning SET pod-cli:$i 1 2>/dev/null)" = OK ]; then echo $i; else sleep 0.05; fi; i=$((i+1)); done`;
    const env = [{ name: "P", valueFrom: { secretKeyRef: { name: "redis-auth", key: "password" } } }];
    const sec = {
      runAsNonRoot: true,
      runAsUser: 65532,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    };
    for (const [name, container] of [
      ["writer-ioredis", { name: "w", image, command: ["/nodejs/bin/node", "-e", ioredisLoop], env, securityContext: sec }],
      ["writer-cli", { name: "w", image: redisImage, command: ["sh", "-c", cliLoop], env, securityContext: { ...sec, runAsUser: 999 } }],
    ] as const) {
      await sb.kubectl(
        "-n",
        NS,
        "run",
        name,
        "--restart=Never",
        "--image",
        container.image,
        "--labels",
        "redis.failover.io/client=true",
        "--overrides",
        JSON.stringify({ spec: { containers: [container] } }),
      );
    }
    await waitFor(
      "both writer pods acknowledging writes",
      async () => {
        const logs = await Promise.all(["writer-ioredis", "writer-cli"].map((n) => sb.kubectl("-n", NS, "logs", n).catch(() => "")));
        return logs.every((l) => l.split("\n").length > 20);
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    const watch = watchForTwoMasters(sb);
    await sb.kubectl("-n", NS, "delete", "pod", before.master, "--wait=false");
    const after = await waitOneMaster(sb, "a new master in every picture", { not: before.master, timeoutMs: 120_000 });
    await waitFor(
      "the deleted master's pod back and Ready",
      async () => {
        const p = await core.readNamespacedPod({ name: before.master, namespace: NS }).catch(() => undefined);
        return p !== undefined && ready(p);
      },
      { timeoutMs: 180_000, intervalMs: 500 },
    );
    await new Promise((r) => setTimeout(r, 3000));
    // Every id a writer printed was acknowledged; read the logs before the pods go.
    const acked = new Map<string, number[]>();
    for (const [name, prefix] of [
      ["writer-ioredis", "pod-ioredis"],
      ["writer-cli", "pod-cli"],
    ] as const) {
      acked.set(
        prefix,
        (await sb.kubectl("-n", NS, "logs", name))
          .split("\n")
          .filter((l) => /^\d+$/.test(l))
          .map(Number),
      );
    }
    await sb.kubectl("-n", NS, "delete", "pod", "writer-ioredis", "writer-cli", "--grace-period=0", "--wait=true");
    const violations = await watch.stop();
    const master = new Redis({ host: after.ipOf[after.master]!, port: 6379, password: PASSWORD, lazyConnect: true });
    await master.connect();
    const figures: string[] = [];
    try {
      for (const [label, prefix] of [
        ["ioredis (no sentinels)", "pod-ioredis"],
        ["redis-cli", "pod-cli"],
      ] as const) {
        const ids = acked.get(prefix)!;
        const lost: number[] = [];
        for (let k = 0; k < ids.length; k += 500) {
          const batch = ids.slice(k, k + 500);
          const values = await master.mget(...batch.map((i) => `${prefix}:${i}`));
          batch.forEach((i, j) => values[j] !== "1" && lost.push(i));
        }
        figures.push(`${label}: ${ids.length} acknowledged, ${lost.length} lost`);
        expect(ids.length).toBeGreaterThan(20);
        expect(lost).toEqual([]);
      }
    } finally {
      master.disconnect();
    }
    console.log(
      `[figure] kubectl delete pod of the master (production, preStop handover), plain clients in pods via redis-master.${NS}.svc.cluster.local: ${figures.join("; ")}`,
    );
    expect(violations).toEqual([]);
  });
});
