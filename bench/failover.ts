/**
 * `npm run bench`: the failover benchmark on the sandbox's real node. The dev overlay is deployed
 * as `skaffold run -p sandbox` deploys it (real pods, real readiness, restarts through the init
 * container, kube-proxy in iptables mode), and two kinds of failover are measured:
 *
 * - **Switches** (`--switches`, default 100): `SENTINEL FAILOVER` rounds, fast enough for a p99.
 *   Each is split where the work changes hands: Sentinel's convergence (first `+switch-master` to a
 *   majority of Sentinels naming the new master), the project's own share (from then to labels,
 *   EndpointSlice and ConfigMap all written), kube-proxy's share (EndpointSlice written to the first
 *   new connection through the ClusterIP landing on the new master); beside them, in the same
 *   run, a selector Service following label-master's label and the kubectl hook that charts run
 *   from `client-reconfig-script`. The hook runs in every other switch only: a kubectl started at
 *   the very moment the project works takes one of this machine's two cores, so the project's
 *   share is measured over the switches without it and the hook's over the others.
 * - **Kills** (`--kills`, default 10, in each of two phases: pod-loss-failover scaled to 0, so
 *   Sentinel alone detects the death, then running, so Kubernetes' view of it starts the failover;
 *   `k8sTriggeredSpeedup` sets the first phase's sentinel-aware client beside the second's plain
 *   client through kube-proxy): the master's redis SIGKILLed and its pod force-deleted, with
 *   four clients writing all along: a plain client through the `redis-master` ClusterIP
 *   (kube-proxy), a plain client through an in-process resolver of the same EndpointSlice (the
 *   project's floor: no kube-proxy), HAProxy configured as the redis-ha chart does, a
 *   sentinel-aware ioredis. Kill to first acknowledged write, and the acknowledged writes lost.
 *
 * Every setting in the results is read from the run (Sentinel, the master's config, the HAProxy
 * config written, kube-proxy's /configz), not written down. Prints a table, writes
 * bench/results.json and bench/RESULTS.md (`--server valkey`: the Valkey component deployed,
 * bench/valkey/results.json and RESULTS.md; `--host`: the built-in functions in one process,
 * components/functions-host, bench/host/).
 */
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, release, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { CoreV1Api, EventsV1Api, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import type { V1ConfigMap, V1Pod } from "@kubernetes/client-node";
import { inSandboxNamespace } from "../sandbox/addresses.ts";
import { reexecInSandbox } from "../sandbox/cli.ts";
import { apply } from "../sandbox/cluster.ts";
import { crasher } from "../sandbox/faults.ts";
import { HaproxyInstance } from "../sandbox/haproxy.ts";
import { KUBE_PROXY_METRICS_PORT } from "../sandbox/node/config.ts";
import { binaryPath, serverFamily } from "../sandbox/paths.ts";
import { ServiceResolver } from "../sandbox/service-resolver.ts";
import {
  devProfiles,
  NS,
  onPod,
  PASSWORD,
  picture,
  podsIn,
  redisPods,
  SENTINEL_PASSWORD,
  sentinelPods,
  startDevStack,
  waitSettled,
} from "../sandbox/stack.ts";
import type { DevStack, Picture } from "../sandbox/stack.ts";
import { waitFor } from "../sandbox/wait.ts";
import type { Sandbox } from "../sandbox/sandbox.ts";
import { Writer } from "../sandbox/writer.ts";
import { fieldsToRecord } from "../shared/sentinel-quorum.ts";
import { parseInfo, serverIdentityOf } from "../shared/redis-info.ts";
import { HOOK_LABEL, writeHookScript } from "./lib/kubectl-hook.ts";
import { LandingProber } from "./lib/landing-probe.ts";
import { cpuByComponent, cpuPerRound } from "./lib/cpu-share.ts";
import { functionPods, kubeRequests, phaseFigures, PHASES, snapshot, throttling } from "./lib/function-pods.ts";
import { apiserverWrites, FUNCTION_WRITES } from "./lib/apiserver-writes.ts";
import { parsePrometheusText, scrape } from "./lib/prom-scrape.ts";
import { figure, table, tail } from "./lib/stats.ts";
import type { Figure } from "./lib/stats.ts";
import { ObjectWatch } from "./lib/watch-state.ts";

const MASTER = "mymaster";
const CLIENTS = ["kubeProxy", "resolverFloor", "haproxy", "ioredisSentinel"] as const;
type Client = (typeof CLIENTS)[number];
const CLIENT_NAMES: Record<Client, string> = {
  kubeProxy: "plain client, redis-master ClusterIP (kube-proxy)",
  resolverFloor: "plain client, in-process resolver of the EndpointSlice (the floor)",
  haproxy: "HAProxy, redis-ha chart checks",
  ioredisSentinel: "ioredis with sentinels (failoverDetector)",
};
/** How long a client may take to write again after a kill before it counts as not recovered. */
const RECOVERY_LIMIT_MS = 60_000;

interface SwitchSample {
  i: number;
  from: string;
  to: string;
  /** First +switch-master (any Sentinel) after the SENTINEL FAILOVER command. */
  commandToSwitchMs: number;
  sentinelConvergenceMs: number;
  projectShareMs: number;
  /** The project's slice written to the first new ClusterIP connection landing on the new master. */
  kubeProxyMs: number;
  /** The median time between two landing probes' starts in this switch (the kube-proxy figure's resolution). */
  probeIntervalMs: number;
  /** Whether the kubectl hook ran in this switch (every other one: a kubectl started beside the project takes a core of this 2-core machine at the very moment the project works). */
  hook: boolean;
  /** From the first +switch-master: the project's three objects, the selector Service's slice, the hook's Service slice (hook switches only). */
  fromAnnouncementMs: { project: number; selectorService: number; kubectlHook?: number };
}

interface KillSample {
  i: number;
  from: string;
  to: string;
  killToSwitchMs: number;
  /** Kill to the first +try-failover for the killed master: how soon a failover started (Sentinel's detection, or pod-loss-failover's reaction). */
  killToTryFailoverMs: number | undefined;
  /** How long before the kill kube-proxy last programmed its rules (its gauge): under its minSyncPeriod, the project's slice may wait for the next sync. */
  kubeProxySyncBeforeKillMs: number | undefined;
  unavailabilityMs: Partial<Record<Client, number>>;
  /** The pod IP that acknowledged the resolver client's first write after the kill (the others see a ClusterIP or a proxy). */
  firstAckOn: string | undefined;
}

/** Every +switch-master of every Sentinel pod, as it arrives. */
interface SwitchEvent {
  at: number;
  sentinel: string;
  from: string;
  to: string;
  message: string;
}

/** When kube-proxy last finished programming its rules (its gauge, Unix ms), or undefined if it does not answer. */
async function kubeProxyLastSync(): Promise<number | undefined> {
  const series = await scrape(`http://127.0.0.1:${KUBE_PROXY_METRICS_PORT}/metrics`);
  const s = series.find((x) => x.name === "kubeproxy_sync_proxy_rules_last_timestamp_seconds");
  return s ? s.value * 1000 : undefined;
}

const mapDefined = <T, U>(x: T | undefined, f: (x: T) => U): U | undefined => (x === undefined ? undefined : f(x));

async function kubeProxySettings(): Promise<{ mode: string; minSyncPeriod: string; syncPeriod: string }> {
  const base = `http://127.0.0.1:${KUBE_PROXY_METRICS_PORT}`;
  const mode = (await (await fetch(`${base}/proxyMode`)).text()).trim();
  const configz = (await (await fetch(`${base}/configz`)).json()) as {
    "kubeproxy.config.k8s.io": {
      mode: string;
      iptables: { minSyncPeriod: string; syncPeriod: string };
      nftables?: { minSyncPeriod: string; syncPeriod: string };
    };
  };
  const c = configz["kubeproxy.config.k8s.io"];
  const sync = mode === "nftables" && c.nftables ? c.nftables : c.iptables;
  return { mode, minSyncPeriod: sync.minSyncPeriod, syncPeriod: sync.syncPeriod };
}

/** HAProxy's `check inter` and `fall` as written in its config. */
function haproxySettings(configPath: string): { checkInterval: string; checkFall: number } {
  const text = readFileSync(configPath, "utf8");
  const m = /server R0 \S+ check inter (\S+) fall (\d+)/.exec(text);
  if (!m) throw new Error(`bench: no "server R0 ... check inter ... fall ..." line in ${configPath}`);
  return { checkInterval: m[1]!, checkFall: Number(m[2]) };
}

class Bench {
  readonly switchEvents: SwitchEvent[] = [];
  /** Every +try-failover (a Sentinel starting a failover as leader, on its own or asked by SENTINEL FAILOVER), as it arrives. */
  readonly tryFailovers: { at: number; sentinel: string; master: string }[] = [];
  readonly stack: DevStack;
  readonly hookScript: string;
  readonly dir: string;
  readonly stops: (() => Promise<void> | void)[] = [];
  readonly pods: ObjectWatch<V1Pod>;
  readonly configMaps: ObjectWatch<V1ConfigMap>;
  readonly slices: { project: ServiceResolver; selectorService: ServiceResolver; kubectlHook: ServiceResolver };
  sentinels: { name: string; host: string; client: Redis }[] = [];
  haproxy: HaproxyInstance | undefined;
  #haproxyGeneration = 0;
  /** The +switch-master texts that ran the hook in this round (every Sentinel publishes the same text). */
  #hooked = new Set<string>();
  #hookOn = false;

  constructor(stack: DevStack) {
    this.stack = stack;
    this.dir = join(stack.sb.dir, "bench");
    mkdirSync(this.dir, { recursive: true });
    this.hookScript = writeHookScript(this.dir, binaryPath("kubectl"), stack.sb.kubeconfigPath, NS);
    const kc = stack.sb.kubeConfig;
    this.pods = new ObjectWatch<V1Pod>(kc, `/api/v1/namespaces/${NS}/pods`, { labelSelector: "app.kubernetes.io/name=redis" });
    this.configMaps = new ObjectWatch<V1ConfigMap>(kc, `/api/v1/namespaces/${NS}/configmaps`, {
      fieldSelector: "metadata.name=redis-master",
    });
    this.slices = {
      project: new ServiceResolver(kc, NS, "redis-master"),
      selectorService: new ServiceResolver(kc, NS, "redis-master-selector"),
      kubectlHook: new ServiceResolver(kc, NS, "redis-master-hook"),
    };
  }

  async start(settled: Picture & { master: string }): Promise<void> {
    const { sb } = this.stack;
    // The two selector Services: label-master's label (kube-controller-manager fills the slice), and the hook's.
    // Headless: the bench reads their slices only. With a ClusterIP, kube-proxy would program them
    // too, and a kill's force delete (the master leaves both at once) would make kube-proxy sync
    // just before the project's slice lands, holding redis-master back by its minSyncPeriod: a
    // delay this comparison would add to the very path it measures.
    for (const [name, key] of [
      ["redis-master-selector", "redis-role"],
      ["redis-master-hook", HOOK_LABEL],
    ] as const) {
      await apply(sb.kubeConfig, {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name, namespace: NS },
        spec: {
          clusterIP: "None",
          selector: { "app.kubernetes.io/name": "redis", [key]: "master" },
          ports: [{ name: "redis", port: 6379 }],
        },
      });
    }
    for (const pod of redisPods(settled))
      await sb.kubectl("-n", NS, "label", "pod", pod, `${HOOK_LABEL}=${pod === settled.master ? "master" : "replica"}`, "--overwrite");
    for (const w of [this.pods, this.configMaps, ...Object.values(this.slices)]) {
      await w.start();
      this.stops.push(() => w.stop());
    }
    for (const name of sentinelPods(settled)) {
      const host = settled.ipOf[name]!;
      // A deadline on every command: a bench round must fail with a message, never hang.
      const options = { host, port: 26379, password: SENTINEL_PASSWORD, lazyConnect: true, commandTimeout: 2000 };
      const sub = new Redis(options);
      const client = new Redis(options);
      for (const c of [sub, client]) {
        c.on("error", () => undefined);
        await c.connect();
        this.stops.push(() => c.disconnect());
      }
      sub.on("message", (channel: string, message: string) => {
        if (channel === "+try-failover") {
          // "master <name> <ip> <port>"
          this.tryFailovers.push({ at: performance.now(), sentinel: name, master: message.split(" ")[2] ?? "" });
          return;
        }
        const [, from, , to] = message.split(" ");
        this.switchEvents.push({ at: performance.now(), sentinel: name, from: from ?? "", to: to ?? "", message });
        this.#runHook(message);
      });
      await sub.subscribe("+switch-master", "+try-failover");
      this.sentinels.push({ name, host, client });
    }
    await waitFor(
      "every approach to name the master",
      () => Object.values(this.slices).every((s) => s.address?.host === settled.ipOf[settled.master]),
      { timeoutMs: 60_000 },
    );
  }

  /**
   * The charts' hook, run as Sentinel's leader runs `client-reconfig-script` (same arguments), on
   * the first +switch-master of each failover. Stand-in: it runs here, beside the bench, not in
   * the sentinel pod, whose image has no kubectl.
   */
  #runHook(message: string): void {
    if (!this.#hookOn || this.#hooked.has(message)) return;
    this.#hooked.add(message);
    const [name, fromIp, fromPort, toIp, toPort] = message.split(" ");
    const child = spawn(this.hookScript, [name!, "leader", "end", fromIp!, fromPort!, toIp!, toPort!], { stdio: "ignore" });
    child.on("error", () => undefined);
  }

  /**
   * Before a hook round: the hook's labels as the hook itself would have left them had it run in
   * the switches without it (only `master` labelled master), and its Service following, so the
   * hook's next run starts from the truth, as it does when it runs on every switch.
   */
  async hookLabelsOn(master: string): Promise<void> {
    const core = this.stack.sb.kubeConfig.makeApiClient(CoreV1Api);
    const pods = await core.listNamespacedPod({ namespace: NS, labelSelector: "app.kubernetes.io/name=redis" });
    for (const pod of pods.items) {
      const role = pod.metadata!.name === master ? "master" : "replica";
      if (pod.metadata?.labels?.[HOOK_LABEL] === role) continue;
      await core.patchNamespacedPod(
        { name: pod.metadata!.name!, namespace: NS, body: { metadata: { labels: { [HOOK_LABEL]: role } } } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
    }
  }

  /** A new failover round: the hook runs (when `hook`) for its first +switch-master (a text may repeat from an earlier round). */
  newRound(hook: boolean): void {
    this.#hookOn = hook;
    this.#hooked.clear();
  }

  /** HAProxy in front of the redis pods' current IPs (a new pod has a new IP: HAProxy is restarted then). */
  async haproxyFor(p: Picture): Promise<HaproxyInstance> {
    const redis = redisPods(p).map((n) => ({ host: p.ipOf[n]!, port: 6379 }));
    const key = JSON.stringify(redis);
    if (this.haproxy && JSON.stringify(this.haproxy.spec.redis) === key) return this.haproxy;
    await this.haproxy?.stop();
    this.haproxy = new HaproxyInstance({
      dir: join(this.dir, `haproxy-${this.#haproxyGeneration++}`),
      master: MASTER,
      redis,
      sentinels: sentinelPods(p).map((n) => ({ host: p.ipOf[n]!, port: 26379 })),
      password: PASSWORD,
      sentinelPassword: SENTINEL_PASSWORD,
    });
    await this.haproxy.start();
    return this.haproxy;
  }

  /** Polls every Sentinel (2 ms apart) until a majority names one host other than `from`. */
  async majorityNames(from: string, timeoutMs: number): Promise<{ at: number; host: string }> {
    return waitFor(
      "a majority of Sentinels naming a new master",
      async () => {
        const named = await Promise.all(
          this.sentinels.map((s) =>
            s.client.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER).then(
              (a) => (a as string[])[0],
              () => undefined,
            ),
          ),
        );
        const at = performance.now();
        const counts = new Map<string, number>();
        for (const h of named) if (h && h !== from) counts.set(h, (counts.get(h) ?? 0) + 1);
        const winner = [...counts].find(([, n]) => n > this.sentinels.length / 2);
        return winner ? { at, host: winner[0] } : undefined;
      },
      { timeoutMs, intervalMs: 2 },
    );
  }

  /** The second Sentinel's +switch-master to `to` since index `since` (a majority of three). */
  majoritySwitchAt(since: number, to: string): number | undefined {
    const seen = new Set<string>();
    for (const e of this.switchEvents.slice(since)) {
      if (e.to !== to) continue;
      seen.add(e.sentinel);
      if (seen.size > this.sentinels.length / 2) return e.at;
    }
    return undefined;
  }

  firstSwitch(since: number, to: string): SwitchEvent | undefined {
    return this.switchEvents.slice(since).find((e) => e.to === to);
  }

  /** When labels, the project's EndpointSlice and the ConfigMap all named `to` (each first time after `t`). */
  projectWritten(t: number, to: string): { all: number; slice: number } | undefined {
    const podOf = (objs: Map<string, V1Pod>) => [...objs.values()].find((p) => p.status?.podIP === to);
    const labels = this.pods.firstAfter(
      t,
      (objs) =>
        podOf(objs)?.metadata?.labels?.["redis-role"] === "master" &&
        [...objs.values()].filter((p) => p.metadata?.labels?.["redis-role"] === "master").length === 1,
    );
    const cm = this.configMaps.firstAfter(t, (o) => o.get("redis-master")?.data?.host === to);
    const slice = sliceNames(this.slices.project, t, to);
    return labels !== undefined && cm !== undefined && slice !== undefined ? { all: Math.max(labels, cm, slice), slice } : undefined;
  }

  async stop(): Promise<void> {
    for (const s of this.stops.reverse()) await Promise.resolve(s()).catch(() => undefined);
    await this.haproxy?.stop().catch(() => undefined);
  }
}

/** The first moment after `t` a Service's slice named exactly `host`. */
function sliceNames(r: ServiceResolver, t: number, host: string): number | undefined {
  return r.changes.find((c) => c.at >= t && c.addresses.length === 1 && c.addresses[0] === host)?.at;
}

/** Replica syncs the redis pods have served since they started (INFO stats), summed, and the master's key count. */
async function replicationSyncs(sb: Sandbox): Promise<{ full: number; partial: number; partialRefused: number; keys: number }> {
  const p = await picture(sb);
  const stats = await Promise.all(
    redisPods(p).map((n) => onPod(p.ipOf[n]!, 6379, async (r) => parseInfo(String(await r.call("INFO", "all"))))),
  );
  const sum = (k: string) => stats.reduce((a, x) => a + Number(x[k] ?? 0), 0);
  const master = stats.find((x) => x.role === "master");
  const keys = Number(/keys=(\d+)/.exec(master?.db0 ?? "")?.[1] ?? 0);
  return { full: sum("sync_full"), partial: sum("sync_partial_ok"), partialRefused: sum("sync_partial_err"), keys };
}

async function switchRound(b: Bench, i: number, clusterIp: string, probeMs: number): Promise<SwitchSample> {
  // The hook runs in every other switch: the project's share is measured in the switches without
  // it, the hook's in those with it (the project runs in all: it cannot be switched off).
  const runHook = i % 2 === 1;
  const before = await waitSettled(b.stack.sb);
  const from = before.ipOf[before.master]!;
  if (runHook) {
    await b.hookLabelsOn(before.master);
    await waitFor("the hook's Service to name the master before its round", () => b.slices.kubectlHook.addresses.join() === from, {
      timeoutMs: 30_000,
    });
  }
  // A probe every --probe-ms (default 10: the kube-proxy figure's resolution): at a 2 ms pause the probes were
  // ~250 new connections a second, and the bench was the machine's largest CPU user (820 ms of CPU
  // per 3 s round, beside the apiserver's 400), competing with what it measures.
  const prober = new LandingProber({ host: clusterIp, port: 6379, password: PASSWORD, intervalMs: probeMs });
  prober.start();
  try {
    await waitFor("a probe through the ClusterIP landing on the master", () => prober.firstOn(from, 0), { timeoutMs: 10_000 });
    b.newRound(runHook);
    const since = b.switchEvents.length;
    const commandAt = performance.now();
    // Round-robin over the Sentinels: the one asked leads the failover. Just after a switch a
    // Sentinel may still answer INPROG or NOGOODSLAVE until it has refreshed the replicas.
    const asked = b.sentinels[i % b.sentinels.length]!;
    await waitFor(
      `SENTINEL FAILOVER accepted by ${asked.name}`,
      () =>
        asked.client.call("SENTINEL", "FAILOVER", MASTER).then(
          () => true,
          () => false,
        ),
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    const polled = await b.majorityNames(from, 30_000);
    const to = polled.host;
    let missing: string[] = [];
    const at = await waitFor(
      `switch ${i + 1}: every object written and a new connection landing on ${to}`,
      () => {
        const parts = {
          "+switch-master": b.firstSwitch(since, to)?.at,
          "the project's objects": b.projectWritten(commandAt, to),
          "the selector Service's slice": sliceNames(b.slices.selectorService, commandAt, to),
          "the hook's Service slice": runHook ? sliceNames(b.slices.kubectlHook, commandAt, to) : -1,
          "a ClusterIP connection landing there": prober.firstOn(to, commandAt)?.startedAt,
        };
        missing = Object.entries(parts)
          .filter(([, v]) => v === undefined)
          .map(([k]) => k);
        const { "+switch-master": first, "the project's objects": written, "the selector Service's slice": selector } = parts;
        const { "the hook's Service slice": hook, "a ClusterIP connection landing there": landed } = parts;
        if (first === undefined || !written || selector === undefined || hook === undefined || landed === undefined) return undefined;
        return { first, written, selector, hook, landed };
      },
      { timeoutMs: 30_000, intervalMs: 5 },
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; missing: ${missing.join(", ")}`, { cause: err });
    });
    // The moment the project can act: it has an announcement and a majority naming its master.
    const majorityAt = Math.min(polled.at, b.majoritySwitchAt(since, to) ?? Number.POSITIVE_INFINITY);
    const verifiable = Math.max(at.first, majorityAt);
    return {
      i,
      from,
      to,
      commandToSwitchMs: at.first - commandAt,
      sentinelConvergenceMs: verifiable - at.first,
      projectShareMs: at.written.all - verifiable,
      kubeProxyMs: at.landed - at.written.slice,
      probeIntervalMs: prober.medianIntervalMs(),
      hook: runHook,
      fromAnnouncementMs: {
        project: at.written.all - at.first,
        selectorService: at.selector - at.first,
        ...(runHook ? { kubectlHook: at.hook - at.first } : {}),
      },
    };
  } finally {
    await prober.stop();
  }
}

async function killRound(b: Bench, i: number, writers: Record<Client, Writer>): Promise<KillSample> {
  const { sb } = b.stack;
  const before = await waitSettled(sb);
  const from = before.ipOf[before.master]!;
  await b.haproxyFor(before);
  await waitFor(
    "every client writing to the master",
    () => CLIENTS.every((c) => writers[c].firstAckAfter(performance.now() - 500) !== undefined),
    { timeoutMs: 30_000 },
  );
  const crash = await crasher(sb, before.master);
  b.newRound(false);
  const since = b.switchEvents.length;
  const triesSince = b.tryFailovers.length;
  const lastSync = await kubeProxyLastSync();
  const killAt = await crash();
  const killWall = Date.now() - (performance.now() - killAt);
  const sw = await waitFor(`kill ${i + 1}: +switch-master`, () => b.switchEvents.slice(since).find((e) => e.from === from), {
    timeoutMs: RECOVERY_LIMIT_MS,
    intervalMs: 5,
  });
  await waitFor("every client writing again", () => CLIENTS.every((c) => writers[c].firstAckAfter(killAt) !== undefined), {
    timeoutMs: RECOVERY_LIMIT_MS,
    intervalMs: 5,
  }).catch(() => undefined);
  const unavailabilityMs: Partial<Record<Client, number>> = {};
  for (const c of CLIENTS) {
    const ack = writers[c].firstAckAfter(killAt);
    if (ack) unavailabilityMs[c] = ack.at - killAt;
  }
  return {
    i,
    from,
    to: sw.to,
    killToSwitchMs: sw.at - killAt,
    killToTryFailoverMs: mapDefined(
      b.tryFailovers.slice(triesSince).find((t) => t.master === from),
      (t) => t.at - killAt,
    ),
    kubeProxySyncBeforeKillMs: mapDefined(lastSync, (t) => killWall - t),
    unavailabilityMs,
    firstAckOn: writers.resolverFloor.firstAckAfter(killAt)?.host,
  };
}

/** Who may start a kill's failover: Sentinel alone (pod-loss-failover scaled to 0), or pod-loss-failover too (Kubernetes sees the death first). */
const KILL_PHASES = ["sentinelAlone", "podLossFailover"] as const;
type KillPhase = (typeof KILL_PHASES)[number];
const KILL_PHASE_NAMES: Record<KillPhase, string> = {
  sentinelAlone: "Sentinel alone (pod-loss-failover scaled to 0)",
  podLossFailover: "pod-loss-failover running (components/pod-loss-failover)",
};

interface KillPhaseResult {
  samples: KillSample[];
  killToSwitchMs: Figure;
  /** Kill to the first +try-failover (a failover started), and from there to the first +switch-master (Sentinel's failover itself). */
  killToTryFailoverMs: Figure;
  tryFailoverToSwitchMs: Figure;
  unavailabilityMs: Record<Client, Figure>;
  notRecovered: Record<Client, number>;
  lost: Record<Client, { acknowledged: number; lost: number }>;
  /** FailoverStarted Events pod-loss-failover recorded during the phase. */
  failoversStartedByPodLoss: number;
  ioredisClientEnds: number;
  /** Kills after which the resolver client's first write was acknowledged by the killed master's own address. */
  firstAckOnKilled: number;
}

async function failoverStartedEvents(b: Bench): Promise<number> {
  const list = await b.stack.sb.kubeConfig.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: NS });
  return list.items.filter((e) => e.reason === "FailoverStarted").length;
}

/** Scales pod-loss-failover to `replicas` and waits until that many of its pods are ready (none left at 0). */
async function scalePodLossFailover(b: Bench, replicas: 0 | 1): Promise<void> {
  const { sb } = b.stack;
  await sb.kubectl("-n", NS, "scale", "deployment/pod-loss-failover", `--replicas=${replicas}`);
  await waitFor(
    `pod-loss-failover at ${replicas} ready pod(s)`,
    async () => {
      const pods = (await podsIn(sb)).filter((p) => p.metadata?.labels?.["app.kubernetes.io/name"] === "pod-loss-failover");
      return replicas === 0
        ? pods.length === 0
        : pods.length === 1 &&
            !pods[0]!.metadata?.deletionTimestamp &&
            pods[0]!.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
    },
    { timeoutMs: 180_000, intervalMs: 500 },
  );
}

/** `kills` kill rounds with pod-loss-failover off or on, four clients writing throughout; then what they lost. */
async function killPhase(b: Bench, phase: KillPhase, kills: number): Promise<KillPhaseResult> {
  const { sb, clusterIp } = b.stack;
  await scalePodLossFailover(b, phase === "podLossFailover" ? 1 : 0);
  const settled = await waitSettled(sb);
  await b.haproxyFor(settled);
  const prefix = `bench:${phase}`;
  const writers: Record<Client, Writer> = {
    kubeProxy: new Writer({ target: () => ({ host: clusterIp, port: 6379 }), password: PASSWORD, keyPrefix: `${prefix}:kube-proxy` }),
    resolverFloor: new Writer({ target: () => b.slices.project.address, password: PASSWORD, keyPrefix: `${prefix}:resolver` }),
    haproxy: new Writer({ target: () => b.haproxy?.address, password: PASSWORD, keyPrefix: `${prefix}:haproxy` }),
    ioredisSentinel: new Writer({
      target: () => undefined,
      sentinel: { sentinels: b.sentinels.map((s) => ({ host: s.host, port: 26379 })), name: MASTER, password: SENTINEL_PASSWORD },
      password: PASSWORD,
      keyPrefix: `${prefix}:ioredis`,
    }),
  };
  for (const w of Object.values(writers)) w.start();
  const samples: KillSample[] = [];
  const eventsBefore = await failoverStartedEvents(b);
  const ms = (x: number | undefined) => (x === undefined ? "  none" : `${Math.round(x)}`.padStart(6));
  try {
    for (let i = 0; i < kills; i++) {
      const s = await killRound(b, i, writers);
      samples.push(s);
      console.log(
        `${phase} kill ${String(i + 1).padStart(2)}/${kills}: ${s.from} -> ${s.to}, kill->switch ${ms(s.killToSwitchMs)} ms | first write after the kill: ${CLIENTS.map((c) => `${c} ${ms(s.unavailabilityMs[c])}`).join(" ")}`,
      );
      for (const c of CLIENTS.filter((x) => s.unavailabilityMs[x] === undefined))
        console.log(
          `  ${c} not writing ${RECOVERY_LIMIT_MS / 1000} s after the kill: ${writers[c].failures} failed commands so far, the last ${writers[c].lastError ?? "none"}; client ${writers[c].clientStatus}`,
        );
    }
  } finally {
    await Promise.all(Object.values(writers).map((w) => w.stop()));
  }
  const last = await waitSettled(sb);
  const lost = {} as Record<Client, { acknowledged: number; lost: number }>;
  for (const c of CLIENTS)
    lost[c] = {
      acknowledged: writers[c].acks.length,
      lost: (await writers[c].checkLost({ host: last.ipOf[last.master]!, port: 6379 }, PASSWORD)).length,
    };
  return {
    samples,
    killToSwitchMs: figure(samples.map((s) => s.killToSwitchMs)),
    killToTryFailoverMs: figure(samples.flatMap((s) => s.killToTryFailoverMs ?? [])),
    tryFailoverToSwitchMs: figure(
      samples.flatMap((s) => (s.killToTryFailoverMs === undefined ? [] : [s.killToSwitchMs - s.killToTryFailoverMs])),
    ),
    unavailabilityMs: Object.fromEntries(
      CLIENTS.map((c) => [c, figure(samples.map((s) => s.unavailabilityMs[c] ?? Number.NaN))]),
    ) as Record<Client, Figure>,
    notRecovered: Object.fromEntries(CLIENTS.map((c) => [c, samples.filter((s) => s.unavailabilityMs[c] === undefined).length])) as Record<
      Client,
      number
    >,
    lost,
    failoversStartedByPodLoss: (await failoverStartedEvents(b)) - eventsBefore,
    ioredisClientEnds: writers.ioredisSentinel.clientEnds,
    firstAckOnKilled: samples.filter((k) => k.firstAckOn === k.from).length,
  };
}

const round1 = (x: number) => Math.round(x * 10) / 10;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      switches: { type: "string", default: "100" },
      kills: { type: "string", default: "10" },
      out: { type: "string" },
      server: { type: "string", default: "redis" },
      host: { type: "boolean", default: false },
      "probe-ms": { type: "string", default: "10" },
    },
  });
  const server = serverFamily(values.server, "--server");
  const host = values.host;
  const out = values.out ?? (host ? "bench/host" : server === "redis" ? "bench" : `bench/${server}`);
  const switches = Number(values.switches);
  const kills = Number(values.kills);
  const probeMs = Number(values["probe-ms"]);
  if (!Number.isInteger(probeMs) || probeMs < 1) throw new Error("bench: --probe-ms must be a whole number >= 1");
  if (!Number.isInteger(switches) || switches < 1 || !Number.isInteger(kills) || kills < 1)
    throw new Error("bench: --switches and --kills must be whole numbers >= 1");
  const started = performance.now();
  console.log(
    `bench: deploying the dev overlay onto the sandbox's node (skaffold run -p ${devProfiles(server, { host })}); ${kills} kills, then ${switches} SENTINEL FAILOVER switches`,
  );
  const stack = await startDevStack("bench", { server, host });
  const b = new Bench(stack);
  // Ctrl-C / SIGTERM mid-run: stop what the bench started (the node, its dir, skaffold's copy), then exit.
  let stopping: Promise<void> | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    stopping ??= (async () => {
      console.log(`bench: ${signal}: stopping the node and removing what the run made`);
      await b.stop().catch(() => undefined);
      await stack.stop().catch(() => undefined);
      process.exit(130);
    })();
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const { sb } = stack;
    const settled = await waitSettled(sb);
    await b.start(settled);
    console.log(
      `bench: ready in ${((performance.now() - started) / 1000).toFixed(0)} s; master ${settled.master} (${settled.ipOf[settled.master]})`,
    );

    // Settings, read from the run.
    const sentinelMaster = fieldsToRecord(await b.sentinels[0]!.client.call("SENTINEL", "MASTER", MASTER));
    const masterConfig = await onPod(settled.ipOf[settled.master]!, 6379, async (r) => {
      const [, toWrite] = (await r.call("CONFIG", "GET", "min-replicas-to-write")) as string[];
      const [, maxLag] = (await r.call("CONFIG", "GET", "min-replicas-max-lag")) as string[];
      return { minReplicasToWrite: Number(toWrite), minReplicasMaxLagS: Number(maxLag), server: await serverIdentityOf(r) };
    });
    const kubeProxy = await kubeProxySettings();

    // Kills, in two phases: Sentinel alone, then with pod-loss-failover; four clients writing throughout each.
    const killPhases = {} as Record<KillPhase, KillPhaseResult>;
    for (const phase of KILL_PHASES) killPhases[phase] = await killPhase(b, phase, kills);
    const haproxyConfig = haproxySettings(join(b.haproxy!.spec.dir, "haproxy.cfg"));

    // Switches: no writers (a SENTINEL FAILOVER without a pause loses writes by design), one prober,
    // and no data: Redis 7.0 answers the replicas after a SENTINEL FAILOVER with full syncs (the old
    // master and the other replica kept taking the stream while the new one was promoted), which
    // copy whatever the kills' writers left, so the switches' load (and the project's share, on 2
    // cores) would depend on --kills: 264599 keys after --kills 5 made the redis pods 1648 ms of
    // CPU per round against 212 after --kills 1.
    const flushed = await waitSettled(sb);
    await onPod(flushed.ipOf[flushed.master]!, 6379, (r) => r.call("FLUSHALL"), 30_000);
    const switchSamples: SwitchSample[] = [];
    // What the function pods say about the switches: where each event's time went inside them,
    // and the CFS throttling of their cgroups.
    const fnPods = await functionPods(sb.kubeConfig, NS);
    const cgroupRoot = sb.node!.cgroups.root;
    const fnBefore = await snapshot(fnPods, cgroupRoot);
    const apiserverMetrics = async () => parsePrometheusText(await sb.kubectl("get", "--raw", "/metrics"));
    const apiBefore = await apiserverMetrics();
    const cpuBefore = await cpuByComponent(sb, NS);
    const syncsBefore = await replicationSyncs(sb);
    const switchesStarted = performance.now();
    // A switch that does not complete is reported and counted, not dropped silently; more than
    // a tenth of them stops the run (its figures would not mean much).
    const failedSwitches: string[] = [];
    for (let i = 0; i < switches; i++) {
      const s = await switchRound(b, i, stack.clusterIp, probeMs).catch((err: unknown) => {
        failedSwitches.push((err as Error).message);
        console.log(`switch ${i + 1}: ${(err as Error).message}`);
        if (failedSwitches.length > switches / 10)
          throw new Error(`bench: ${failedSwitches.length} switches did not complete`, { cause: err });
        return undefined;
      });
      if (!s) continue;
      switchSamples.push(s);
      if (i % 10 === 9 || i === switches - 1) {
        const recent = switchSamples.slice(-10);
        const p = (f: (x: SwitchSample) => number) => Math.round(figure(recent.map(f)).p50);
        console.log(
          `switches ${i + 1}/${switches}: last 10 p50: sentinel convergence ${p((x) => x.sentinelConvergenceMs)} ms, project ${p((x) => x.projectShareMs)} ms, kube-proxy ${p((x) => x.kubeProxyMs)} ms; hook ${Math.round(figure(recent.flatMap((x) => x.fromAnnouncementMs.kubectlHook ?? [])).p50)} ms from the announcement`,
        );
      }
    }

    const fnAfter = await snapshot(fnPods, cgroupRoot);
    const apiserverApplyMs = apiserverWrites(apiBefore, await apiserverMetrics());
    const rounds = switchSamples.length + failedSwitches.length;
    const roundMs = Math.round((performance.now() - switchesStarted) / rounds);
    const cpuPerSwitch = cpuPerRound(cpuBefore, await cpuByComponent(sb, NS), rounds);
    const syncsAfter = await replicationSyncs(sb);
    const resyncs = {
      full: syncsAfter.full - syncsBefore.full,
      partial: syncsAfter.partial - syncsBefore.partial,
      partialRefused: syncsAfter.partialRefused - syncsBefore.partialRefused,
      keys: syncsAfter.keys,
    };
    const phasesMs = phaseFigures(fnPods, fnBefore, fnAfter);
    const functionRequests = kubeRequests(fnBefore, fnAfter);
    const cpuThrottling = throttling(fnPods, fnBefore, fnAfter);
    const ratio = (x: number, y: number) => Math.round((x / y) * 100) / 100;
    const alone = switchSamples.filter((s) => !s.hook);
    const withHook = switchSamples.filter((s) => s.hook);
    const fromAnnouncement = {
      project: figure(alone.map((s) => s.fromAnnouncementMs.project)),
      selectorService: figure(alone.map((s) => s.fromAnnouncementMs.selectorService)),
      kubectlHook: figure(withHook.flatMap((s) => s.fromAnnouncementMs.kubectlHook ?? [])),
    };
    const projectShare = figure(alone.map((s) => s.projectShareMs));
    const projectShareBesideHook = figure(withHook.map((s) => s.projectShareMs));
    const results = {
      when: new Date().toISOString(),
      machine: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model,
        memoryGiB: Math.round(totalmem() / 2 ** 30),
        kernel: release(),
        node: process.version,
      },
      path: "the dev overlay on the sandbox's real node (kubelet, containerd, kube-proxy, CoreDNS); clients in the sandbox's network namespace",
      settings: {
        switches,
        kills,
        server: `${masterConfig.server.family} ${masterConfig.server.version}`,
        functions: host ? "one process (components/functions-host, skaffold -p sandbox,host)" : "a Deployment each (overlays/dev)",
        downAfterMs: Number(sentinelMaster["down-after-milliseconds"]),
        failoverTimeoutMs: Number(sentinelMaster["failover-timeout"]),
        parallelSyncs: Number(sentinelMaster["parallel-syncs"]),
        quorum: Number(sentinelMaster.quorum),
        sentinels: b.sentinels.length,
        minReplicasToWrite: masterConfig.minReplicasToWrite,
        minReplicasMaxLagS: masterConfig.minReplicasMaxLagS,
        haproxy: haproxyConfig,
        kubeProxy,
        landingProbeIntervalMs: figure(switchSamples.map((s) => s.probeIntervalMs)).p50,
      },
      sentinelConvergenceMs: figure(switchSamples.map((s) => s.sentinelConvergenceMs)),
      /** Over the switches without the kubectl hook. */
      projectShareMs: projectShare,
      /** Over the switches in which the kubectl hook ran beside the project. */
      projectShareBesideHookMs: projectShareBesideHook,
      /** Per function, from its own failover_event_phase_seconds over the switches. */
      phasesMs,
      apiserverApplyMs,
      /** The same writes as the functions timed them (failover_kube_request_seconds), and the apiserver connections they opened over the switches. */
      functionRequestMs: functionRequests.requestsMs,
      functionConnectionsOpened: functionRequests.connectionsOpened,
      /** Per function, its pod cgroup's CFS periods and throttling over the switches. */
      cpuThrottling,
      /** CPU ms per switch round (the whole round: settling, probing, the switch) by component, largest first; roundMs is a round's wall time. */
      cpuPerSwitchMs: { roundMs, byComponent: Object.fromEntries(cpuPerSwitch) },
      /**
       * The replicas' syncs over the switches, summed over the redis pods' INFO stats (sync_full,
       * sync_partial_ok, sync_partial_err: a refused partial sync becomes a full one), and the
       * keys the master held at the end (what each full sync copied).
       */
      replicaSyncsOverSwitches: resyncs,
      kubeProxyMs: figure(switchSamples.map((s) => s.kubeProxyMs)),
      commandToSwitchMs: figure(switchSamples.map((s) => s.commandToSwitchMs)),
      fromAnnouncementMs: fromAnnouncement,
      kubectlHookRatio: ratio(fromAnnouncement.kubectlHook.p50, fromAnnouncement.project.p50),
      selectorServiceRatio: ratio(fromAnnouncement.selectorService.p50, fromAnnouncement.project.p50),
      /**
       * Sentinel-only ioredis unavailability p50 (pod-loss-failover off) over the plain client's
       * through the redis-master ClusterIP (kube-proxy) with pod-loss-failover on, same run.
       */
      k8sTriggeredSpeedup: ratio(
        killPhases.sentinelAlone.unavailabilityMs.ioredisSentinel.p50,
        killPhases.podLossFailover.unavailabilityMs.kubeProxy.p50,
      ),
      /** Per phase: kill to first +switch-master, kill to first acknowledged write per client, writes lost, failovers pod-loss-failover started. */
      killPhases: Object.fromEntries(
        KILL_PHASES.map((phase) => {
          const k = killPhases[phase];
          return [
            phase,
            {
              killToSwitchMs: k.killToSwitchMs,
              killToTryFailoverMs: k.killToTryFailoverMs,
              tryFailoverToSwitchMs: k.tryFailoverToSwitchMs,
              unavailabilityMs: k.unavailabilityMs,
              notRecoveredWithinMs: { limit: RECOVERY_LIMIT_MS, kills: k.notRecovered },
              lostAcknowledgedWrites: k.lost,
              failoversStartedByPodLoss: k.failoversStartedByPodLoss,
              /** ioredis 6.0.0 ended itself (FailoverDetector race, see sandbox/writer.ts) and a new client was made. */
              ioredisClientEnds: k.ioredisClientEnds,
            },
          ];
        }),
      ),
      failedSwitches,
      samples: {
        switches: switchSamples.map(roundSample),
        kills: Object.fromEntries(KILL_PHASES.map((phase) => [phase, killPhases[phase].samples.map(roundSample)])),
      },
    };
    const f = (x: Figure) => [x.n, x.p50, tail(x)];
    const md = [
      `# Failover benchmark (real pods)`,
      ``,
      `${results.when}; ${results.machine.cpus} cores (${results.machine.cpuModel}), Linux ${results.machine.kernel}, Node ${results.machine.node}. ${results.path}.`,
      `Settings read from the run: ${masterConfig.server.family === "valkey" ? "Valkey" : "Redis"} ${masterConfig.server.version}, down-after-milliseconds ${results.settings.downAfterMs}, failover-timeout ${results.settings.failoverTimeoutMs}, parallel-syncs ${results.settings.parallelSyncs}, quorum ${results.settings.quorum} of ${results.settings.sentinels}; min-replicas-to-write ${masterConfig.minReplicasToWrite}, min-replicas-max-lag ${masterConfig.minReplicasMaxLagS}; kube-proxy ${kubeProxy.mode}, minSyncPeriod ${kubeProxy.minSyncPeriod}; HAProxy check inter ${haproxyConfig.checkInterval} fall ${haproxyConfig.checkFall}; the functions: ${results.settings.functions}.`,
      `A p99 is given only from at least 100 samples; otherwise the tail is the max.`,
      ``,
      `## Where a switch's time goes (${switches} SENTINEL FAILOVER switches, ms)`,
      ``,
      table(
        ["part", "n", "p50", "tail"],
        [
          ["Sentinel's convergence: first +switch-master to a majority naming the new master", ...f(results.sentinelConvergenceMs)],
          [
            "the project's share: from then to labels, EndpointSlice and ConfigMap all written (switches without the hook)",
            ...f(projectShare),
          ],
          ["the same, in the switches where the kubectl hook ran beside it", ...f(projectShareBesideHook)],
          ["kube-proxy's share: EndpointSlice written to the first new ClusterIP connection on the new master", ...f(results.kubeProxyMs)],
        ],
      ),
      ``,
      `Inside the functions, same switches (their own failover_event_phase_seconds: mean exact, p50 and p99 as bucket bounds, ms; CFS throttling of each pod's cgroup):`,
      ``,
      table(
        ["function", ...PHASES.map((p) => `${p} mean / p50 / p99`), "CPU periods throttled", "throttled ms"],
        Object.keys({ ...phasesMs, ...cpuThrottling })
          .sort()
          .map((fn) => [
            fn,
            ...PHASES.map((p) => {
              const x = phasesMs[fn]?.[p];
              return x ? `${x.meanMs} / ${x.p50BoundMs} / ${x.p99BoundMs}` : "-";
            }),
            cpuThrottling[fn] ? `${cpuThrottling[fn].throttledPeriods} of ${cpuThrottling[fn].periods}` : "-",
            cpuThrottling[fn]?.throttledMs ?? "-",
          ]),
      ),
      ``,
      `The same writes as the apiserver timed them (its apiserver_request_duration_seconds for server-side apply, from its /metrics; mean exact, p50 and p99 as bucket bounds, ms):`,
      ``,
      table(
        ["resource (written by)", "n", "mean / p50 / p99"],
        Object.entries(apiserverApplyMs).map(([r, x]) => [
          `${r} (${FUNCTION_WRITES[r as keyof typeof FUNCTION_WRITES]})`,
          x.n,
          `${x.meanMs} / ${x.p50BoundMs} / ${x.p99BoundMs}`,
        ]),
      ),
      ``,
      `And as the functions timed them (their failover_kube_request_seconds: serialization, the wire, the apiserver; mean / p50 / p99 as above, ms). Connections the functions opened to the apiserver over the switches: ${functionRequests.connectionsOpened}.`,
      ``,
      table(
        ["request", "n", "mean / p50 / p99"],
        Object.entries(functionRequests.requestsMs).map(([r, x]) => [r, x.n, `${x.meanMs} / ${x.p50BoundMs} / ${x.p99BoundMs}`]),
      ),
      ``,
      `CPU per switch round, by component (ms of CPU; a round, ${roundMs} ms of wall time on ${cpus().length} cores, is the whole of it: waiting for the set to settle, probing, the switch):`,
      ``,
      table(["component", "CPU ms per round"], cpuPerSwitch.slice(0, 24)),
      ``,
      `Replica syncs over the ${rounds} switches (the redis pods' INFO stats): ${resyncs.full} full, ${resyncs.partial} partial, ${resyncs.partialRefused} partial syncs refused (then full); the master held ${resyncs.keys} keys at the end (FLUSHALL before the switches: the kills' keys are gone).`,
      ``,
      `Switches that did not complete within 30 s: ${failedSwitches.length}${failedSwitches.length ? ` (${failedSwitches.join("; ")})` : ""}.`,
      ``,
      `From the first +switch-master to Kubernetes naming the new master, same run (ms; the project and the selector Service over the switches without the hook, the hook over the others):`,
      ``,
      table(
        ["approach", "n", "p50", "tail", "p50 / project"],
        [
          ["the project (labels + EndpointSlice + ConfigMap, all written)", ...f(fromAnnouncement.project), 1],
          [
            "selector Service on label-master's label (kube-controller-manager)",
            ...f(fromAnnouncement.selectorService),
            results.selectorServiceRatio,
          ],
          [
            "client-reconfig-script + kubectl label + selector Service (stand-in: run beside the bench)",
            ...f(fromAnnouncement.kubectlHook),
            results.kubectlHookRatio,
          ],
        ],
      ),
      ``,
      `## Unavailability: kill to the first acknowledged write after it (redis SIGKILLed, pod force-deleted; ms)`,
      ``,
      `Two phases of ${kills} kills each, same run: ${KILL_PHASES.map((p) => KILL_PHASE_NAMES[p]).join(", then ")}.`,
      `**k8sTriggeredSpeedup: ${results.k8sTriggeredSpeedup}** (the sentinel-aware ioredis client with Sentinel alone, p50 ${killPhases.sentinelAlone.unavailabilityMs.ioredisSentinel.p50} ms, over the plain client through the redis-master ClusterIP with pod-loss-failover, p50 ${killPhases.podLossFailover.unavailabilityMs.kubeProxy.p50} ms).`,
      ...KILL_PHASES.flatMap((phase) => {
        const k = killPhases[phase];
        return [
          ``,
          `### ${KILL_PHASE_NAMES[phase]}`,
          ``,
          table(
            ["client", "n", "p50", "tail", "not writing within 60 s", "acknowledged", "lost"],
            CLIENTS.map((c) => [CLIENT_NAMES[c], ...f(k.unavailabilityMs[c]), k.notRecovered[c], k.lost[c].acknowledged, k.lost[c].lost]),
          ),
          ``,
          `Kill to first +switch-master: p50 ${k.killToSwitchMs.p50} ms, ${tail(k.killToSwitchMs)} ms (Sentinel's detection: down-after-milliseconds ${results.settings.downAfterMs}): to the first +try-failover (a failover started) p50 ${k.killToTryFailoverMs.p50} ms, ${tail(k.killToTryFailoverMs)} ms, then Sentinel's failover to +switch-master p50 ${k.tryFailoverToSwitchMs.p50} ms, ${tail(k.tryFailoverToSwitchMs)} ms. Failovers pod-loss-failover started (its FailoverStarted Events): ${k.failoversStartedByPodLoss} of ${kills}.`,
          `The sentinel-aware ioredis client ended itself ${k.ioredisClientEnds} times (ioredis 6.0.0: a +switch-master seen by its FailoverDetector while it re-asks the Sentinels ends the client for good); the bench then made a new client, as an application would have to.`,
          `Kills after which the first write was acknowledged by the killed master's own address (its container back before the pod was gone): ${k.firstAckOnKilled} of ${kills}.`,
        ];
      }),
      ``,
    ].join("\n");
    console.log(`\n${md}`);
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, "results.json"), `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(join(out, "RESULTS.md"), md);
    console.log(
      `bench: wrote ${join(out, "results.json")} and ${join(out, "RESULTS.md")} in ${((performance.now() - started) / 1000).toFixed(0)} s`,
    );
  } finally {
    await b.stop();
    await stack.stop();
  }
}

/** A sample with its times rounded to 0.1 ms, for the JSON. */
function roundSample<T extends object>(s: T): T {
  return JSON.parse(JSON.stringify(s, (_k, v: unknown) => (typeof v === "number" ? round1(v) : v))) as T;
}

if (!inSandboxNamespace()) process.exit(reexecInSandbox());
await main();
