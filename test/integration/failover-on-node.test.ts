/**
 * The failover path on real pods, judged by a referee that can fail (test/support/referee.ts):
 * `skaffold run -p sandbox` (overlays/dev: down-after 3 s, the write fence on; `-p sandbox,valkey`
 * with the Valkey component when FAILOVER_SERVER=valkey) on the sandbox's node, every function with its periodic resync set to an hour, so what converges here converged
 * through the event path:
 *  - the referee sees nothing wrong through a failover, and every function acts on the event;
 *  - the referee itself catches a hand-written EndpointSlice naming a replica and a label flipped
 *    by hand (a referee that cannot fail proves nothing);
 *  - forged and replayed events published raw on the stream change nothing, each counted;
 *  - a function that missed an event (its consumer gone while it was down) heals by its resync;
 *  - a master frozen past down-after and resumed under fence-old-master and the write fence: the
 *    client through redis-master (kube-proxy) and the sentinel-aware one lose nothing;
 *  - a hook built from `failover new hook` follows a failover;
 *  - the built-in functions in one process (components/functions-host) follow a failover too.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { execFile } from "node:child_process";
import { stripTypeScriptTypes } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CoreV1Api, DiscoveryV1Api, EventsV1Api } from "@kubernetes/client-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { JetStreamManager } from "@nats-io/jetstream";
import { connect, headers } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { Redis } from "ioredis";
import { waitFor } from "../../sandbox/index.ts";
import { crasher, partition } from "../../sandbox/faults.ts";
import type { Sandbox } from "../../sandbox/index.ts";
import {
  copyCheckout,
  devProfiles,
  serversOf,
  mainPid,
  NATS_PASSWORD,
  NS,
  onPod,
  PASSWORD,
  picture,
  SENTINEL_PASSWORD,
  podsIn,
  ready,
  skaffoldRun,
  startNodeSandbox,
  startWriters,
  waitOneMaster,
  waitSettled,
} from "../../sandbox/stack.ts";
import type { Picture } from "../../sandbox/stack.ts";
import { stackReferee } from "../support/referee.ts";
import { baseFunctions } from "../../functions/index.ts";
import { scrape, total } from "../../bench/lib/prom-scrape.ts";
import type { PromSeries } from "../../bench/lib/prom-scrape.ts";
import { SERVER } from "../support/server-family.ts";
import { REGISTRY } from "../../sandbox/addresses.ts";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** What the referee allows Kubernetes after a new master exists. */
const GRACE_MS = 2000;
const SWITCH_FUNCTIONS = ["label-master", "master-endpoints", "master-configmap", "kube-events", "fence-old-master"];
const STREAM = "REDIS_SENTINEL";
const SUBJECT = "redis.sentinel.mymaster.switch-master";

let sb: Sandbox;
let workdir: string;
let clusterIp: string;
let nc: NatsConnection;
let jsm: JetStreamManager;

const referee = () => stackReferee(sb.kubeConfig, GRACE_MS);

async function podIp(selector: string): Promise<string> {
  const pods = (await sb.kubeConfig.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: NS, labelSelector: selector })).items.filter(
    (p) => ready(p) && !p.metadata?.deletionTimestamp,
  );
  if (pods.length !== 1) throw new Error(`expected one ready pod for ${selector}, found ${pods.length}`);
  return pods[0]!.status!.podIP!;
}

/** Every switch-master function's /metrics, by function. */
async function functionMetrics(): Promise<Record<string, PromSeries[]>> {
  return Object.fromEntries(
    await Promise.all(
      SWITCH_FUNCTIONS.map(async (fn) => [fn, await scrape(`http://${await podIp(`app.kubernetes.io/name=${fn}`)}:8080/metrics`)] as const),
    ),
  );
}

/** SENTINEL FAILOVER, asked again while the previous failover is still reconfiguring replicas (INPROG). */
async function sentinelFailover(): Promise<void> {
  const s = new Redis({ host: (await picture(sb)).ipOf["sentinel-0"]!, port: 26379, password: SENTINEL_PASSWORD, lazyConnect: true });
  try {
    await s.connect();
    await waitFor(
      "Sentinel to accept SENTINEL FAILOVER",
      () =>
        s.call("SENTINEL", "FAILOVER", "mymaster").then(
          () => true,
          (err: unknown) => {
            if (err instanceof Error && err.message.startsWith("INPROG")) return false; // the reply's error code
            throw err;
          },
        ),
      { timeoutMs: 60_000, intervalMs: 250 },
    );
  } finally {
    s.disconnect();
  }
}

/** The master's config epoch, as sentinel-0 says. */
async function sentinelEpoch(): Promise<number> {
  const s = new Redis({ host: (await picture(sb)).ipOf["sentinel-0"]!, port: 26379, password: SENTINEL_PASSWORD, lazyConnect: true });
  try {
    await s.connect();
    const fields = (await s.call("SENTINEL", "MASTER", "mymaster")) as string[];
    return Number(fields[fields.indexOf("config-epoch") + 1]);
  } finally {
    s.disconnect();
  }
}

