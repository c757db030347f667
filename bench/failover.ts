/**
 * `npm run bench`: repeated real failovers on the sandbox, every approach measured in the same
 * failovers (same machine, same run):
 *   project   relay + functions: Sentinel announcement -> EndpointSlice, labels, ConfigMap written;
 *             a sentinel-unaware client through `redis-master` (owned EndpointSlice)
 *   selector  label-master's pod label + a selector Service filled by kube-controller-manager
 *   hook      Sentinel's client-reconfig-script running kubectl label (as charts do) + selector Service
 *   haproxy   HAProxy polling role:master every second (redis-ha chart defaults)
 *   ioredis   a sentinel-aware client (ioredis `sentinels`, failoverDetector) as the reference
 * Prints a table, writes bench/results.json and bench/RESULTS.md.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import type { V1ConfigMap, V1Pod } from "@kubernetes/client-node";
import { inSandboxNamespace } from "../sandbox/addresses.ts";
import { reexecInSandbox } from "../sandbox/cli.ts";
import { apply } from "../sandbox/cluster.ts";
import { binaryPath } from "../sandbox/paths.ts";
import { startSandbox } from "../sandbox/sandbox.ts";
import type { Sandbox } from "../sandbox/sandbox.ts";
import { ServiceResolver } from "../sandbox/service-resolver.ts";
import { waitFor } from "../sandbox/wait.ts";
import { Writer } from "../sandbox/writer.ts";
import type { Address } from "../sandbox/redis.ts";
import { HOOK_LABEL, writeHookScript } from "./lib/kubectl-hook.ts";
import { startProject } from "../sandbox/project.ts";
import { summarize, table } from "./lib/stats.ts";
import type { Summary } from "./lib/stats.ts";
import { ObjectWatch } from "./lib/watch-state.ts";

const APPROACHES = ["project", "selector", "hook", "haproxy", "ioredis"] as const;
type Approach = (typeof APPROACHES)[number];

interface FailoverSample {
  i: number;
  newMaster: string;
  killToSwitchMs: number;
  /** Announcement (+switch-master) to the approach's Kubernetes state naming the new master. */
  propagationMs: Partial<Record<"project" | "selector" | "hook", number>>;
  /** Kill to the first acknowledged write after it, per approach's client. */
  unavailabilityMs: Partial<Record<Approach, number>>;
}

