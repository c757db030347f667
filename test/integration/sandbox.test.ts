/** The sandbox itself, on real processes: the foundation every other test stands on. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiException, CoreV1Api, DiscoveryV1Api, KubeConfig } from "@kubernetes/client-node";
import { binaryPath, redisCommand, startSandbox, waitFor } from "../../sandbox/index.ts";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { Sandbox } from "../../sandbox/index.ts";
import { apply } from "../../sandbox/cluster.ts";
import { writeKubeconfig } from "../../sandbox/pki.ts";
import { join } from "node:path";
import { SERVER } from "../support/server-family.ts";
import { parseInfo, serverIdentity } from "../../shared/redis-info.ts";

let sb: Sandbox;
let pids: number[] = [];

beforeAll(async () => {
  const t0 = performance.now();
  sb = await startSandbox({ server: SERVER });
  console.log(`[figure] sandbox start (warm binaries): ${Math.round(performance.now() - t0)} ms`);
  pids = sb.processes.map((p) => p.pid!);
});

afterAll(async () => {
  await sb?.stop();
  for (const pid of pids) expect(() => process.kill(pid, 0), `pid ${pid} still alive`).toThrow();
});

describe("sandbox", () => {
  it("runs every process on its own non-loopback address", () => {
    const ips = [...sb.masters[0]!.redis.map((r) => r.spec.ip), ...sb.sentinels.map((s) => s.spec.ip)];
    expect(new Set(ips).size).toBe(6);
    for (const ip of ips) expect(ip).toMatch(/^198\.1[89]\./);
    expect(sb.processes.every((p) => p.running)).toBe(true);
  });

  it(`runs the server family asked for (${SERVER}): every redis and Sentinel says so in INFO server`, async () => {
    const identities = await Promise.all([
      ...sb.masters[0]!.redis.map(async (r) =>
        serverIdentity(parseInfo(String(await redisCommand(r.address, sb.password, "INFO", "server")))),
      ),
      ...sb.sentinels.map(async (s) => serverIdentity(parseInfo(String(await s.command("INFO", "server"))))),
    ]);
    expect(identities.map((i) => i.family)).toEqual(identities.map(() => SERVER));
    expect(identities.map((i) => i.version.split(".")[0])).toEqual(identities.map(() => (SERVER === "valkey" ? "8" : "7")));
  });

  it("has all three sentinels agree on the master", async () => {
    const answers = await Promise.all(sb.sentinels.map((s) => s.command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster")));
    expect(answers).toEqual([0, 1, 2].map(() => ["198.18.1.10", "6379"]));
    const m = await sb.currentMaster("mymaster");
    expect(m).toMatchObject({ address: { host: "198.18.1.10", port: 6379 }, votes: 3 });
  });

  it("requires the password on redis and on sentinel", async () => {
    const cli = async (host: string, port: number, ...args: string[]) => {
      const { stdout, stderr } = await promisify(execFile)(binaryPath("redis-cli"), ["-h", host, "-p", String(port), ...args]);
      return stdout + stderr;
    };
    const redis = sb.masters[0]!.redis[0]!.address;
    const sentinel = sb.sentinels[0]!.address;
    expect(await cli(redis.host, redis.port, "SET", "k", "v")).toMatch(/NOAUTH/);
    expect(await cli(sentinel.host, sentinel.port, "SENTINEL", "MASTERS")).toMatch(/NOAUTH/);
    expect(await cli(redis.host, redis.port, "-a", "wrong", "--no-auth-warning", "PING")).toMatch(/WRONGPASS/);
    expect(await redisCommand(redis, sb.password, "PING")).toBe("PONG");
  });

  it("shows the Pod objects with their podIPs through @kubernetes/client-node", async () => {
    const core = sb.kubeConfig.makeApiClient(CoreV1Api);
    const pods = await core.listNamespacedPod({ namespace: "redis", labelSelector: "app.kubernetes.io/name=redis" });
    const byName = Object.fromEntries(pods.items.map((p) => [p.metadata!.name!, p]));
    expect(Object.keys(byName).sort()).toEqual(["redis-0", "redis-1", "redis-2"]);
    for (const r of sb.masters[0]!.redis) {
      const pod = byName[`redis-${r.spec.index}`]!;
      expect(pod.status?.podIP).toBe(r.spec.ip);
      expect(pod.status?.phase).toBe("Running");
      expect(pod.status?.conditions?.find((c) => c.type === "Ready")?.status).toBe("True");
      expect(pod.spec?.nodeName).toMatch(/^node-\d$/);
    }
    // The StatefulSet, created after its pods, adopts them (kube-controller-manager at work).
    await waitFor(
      "the StatefulSet to adopt its pods",
      async () => {
        const again = await core.listNamespacedPod({ namespace: "redis", labelSelector: "app.kubernetes.io/name=redis" });
        return again.items.every(
          (p) => p.metadata?.ownerReferences?.[0]?.kind === "StatefulSet" && p.metadata.ownerReferences[0].name === "redis",
        );
      },
      { timeoutMs: 20_000 },
    );
  });

  it("has kube-controller-manager fill a selector Service's EndpointSlice with the pods' addresses", async () => {
    await apply(sb.kubeConfig, {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "redis-any", namespace: "redis" },
      spec: { selector: { "app.kubernetes.io/name": "redis" }, ports: [{ name: "redis", port: 6379 }] },
    });
    const discovery = sb.kubeConfig.makeApiClient(DiscoveryV1Api);
    const addresses = await waitFor(
      "EndpointSlice of redis-any",
      async () => {
        const slices = await discovery.listNamespacedEndpointSlice({
          namespace: "redis",
          labelSelector: "kubernetes.io/service-name=redis-any",
        });
        const ips = slices.items.flatMap((s) => (s.endpoints ?? []).filter((e) => e.conditions?.ready).flatMap((e) => e.addresses)).sort();
        return ips.length === 3 ? ips : undefined;
      },
      { timeoutMs: 30_000 },
    );
    expect(addresses).toEqual(["198.18.1.10", "198.18.1.11", "198.18.1.12"]);
  });

  it("accepts a hand-written EndpointSlice for a selectorless Service and reads it back", async () => {
    await apply(sb.kubeConfig, {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "redis-master", namespace: "redis" },
      spec: { ports: [{ name: "redis", port: 6379 }] },
    });
    await apply(sb.kubeConfig, {
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: {
        name: "redis-master-manual",
        namespace: "redis",
        labels: { "kubernetes.io/service-name": "redis-master", "endpointslice.kubernetes.io/managed-by": "sandbox-test" },
      },
      addressType: "IPv4",
      ports: [{ name: "redis", port: 6379, protocol: "TCP" }],
      endpoints: [
        { addresses: ["198.18.1.10"], conditions: { ready: true }, targetRef: { kind: "Pod", name: "redis-0", namespace: "redis" } },
      ],
    });
    const slice = await sb.kubeConfig
      .makeApiClient(DiscoveryV1Api)
      .readNamespacedEndpointSlice({ name: "redis-master-manual", namespace: "redis" });
    expect(slice.endpoints?.map((e) => e.addresses)).toEqual([["198.18.1.10"]]);
    expect(slice.endpoints?.[0]?.targetRef?.name).toBe("redis-0");
  });

  it("denies an unprivileged ServiceAccount through RBAC", async () => {
    const core = sb.kubeConfig.makeApiClient(CoreV1Api);
    await apply(sb.kubeConfig, { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "nobody", namespace: "redis" } });
    const token = await core.createNamespacedServiceAccountToken({
      name: "nobody",
      namespace: "redis",
      body: { spec: { audiences: [], expirationSeconds: 600 } },
    });
    const path = writeKubeconfig(join(sb.dir, "nobody.kubeconfig"), sb.controlPlane!.pki, sb.controlPlane!.server, {
      name: "nobody",
      token: token.status?.token ?? "",
    });
    const kc = new KubeConfig();
    kc.loadFromFile(path);
    const denied = await kc
      .makeApiClient(CoreV1Api)
      .listNamespacedPod({ namespace: "redis" })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(denied).toBeInstanceOf(ApiException);
    expect((denied as ApiException<unknown>).code).toBe(403);
    // and the same token is authenticated (not 401): RBAC, not authentication, refused it
    const who = await sb
      .kubectl("auth", "can-i", "list", "pods", "-n", "redis", "--as", "system:serviceaccount:redis:nobody")
      .catch((e: { stdout?: string }) => e.stdout ?? "");
    expect(who.trim()).toBe("no");
  });

  it("fails the master over: +switch-master on every sentinel, and the new master takes writes", async () => {
    const old = await sb.currentMaster("mymaster");
    const oldRedis = sb.redisAt(old.address)!;
    const seen: { sentinel: number; message: string; at: number }[] = [];
    const subs = await Promise.all(
      sb.sentinels.map(async (s) => {
        const c = s.client();
        await c.connect();
        c.on("message", (_ch: string, message: string) => seen.push({ sentinel: s.spec.index, message, at: performance.now() }));
        await c.subscribe("+switch-master");
        return c;
      }),
    );
    try {
      const killedAt = performance.now();
      await oldRedis.process.kill();
      await waitFor("+switch-master on every sentinel", () => new Set(seen.map((s) => s.sentinel)).size === 3, { timeoutMs: 30_000 });
      const first = Math.min(...seen.map((s) => s.at));
      console.log(`[figure] kill -> first +switch-master at down-after ${sb.options.downAfterMs} ms: ${Math.round(first - killedAt)} ms`);
      const parts = seen[0]!.message.split(" ");
      expect(parts.slice(0, 3)).toEqual(["mymaster", old.address.host, "6379"]);
      expect(parts[3]).not.toBe(old.address.host);
      expect(seen.every((s) => s.message === seen[0]!.message)).toBe(true);
      const now = await sb.currentMaster("mymaster");
      expect(now.address.host).toBe(parts[3]);
      expect(now.epoch).toBeGreaterThan(old.epoch);
      const newRedis = sb.redisAt(now.address)!;
      const c = newRedis.client();
      await c.connect();
      await waitFor("the new master to accept writes", async () => (await c.set("after-failover", "1")) === "OK");
      expect(await c.get("after-failover")).toBe("1");
      c.disconnect();
      // The old master restarted comes back and is turned into a replica of the new one.
      await oldRedis.restart();
      // (Of the master the quorum names then: on a busy machine a Sentinel that learnt the first
      // failover late may have run a second one meanwhile, which is Sentinel doing its job.)
      await waitFor(
        "old master to become a replica",
        async () => (await oldRedis.replicationInfo()).master_host === (await sb.currentMaster("mymaster")).host,
        { timeoutMs: 30_000 },
      );
    } finally {
      for (const c of subs) c.disconnect();
    }
  });

  it("pauses and resumes a process, stops and starts NATS and the apiserver", async () => {
    const r = sb.masters[0]!.redis[1]!;
    r.process.pause();
    await expect(r.replicationInfo()).rejects.toThrow();
    r.process.resume();
    expect((await r.replicationInfo()).role).toBeDefined();

    await sb.stopNats();
    expect(sb.nats!.process.running).toBe(false);
    await sb.startNats();
    expect((await fetch(`${sb.nats!.monitorUrl}/healthz`)).ok).toBe(true);

    const core = sb.kubeConfig.makeApiClient(CoreV1Api);
    await sb.stopApiserver();
    await expect(core.listNamespacedPod({ namespace: "redis" })).rejects.toThrow();
    await sb.startApiserver();
    expect((await core.listNamespacedPod({ namespace: "redis" })).items.length).toBe(6);
  });
});