/** A SENTINEL FAILOVER and every picture on the new master; on a timeout, what each side said last. */
async function failOver(what: string): Promise<Picture & { master: string }> {
  // Settled, not just one master in every picture: every Sentinel must know the whole set. Right
  // after a roll (skaffold run) a Sentinel accepted SENTINEL FAILOVER and then promoted nobody
  // (all three still named the master at the same epoch a minute later).
  const before = await waitSettled(sb);
  const from = before.ipOf[before.master]!;
  for (let attempt = 1; ; attempt++) {
    const askedAt = new Date();
    await sentinelFailover();
    // Sentinel's own part first: a quorum naming another address (failover-timeout is 10 s). A
    // Sentinel here has accepted SENTINEL FAILOVER from a settled set and promoted nobody; that is
    // Sentinel's outcome, not the project's (no function had handled any event meanwhile), so it
    // is asked again, once, and what it announced is printed.
    const moved = await waitFor(
      "a majority of Sentinels naming a new master",
      async () => ((await sentinelsNaming()).filter((ip) => ip && ip !== from).length >= 2 ? true : undefined),
      {
        timeoutMs: 20_000,
        intervalMs: 100,
      },
    ).catch(() => false);
    if (moved) break;
    const said = await sentinelEventsSince(askedAt);
    console.log(
      `[note] ${what}: SENTINEL FAILOVER accepted, nobody promoted within 20 s (attempt ${attempt}); Sentinels announced: ${said.join(", ") || "nothing"}`,
    );
    if (attempt >= 2)
      throw new Error(`${what}: Sentinel promoted nobody after ${attempt} SENTINEL FAILOVER; it announced: ${said.join(", ")}`);
  }
  return waitOneMaster(sb, `every picture on the new master after ${what}`, { not: before.master, timeoutMs: 60_000 }).catch(
    async (err: unknown) => {
      throw new Error(`${(err as Error).message}\n${await whatEachSideSays(before.master)}`, { cause: err });
    },
  );
}

