/**
 * The failover functions on real processes: relay x2 and one process per function, each as its own
 * ServiceAccount with the Role the manifests ship, against real Sentinels, NATS and kube-apiserver.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import { startSandbox, waitFor } from "../../sandbox/index.ts";
import type { Sandbox } from "../../sandbox/index.ts";
import { createServer } from "node:http";
import { DEFAULT_FUNCTIONS, startProject } from "../../sandbox/project.ts";
import { signature } from "../../functions/webhook/index.ts";
import type { Project } from "../../sandbox/project.ts";
import { ServiceResolver } from "../../sandbox/service-resolver.ts";
import { redisCommand } from "../../sandbox/redis.ts";
import { natsOf } from "../../sandbox/nats-client.ts";
import { convergedOn, eventsFor, masterState } from "../support/kube-state.ts";
import { publishEvent, switchEvent } from "../support/publish-event.ts";
import { SERVER } from "../support/server-family.ts";
import { figure } from "../../bench/lib/stats.ts";

let sb: Sandbox;
let project: Project;
let nc: NatsConnection;

// The webhook's receiver: answers 500 to the first POST (the runtime must retry), 204 after.
const SECRET = `whsec_${Buffer.from("a-webhook-secret-of-some-length!").toString("base64")}`;
const received: { headers: Record<string, string | string[] | undefined>; body: string }[] = [];
let posts = 0;
const hookServer = createServer((req, res) => {
  let body = "";
  req.on("data", (c: Buffer) => (body += c.toString()));
  req.on("end", () => {
    posts++;
    if (posts === 1) return res.writeHead(500).end();
    received.push({ headers: req.headers, body });
    res.writeHead(204).end();
  });
});

beforeAll(async () => {
  await new Promise<void>((resolve) => hookServer.listen(18999, "127.0.0.1", resolve));
  sb = await startSandbox({ server: SERVER });
  project = await startProject(sb, {
    resyncIntervalMs: 3000,
    functions: [...DEFAULT_FUNCTIONS, "webhook"],
    env: { WEBHOOK_URLS: "http://127.0.0.1:18999/hook", WEBHOOK_SECRET: SECRET },
  });
  nc = await natsOf(sb);
});

afterAll(async () => {
  await nc?.close();
  await project?.stop();
  await sb?.stop();
  hookServer.close();
});

async function expectConverged(what: string, timeoutMs = 20_000) {
  const m = await sb.currentMaster("mymaster");
  const pod = sb.podOf(sb.redisAt(m.address)!);
  await waitFor(
    `${what}: objects converged on ${pod} (${m.host}) at epoch ${m.epoch}`,
    async () => convergedOn(await masterState(sb), pod, m.host, m.epoch),
    { timeoutMs, intervalMs: 100 },
  );
  return { m, pod };
}

async function failover(): Promise<{ host: string; epoch: number }> {
  const { now } = await sb.killMaster("mymaster");
  return { host: now.host, epoch: now.epoch };
}

const metric = async (fn: string, re: RegExp) =>
  Number((await (await fetch(`http://127.0.0.1:${project.httpPort(fn)}/metrics`)).text()).match(re)?.[1] ?? 0);

describe("failover functions", () => {
  it("converge on the current master at start (resync, no event needed)", async () => {
    const { pod } = await expectConverged("start");
    expect(pod).toBe("redis-0");
  });

  it("follow a master kill: labels, EndpointSlice, ConfigMap with the new epoch, an Event, and a client through redis-master", async () => {
    const now = await failover();
    const { pod, m } = await expectConverged("after kill");
    expect((await masterState(sb)).configMap?.epoch).toBe(String(m.epoch));
    expect(m.epoch).toBeGreaterThanOrEqual(now.epoch);
    await waitFor(
      "a MasterSwitched Event on the new master pod",
      async () => (await eventsFor(sb, pod)).some((e) => e.reason === "MasterSwitched" && e.note.includes(`epoch ${m.epoch}`)),
      { timeoutMs: 20_000 },
    );
    const resolver = new ServiceResolver(sb.kubeConfig, sb.namespace, "redis-master");
    await resolver.start();
    try {
      await waitFor("resolver", () => resolver.address?.host === m.host);
      expect(await redisCommand(resolver.address!, sb.password, "SET", "through-redis-master", "1")).toBe("OK");
      expect(await redisCommand({ host: m.host, port: 6379 }, sb.password, "GET", "through-redis-master")).toBe("1");
    } finally {
      resolver.stop();
    }
    expect(await metric("master-endpoints", /failover_propagation_seconds_count\{fn="master-endpoints"\} (\d+)/)).toBeGreaterThanOrEqual(1);
    // The webhook delivered the CloudEvent (binary mode, signed) after one failed attempt.
    await waitFor("the webhook POST", () => received.length >= 1, { timeoutMs: 15_000 });
    const post = received[0]!;
    expect(posts).toBeGreaterThanOrEqual(2);
    expect(post.headers["ce-type"]).toBe("io.redis.sentinel.switch-master");
    expect(post.headers["ce-subject"]).toBe("mymaster");
    expect(JSON.parse(post.body)).toMatchObject({ event: "+switch-master", newMaster: { host: now.host, port: 6379 }, epoch: now.epoch });
    expect(post.headers["content-type"]).toBe("application/json");
    expect(post.headers["webhook-id"]).toBe(post.headers["ce-id"]);
    expect(post.headers["webhook-signature"]).toBe(
      signature(SECRET, String(post.headers["webhook-id"]), String(post.headers["webhook-timestamp"]), post.body),
    );
  });

  it("change nothing for a forged, a replayed old and a duplicated event", async () => {
    // Settled first: a Sentinel that has not learnt the last failover may start its own seconds
    // later, which would (rightly) change the objects in the middle of this test.
    await sb.waitSettled();
    const { m, pod } = await expectConverged("before");
    const before = await masterState(sb);
    const other = sb.masters[0]!.redis.find((r) => r.spec.ip !== m.host)!.spec.ip;
    const forged = switchEvent("mymaster", m.host, other, m.epoch + 5, `forged-${Date.now()}`);
    await publishEvent(nc, forged);
    const replayed = switchEvent("mymaster", m.host, other, Math.max(0, m.epoch - 1), `replayed-${Date.now()}`);
    await publishEvent(nc, replayed);
    expect((await publishEvent(nc, forged)).duplicate).toBe(true);
    await waitFor(
      "the forged event to be counted",
      async () => (await metric("label-master", /failover_suspicious_events_total\{fn="label-master",kind="forged"\} (\d+)/)) >= 1,
    );
    await waitFor(
      "the replayed event to be counted",
      async () => (await metric("label-master", /failover_suspicious_events_total\{fn="label-master",kind="stale"\} (\d+)/)) >= 1,
    );
    await new Promise((r) => setTimeout(r, 1000));
    expect(await masterState(sb)).toEqual(before);
    expect(convergedOn(before, pod, m.host, m.epoch)).toBe(true);
    await waitFor("a Warning Event for the forged event", async () =>
      (await eventsFor(sb, "redis")).some((e) => e.type === "Warning" && e.reason === "ForgedFailoverEvent"),
    );
  });

  it("dead-letters a malformed event and keeps running", async () => {
    const bad = switchEvent("mymaster", "198.18.1.10", "198.18.1.11", 1, `bad-${Date.now()}`);
    await publishEvent(nc, bad, '{"event":"+switch-master","master":"mymaster"}');
    await waitFor(
      "invalid event counted",
      async () => (await metric("label-master", /failover_events_handled_total\{fn="label-master",result="invalid"\} (\d+)/)) >= 1,
    );
    expect(await metric("label-master", /failover_dead_lettered_total\{fn="label-master",why="invalid"\} (\d+)/)).toBeGreaterThanOrEqual(1);
    expect((await fetch(`http://127.0.0.1:${project.httpPort("label-master")}/readyz`)).ok).toBe(true);
  });

  it("converge ten failovers in a row, each in order", async () => {
    const detection: number[] = [];
    const propagation: number[] = [];
    for (let i = 0; i < 10; i++) {
      await sb.waitSettled();
      // As sb.killMaster, timed: kill -> a quorum of Sentinels names another master -> the three objects name it.
      const old = await sb.currentMaster("mymaster");
      const killedAt = performance.now();
      await sb.redisAt(old.address)!.process.kill();
      const now = await sb.waitForNewMaster("mymaster", old.address, { timeoutMs: 30_000, intervalMs: 10 });
      const namedAt = performance.now();
      const pod = sb.podOf(sb.redisAt(now.address)!);
      await waitFor(`failover ${i + 1}/10: objects on ${pod}`, async () => convergedOn(await masterState(sb), pod, now.host, now.epoch), {
        timeoutMs: 20_000,
        intervalMs: 10,
      });
      detection.push(namedAt - killedAt);
      propagation.push(performance.now() - namedAt);
      await sb.redisAt(old.address)!.restart({ replicaOf: now.address });
      const { m } = await expectConverged(`failover ${i + 1}/10`);
      expect(m.epoch).toBe(now.epoch);
    }
    const [d, p] = [figure(detection), figure(propagation)];
    console.log(
      `[figure] ten kills on ${SERVER} (process mode, down-after ${sb.options.downAfterMs} ms, polled every 10 ms): kill -> a quorum of Sentinels names the new master p50 ${d.p50} ms (max ${d.max}); quorum -> labels, EndpointSlice and ConfigMap all on it p50 ${p.p50} ms (max ${p.max})`,
    );
  });

  it("converge after a function is SIGKILLed mid-failover (redelivery or resync)", async () => {
    await sb.waitSettled();
    const fn = project.functions.get("master-endpoints")!;
    const old = await sb.currentMaster("mymaster");
    await sb.redisAt(old.address)!.process.kill();
    await fn.kill();
    const now = await sb.waitForNewMaster("mymaster", old.address);
    await fn.start();
    await sb.redisAt(old.address)!.restart({ replicaOf: now.address });
    await expectConverged("after the function came back");
  });

  it("converge after NATS is down during a failover", async () => {
    await sb.waitSettled();
    await sb.stopNats();
    await failover();
    await sb.startNats();
    await expectConverged("after NATS came back", 30_000);
  });

  it("converge after the apiserver is down during a failover", async () => {
    await sb.waitSettled();
    await sb.stopApiserver();
    await failover();
    await new Promise((r) => setTimeout(r, 2000));
    await sb.startApiserver();
    await expectConverged("after the apiserver came back", 40_000);
  });

  it("move redis-master with the Sentinels even when every pod is NotReady (a lost node)", async () => {
    await sb.waitSettled();
    for (const r of sb.masters[0]!.redis) await sb.setRedisPodReady(r, false);
    await failover();
    await expectConverged("with every pod NotReady");
    for (const r of sb.masters[0]!.redis) await sb.setRedisPodReady(r, true);
  });

  it("clean the Sentinels' stale entry when a replica pod comes back with a new IP (SENTINEL RESET, one at a time)", async () => {
    await sb.waitSettled();
    const m = await sb.currentMaster("mymaster");
    const replica = sb.masters[0]!.redis.find((r) => r.spec.ip !== m.host)!;
    const oldIp = replica.spec.ip;
    const newIp = oldIp.replace(/\.(\d+)$/, (_, n: string) => `.${Number(n) + 20}`);
    await sb.moveRedis(replica, newIp);
    const listed = async () =>
      Promise.all(
        sb.sentinels.map(async (s) =>
          ((await s.command("SENTINEL", "REPLICAS", "mymaster")) as string[][]).map((r) => r[r.indexOf("ip") + 1]).sort(),
        ),
      );
    await waitFor(
      "every Sentinel to list the new address and not the old one",
      async () => {
        const all = await listed();
        return all.every((ips) => ips.includes(newIp) && !ips.includes(oldIp) && ips.length === 2);
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    const state = await masterState(sb);
    expect(state.sliceAddresses).toEqual([m.host]);
    expect(state.replicas).toContain(sb.podOf(replica));
    await waitFor("a SentinelReset Event", async () => (await eventsFor(sb, "redis")).some((e) => e.reason === "SentinelReset"));
    await sb.waitSettled();
  });

  it("re-point a Sentinel left on a master that no pod has (at an older epoch), and one that lost the name", async () => {
    await sb.waitSettled();
    if ((await sb.currentMaster("mymaster")).epoch === 0) await failover();
    await sb.waitSettled();
    const m = await sb.currentMaster("mymaster");
    const stale = sb.sentinels[2]!;
    const names = async () =>
      String(((await stale.command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster")) as string[] | null)?.[0] ?? "");
    // What a rolling restart leaves: a new Sentinel pod monitoring the old master's address at
    // epoch 0, which no other Sentinel knows (so none of their hello messages reach it). Here: it
    // is pointed at an address nobody has while the others forget every Sentinel (RESET), at once.
    // sentinel-reset gives a Sentinel that lost the name its master back, and can do so between this
    // REMOVE and MONITOR ("ERR Duplicate master name", seen once in CI): then set it up again.
    const monitorNobody = async (): Promise<void> => {
      for (let attempt = 1; ; attempt++) {
        try {
          await stale.command("SENTINEL", "REMOVE", "mymaster").catch(() => undefined); // already removed: fine
          await stale.command("SENTINEL", "MONITOR", "mymaster", "198.18.1.99", "6379", "2");
          await stale.command("SENTINEL", "SET", "mymaster", "down-after-milliseconds", "2000");
          return;
        } catch (err) {
          if (attempt >= 5) throw err;
        }
      }
    };
    await Promise.all([
      monitorNobody(),
      sb.sentinels[0]!.command("SENTINEL", "RESET", "mymaster"),
      sb.sentinels[1]!.command("SENTINEL", "RESET", "mymaster"),
    ]);
    expect(await names()).toBe("198.18.1.99");
    await waitFor(
      "the stale Sentinel re-pointed to the quorum's master, knowing its replicas and the other Sentinels",
      async () => {
        if ((await names()) !== m.host) return false;
        const f = ((await stale.command("SENTINEL", "MASTER", "mymaster")) as string[]).reduce<Record<string, string>>(
          (acc, x, i, a) => (i % 2 ? acc : { ...acc, [x]: a[i + 1]! }),
          {},
        );
        return Number(f["num-slaves"]) === 2 && Number(f["num-other-sentinels"]) === 2 && !f.flags!.includes("down");
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    await waitFor("a SentinelRepointed Event", async () =>
      (await eventsFor(sb, "redis")).some((e) => e.reason === "SentinelRepointed" && e.note.includes("198.18.1.99:6379@0")),
    );
    // A Sentinel that lost the name altogether is given it back too.
    await stale.command("SENTINEL", "REMOVE", "mymaster");
    await waitFor("the Sentinel that lost mymaster monitoring it again", async () => (await names().catch(() => "")) === m.host, {
      timeoutMs: 30_000,
      intervalMs: 250,
    });
    await sb.waitSettled();
  });

  it("re-point a replica that follows an address that is not a master (what a rolling restart can leave)", async () => {
    await sb.waitSettled();
    const m = await sb.currentMaster("mymaster");
    const replica = sb.masters[0]!.redis.find((r) => r.spec.ip !== m.host)!;
    // Sentinel would fix it too, but only failover-timeout (5 s here) after the change, on a 10 s INFO period.
    const t0 = performance.now();
    await redisCommand(replica.address, sb.password, "REPLICAOF", "198.18.1.99", "6379");
    await waitFor(
      "the replica following the quorum's master again",
      async () => {
        const info = await replica.replicationInfo();
        return info.master_host === m.host && info.master_link_status === "up";
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    const ms = performance.now() - t0;
    await waitFor("an OrphanReplicaRepointed Event on its pod", async () =>
      (await eventsFor(sb, sb.podOf(replica))).some((e) => e.reason === "OrphanReplicaRepointed" && e.note.includes("198.18.1.99:6379")),
    );
    console.log(
      `[figure] orphan replica (REPLICAOF an address nobody has) re-pointed by fence-old-master (resync 3 s): following the master again after ${Math.round(ms)} ms`,
    );
    await sb.waitSettled();
  });

  it("run with least privilege: each ServiceAccount is denied what its function does not need", async () => {
    const can = (sa: string, ...args: string[]) =>
      sb.kubectl("auth", "can-i", ...args, "-n", sb.namespace, "--as", `system:serviceaccount:${sb.namespace}:${sa}`).then(
        (o) => o.trim(),
        (e: { stdout?: string }) => (e.stdout ?? "").trim(),
      );
    expect(await can("label-master", "patch", "pods")).toBe("yes");
    expect(await can("label-master", "delete", "pods")).toBe("no");
    expect(await can("label-master", "patch", "configmaps/redis-master")).toBe("no");
    expect(await can("master-endpoints", "patch", "endpointslices.discovery.k8s.io")).toBe("yes");
    expect(await can("master-endpoints", "patch", "pods")).toBe("no");
    expect(await can("master-endpoints", "patch", "services/other")).toBe("no");
    expect(await can("master-configmap", "patch", "configmaps/redis-master")).toBe("yes");
    expect(await can("master-configmap", "patch", "configmaps/other")).toBe("no");
    expect(await can("master-configmap", "get", "secrets")).toBe("no");
    expect(await can("kube-events", "create", "events.events.k8s.io")).toBe("yes");
    expect(await can("kube-events", "patch", "pods")).toBe("no");
    expect(await can("fence-old-master", "list", "pods")).toBe("yes");
    expect(await can("fence-old-master", "patch", "pods")).toBe("no");
    expect(await can("webhook", "list", "pods")).toBe("no");
  });
});