/** A sentinel-aware writer: ioredis with `sentinels` and failoverDetector (the reference). */
class SentinelAwareWriter {
  /** [sent, acknowledged] times of every acknowledged write. */
  readonly acks: [number, number][] = [];
  #running = false;
  #loop: Promise<void> | undefined;
  readonly #client: Redis;
  constructor(sb: Sandbox, master: string) {
    this.#client = new Redis({
      sentinels: sb.sentinelAddresses,
      name: master,
      password: sb.password,
      sentinelPassword: sb.sentinelPassword,
      failoverDetector: true,
      enableOfflineQueue: true,
      commandTimeout: 250,
      maxRetriesPerRequest: 0,
      retryStrategy: () => 10,
    });
    this.#client.on("error", () => undefined);
  }
  start(): void {
    this.#running = true;
    this.#loop = (async () => {
      let id = 0;
      while (this.#running) {
        const sentAt = performance.now();
        try {
          await this.#client.set(`bench:ioredis:${id++}`, "1");
          this.acks.push([sentAt, performance.now()]);
          await new Promise((r) => setTimeout(r, 2));
        } catch {
          await new Promise((r) => setTimeout(r, 5));
        }
      }
    })();
  }
  /** Ack time of the first write sent at or after `t`. */
  firstAckAfter(t: number): number | undefined {
    return this.acks.find(([sent]) => sent >= t)?.[1];
  }
  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
    this.#client.disconnect();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      failovers: { type: "string", default: "20" },
      "down-after": { type: "string", default: "2000" },
      out: { type: "string", default: "bench" },
    },
  });
  const failovers = Number(values.failovers);
  const downAfterMs = Number(values["down-after"]);
  const hookDir = join(process.cwd(), "bench", "out");
  mkdirSync(hookDir, { recursive: true });
  const hookScript = writeHookScript(hookDir, binaryPath("kubectl"), join(hookDir, "kubeconfig"), "redis");
  console.log(`bench: starting the sandbox (down-after ${downAfterMs} ms), ${failovers} failovers per approach, all approaches in the same failovers`);
  const sb = await startSandbox({ downAfterMs, sentinelConfig: (m) => [`sentinel client-reconfig-script ${m} ${hookScript}`] });
  const stops: (() => Promise<void> | void)[] = [];
  try {
    writeFileSync(join(hookDir, "kubeconfig"), "");
    const { copyFileSync } = await import("node:fs");
    copyFileSync(sb.kubeconfigPath, join(hookDir, "kubeconfig"));
    const kc = sb.kubeConfig;
    const ns = sb.namespace;
    const master = sb.masters[0]!.name;
    // The two selector Services: label-master's label, and the hook's label.
    for (const [name, key] of [["redis-master-selector", "redis-role"], ["redis-master-hook", HOOK_LABEL]] as const) {
      await apply(kc, { apiVersion: "v1", kind: "Service", metadata: { name, namespace: ns }, spec: { selector: { "app.kubernetes.io/name": "redis", [key]: "master" }, ports: [{ name: "redis", port: 6379 }] } });
    }
    const first = await sb.currentMaster(master);
    for (const r of sb.masters[0]!.redis) {
      await sb.kubectl("label", "pod", "-n", ns, sb.podOf(r), `${HOOK_LABEL}=${r.spec.ip === first.host ? "master" : "replica"}`, "--overwrite");
    }
    const project = await startProject(sb);
    stops.push(() => project.stop());

    const resolvers = {
      project: new ServiceResolver(kc, ns, "redis-master"),
      selector: new ServiceResolver(kc, ns, "redis-master-selector"),
      hook: new ServiceResolver(kc, ns, "redis-master-hook"),
    };
    for (const r of Object.values(resolvers)) {
      await r.start();
      stops.push(() => r.stop());
    }
    const pods = new ObjectWatch<V1Pod>(kc, `/api/v1/namespaces/${ns}/pods`, { labelSelector: "app.kubernetes.io/name=redis" });
    const configMaps = new ObjectWatch<V1ConfigMap>(kc, `/api/v1/namespaces/${ns}/configmaps`, { fieldSelector: "metadata.name=redis-master" });
    await pods.start();
    await configMaps.start();
    stops.push(() => pods.stop(), () => configMaps.stop());

    const haproxy = await sb.startHaproxy(master);
    const writers: Record<Exclude<Approach, "ioredis">, Writer> = {
      project: new Writer({ target: () => resolvers.project.address, password: sb.password, keyPrefix: "bench:project" }),
      selector: new Writer({ target: () => resolvers.selector.address, password: sb.password, keyPrefix: "bench:selector" }),
      hook: new Writer({ target: () => resolvers.hook.address, password: sb.password, keyPrefix: "bench:hook" }),
      haproxy: new Writer({ target: () => haproxy.address, password: sb.password, keyPrefix: "bench:haproxy" }),
    };
    const sentinelAware = new SentinelAwareWriter(sb, master);
    const sameHost = (a: Address | undefined, host: string) => a?.host === host;
    // Steady state before the first kill: every approach points at the master.
    await waitFor("every approach to name the first master", () =>
      [resolvers.project, resolvers.selector, resolvers.hook].every((r) => sameHost(r.address, first.host)), { timeoutMs: 60_000 });
    for (const w of Object.values(writers)) w.start();
    sentinelAware.start();
    stops.push(async () => {
      await Promise.all(Object.values(writers).map((w) => w.stop()));
      await sentinelAware.stop();
    });
    await waitFor("haproxy to route to the master", () => writers.haproxy.acks.length > 10, { timeoutMs: 20_000 });

    const samples: FailoverSample[] = [];
    const kills: number[] = [];
    // The announcement time: the first +switch-master from any Sentinel.
    let lastSwitch: { at: number; message: string } | undefined;
    for (const s of sb.sentinels) {
      const sub = s.client();
      await sub.connect();
      stops.push(() => sub.disconnect());
      sub.on("message", (_c: string, message: string) => (lastSwitch ??= { at: performance.now(), message }));
      await sub.subscribe("+switch-master");
    }

    for (let i = 0; i < failovers; i++) {
      const old = await sb.currentMaster(master);
      const oldRedis = sb.redisAt({ host: old.host, port: old.port })!;
      lastSwitch = undefined;
      const killAt = performance.now();
      kills.push(killAt);
      await oldRedis.process.kill();
      // From here the old master is gone: only writes sent after this can count as recovered.
      const deadAt = performance.now();
      const sw = await waitFor("+switch-master", () => lastSwitch, { timeoutMs: 30_000, intervalMs: 5 });
      const newHost = sw.message.split(" ")[3]!;
      const deadline = 30_000;
      const podOf = (objs: Map<string, V1Pod>, host: string) => [...objs.values()].find((p) => p.status?.podIP === host);
      const oneMaster = (objs: Map<string, V1Pod>) => podOf(objs, newHost)?.metadata?.labels?.["redis-role"] === "master" && [...objs.values()].filter((p) => p.metadata?.labels?.["redis-role"] === "master").length === 1;
      const sliceAt = (r: ServiceResolver) => r.changes.find((c) => c.at >= killAt && c.addresses.length === 1 && c.addresses[0] === newHost)?.at;
      let lastSeen: Record<string, number | undefined> = {};
      const at = await waitFor(
        "every approach to name the new master and every client to write to it",
        () => {
          const t = {
            labels: pods.firstAfter(killAt, oneMaster),
            cm: configMaps.firstAfter(killAt, (o) => o.get("redis-master")?.data?.host === newHost),
            projectSlice: sliceAt(resolvers.project),
            selectorSlice: sliceAt(resolvers.selector),
            hookSlice: sliceAt(resolvers.hook),
            project: writers.project.firstAckAfter(deadAt, newHost)?.at,
            selector: writers.selector.firstAckAfter(deadAt, newHost)?.at,
            hook: writers.hook.firstAckAfter(deadAt, newHost)?.at,
            // through HAProxy the writer only sees HAProxy's address; a write sent after the death is the new master's
            haproxy: writers.haproxy.firstAckAfter(deadAt)?.at,
            ioredis: sentinelAware.firstAckAfter(deadAt),
          };
          lastSeen = t;
          return Object.values(t).every((v) => v !== undefined) ? (t as Record<keyof typeof t, number>) : undefined;
        },
        { timeoutMs: deadline, intervalMs: 5 },
      ).catch(() => undefined);
      if (!at) {
        const missing = Object.entries(lastSeen).filter(([, v]) => v === undefined).map(([k]) => k);
        console.log(`failover ${i + 1}: not converged within ${deadline} ms: ${missing.join(", ")}; sample skipped`);
        await oldRedis.restart({ replicaOf: { host: newHost, port: 6379 } });
        await sb.waitSettled({ timeoutMs: 30_000 });
        continue;
      }
      const sample: FailoverSample = {
        i,
        newMaster: newHost,
        killToSwitchMs: sw.at - killAt,
        propagationMs: {
          project: Math.max(at.labels, at.cm, at.projectSlice) - sw.at,
          selector: at.selectorSlice - sw.at,
          hook: at.hookSlice - sw.at,
        },
        unavailabilityMs: Object.fromEntries(APPROACHES.map((a) => [a, at[a] - killAt])),
      };
      samples.push(sample);
      const f = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? "  -  " : `${Math.round(x)}`.padStart(5));
      console.log(
        `failover ${String(i + 1).padStart(2)}/${failovers}: kill->switch ${f(sample.killToSwitchMs)} ms | propagation project ${f(sample.propagationMs.project)} selector ${f(sample.propagationMs.selector)} hook ${f(sample.propagationMs.hook)} | unavailability ${APPROACHES.map((a) => `${a} ${f(sample.unavailabilityMs[a])}`).join(" ")}`,
      );
      // Bring the old master back as a replica of the new one and let everything settle.
      await oldRedis.restart({ replicaOf: { host: newHost, port: 6379 } });
      await sb.waitSettled({ timeoutMs: 30_000 });
    }

    const lostByApproach: Record<string, number> = {};
    const now = await sb.currentMaster(master);
    for (const w of Object.values(writers)) await w.stop();
    for (const [name, w] of Object.entries(writers)) {
      const lost = await w.checkLost({ host: now.host, port: now.port }, sb.password);
      lostByApproach[name] = lost.length;
      if (lost.length > 0) {
        const ackOf = (id: number) => w.acks.find((a) => a.id === id)!;
        const rel = (t: number) => kills.map((k) => Math.round(t - k)).join("/");
        console.log(`bench: ${name}: ${lost.length} of ${w.acks.length} acknowledged writes lost, ids ${lost[0]}..${lost.at(-1)}, acked at ${rel(ackOf(lost[0]!).at)} .. ${rel(ackOf(lost.at(-1)!).at)} ms from each kill, on ${ackOf(lost[0]!).host}`);
      }
    }

    const propagation = Object.fromEntries((["project", "selector", "hook"] as const).map((a) => [a, summarize(samples.map((s) => s.propagationMs[a] ?? Number.NaN))])) as Record<"project" | "selector" | "hook", Summary>;
    const unavailability = Object.fromEntries(APPROACHES.map((a) => [a, summarize(samples.map((s) => s.unavailabilityMs[a] ?? Number.NaN))])) as Record<Approach, Summary>;
    const ratio = (x: number, y: number) => Math.round((x / y) * 100) / 100;
    const results = {
      when: new Date().toISOString(),
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
      settings: { failovers, downAfterMs, failoverTimeoutMs: sb.options.failoverTimeoutMs, redis: 3, sentinels: 3, haproxy: { checkInterval: "1s", checkFall: 1 } },
      p50Ms: propagation.project.p50,
      p99Ms: propagation.project.p99,
      kubectlHookRatio: ratio(propagation.hook.p50, propagation.project.p50),
      selectorServiceRatio: ratio(propagation.selector.p50, propagation.project.p50),
      haproxyRatio: ratio(unavailability.haproxy.p50, unavailability.project.p50),
      unavailabilityMs: Object.fromEntries(APPROACHES.map((a) => [a, unavailability[a]])),
      propagationMs: propagation,
      projectVsSentinelAwareClientMs: Math.round(unavailability.project.p50 - unavailability.ioredis.p50),
      killToSwitchMs: summarize(samples.map((s) => s.killToSwitchMs)),
      lostAcknowledgedWrites: lostByApproach,
      samples,
    };
    const md = [
      `# Failover benchmark`,
      ``,
      `${results.when}, ${results.machine.cpus} cores (${results.machine.cpuModel}), Node ${results.machine.node}; ${failovers} SIGKILL failovers of the master, down-after-milliseconds ${downAfterMs}, every approach measured in the same failovers.`,
      ``,
      `Announcement (+switch-master) to Kubernetes state naming the new master (ms):`,
      ``,
      table(["approach", "p50", "p95", "p99", "ratio to project (p50)"], [
        ["project (EndpointSlice + labels + ConfigMap, all written)", propagation.project.p50, propagation.project.p95, propagation.project.p99, 1],
        ["selector Service + label-master (kube-controller-manager)", propagation.selector.p50, propagation.selector.p95, propagation.selector.p99, results.selectorServiceRatio],
        ["client-reconfig-script + kubectl label + selector Service", propagation.hook.p50, propagation.hook.p95, propagation.hook.p99, results.kubectlHookRatio],
      ]),
      ``,
      `Write unavailability, kill to first acknowledged write on the new master (ms):`,
      ``,
      table(["client path", "p50", "p95", "p99", "ratio to project (p50)", "lost acked writes"], APPROACHES.map((a) => [a, unavailability[a].p50, unavailability[a].p95, unavailability[a].p99, ratio(unavailability[a].p50, unavailability.project.p50), lostByApproach[a] ?? "-"])),
      ``,
      `Sentinel-unaware client through redis-master vs sentinel-aware ioredis (p50): ${results.projectVsSentinelAwareClientMs} ms.`,
      ``,
    ].join("\n");
    console.log(`\n${md}`);
    mkdirSync(values.out, { recursive: true });
    writeFileSync(join(values.out, "results.json"), `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(join(values.out, "RESULTS.md"), md);
    console.log(`bench: wrote ${join(values.out, "results.json")} and ${join(values.out, "RESULTS.md")}`);
  } finally {
    for (const s of stops.reverse()) await Promise.resolve(s()).catch(() => undefined);
    await sb.stop();
  }
}

if (!inSandboxNamespace()) process.exit(reexecInSandbox());
await main();