/** The address each Sentinel names for mymaster now (undefined where one does not answer). */
async function sentinelsNaming(): Promise<(string | undefined)[]> {
  const ips = (await picture(sb)).ipOf;
  return Promise.all(
    ["sentinel-0", "sentinel-1", "sentinel-2"].map((s) =>
      onSentinel(ips[s], async (r) => ((await r.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster")) as string[])[0]).catch(
        () => undefined,
      ),
    ),
  );
}

/** What the Sentinels announced for mymaster since `t` (the relay's events on the stream): each event type and its count. */
async function sentinelEventsSince(t: Date): Promise<string[]> {
  const consumer = await jetstream(nc).consumers.get(STREAM, {
    filter_subjects: ["redis.sentinel.mymaster.>"],
    opt_start_time: t.toISOString(),
  });
  const counts = new Map<string, number>();
  const batch = await consumer.fetch({ max_messages: 500, expires: 2000 });
  for await (const m of batch) {
    const type = m.subject.split(".").at(-1)!;
    counts.set(type, (counts.get(type) ?? 0) + 1);
    if (m.info.pending === 0) break;
  }
  return [...counts].map(([k, n]) => `${k} x${n}`);
}

/** For a failure's message: the picture, every Sentinel's view of mymaster, and each function's handled events. */
async function whatEachSideSays(before: string): Promise<string> {
  const lines = [`master before: ${before}`];
  const p = await picture(sb).catch((e: unknown) => String(e));
  lines.push(`picture: ${JSON.stringify(p)}`);
  const ips = typeof p === "string" ? {} : p.ipOf;
  for (const s of ["sentinel-0", "sentinel-1", "sentinel-2"]) {
    const view = await onSentinel(ips[s], async (r) => {
      const f = (await r.call("SENTINEL", "MASTER", "mymaster")) as string[];
      const at = (k: string) => f[f.indexOf(k) + 1];
      return `${at("ip")} epoch ${at("config-epoch")} flags ${at("flags")} failover-state ${at("failover-state") ?? "-"} replicas ${at("num-slaves")}`;
    }).catch((e: unknown) => String(e));
    lines.push(`${s}: ${view}`);
  }
  const m = await functionMetrics().catch((e: unknown) => String(e));
  if (typeof m === "string") lines.push(`function metrics: ${m}`);
  else
    for (const [fn, series] of Object.entries(m))
      lines.push(
        `${fn}: ${series
          .filter((x) => x.name === "failover_events_handled_total")
          .map((x) => `${x.labels.result}=${x.value}`)
          .join(" ")}`,
      );
  return lines.join("\n");
}

/** `fn` on a short-lived connection to a Sentinel pod's 26379. */
function onSentinel<T>(ip: string | undefined, fn: (r: Redis) => Promise<T>): Promise<T> {
  return ip ? onPod(ip, 26379, fn) : Promise.reject(new Error("no pod IP"));
}

async function scale(deployment: string, replicas: number): Promise<void> {
  await sb.kubectl("-n", NS, "scale", `deployment/${deployment}`, `--replicas=${replicas}`);
  await waitFor(
    `${deployment} at ${replicas} ready pod(s)`,
    async () => {
      const pods = (await podsIn(sb)).filter((p) => p.metadata?.labels?.["app.kubernetes.io/name"] === deployment);
      return pods.length === replicas && pods.every(ready);
    },
    { timeoutMs: 120_000, intervalMs: 250 },
  );
}

/** Every switch-master consumer has been delivered `seq` and has nothing pending or unacked: each message acked, termed or dead-lettered. */
async function settled(seq: number): Promise<boolean> {
  for (const fn of SWITCH_FUNCTIONS) {
    const info = await jsm.consumers.info(STREAM, `fn-${fn}`);
    if (info.delivered.stream_seq < seq || info.num_ack_pending > 0 || info.num_pending > 0) return false;
  }
  return true;
}

beforeAll(async () => {
  sb = await startNodeSandbox();
  workdir = await copyCheckout();
  await skaffoldRun(sb, workdir, ["-p", devProfiles(SERVER), "--tag", "failover-on-node"], "skaffold-run-dev.log");
  // Only the event path: the periodic resync of every function an hour away (env beats envFrom).
  const fns = (await podsIn(sb))
    .map((p) => p.metadata?.labels?.["app.kubernetes.io/name"] ?? "")
    .filter((n) => SWITCH_FUNCTIONS.includes(n) || n === "sentinel-reset");
  await sb.kubectl("-n", NS, "set", "env", ...[...new Set(fns)].map((f) => `deployment/${f}`), "RESYNC_INTERVAL_MS=3600000");
  for (const f of new Set(fns)) await sb.kubectl("-n", NS, "rollout", "status", `deployment/${f}`, "--timeout=180s");
  clusterIp = (await sb.kubeConfig.makeApiClient(CoreV1Api).readNamespacedService({ name: "redis-master", namespace: NS })).spec!
    .clusterIP!;
  nc = await connect({ servers: `${await podIp("app.kubernetes.io/name=nats")}:4222`, user: "failover", pass: NATS_PASSWORD });
  jsm = await jetstreamManager(nc);
  await waitOneMaster(sb, "one master after the deploy");
}, 900_000);

afterAll(async () => {
  await nc?.close();
  if (workdir) rmSync(workdir, { recursive: true, force: true });
  await sb?.stop();
  expect(sb?.nodeLeftovers ?? []).toEqual([]);
}, 300_000);

describe("failover on real pods, judged by the referee", () => {
  it(`runs ${SERVER} in every redis and Sentinel pod (each asked with INFO server)`, async () => {
    const servers = await serversOf(sb);
    expect(Object.keys(servers)).toHaveLength(6);
    for (const [pod, server] of Object.entries(servers)) expect(server, pod).toMatch(SERVER === "valkey" ? /^valkey 8\./ : /^redis 7\./);
  });

  it("through a failover with the resync an hour away: every function acts on the event, the referee sees nothing wrong", async () => {
    const ref = referee();
    await ref.start();
    try {
      const before = await functionMetrics();
      await waitFor("the referee's first answers", () => ref.seen.polls > 5, { timeoutMs: 10_000 });
      await failOver("the event-path failover");
      await waitFor(
        "every switch-master function to have handled an event",
        async () => {
          const now = await functionMetrics();
          return SWITCH_FUNCTIONS.every(
            (fn) =>
              total(now[fn]!, "failover_events_handled_total", { fn, result: "ok" }) >
              total(before[fn]!, "failover_events_handled_total", { fn, result: "ok" }),
          );
        },
        { timeoutMs: 30_000, intervalMs: 250 },
      );
      const after = await functionMetrics();
      for (const fn of SWITCH_FUNCTIONS)
        expect(total(after[fn]!, "failover_resyncs_total", { fn }), `${fn} resynced`).toBe(
          total(before[fn]!, "failover_resyncs_total", { fn }),
        );
    } finally {
      ref.stop();
    }
    console.log(
      `[figure] event-path failover (SENTINEL FAILOVER, real pods): Kubernetes named another host than the master for at most ${ref.longestLagMs} ms after the new master existed (watch + ROLE every 50 ms); ${ref.seen.sliceEvents} slice and ${ref.seen.podEvents} pod events seen`,
    );
    expect(ref.seen.sliceEvents).toBeGreaterThan(1);
    expect(ref.violations).toEqual([]);
  });

  it("the referee catches a hand-written EndpointSlice naming a replica and a master label flipped by hand", async () => {
    const now = await waitOneMaster(sb, "one master before the referee's self-test");
    const replica = Object.keys(now.ipOf).find((p) => /^redis-\d$/.test(p) && p !== now.master)!;
    const ref = referee();
    await ref.start();
    const discovery = sb.kubeConfig.makeApiClient(DiscoveryV1Api);
    try {
      await waitFor("the referee's first answers", () => ref.seen.polls > 5, { timeoutMs: 10_000 });
      expect(ref.violations).toEqual([]);
      await scale("master-endpoints", 0); // nobody to correct the slice
      await discovery.createNamespacedEndpointSlice({
        namespace: NS,
        body: {
          metadata: { name: "redis-master-by-hand", labels: { "kubernetes.io/service-name": "redis-master" } },
          addressType: "IPv4",
          endpoints: [{ addresses: [now.ipOf[replica]!] }],
          ports: [{ name: "redis", port: 6379, protocol: "TCP" }],
        },
      });
      await waitFor(
        "the referee to see both slice violations",
        () => ref.of("two-endpoints").length > 0 && ref.of("stale-endpoint").length > 0,
        { timeoutMs: GRACE_MS + 10_000, intervalMs: 50 },
      );
      expect(ref.of("stale-endpoint")[0]!.what).toContain(now.ipOf[replica]!);
      await discovery.deleteNamespacedEndpointSlice({ name: "redis-master-by-hand", namespace: NS });
      await scale("master-endpoints", 1);

      await sb.kubectl("-n", NS, "label", "pod", replica, "redis-role=master", "--overwrite");
      await waitFor("the referee to see two master labels", () => ref.of("two-master-labels").length > 0, {
        timeoutMs: 10_000,
        intervalMs: 50,
      });
      expect(ref.of("two-master-labels")[0]!.what).toContain(replica);
    } finally {
      await sb.kubectl("-n", NS, "label", "pod", replica, "redis-role=replica", "--overwrite").catch(() => undefined);
      await discovery.deleteNamespacedEndpointSlice({ name: "redis-master-by-hand", namespace: NS }).catch(() => undefined);
      await scale("master-endpoints", 1);
      ref.stop();
    }
    await waitOneMaster(sb, "one master after the self-test");
  });

  it("forged and replayed events published raw on the stream change nothing, and each is counted", async () => {
    // A real switch-master of an earlier failover, to replay after a later one.
    const first = await failOver("the failover to replay");
    const real = await jsm.streams.getMessage(STREAM, { last_by_subj: SUBJECT });
    const second = await failOver("the failover after it");
    expect(second.master).not.toBe(first.master);
    const epoch = await sentinelEpoch();
    expect(Number(real!.header.get("ce-configepoch"))).toBeLessThan(epoch);
    const replicaIp = Object.entries(second.ipOf).find(([p]) => /^redis-\d$/.test(p) && p !== second.master)![1];
    const masterIp = second.ipOf[second.master]!;
    const before = await functionMetrics();
    const ref = referee();
    await ref.start();
    try {
      await waitFor("the referee's first answers", () => ref.seen.polls > 5, { timeoutMs: 10_000 });
      const js = jetstream(nc);
      const data = (newMaster: string, id: string) => ({
        event: "+switch-master",
        master: "mymaster",
        epoch: 0,
        sentinel: { host: "198.18.255.253", port: 26379 },
        oldMaster: { host: masterIp, port: 6379 },
        newMaster: { host: newMaster, port: 6379 },
        masterAddress: { host: newMaster, port: 6379 },
        raw: `+switch-master mymaster ${masterIp} 6379 ${newMaster} 6379`,
        announcedAt: new Date().toISOString(),
        id,
      });
      const structured = (newMaster: string, e: number, id: string) => {
        const h = headers();
        h.set("content-type", "application/cloudevents+json");
        const { id: _id, ...d } = data(newMaster, id);
        return {
          h,
          body: JSON.stringify({
            specversion: "1.0",
            id,
            source: "forger",
            type: "io.redis.sentinel.switch-master",
            subject: "mymaster",
            time: new Date().toISOString(),
            datacontenttype: "application/json",
            configepoch: String(e),
            data: { ...d, epoch: e },
          }),
        };
      };
      const binary = (newMaster: string, e: number, id: string) => {
        const h = headers();
        for (const [k, v] of Object.entries({
          "content-type": "application/json",
          "ce-specversion": "1.0",
          "ce-id": id,
          "ce-source": "forger",
          "ce-type": "io.redis.sentinel.switch-master",
          "ce-subject": "mymaster",
          "ce-time": new Date().toISOString(),
          "ce-datacontenttype": "application/json",
          "ce-configepoch": String(e),
        }))
          h.set(k, v);
        const { id: _id, ...d } = data(newMaster, id);
        return { h, body: JSON.stringify({ ...d, epoch: e }) };
      };
      const tag = Date.now();
      const forged = [
        structured(replicaIp, epoch, `forged-replica-same-epoch-${tag}`),
        structured(replicaIp, epoch + 1, `forged-replica-next-epoch-${tag}`),
        binary("198.18.255.254", epoch, `forged-outside-${tag}`),
      ];
      let last = 0;
      for (const f of forged) last = (await js.publish(SUBJECT, f.body, { headers: f.h })).seq;
      // The replay: the earlier failover's message byte for byte, headers included, minus the
      // dedupe id (a replayer would not reuse it inside the duplicate window).
      const replay = headers();
      for (const [k, v] of real!.header) if (k.toLowerCase() !== "nats-msg-id") for (const value of v) replay.append(k, value);
      last = (await js.publish(SUBJECT, real!.data, { headers: replay })).seq;
      await waitFor("every injected event settled in every switch-master consumer", () => settled(last), {
        timeoutMs: 90_000,
        intervalMs: 250,
      });
      const after = await picture(sb);
      expect({ labelled: after.labelled, endpoints: after.endpoints, configMapPod: after.configMapPod }).toEqual({
        labelled: [second.master],
        endpoints: [masterIp],
        configMapPod: second.master,
      });
      const metrics = await functionMetrics();
      for (const fn of SWITCH_FUNCTIONS) {
        const delta = (name: string, labels: Record<string, string>) =>
          total(metrics[fn]!, name, { fn, ...labels }) - total(before[fn]!, name, { fn, ...labels });
        const counted = {
          invalid: delta("failover_events_handled_total", { result: "invalid" }),
          forged: delta("failover_suspicious_events_total", { kind: "forged" }),
          stale: delta("failover_suspicious_events_total", { kind: "stale" }),
        };
        console.log(`[figure] ${fn}: 4 injected events counted as ${JSON.stringify(counted)}`);
        expect(counted.invalid + counted.forged + counted.stale, `${fn}: ${JSON.stringify(counted)}`).toBe(4);
        expect(counted.stale, fn).toBe(1);
        expect(counted.forged, fn).toBeGreaterThanOrEqual(1);
      }
    } finally {
      ref.stop();
    }
    expect(ref.violations).toEqual([]);
  });

  it("a function that missed a failover's event (down, its consumer gone) converges through its resync at start", async () => {
    const before = await waitOneMaster(sb, "one master before the missed failover");
    await scale("master-configmap", 0);
    await sentinelFailover();
    const now = await waitFor(
      "labels and slice on the new master, the ConfigMap behind",
      async () => {
        const p = await picture(sb);
        const m = p.labelled[0];
        return p.labelled.length === 1 && m !== before.master && p.endpoints[0] === p.ipOf[m!] && p.configMapPod === before.master
          ? p
          : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    await jsm.consumers.delete(STREAM, "fn-master-configmap"); // the event is gone for it
    await scale("master-configmap", 1);
    const healed = await waitOneMaster(sb, "the ConfigMap on the new master", { timeoutMs: 60_000 });
    expect(healed.master).toBe(now.labelled[0]);
    const m = await scrape(`http://${await podIp("app.kubernetes.io/name=master-configmap")}:8080/metrics`);
    expect(total(m, "failover_events_handled_total", { fn: "master-configmap" })).toBe(0);
    expect(total(m, "failover_resyncs_total", { fn: "master-configmap" })).toBeGreaterThanOrEqual(1);
  });

  it("a master frozen past down-after, resumed under fence-old-master and the write fence: the clients through redis-master and through Sentinel lose nothing", async () => {
    const before = await waitOneMaster(sb, "one master before the freeze");
    const ref = referee();
    await ref.start();
    // Clients with a 1 s command deadline, shorter than the freeze: what they sent to the frozen
    // master is never acknowledged; what they are acknowledged must survive.
    const writers = await startWriters(sb, {
      clusterIp,
      password: PASSWORD,
      sentinelPassword: SENTINEL_PASSWORD,
      keyPrefix: "fenced-freeze",
      commandTimeoutMs: 1000,
    });
    const { plain, aware } = writers;
    let result;
    let stopped = false;
    try {
      await waitFor("the writers' first acknowledgements", () => plain.acks.length > 50 && aware.acks.length > 50, { timeoutMs: 20_000 });
      const pid = await mainPid(sb, before.master, "redis");
      const frozenAt = performance.now();
      process.kill(pid, "SIGSTOP");
      let moved;
      try {
        moved = await waitOneMaster(sb, "a new master in every picture while the old one is frozen", {
          not: before.master,
          timeoutMs: 60_000,
        });
        // Acknowledged while the old master is still frozen: by the new one.
        await waitFor(
          "both clients acknowledged by the new master",
          () => plain.firstAckAfter(frozenAt) !== undefined && aware.firstAckAfter(frozenAt) !== undefined,
          { timeoutMs: 30_000 },
        );
      } finally {
        process.kill(pid, "SIGCONT");
      }
      const resumedAt = performance.now();
      const old = new Redis({ host: before.ipOf[before.master]!, port: 6379, password: PASSWORD, lazyConnect: true });
      await old.connect();
      await waitFor("the resumed old master to be a replica", async () => ((await old.call("ROLE")) as string[])[0] === "slave", {
        timeoutMs: 30_000,
        intervalMs: 20,
      });
      const demotedMs = Math.round(performance.now() - resumedAt);
      old.disconnect();
      await new Promise((r) => setTimeout(r, 2000));
      stopped = true;
      result = { ...(await writers.stop(moved.ipOf[moved.master]!)), frozenMs: Math.round(resumedAt - frozenAt), demotedMs };
    } finally {
      if (!stopped) await writers.stop(before.ipOf[before.master]!).catch(() => undefined);
      ref.stop();
    }
    console.log(
      `[figure] fenced freeze (real pods, down-after 3 s, write fence on): frozen ${result.frozenMs} ms, old master a replica ${result.demotedMs} ms after resume; plain via kube-proxy ${plain.acks.length} acknowledged / ${result.plainLost.length} lost / longest gap ${plain.longestGapMs()} ms; sentinel-aware ${aware.acks.length} / ${result.awareLost.length} / ${aware.longestGapMs()} ms; referee lag at most ${ref.longestLagMs} ms`,
    );
    // fence-old-master, not Sentinel (which converts a returning master 8-11 s after it answers).
    expect(result.demotedMs).toBeLessThan(5000);
    expect(result.plainLost).toEqual([]);
    expect(result.awareLost).toEqual([]);
    expect(result.violations).toEqual([]);
    expect(ref.violations).toEqual([]);
  });

  it("pod-loss-failover starts no failover when the kubelet restarts the master's redis or when the master is cut off from the Sentinels, and one at once when the master is SIGKILLed with its pod force-deleted", async () => {
    // Every FailoverStarted Event the function recorded in the namespace so far (the freeze above included).
    const started = async () =>
      (await sb.kubeConfig.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: NS })).items.filter(
        (e) => e.reason === "FailoverStarted",
      );
    expect(await started()).toEqual([]);
    const downAfterMs = Number(
      await onSentinel((await picture(sb)).ipOf["sentinel-0"], async (r) => {
        const f = (await r.call("SENTINEL", "MASTER", "mymaster")) as string[];
        return f[f.indexOf("down-after-milliseconds") + 1];
      }),
    );
    expect(downAfterMs).toBeGreaterThan(0);

    // The kubelet restarts a SIGKILLed redis (its pod stays): Kubernetes shows no loss.
    const before = await waitSettled(sb);
    const restarts = async () =>
      (await podsIn(sb)).find((p) => p.metadata?.name === before.master)?.status?.containerStatuses?.find((c) => c.name === "redis");
    const restartedFrom = (await restarts())?.restartCount ?? 0;
    process.kill(await mainPid(sb, before.master, "redis"), "SIGKILL");
    await waitFor(
      "the kubelet to restart the killed redis",
      async () => {
        const c = await restarts();
        return c !== undefined && c.restartCount > restartedFrom && c.ready;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    await new Promise((r) => setTimeout(r, downAfterMs));
    expect(await started()).toEqual([]);

    // Cut off from the Sentinels: Sentinel fails it over by itself; Kubernetes shows no loss.
    const cut = await waitSettled(sb);
    const sentinelIps = Object.entries(cut.ipOf)
      .filter(([pod]) => /^sentinel-\d$/.test(pod))
      .map(([, ip]) => ip);
    const fault = await partition(sb, cut.master, "redis", sentinelIps);
    try {
      await waitOneMaster(sb, "Sentinel's own failover of the cut-off master", { not: cut.master, timeoutMs: 60_000 });
    } finally {
      await fault.heal();
    }
    expect(await started()).toEqual([]);

    // SIGKILLed and force-deleted: Kubernetes shows the loss first, and the function starts the failover.
    const killed = await waitSettled(sb);
    const crash = await crasher(sb, killed.master);
    const killedAt = await crash();
    const moved = await waitOneMaster(sb, "a new master after the kill", { not: killed.master, timeoutMs: 60_000 });
    const killToPictureMs = Math.round(performance.now() - killedAt);
    const events = await started();
    console.log(
      `[figure] pod-loss-failover on real pods: redis SIGKILLed and its pod force-deleted -> ${moved.master} labelled, in the EndpointSlice and the ConfigMap ${killToPictureMs} ms later (down-after ${downAfterMs} ms); ${events.length} FailoverStarted Event(s)`,
    );
    expect(events).toHaveLength(1);
    expect(events[0]!.note).toContain(killed.ipOf[killed.master]!);
    // Sentinel alone waits down-after-milliseconds before it even votes.
    expect(killToPictureMs).toBeLessThan(downAfterMs);
    await waitSettled(sb);
  });

  // The Redis, Sentinel and NATS pods by name, with their uid: a re-deploy that changes nothing
  // in them leaves them running (skaffold.yaml keeps its run-id off the StatefulSets' templates).
  const statefulPods = async () =>
    Object.fromEntries(
      (await podsIn(sb))
        .filter((p) => /^(redis|sentinel|nats)-\d$/.test(p.metadata?.name ?? ""))
        .map((p) => [p.metadata!.name!, p.metadata!.uid!]),
    );

  it("a hook from `failover new hook`, shipped as its own image FROM the production image and deployed by its generated component, follows a failover", async () => {
    // The hook lives in its own folder, beside the checkout copy skaffold deploys from.
    const dir = mkdtempSync(join(workdir, "hooks-"));
    await run(process.execPath, [join(ROOT, "bin/failover.ts"), "new", "hook", "acme-record", "--dir", dir]);
    const hookDir = join(dir, "acme-record");
    // Its build. Stand-in: Node's own type stripping instead of the hook's `npm run build` (tsc,
    // which hook-package.test.ts runs on the packed package): the same JavaScript for this module.
    mkdirSync(join(hookDir, "dist"));
    writeFileSync(join(hookDir, "dist/index.js"), stripTypeScriptTypes(readFileSync(join(hookDir, "index.ts"), "utf8")));
    await run("bash", [join(ROOT, "sandbox/images/build-hook.sh"), hookDir, `${REGISTRY}/acme-record:on-node`]);
    // As its README says: its deploy/ (Deployment + ServiceAccount + Role generated from its
    // declaration) added to the overlay's components, its image set, and the overlay deployed again.
    // In the overlay, not applied alone: the base's generated failover-settings ConfigMap has a hash
    // suffix that kustomize writes into the hook's envFrom only when both are in one build.
    const overlay = join(workdir, "manifests/overlays/dev/kustomization.yaml");
    const text = readFileSync(overlay, "utf8");
    const forward = "  - ../../components/master-forward\n";
    expect(text).toContain(forward);
    writeFileSync(
      overlay,
      `${text.replace(forward, `${forward}  - ${relative(dirname(overlay), join(hookDir, "deploy"))}\n`)}images:\n  - {name: acme-record, newName: ${REGISTRY}/acme-record, newTag: on-node}\n`,
    );
    const stateful = await statefulPods();
    expect(Object.keys(stateful)).toHaveLength(7);
    // Within the test's 480 s, so a roll that never stabilizes fails with skaffold's own output
    // (which pod it waits for) instead of a bare test timeout.
    await skaffoldRun(sb, workdir, ["-p", devProfiles(SERVER), "--tag", "failover-on-node"], "skaffold-run-hook.log", 240_000).catch(
      async (err: unknown) => {
        // What the hook's container said and how it ended, for the failure's message.
        const said = await sb
          .kubectl("-n", NS, "logs", "deployment/acme-record", "--previous", "--tail=30")
          .catch((e: unknown) => String(e));
        const ended = await sb
          .kubectl(
            "-n",
            NS,
            "get",
            "pods",
            "-l",
            "app.kubernetes.io/name=acme-record",
            "-o",
            "jsonpath={.items[*].status.containerStatuses}",
          )
          .catch((e: unknown) => String(e));
        throw new Error(`${(err as Error).message}\nacme-record's last log:\n${said}\nits container statuses: ${ended}`, { cause: err });
      },
    );
    // Nothing in the StatefulSets changed, so no failover, no Sentinel or NATS restart: the same pods.
    expect(await statefulPods()).toEqual(stateful);
    const core = sb.kubeConfig.makeApiClient(CoreV1Api);
    const recorded = async () =>
      (await core.readNamespacedConfigMap({ name: "acme-record", namespace: NS }).catch(() => undefined))?.data?.host;
    const before = await waitOneMaster(sb, "one master before the hook's failover");
    await waitFor(
      "the hook's record names the master (its resync at start)",
      async () => (await recorded()) === before.ipOf[before.master],
      {
        timeoutMs: 60_000,
        intervalMs: 250,
      },
    );
    const after = await failOver("the hook's failover");
    await waitFor("the hook's record follows the failover", async () => (await recorded()) === after.ipOf[after.master], {
      timeoutMs: 60_000,
      intervalMs: 100,
    });
    // It ran as its own ServiceAccount, with only what it declared.
    const can = async (verb: string, what: string) =>
      (await sb.kubectl("auth", "can-i", verb, what, "-n", NS, `--as=system:serviceaccount:${NS}:acme-record`).catch(() => "no")).trim();
    expect(await can("patch", "configmap/acme-record")).toBe("yes");
    expect(await can("patch", "configmap/redis-master")).toBe("no");
    // skaffold's second run rolled the Deployments' pods (its run-id is in their templates): let the
    // old ones finish terminating, or the node's stop right after can catch one mid-teardown (a veth left).
    await waitFor("no pod still terminating after the roll", async () => (await podsIn(sb)).every((p) => !p.metadata?.deletionTimestamp), {
      timeoutMs: 120_000,
      intervalMs: 500,
    });
  }, 480_000);

  it("the built-in functions in one process (components/functions-host): one pod instead of six, a failover judged by the referee, each function writing as itself", async () => {
    const base = baseFunctions.map((f) => f.name);
    // What the six processes hold now, to set the host's beside.
    const rss = (series: PromSeries[]) => total(series, "process_resident_memory_bytes") / 2 ** 20;
    const apart = await Promise.all(
      base.map(async (fn) => rss(await scrape(`http://${await podIp(`app.kubernetes.io/name=${fn}`)}:8080/metrics`))),
    );
    // overlays/dev-host (overlays/dev, with the hook added above, and the component), on this family.
    if (SERVER === "valkey") {
      const hostOverlay = join(workdir, "manifests/overlays/dev-host/kustomization.yaml");
      const text = readFileSync(hostOverlay, "utf8");
      expect(text).toContain("components:\n");
      writeFileSync(hostOverlay, text.replace("components:\n", "components:\n  - ../../components/valkey\n"));
    }
    const stateful = await statefulPods();
    await skaffoldRun(
      sb,
      workdir,
      ["-p", devProfiles("redis", { host: true }), "--tag", "failover-on-node"],
      "skaffold-run-host.log",
      240_000,
    );
    expect(await statefulPods()).toEqual(stateful);
    // Applying does not remove what the manifests no longer hold: the six Deployments and their
    // metrics Services are deleted by hand, as the README says.
    const deployments = async () =>
      (await sb.kubectl("-n", NS, "get", "deployments", "-o", "jsonpath={.items[*].metadata.name}")).split(" ");
    expect((await deployments()).filter((d) => base.includes(d))).toEqual(base);
    await sb.kubectl("-n", NS, "delete", ...base.map((f) => `deployment/${f}`), ...base.map((f) => `service/${f}-metrics`));
    expect(await deployments()).toContain("functions-host");
    expect((await deployments()).filter((d) => base.includes(d))).toEqual([]);
    await waitFor("no pod still terminating after the roll", async () => (await podsIn(sb)).every((p) => !p.metadata?.deletionTimestamp), {
      timeoutMs: 120_000,
      intervalMs: 500,
    });
    const hostMetrics = async () => scrape(`http://${await podIp("app.kubernetes.io/name=functions-host")}:8080/metrics`);
    await waitOneMaster(sb, "one master under the host");
    const ref = referee();
    await ref.start();
    try {
      const before = await hostMetrics();
      await waitFor("the referee's first answers", () => ref.seen.polls > 5, { timeoutMs: 10_000 });
      await failOver("the host's failover");
      await waitFor(
        "every switch-master function in the host to have handled the event",
        async () => {
          const now = await hostMetrics();
          const ok = (m: PromSeries[], fn: string) => total(m, "failover_events_handled_total", { fn, result: "ok" });
          return SWITCH_FUNCTIONS.every((fn) => ok(now, fn) > ok(before, fn));
        },
        { timeoutMs: 30_000, intervalMs: 250 },
      );
    } finally {
      ref.stop();
    }
    const hostRss = rss(await hostMetrics());
    console.log(
      `[figure] functions host on real pods: Kubernetes named another host than the master for at most ${ref.longestLagMs} ms after the new master existed; resident memory ${hostRss.toFixed(1)} MiB in one process against ${apart.reduce((a, b) => a + b, 0).toFixed(1)} MiB in six (${apart.map((m) => m.toFixed(0)).join(", ")})`,
    );
    expect(ref.violations).toEqual([]);
    expect(hostRss).toBeLessThan(apart.reduce((a, b) => a + b, 0));
    // The host itself may not write: the labels, the slice and the ConfigMap that followed were written as each function.
    const can = async (verb: string, what: string) =>
      (await sb.kubectl("auth", "can-i", verb, what, "-n", NS, `--as=system:serviceaccount:${NS}:functions-host`).catch(() => "no")).trim();
    expect(await can("patch", "pods")).toBe("no");
    expect(await can("patch", "endpointslices.discovery.k8s.io")).toBe("no");
    expect(await can("impersonate", "serviceaccounts/label-master")).toBe("yes");
  }, 480_000);
});
