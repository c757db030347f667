/**
 * `npm run bench:masters` (issue #6): N masters (default 200) x 2 redis, monitored by the same 3
 * Sentinels, all failed over at once; the time until every master's objects are right, and the
 * functions' and relays' RSS and CPU meanwhile. Real processes throughout: the sandbox, two
 * sentinel-relays and one process per function (label-master, master-endpoints,
 * master-configmap), each master mapped to its own Service / ConfigMap by MASTERS; with --host, those
 * functions in one process as components/functions-host runs them.
 *
 * Rounds (--rounds, default `failover,kill`, in that order on the same sandbox):
 *   failover  `SENTINEL FAILOVER <master>` for every master, sent at once, round-robin over the
 *             Sentinels (a forced failover: no down-after, no vote; as fast as Sentinel allows);
 *             a failover Sentinel aborts (-failover-abort-*) is asked for again (--no-resend: not)
 *   kill      SIGKILL of every master's redis-server at once (down-after, odown, vote, failover:
 *             the machine hosting every master dies); the killed ones come back as replicas after
 *
 * Per master, from the first command (t0): first +switch-master from any Sentinel; +switch-master
 * from a majority of them (the quorum names the new master: the project's share starts here, as in
 * `npm run bench`); pod labels, EndpointSlice and ConfigMap right (watched from the benchmark's
 * side); all three right. RSS and CPU of every process from /proc every --sample-ms; the
 * apiserver's 429 answers from its /metrics. Prints tables, writes <out>/many-masters.json and
 * <out>/MANY-MASTERS.md, whose first fields are the issue's goals: projectShareP95Ms (the worst
 * round's), idleRssMb, peakRssMb (the largest project process, MB = 10^6 bytes), apiserver429.
 *
 * Flags: --masters N (200), --rounds failover,kill, --timeout S per round (180), --idle-ms (30000: an
 * idle window after the cold start), --sample-ms (200), --precreate-services (the bench applies the
 * Services; default: master-endpoints creates them, createService), --host, --node-options='<flags>'
 * (the project processes' NODE_OPTIONS, relays included, instead of the image's, which every process
 * here runs with), --code dist|source (dist: the project's processes run tsc's build, built at the
 * start, as the production image does; source: the TypeScript sources, as the dev image does),
 * --control-plane-nice=N (etcd, kube-apiserver and kube-controller-manager at niceness N, e.g. -10:
 * a stand-in for a control plane on machines of its own; default 0), --out DIR (bench).
 * Sentinel's down-after-milliseconds / failover-timeout are the sandbox's defaults unless --down-after /
 * --failover-timeout are given. When the sandbox cannot start N masters, it halves N (down to
 * --min-masters, --no-fallback: not) and says so.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { jetstreamManager } from "@nats-io/jetstream";
import type { Redis } from "ioredis";
import { MANAGED_BY } from "../functions/master-endpoints/index.ts";
import { SentinelPool } from "../shared/sentinel-quorum.ts";
import type { MasterTruth } from "../shared/sentinel-quorum.ts";
import { inSandboxNamespace, REDIS_PORT } from "../sandbox/addresses.ts";
import { reexecInSandbox } from "../sandbox/cli.ts";
import { apply } from "../sandbox/cluster.ts";
import { ETCD_URL } from "../sandbox/control-plane.ts";
import { buildDist, IMAGE_NODE_OPTIONS } from "../sandbox/failover-process.ts";
import type { ProcessCode } from "../sandbox/failover-process.ts";
import { isNiceness, logTail } from "../sandbox/process.ts";
import { startProject } from "../sandbox/project.ts";
import type { Project } from "../sandbox/project.ts";
import type { RedisInstance } from "../sandbox/redis.ts";
import { startSandbox } from "../sandbox/sandbox.ts";
import type { Sandbox } from "../sandbox/sandbox.ts";
import { waitFor } from "../sandbox/wait.ts";
import { natsOf } from "../sandbox/nats-client.ts";
import { apiserverWrites, FUNCTION_WRITES } from "./lib/apiserver-writes.ts";
import { PHASES } from "./lib/function-pods.ts";
import type { PhaseFigure } from "./lib/function-pods.ts";
import { ConvergenceTracker, PARTS } from "./lib/master-convergence.ts";
import type { Part, Target } from "./lib/master-convergence.ts";
import { machineBusyPercent, machineTicks, ProcessSampler, pidsOf } from "./lib/proc-sampler.ts";
import type { WindowFigures } from "./lib/proc-sampler.ts";
import { counterDelta, histogram, histogramDelta, parsePrometheusText, quantileBound, scrape, sums, total } from "./lib/prom-scrape.ts";
import type { Histogram, PromSeries } from "./lib/prom-scrape.ts";
import { addCounts, jsonLogCounts, logOffset, sentinelLogCounts } from "./lib/log-counts.ts";
import { summarize, table } from "./lib/stats.ts";
import type { Summary } from "./lib/stats.ts";

const FUNCTIONS = ["label-master", "master-endpoints", "master-configmap"];
const MODES = ["failover", "kill"] as const;
type Mode = (typeof MODES)[number];
const FUNCTION_COUNTERS = [
  "failover_events_handled_total",
  "failover_retries_total",
  "failover_reconcile_failures_total",
  "failover_no_quorum_total",
  "failover_suspicious_events_total",
  "failover_resyncs_total",
  "failover_dead_lettered_total",
];

interface Settings {
  masters: number;
  rounds: Mode[];
  timeoutMs: number;
  idleMs: number;
  sampleMs: number;
  minMasters: number;
  fallback: boolean;
  createService: boolean;
  /** Sentinel settings; undefined: the sandbox's defaults. */
  downAfterMs: number | undefined;
  failoverTimeoutMs: number | undefined;
  /** failover rounds: send SENTINEL FAILOVER again for a master whose failover Sentinel aborted. */
  resend: boolean;
  /** The functions in one process (the functions host), as components/functions-host deploys them. */
  host: boolean;
  /** NODE_OPTIONS of the project's processes (relays too) instead of the image's (its Dockerfile's), "" to keep the image's. */
  nodeOptions: string;
  /** Niceness of etcd, the apiserver and the controller-manager (0: as every other process). */
  controlPlaneNice: number;
  /** dist: tsc's build, made at the start (the production image's code); source: the TypeScript sources (the dev image's). */
  code: ProcessCode;
  out: string;
}

interface HeapPeak {
  heapTotal: number;
  heapUsed: number;
  external: number;
}

interface LatencyFromHistogram {
  count: number;
  meanMs: number;
  /** Upper bound of the bucket holding the median / 99th percentile; null: above the last bucket. */
  p50AtMostMs: number | null;
  p99AtMostMs: number | null;
  lastBucketMs: number;
}

interface StartAttempt {
  masters: number;
  ok: boolean;
  seconds: number;
  error?: string;
}

interface RoundResult {
  mode: Mode;
  masters: number;
  /** ms to send every SENTINEL FAILOVER (replies included) / to SIGKILL every master. */
  commandsMs: number;
  /** SENTINEL FAILOVER replies other than OK, by reply (first attempt), and how many needed a retry. */
  commandErrors: Record<string, number>;
  retried: number;
  /** -failover-abort-* messages from the Sentinels during the round, by channel. */
  sentinelAborts: Record<string, number>;
  /** failover rounds: failovers the benchmark asked for again after Sentinel aborted one. */
  resentAfterAbort: number;
  /** Per master, ms from t0. */
  switchMs: Summary;
  /** Per master, ms from t0 to +switch-master from a majority of the Sentinels (the quorum names the new master). */
  majoritySwitchMs: Summary;
  partsMs: Record<Part, Summary>;
  allRightMs: Summary;
  /** Per master, ms from its first +switch-master to all its objects right. */
  switchToRightMs: Summary;
  /** The project's own share per master: a majority's +switch-master -> all its objects right (as `npm run bench`'s projectShareMs). */
  projectShareMs: Summary;
  /** The apiserver's answers 429 (Too Many Requests) during the round (apiserver_request_total{code="429"}). */
  apiserver429: number;
  /** The functions' writes per resource: the apiserver's own time (its APPLY histogram) and as the function processes timed them (failover_kube_request_seconds, patch). */
  writesMs: { apiserver: Partial<Record<string, PhaseFigure>>; functions: Record<string, LatencyFromHistogram> };
  /**
   * Inside the apiserver during the round: its requests to etcd by operation
   * (etcd_request_duration_seconds, every type summed), and the time requests waited in API
   * Priority and Fairness queues by priority level (apiserver_flowcontrol_request_wait_duration_seconds).
   */
  apiserverInsideMs: { etcd: Record<string, LatencyFromHistogram>; priorityQueue: Record<string, LatencyFromHistogram> };
  /**
   * Inside etcd during the round, from its own /metrics: each request's time in the server by
   * type (etcd_server_request_duration_seconds: raft proposal, commit and apply), the applies by
   * operation, the backend's commits, and the applies it counted slow (over 100 ms). Beside
   * apiserverInsideMs.etcd it tells etcd's own time from the time a request waited outside it.
   */
  etcdInsideMs: {
    requests: Record<string, LatencyFromHistogram>;
    applies: Record<string, LatencyFromHistogram>;
    backendCommit: LatencyFromHistogram;
    slowApplies: number;
  };
  /** t0 to the last master's +switch-master / all objects right (undefined if some never did). */
  lastSwitchMs: number | null;
  everyMasterRightMs: number | null;
  converged: number;
  switched: number;
  /** +switch-master naming another address than the one replica (never expected with 2 per master). */
  unexpectedNewMaster: number;
  regressions: number;
  notConverged: string[];
  /** After the round: masters whose quorum master is the target and whose ConfigMap has the quorum's epoch. */
  verified: { quorumIsTarget: number; configMapEpochIsQuorums: number };
  /** Events the relays stored in REDIS_SENTINEL during the round (deduplicated). */
  streamMessages: number | undefined;
  /** Counter deltas of each function process during the round (from its /metrics). */
  functionCounters: Record<string, Record<string, number>>;
  /** Per function, from its failover_propagation_seconds histogram: relay received +switch-master -> the function's writes acknowledged (bucket upper bounds). */
  functionPropagationMs: Record<string, LatencyFromHistogram>;
  /** Per function and phase (failover_event_phase_seconds: delivery, lane, verify, converge), where an event's time went inside it. */
  functionPhasesMs: Record<string, Record<string, LatencyFromHistogram>>;
  /** Per relay: Sentinel messages received, events stored / dropped as duplicates, publish latency (received -> JetStream ack), the most events waiting in its buffer (polled every 500 ms). */
  relays: {
    received: number;
    published: number;
    duplicates: number;
    bufferDropped: number;
    publishLatencyMs: LatencyFromHistogram;
    peakBuffered: number;
    /** The largest V8 heap (reserved, used) and external memory its /metrics reported over the same polls, MiB: beside its peak RSS, what of it is the JavaScript heap. */
    peakHeapMiB: HeapPeak;
  }[];
  /** Per function process, the same heap peaks (a functions host: one entry). */
  functionHeapPeakMiB: Record<string, HeapPeak>;
  /** Sentinel log lines during the round, summed over the Sentinels. */
  sentinelLog: Record<string, number>;
  /** Per function, its log lines during the round by message (the routine "nats status" left out). */
  functionLog: Record<string, Record<string, number>>;
  /** Per master, ms from t0 (null: never), for correlating stragglers with the logs. */
  perMaster: {
    master: string;
    switchMs: number | null;
    labelsMs: number | null;
    sliceMs: number | null;
    configMapMs: number | null;
    allMs: number | null;
  }[];
  /** RSS / CPU per process from t0 to every master right (or the timeout). */
  windowMs: number;
  processes: WindowFigures[];
  /** The whole machine's CPU busy % over the same window (100 = all cores busy), from /proc/stat. */
  machineBusyPercent: number;
}

interface Results {
  /** The issue's goals, each the worst over the run: the largest round p95 of projectShareMs. */
  projectShareP95Ms: number;
  /** The largest project process's (function or host, relay) peak RSS in the idle window, MB (10^6 bytes). */
  idleRssMb: number | undefined;
  /**
   * Of the same idle window, the largest project process's peak RssAnon, MB: its RSS without the
   * file pages (the node binary's code and data, shared by every process that maps it).
   */
  idleRssAnonMb: number | undefined;
  /** The largest project process's peak RSS from its start to the end of the last round, MB. */
  peakRssMb: number;
  /** The apiserver's 429 answers from the project's start to the end of the last round. */
  apiserver429: number;
  when: string;
  machine: { cpus: number; cpuModel: string | undefined; memoryGiB: number; node: string };
  settings: {
    requestedMasters: number;
    masters: number;
    redisPerMaster: number;
    sentinels: number;
    quorum: number;
    downAfterMs: number;
    failoverTimeoutMs: number;
    functions: string[];
    /** The functions in one process (the functions host) instead of one process each. */
    host: boolean;
    nodeOptions: string;
    /** What each project process ran with: the image's, sized to its Deployment's memory limit (or --node-options). */
    nodeOptionsByProcess: Record<string, string>;
    /** What the project's processes ran: dist/ (tsc's build, as the production image) or the TypeScript sources (the dev image). */
    code: ProcessCode;
    relays: number;
    resyncIntervalMs: number;
    createService: boolean;
    sampleMs: number;
    timeoutMs: number;
  };
  sandboxStart: StartAttempt[];
  projectReadyMs: number;
  coldStart: {
    everyMasterRightMs: number | null;
    rightWithin30s: number;
    perMasterMs: Summary;
    functionCounters: Record<string, Record<string, number>>;
    functionLog: Record<string, Record<string, number>>;
    processes: WindowFigures[];
  };
  /** heapMiB: every project process's V8 heap at the window's end (a reading, not a peak). */
  idle: { ms: number; processes: WindowFigures[]; machineBusyPercent: number; heapMiB: Record<string, HeapPeak> } | undefined;
  rounds: RoundResult[];
  totalSeconds: number;
}

function flags(): Settings {
  const { values } = parseArgs({
    options: {
      masters: { type: "string", default: "200" },
      rounds: { type: "string", default: "failover,kill" },
      timeout: { type: "string", default: "180" },
      "idle-ms": { type: "string", default: "30000" },
      "sample-ms": { type: "string", default: "200" },
      "min-masters": { type: "string", default: "10" },
      "no-fallback": { type: "boolean", default: false },
      "precreate-services": { type: "boolean", default: false },
      "down-after": { type: "string" },
      "failover-timeout": { type: "string" },
      "no-resend": { type: "boolean", default: false },
      host: { type: "boolean", default: false },
      "node-options": { type: "string", default: "" },
      "control-plane-nice": { type: "string", default: "0" },
      code: { type: "string", default: "dist" },
      out: { type: "string", default: "bench" },
    },
  });
  const rounds = values.rounds
    .split(",")
    .map((r) => r.trim())
    .filter((r) => r !== "");
  for (const r of rounds)
    if (!(MODES as readonly string[]).includes(r))
      throw new Error(`--rounds: unknown round ${JSON.stringify(r)} (use ${MODES.join(", ")})`);
  const int = (name: string, v: string, min: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name}: expected an integer >= ${min}, got ${JSON.stringify(v)}`);
    return n;
  };
  return {
    masters: int("masters", values.masters, 1),
    rounds: rounds as Mode[],
    timeoutMs: int("timeout", values.timeout, 1) * 1000,
    idleMs: int("idle-ms", values["idle-ms"], 0),
    sampleMs: int("sample-ms", values["sample-ms"], 20),
    minMasters: int("min-masters", values["min-masters"], 1),
    fallback: !values["no-fallback"],
    createService: !values["precreate-services"],
    downAfterMs: values["down-after"] === undefined ? undefined : int("down-after", values["down-after"], 100),
    failoverTimeoutMs: values["failover-timeout"] === undefined ? undefined : int("failover-timeout", values["failover-timeout"], 1000),
    resend: !values["no-resend"],
    host: values.host,
    nodeOptions: values["node-options"],
    controlPlaneNice: niceness(values["control-plane-nice"]),
    code: processCode(values.code),
    out: values.out,
  };
}

function niceness(v: string): number {
  const n = Number(v);
  if (!isNiceness(n)) throw new Error(`--control-plane-nice: expected an integer from -20 to 19, got ${JSON.stringify(v)}`);
  return n;
}

function processCode(v: string): ProcessCode {
  if (v !== "dist" && v !== "source") throw new Error(`--code: expected dist or source, got ${JSON.stringify(v)}`);
  return v;
}

/** Sentinel log counts shown in the report (all of them are in the JSON). */
const SENTINEL_LOG_KEYS = [
  "user requested failover",
  "+try-failover",
  "+elected-leader",
  "-failover-abort-not-elected",
  "-failover-abort-slave-timeout",
  "+failover-end-for-timeout",
  "next failover delay",
  "+switch-master",
  "+sdown master",
  "+sdown slave",
  "+sdown sentinel",
  "+tilt",
  "config saved",
];

const RELAY_COUNTERS = [
  "relay_messages_received_total",
  "relay_events_published_total",
  "relay_duplicates_dropped_total",
  "relay_buffer_dropped_total",
];

/** The relays' /metrics: startRelays (sandbox/failover-process.ts) gives relay i HTTP port 18080 + i. */
const relayMetricsUrl = (i: number) => `http://127.0.0.1:${18080 + i}/metrics`;

/** A latency histogram's change between two scrapes, in ms. */
function latency(before: PromSeries[], after: PromSeries[], name: string, labels: Record<string, string> = {}): LatencyFromHistogram {
  const h: Histogram = histogramDelta(histogram(before, name, labels), histogram(after, name, labels));
  const ms = (x: number) => Math.round(x * 1000 * 10) / 10;
  const bound = (q: number) => {
    const b = quantileBound(h, q);
    return Number.isFinite(b) ? ms(b) : null;
  };
  const finite = h.buckets.map(([le]) => le).filter((le) => Number.isFinite(le));
  return {
    count: h.count,
    meanMs: h.count > 0 ? ms(h.sum / h.count) : Number.NaN,
    p50AtMostMs: bound(0.5),
    p99AtMostMs: bound(0.99),
    lastBucketMs: ms(finite.at(-1) ?? Number.NaN),
  };
}

const round1 = (x: number) => Math.round(x * 10) / 10;

/** A process's V8 heap (reserved, used) and external memory from its /metrics series, MiB. */
function heapOf(series: PromSeries[]): HeapPeak {
  const mib = (name: string) => round1(total(series, name) / 2 ** 20);
  return {
    heapTotal: mib("nodejs_heap_size_total_bytes"),
    heapUsed: mib("nodejs_heap_size_used_bytes"),
    external: mib("nodejs_external_memory_bytes"),
  };
}
/** The distinct values of `label` among the series named `name`. */
const labelValues = (series: PromSeries[], name: string, label: string): string[] => [
  ...new Set(series.filter((x) => x.name === name && x.labels[label] !== undefined).map((x) => x.labels[label]!)),
];
const seconds = (ms: number) => Math.round(ms / 100) / 10;
const firstLines = (err: unknown, n = 6) => (err instanceof Error ? err.message : String(err)).split("\n").slice(0, n).join(" | ");

/** Starts the sandbox with `wanted` masters, else halves until it starts (or gives up below `min`). */
async function startLargest(s: Settings): Promise<{ sb: Sandbox; attempts: StartAttempt[] }> {
  const attempts: StartAttempt[] = [];
  for (let n = s.masters; ; n = Math.max(s.minMasters, Math.floor(n / 2))) {
    console.log(`bench: starting the sandbox: ${n} masters x 2 redis (${2 * n} redis-server), 3 Sentinels ...`);
    const t = performance.now();
    try {
      const sb = await startSandbox({
        masters: n,
        redisPerMaster: 2,
        sentinels: 3,
        controlPlaneNice: s.controlPlaneNice,
        ...(s.downAfterMs === undefined ? {} : { downAfterMs: s.downAfterMs }),
        ...(s.failoverTimeoutMs === undefined ? {} : { failoverTimeoutMs: s.failoverTimeoutMs }),
      });
      attempts.push({ masters: n, ok: true, seconds: seconds(performance.now() - t) });
      console.log(`bench: sandbox with ${n} masters up and settled in ${seconds(performance.now() - t)} s`);
      return { sb, attempts };
    } catch (err) {
      attempts.push({ masters: n, ok: false, seconds: seconds(performance.now() - t), error: firstLines(err) });
      console.log(`bench: the sandbox did not start with ${n} masters (${seconds(performance.now() - t)} s): ${firstLines(err)}`);
      if (!s.fallback || n <= s.minMasters) throw err;
    }
  }
}

/** The shipped Roles allow patching only `redis-master`: grant the per-master names too (create + patch = server-side apply). */
async function grantPerMasterNames(sb: Sandbox, services: string[], configMaps: string[]): Promise<void> {
  const grants = [
    ["master-endpoints", "services", services],
    ["master-configmap", "configmaps", configMaps],
  ] as const;
  for (const [fn, resource, names] of grants) {
    const name = `${fn}-many-masters`;
    await apply(sb.kubeConfig, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name, namespace: sb.namespace },
      rules: [{ apiGroups: [""], resources: [resource], resourceNames: [...names], verbs: ["create", "patch"] }],
    });
    await apply(sb.kubeConfig, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name, namespace: sb.namespace },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
      subjects: [{ kind: "ServiceAccount", name: fn, namespace: sb.namespace }],
    });
  }
}

/** Runs `fn` over `items` with at most `limit` at a time. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

/** sb.waitSettled with a timeout for hundreds of redis; on failure, the log tails of the redis it names. */
async function settle(sb: Sandbox): Promise<void> {
  try {
    await sb.waitSettled({ timeoutMs: 300_000 });
  } catch (err) {
    const ips = new Set((err instanceof Error ? err.message : "").match(/\d+\.\d+\.\d+\.\d+/g) ?? []);
    for (const ip of ips) {
      const r = sb.redisAt({ host: ip, port: REDIS_PORT });
      if (r)
        console.log(
          `bench: settle failed; last lines of ${r.process.name} (${r.process.running ? "running" : "not running"}):\n${logTail(r.process.spec.logFile, 15)}`,
        );
    }
    throw err;
  }
}

async function streamMessages(sb: Sandbox): Promise<number | undefined> {
  try {
    const nc = await natsOf(sb);
    try {
      return (await (await jetstreamManager(nc)).streams.info("REDIS_SENTINEL")).state.messages;
    } finally {
      await nc.close();
    }
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  const s = flags();
  const started = performance.now();
  if (s.code === "dist") {
    console.log("bench: building dist/ (tsc -p tsconfig.build.json), the code the production image runs ...");
    await buildDist();
  }
  const { sb, attempts } = await startLargest(s);
  const n = sb.masters.length;
  if (n !== s.masters) console.log(`bench: FALLBACK: running with ${n} masters instead of ${s.masters} (see the attempts above)`);
  const stops: (() => Promise<void> | void)[] = [];
  try {
    const ns = sb.namespace;
    const names = sb.masters.map((m) => m.name);
    const objectsOf = new Map(
      sb.masters.map((m) => [
        m.name,
        { master: m.name, service: `${m.statefulSet}-master`, configMap: `${m.statefulSet}-master`, statefulSet: m.statefulSet },
      ]),
    );
    const hostInfo = new Map(
      sb.masters.flatMap((m) => m.redis.map((r) => [r.spec.ip, { master: m.name, pod: sb.podOf(r), redis: r }] as const)),
    );
    const podAt = (host: string) => hostInfo.get(host)?.pod ?? "";

    // RSS / CPU of every process, from now on.
    const sampler = new ProcessSampler(s.sampleMs);
    const cp = sb.controlPlane!;
    sampler.add({ name: "kube-apiserver", pids: pidsOf(cp.apiserver) });
    sampler.add({ name: "etcd", pids: pidsOf(cp.etcd) });
    sampler.add({ name: "kube-controller-manager", pids: pidsOf(cp.controllerManager) });
    sampler.add({ name: "nats-server", pids: pidsOf(sb.nats!.process) });
    for (const [j, sen] of sb.sentinels.entries()) sampler.add({ name: `redis-sentinel-${j}`, pids: pidsOf(sen.process) });
    sampler.add({
      name: `redis-server (all ${2 * n}, sum)`,
      pids: pidsOf(...sb.masters.flatMap((m) => m.redis.map((r) => r.process))),
      every: Math.max(1, Math.round(1000 / s.sampleMs)),
    });
    sampler.add({ name: "bench (this process)", pids: () => [process.pid] });
    sampler.start();
    stops.push(() => sampler.stop());

    // Per-master objects: MASTERS maps each master to its own Service / ConfigMap / StatefulSet;
    // the pods already carry redis.failover.io/master=<name> (the default POD_SELECTOR).
    const masters = Object.fromEntries(
      [...objectsOf.values()].map((o) => [
        o.master,
        { service: o.service, configMap: o.configMap, statefulSet: o.statefulSet, createService: s.createService },
      ]),
    );
    await grantPerMasterNames(
      sb,
      [...objectsOf.values()].map((o) => o.service),
      [...objectsOf.values()].map((o) => o.configMap),
    );
    if (!s.createService) {
      for (const o of objectsOf.values()) {
        await apply(sb.kubeConfig, {
          apiVersion: "v1",
          kind: "Service",
          metadata: { name: o.service, namespace: ns },
          spec: { ports: [{ name: "redis", port: REDIS_PORT, targetPort: REDIS_PORT, protocol: "TCP" }] },
        });
      }
    }

    const tracker = new ConvergenceTracker(sb.kubeConfig, ns, [...objectsOf.values()], MANAGED_BY);
    await tracker.start();
    stops.push(() => tracker.stop());
    const pool = new SentinelPool({
      sentinels: sb.sentinelAddresses,
      password: sb.sentinelPassword,
      quorum: sb.options.quorum,
      commandTimeoutMs: 5000,
    });
    stops.push(() => pool.close());
    // The Sentinels' quorum answer per master (undefined where there is none). SentinelPool connects
    // lazily and has no offline queue: concurrent first calls fail while it connects, so one goes first.
    const quorum = async (): Promise<Map<string, MasterTruth | undefined>> => {
      await pool.master(names[0]!).catch(() => undefined);
      return new Map(await mapLimit(names, 20, async (name) => [name, await pool.master(name).catch(() => undefined)] as const));
    };
    const quorumOfAll = async (what: string): Promise<Map<string, MasterTruth>> => {
      const q = await quorum();
      const missing = names.filter((m) => q.get(m) === undefined);
      if (missing.length > 0)
        throw new Error(`${what}: no Sentinel quorum for ${missing.length} masters (${missing.slice(0, 5).join(", ")})`);
      return q as Map<string, MasterTruth>;
    };

    // Cold start: the project's first resync puts every master's objects in place.
    const initial = await quorumOfAll("before the project starts");
    tracker.begin(
      new Map(
        names.map((name) => {
          const t = initial.get(name)!;
          return [name, { host: t.host, pod: podAt(t.host), minEpoch: t.epoch }];
        }),
      ),
    );
    console.log(
      `bench: starting the project: 2 relays + ${FUNCTIONS.join(", ")}${s.host ? " in one functions host" : ""} (MASTERS maps ${n} masters, ${JSON.stringify(masters).length} bytes)`,
    );
    const apiserverMetrics = async () => parsePrometheusText(await sb.kubectl("get", "--raw", "/metrics"));
    const etcdMetrics = async () => parsePrometheusText(await (await fetch(`${ETCD_URL}/metrics`)).text());
    const tooMany = (series: PromSeries[]) => total(series, "apiserver_request_total", { code: "429" });
    const apiserver429 = async () => tooMany(await apiserverMetrics());
    const tooManyAtStart = await apiserver429();
    const projectStart = performance.now();
    const project: Project = await startProject(sb, {
      functions: FUNCTIONS,
      relays: 2,
      host: s.host,
      code: s.code,
      ...(s.nodeOptions ? { nodeOptions: s.nodeOptions } : {}),
      env: { MASTERS: JSON.stringify(masters) },
    });
    stops.push(() => project.stop());
    const projectReadyMs = performance.now() - projectStart;
    // One row per process: with the host, every function is the same one.
    const fnProcesses = [...new Set(project.functions.values())];
    for (const proc of fnProcesses) sampler.add({ name: proc.name, pids: pidsOf(proc) });
    for (const [i, relay] of project.relays.entries()) sampler.add({ name: `sentinel-relay-${i}`, pids: pidsOf(relay) });
    const fnNames = [...project.functions.keys()];
    const projectProcesses = [...fnProcesses, ...project.relays];
    const projectRows = [...fnProcesses.map((p) => p.name), ...project.relays.map((_, i) => `sentinel-relay-${i}`)];
    const rowOrder = [...projectRows, ...sampler.names.filter((x) => !projectRows.includes(x))];
    const figures = (from: number, to: number) => rowOrder.flatMap((name) => sampler.window(name, from, to) ?? []);
    const projectFigures = (from: number, to: number) => projectRows.flatMap((name) => sampler.window(name, from, to) ?? []);
    // A function's own series (label fn): the host's /metrics holds every function's.
    const ownSeries = (f: string, series: PromSeries[]) => series.filter((x) => x.labels.fn === undefined || x.labels.fn === f);
    const snapshot = async (): Promise<{ functions: PromSeries[][]; relays: PromSeries[][] }> => ({
      functions: await Promise.all(fnNames.map(async (f) => ownSeries(f, await scrape(`http://127.0.0.1:${project.httpPort(f)}/metrics`)))),
      relays: await Promise.all(project.relays.map((_, i) => scrape(relayMetricsUrl(i)))),
    });
    // A host's functions share one process: its heap once, under the first function's name.
    const heapProcesses = s.host ? fnNames.slice(0, 1) : fnNames;
    const heapName = (f: string) => (s.host ? "functions-host" : f);
    /**
     * The /metrics of every project process once (a host's once): the relays', and the functions'
     * (with `tolerant`, a function that does not answer gives no series instead of failing).
     */
    const scrapeProcesses = async (o: { tolerant?: boolean } = {}): Promise<{ fns: PromSeries[][]; relays: PromSeries[][] }> => {
      const [fns, relays] = await Promise.all([
        Promise.all(
          heapProcesses.map((f) => {
            const scraped = scrape(`http://127.0.0.1:${project.httpPort(f)}/metrics`);
            return o.tolerant ? scraped.catch((): PromSeries[] => []) : scraped;
          }),
        ),
        Promise.all(project.relays.map((_, i) => scrape(relayMetricsUrl(i)))),
      ]);
      return { fns, relays };
    };
    /** Every project process's V8 heap now, from its /metrics (MiB): what of its RSS is the JavaScript heap. */
    const projectHeaps = async (): Promise<Record<string, HeapPeak>> => {
      const { fns, relays } = await scrapeProcesses();
      return Object.fromEntries([
        ...heapProcesses.map((f, i) => [heapName(f), heapOf(fns[i]!)] as const),
        ...relays.map((series, i) => [`sentinel-relay-${i}`, heapOf(series)] as const),
      ]);
    };
    const fnLogCounts = (f: string, from: number) =>
      jsonLogCounts(project.functions.get(f)!.spec.logFile, from, ["nats status"], s.host ? f : undefined);

    const coldOk = await tracker.waitAll(s.timeoutMs);
    const coldRight = names.map((m) => (tracker.progress(m)?.first.all ?? Number.NaN) - projectStart);
    const coldAllMs = coldOk ? Math.max(...coldRight) : undefined;
    console.log(
      `bench: project ready in ${seconds(projectReadyMs)} s; ${coldOk ? `every master's objects right ${seconds(coldAllMs!)} s after the project started` : `NOT every master right after ${s.timeoutMs / 1000} s (${tracker.pending().length} pending)`}`,
    );
    if (!coldOk) for (const m of tracker.pending().slice(0, 5)) console.log(`bench:   ${m}: ${tracker.describe(m)}`);
    const coldProcesses = figures(projectStart, performance.now());
    // The first resync runs as each function starts; the next one RESYNC_INTERVAL_MS (30 s) later.
    const coldFirstResync = coldRight.filter((x) => x < 30_000).length;
    const coldSeries = await snapshot();
    const coldCounters = Object.fromEntries(
      fnNames.map((f, i) => [f, sums(coldSeries.functions[i]!, FUNCTION_COUNTERS, ["result", "kind"])]),
    );
    const coldLog = Object.fromEntries(fnNames.map((f) => [f, fnLogCounts(f, 0)]));
    console.log(`bench: function log lines since start: ${JSON.stringify(coldLog)}`);
    console.log(
      `bench: ${coldFirstResync}/${n} masters right within 30 s of the project start (before the second resync); function counters since start: ${JSON.stringify(coldCounters)}`,
    );

    // Idle: 200 masters converged, nothing happening but the Sentinels' chatter and a resync.
    let idle: Results["idle"];
    if (s.idleMs > 0) {
      console.log(`bench: idle for ${s.idleMs / 1000} s (one resync of every master happens every 30 s)`);
      const from = performance.now();
      const machineFrom = machineTicks();
      await sleep(s.idleMs);
      const to = performance.now();
      const machineTo = machineTicks();
      idle = {
        ms: s.idleMs,
        processes: figures(from, to),
        machineBusyPercent: machineBusyPercent(machineFrom, machineTo),
        heapMiB: await projectHeaps(),
      };
    }

    // +switch-master from every Sentinel: the first per master in the current round, and when a
    // majority of the Sentinels had announced it.
    let switches = new Map<string, { at: number; host: string }>();
    let announced = new Map<string, Set<number>>();
    let majorities = new Map<string, number>();
    const majority = Math.floor(sb.sentinels.length / 2) + 1;
    let onSwitch: (master: string, host: string) => void = () => undefined;
    let onAbort: (master: string, why: string) => void = () => undefined;
    const subs: Redis[] = [];
    stops.push(() => subs.forEach((c) => c.disconnect()));
    for (const [j, sen] of sb.sentinels.entries()) {
      const sub = sen.client();
      subs.push(sub);
      await sub.connect();
      sub.on("message", (_channel: string, message: string) => {
        const [master, , , host] = message.split(" ");
        if (master === undefined || host === undefined) return;
        const at = performance.now();
        const by = announced.get(master) ?? new Set<number>();
        announced.set(master, by.add(j));
        if (by.size >= majority && !majorities.has(master)) majorities.set(master, at);
        if (switches.has(master)) return;
        switches.set(master, { at, host });
        onSwitch(master, host);
      });
      // `-failover-abort-<why> master <name> <ip> <port>` (or `<type> <name> ... @ <master> <ip> <port>`)
      sub.on("pmessage", (_pattern: string, channel: string, message: string) => {
        const words = message.split(" ");
        const at = words.indexOf("@");
        const master = at >= 0 ? words[at + 1] : words[1];
        if (master !== undefined) onAbort(master, channel);
      });
      await sub.subscribe("+switch-master");
      await sub.psubscribe("-failover-abort-*");
    }
    const commanders = sb.sentinels.map((sen) => sen.client());
    stops.push(() => commanders.forEach((c) => c.disconnect()));
    await Promise.all(commanders.map((c) => c.connect()));

    const rounds: RoundResult[] = [];
    for (const mode of s.rounds) {
      console.log(`bench: round ${mode}: waiting for the sandbox to settle ...`);
      await settle(sb);
      const before = await quorumOfAll(`before round ${mode}`);
      // The objects must name the current masters before the round starts.
      tracker.begin(
        new Map(
          names.map((name) => {
            const t = before.get(name)!;
            return [name, { host: t.host, pod: podAt(t.host), minEpoch: t.epoch }];
          }),
        ),
      );
      if (!(await tracker.waitAll(60_000)))
        throw new Error(
          `round ${mode}: ${tracker.pending().length} masters' objects do not name the current master before the round (${tracker.pending()[0]}: ${tracker.describe(tracker.pending()[0]!)})`,
        );
      // The target: the one other redis of each master (2 per master), epoch above the current.
      const targets = new Map<string, Target>();
      const oldMasters = new Map<string, RedisInstance>();
      for (const ms of sb.masters) {
        const cur = before.get(ms.name)!;
        const other = ms.redis.find((r) => r.spec.ip !== cur.host)!;
        targets.set(ms.name, { host: other.spec.ip, pod: sb.podOf(other), minEpoch: cur.epoch + 1 });
        oldMasters.set(ms.name, hostInfo.get(cur.host)!.redis);
      }
      const metricsBefore = await snapshot();
      const apiBefore = await apiserverMetrics();
      const etcdBefore = await etcdMetrics();
      const streamBefore = await streamMessages(sb);
      const sentinelLogs = sb.sentinels.map((sen) => sen.process.spec.logFile);
      const logOffsets = sentinelLogs.map(logOffset);
      const fnLogs = fnNames.map((f) => project.functions.get(f)!.spec.logFile);
      const fnLogOffsets = fnLogs.map(logOffset);
      let unexpected = 0;
      switches = new Map();
      announced = new Map();
      majorities = new Map();
      onSwitch = (master, host) => {
        const t = targets.get(master);
        if (t && t.host !== host) {
          unexpected++;
          tracker.setTarget(master, { host, pod: podAt(host), minEpoch: t.minEpoch });
        }
      };
      tracker.begin(targets);
      const commandErrors: Record<string, number> = {};
      let retried = 0;
      let nextSentinel = 0;
      const send = (name: string) =>
        commanders[nextSentinel++ % commanders.length]!.call("SENTINEL", "FAILOVER", name).then(
          () => "OK",
          (err: unknown) => (err instanceof Error ? err.message.split(" ")[0]! : "error"),
        );
      // A forced failover that Sentinel aborts (e.g. -failover-abort-slave-timeout: the promoted
      // replica did not report itself master within failover-timeout) is not retried by Sentinel,
      // the master being up: the benchmark asks again (another Sentinel), as an operator would.
      // One resend in flight per master: 1 s after the abort, then every second while Sentinel
      // refuses (NOGOODSLAVE while it turns the half-promoted replica back), for up to 30 s.
      const aborts: Record<string, number> = {};
      let resent = 0;
      const resending = new Set<string>();
      onAbort = (master, why) => {
        aborts[why] = (aborts[why] ?? 0) + 1;
        if (mode !== "failover" || !s.resend || !targets.has(master) || switches.has(master) || resending.has(master)) return;
        resending.add(master);
        resent++;
        void (async () => {
          try {
            for (let attempt = 0; attempt < 30 && !switches.has(master); attempt++) {
              await sleep(1000);
              if (!switches.has(master) && (await send(master)) === "OK") return;
            }
          } finally {
            resending.delete(master);
          }
        })();
      };
      console.log(
        `bench: round ${mode}: ${mode === "failover" ? `SENTINEL FAILOVER for ${n} masters, round-robin over ${sb.sentinels.length} Sentinels` : `SIGKILL of ${n} masters' redis-server`}`,
      );
      const t0 = performance.now();
      const machineAtT0 = machineTicks();
      if (mode === "failover") {
        const replies = await Promise.all(names.map((name) => send(name)));
        for (const r of replies) if (r !== "OK") commandErrors[r] = (commandErrors[r] ?? 0) + 1;
        // INPROG: already failing over (fine). Anything else (NOGOODSLAVE): try again for a while.
        let retry = names.filter((_, i) => replies[i] !== "OK" && !replies[i]!.startsWith("INPROG"));
        retried = retry.length;
        const retryUntil = performance.now() + 15_000;
        while (retry.length > 0 && performance.now() < retryUntil) {
          await sleep(500);
          const again = await Promise.all(retry.map((name) => send(name)));
          retry = retry.filter((_, i) => again[i] !== "OK" && !again[i]!.startsWith("INPROG"));
        }
        if (retry.length > 0)
          console.log(`bench: ${retry.length} masters refused SENTINEL FAILOVER for 15 s (${retry.slice(0, 5).join(", ")} ...)`);
      } else {
        await Promise.all([...oldMasters.values()].map((r) => r.process.kill()));
      }
      const commandsMs = performance.now() - t0;
      const peakBuffered = project.relays.map(() => 0);
      const noHeap = (): HeapPeak => ({ heapTotal: 0, heapUsed: 0, external: 0 });
      const relayHeaps = project.relays.map(noHeap);
      const functionHeaps = heapProcesses.map(noHeap);
      const heapPeak = (peak: HeapPeak, series: PromSeries[]) => {
        const now = heapOf(series);
        peak.heapTotal = Math.max(peak.heapTotal, now.heapTotal);
        peak.heapUsed = Math.max(peak.heapUsed, now.heapUsed);
        peak.external = Math.max(peak.external, now.external);
      };
      let polling = true;
      const poller = (async () => {
        while (polling) {
          const { fns, relays } = await scrapeProcesses({ tolerant: true });
          relays.forEach((series, i) => {
            peakBuffered[i] = Math.max(peakBuffered[i]!, sums(series, ["relay_buffer_events"]).relay_buffer_events ?? 0);
            heapPeak(relayHeaps[i]!, series);
          });
          fns.forEach((series, i) => heapPeak(functionHeaps[i]!, series));
          await sleep(500);
        }
      })();
      const ok = await tracker.waitAll(s.timeoutMs);
      const windowEnd = performance.now();
      const machineAtEnd = machineTicks();
      polling = false;
      await poller;
      // A +switch-master can reach this process after the objects are right; give the last ones a moment.
      await waitFor("every +switch-master", () => switches.size >= n, { timeoutMs: ok ? 5_000 : 1, intervalMs: 50 }).catch(() => undefined);
      const processes = figures(t0, windowEnd);
      const progress = names.map((m) => tracker.progress(m)!);
      const rel = (x: number | undefined) => (x === undefined ? Number.NaN : x - t0);
      const switchMs = names.map((m) => rel(switches.get(m)?.at));
      const majorityMs = names.map((m) => rel(majorities.get(m)));
      const allRight = progress.map((p) => rel(p.first.all));
      const everyMasterRightMs = ok ? Math.max(...allRight) : undefined;
      const lastSwitchMs = switches.size >= n ? Math.max(...switchMs) : undefined;

      // Verification: the Sentinels' quorum names the target, and the ConfigMap records its epoch.
      const after = await waitFor(
        "the Sentinels' quorum to name every new master",
        async () => {
          const q = await quorum();
          return names.every((m) => q.get(m)?.host === tracker.progress(m)?.target?.host) ? q : undefined;
        },
        { timeoutMs: 20_000, intervalMs: 500 },
      ).catch(() => quorum());
      const verified = {
        quorumIsTarget: names.filter((m) => after.get(m)?.host === tracker.progress(m)?.target?.host).length,
        configMapEpochIsQuorums: names.filter((m) => tracker.configMapOf(m)?.epoch === String(after.get(m)?.epoch)).length,
      };
      const metricsAfter = await snapshot();
      const apiAfter = await apiserverMetrics();
      const etcdAfter = await etcdMetrics();
      const sentinelLog = addCounts(sentinelLogs.map((f, i) => sentinelLogCounts(f, logOffsets[i]!)));
      const streamAfter = await streamMessages(sb);
      const notConverged = tracker.pending();
      const round: RoundResult = {
        mode,
        masters: n,
        commandsMs: Math.round(commandsMs),
        commandErrors,
        retried,
        sentinelAborts: aborts,
        resentAfterAbort: resent,
        switchMs: summarize(switchMs),
        majoritySwitchMs: summarize(majorityMs),
        partsMs: Object.fromEntries(PARTS.map((part) => [part, summarize(progress.map((p) => rel(p.first[part])))])) as Record<
          Part,
          Summary
        >,
        allRightMs: summarize(allRight),
        switchToRightMs: summarize(names.map((m, i) => allRight[i]! - switchMs[i]!)),
        projectShareMs: summarize(names.map((m, i) => allRight[i]! - majorityMs[i]!)),
        apiserver429: tooMany(apiAfter) - tooMany(apiBefore),
        apiserverInsideMs: {
          etcd: Object.fromEntries(
            labelValues(apiAfter, "etcd_request_duration_seconds_count", "operation").map((operation) => [
              operation,
              latency(apiBefore, apiAfter, "etcd_request_duration_seconds", { operation }),
            ]),
          ),
          priorityQueue: Object.fromEntries(
            labelValues(apiAfter, "apiserver_flowcontrol_request_wait_duration_seconds_count", "priority_level").map((level) => [
              level,
              latency(apiBefore, apiAfter, "apiserver_flowcontrol_request_wait_duration_seconds", { priority_level: level }),
            ]),
          ),
        },
        etcdInsideMs: {
          requests: Object.fromEntries(
            labelValues(etcdAfter, "etcd_server_request_duration_seconds_count", "type").map((type) => [
              type,
              latency(etcdBefore, etcdAfter, "etcd_server_request_duration_seconds", { type }),
            ]),
          ),
          applies: Object.fromEntries(
            labelValues(etcdAfter, "etcd_server_apply_duration_seconds_count", "op").map((op) => [
              op,
              latency(etcdBefore, etcdAfter, "etcd_server_apply_duration_seconds", { op }),
            ]),
          ),
          backendCommit: latency(etcdBefore, etcdAfter, "etcd_disk_backend_commit_duration_seconds"),
          slowApplies: total(etcdAfter, "etcd_server_slow_apply_total") - total(etcdBefore, "etcd_server_slow_apply_total"),
        },
        writesMs: {
          apiserver: apiserverWrites(apiBefore, apiAfter),
          functions: Object.fromEntries(
            Object.keys(FUNCTION_WRITES).map((resource) => [
              resource,
              latency(metricsBefore.functions[0]!, metricsAfter.functions[0]!, "failover_kube_request_seconds", {
                verb: "patch",
                resource,
              }),
            ]),
          ),
        },
        lastSwitchMs: lastSwitchMs === undefined ? null : Math.round(lastSwitchMs),
        everyMasterRightMs: everyMasterRightMs === undefined ? null : Math.round(everyMasterRightMs),
        converged: n - notConverged.length,
        switched: switches.size,
        unexpectedNewMaster: unexpected,
        regressions: progress.reduce((a, p) => a + p.regressions, 0),
        notConverged,
        verified,
        streamMessages: streamBefore !== undefined && streamAfter !== undefined ? streamAfter - streamBefore : undefined,
        functionCounters: Object.fromEntries(
          fnNames.map((f, i) => [
            f,
            counterDelta(
              sums(metricsBefore.functions[i]!, FUNCTION_COUNTERS, ["result", "kind"]),
              sums(metricsAfter.functions[i]!, FUNCTION_COUNTERS, ["result", "kind"]),
            ),
          ]),
        ),
        functionPhasesMs: Object.fromEntries(
          fnNames.map((f, i) => [
            f,
            Object.fromEntries(
              PHASES.map((phase) => [
                phase,
                latency(metricsBefore.functions[i]!, metricsAfter.functions[i]!, "failover_event_phase_seconds", { phase }),
              ]),
            ),
          ]),
        ),
        functionPropagationMs: Object.fromEntries(
          fnNames.map((f, i) => [f, latency(metricsBefore.functions[i]!, metricsAfter.functions[i]!, "failover_propagation_seconds")]),
        ),
        relays: project.relays.map((_, i) => {
          const d = counterDelta(sums(metricsBefore.relays[i]!, RELAY_COUNTERS), sums(metricsAfter.relays[i]!, RELAY_COUNTERS));
          return {
            received: d.relay_messages_received_total ?? 0,
            published: d.relay_events_published_total ?? 0,
            duplicates: d.relay_duplicates_dropped_total ?? 0,
            bufferDropped: d.relay_buffer_dropped_total ?? 0,
            publishLatencyMs: latency(metricsBefore.relays[i]!, metricsAfter.relays[i]!, "relay_publish_latency_seconds"),
            peakBuffered: peakBuffered[i]!,
            peakHeapMiB: relayHeaps[i]!,
          };
        }),
        functionHeapPeakMiB: Object.fromEntries(heapProcesses.map((f, i) => [heapName(f), functionHeaps[i]!])),
        sentinelLog,
        functionLog: Object.fromEntries(fnNames.map((f, i) => [f, fnLogCounts(f, fnLogOffsets[i]!)])),
        perMaster: names.map((m, i) => {
          const r = (x: number) => (Number.isFinite(x) ? Math.round(x) : null);
          const p = progress[i]!;
          return {
            master: m,
            switchMs: r(switchMs[i]!),
            labelsMs: r(rel(p.first.labels)),
            sliceMs: r(rel(p.first.slice)),
            configMapMs: r(rel(p.first.configMap)),
            allMs: r(allRight[i]!),
          };
        }),
        windowMs: Math.round(windowEnd - t0),
        processes,
        machineBusyPercent: machineBusyPercent(machineAtT0, machineAtEnd),
      };
      rounds.push(round);
      console.log(`\n${roundReport(round, sb)}\n`);
      for (const m of notConverged.slice(0, 5)) console.log(`bench:   not converged ${m}: ${tracker.describe(m)}`);

      if (mode === "kill") {
        // The killed masters come back as replicas of the new ones, as their pods would.
        await mapLimit([...oldMasters.entries()], 20, ([name, r]) =>
          r.restart({ replicaOf: { host: after.get(name)?.host ?? targets.get(name)!.host, port: REDIS_PORT } }),
        );
      }
    }

    const tooManyAtEnd = await apiserver429();
    const lastRoundEnd = performance.now();
    const mb = (mib: number) => round1((mib * 2 ** 20) / 1e6);
    const largest = (rows: WindowFigures[], of: "peakRssMiB" | "peakAnonMiB" = "peakRssMiB") => Math.max(...rows.map((r) => r[of]));
    const idleProject = idle?.processes.filter((r) => projectRows.includes(r.name)) ?? [];
    const results: Results = {
      projectShareP95Ms: Math.max(...rounds.map((r) => r.projectShareMs.p95)),
      idleRssMb: idle ? mb(largest(idleProject)) : undefined,
      idleRssAnonMb: idle ? mb(largest(idleProject, "peakAnonMiB")) : undefined,
      peakRssMb: mb(largest(projectFigures(projectStart, lastRoundEnd))),
      apiserver429: tooManyAtEnd - tooManyAtStart,
      when: new Date().toISOString(),
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
      settings: {
        requestedMasters: s.masters,
        masters: n,
        redisPerMaster: 2,
        sentinels: sb.sentinels.length,
        quorum: sb.options.quorum,
        downAfterMs: sb.options.downAfterMs,
        failoverTimeoutMs: sb.options.failoverTimeoutMs,
        functions: FUNCTIONS,
        host: s.host,
        nodeOptions: s.nodeOptions || IMAGE_NODE_OPTIONS,
        nodeOptionsByProcess: nodeOptionsOf(projectProcesses),
        code: s.code,
        relays: project.relays.length,
        resyncIntervalMs: 30_000,
        createService: s.createService,
        sampleMs: s.sampleMs,
        timeoutMs: s.timeoutMs,
      },
      sandboxStart: attempts,
      projectReadyMs: Math.round(projectReadyMs),
      coldStart: {
        everyMasterRightMs: coldAllMs === undefined ? null : Math.round(coldAllMs),
        rightWithin30s: coldFirstResync,
        perMasterMs: summarize(coldRight),
        functionCounters: coldCounters,
        functionLog: coldLog,
        processes: coldProcesses,
      },
      idle,
      rounds,
      totalSeconds: seconds(performance.now() - started),
    };
    const md = markdown(results, s, sb);
    mkdirSync(s.out, { recursive: true });
    writeFileSync(join(s.out, "many-masters.json"), `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(join(s.out, "MANY-MASTERS.md"), md);
    console.log(
      `bench: wrote ${join(s.out, "many-masters.json")} and ${join(s.out, "MANY-MASTERS.md")} (${results.totalSeconds} s in all)`,
    );
  } finally {
    for (const stop of stops.reverse()) await Promise.resolve(stop()).catch(() => undefined);
    console.log("bench: stopping the sandbox ...");
    await sb.stop();
  }
}

/** Each process's NODE_OPTIONS, as it was started. */
function nodeOptionsOf(processes: { name: string; spec: { env?: NodeJS.ProcessEnv } }[]): Record<string, string> {
  return Object.fromEntries(processes.map((p) => [p.name, p.spec.env?.NODE_OPTIONS ?? ""]));
}

/** The command line's flags that differ from the defaults, for the report. */
function flagsOf(s: Settings): string {
  const f = [
    ...(s.masters !== 200 ? [`--masters ${s.masters}`] : []),
    ...(s.host ? ["--host"] : []),
    ...(s.nodeOptions ? [`--node-options='${s.nodeOptions}'`] : []),
    ...(s.code !== "dist" ? [`--code ${s.code}`] : []),
    ...(s.controlPlaneNice !== 0 ? [`--control-plane-nice=${s.controlPlaneNice}`] : []),
    ...(s.rounds.join(",") !== MODES.join(",") ? [`--rounds ${s.rounds.join(",")}`] : []),
  ];
  return f.length > 0 ? ` -- ${f.join(" ")}` : "";
}

function describeMode(mode: Mode, sb: Sandbox): string {
  return mode === "failover"
    ? `SENTINEL FAILOVER for every master at once, round-robin over the ${sb.sentinels.length} Sentinels`
    : `SIGKILL of every master's redis-server at once (down-after-milliseconds ${sb.options.downAfterMs}, quorum ${sb.options.quorum})`;
}

/** A histogram quantile bound for the table: the bound, or `> <last bucket>`. */
function atMost(x: LatencyFromHistogram, key: "p50AtMostMs" | "p99AtMostMs"): string | number {
  const v = x[key];
  return v ?? (x.count > 0 ? `> ${x.lastBucketMs}` : "-");
}

/** The five masters with the longest +switch-master -> all right, `name ms`. */
function slowest(r: RoundResult): string {
  return r.perMaster
    .filter((p) => p.switchMs !== null && p.allMs !== null)
    .map((p) => ({ master: p.master, ms: p.allMs! - p.switchMs! }))
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 5)
    .map((p) => `${p.master} ${p.ms} ms`)
    .join(", ");
}

function processTable(rows: WindowFigures[]): string {
  return table(
    [
      "process",
      "RSS at start (MiB)",
      "peak RSS (MiB)",
      "of it anon, peak (MiB)",
      "CPU (s)",
      "waited for a CPU (s)",
      "avg CPU (% of a core)",
      "peak CPU over 1 s (%)",
    ],
    [
      ...rows.map((r) => [
        r.name,
        r.rssStartMiB,
        r.peakRssMiB,
        r.peakAnonMiB,
        r.cpuSeconds,
        r.runQueueSeconds,
        r.avgCpuPercent,
        r.peakCpuPercent1s,
      ]),
      [
        "sum of the rows",
        round1(rows.reduce((a, r) => a + r.rssStartMiB, 0)),
        "-",
        "-",
        round1(rows.reduce((a, r) => a + r.cpuSeconds, 0)),
        round1(rows.reduce((a, r) => a + r.runQueueSeconds, 0)),
        round1(rows.reduce((a, r) => a + r.avgCpuPercent, 0)),
        "-",
      ],
    ],
  );
}

function roundReport(r: RoundResult, sb: Sandbox): string {
  const row = (label: string, x: Summary) => [label, x.p50, x.p95, x.p99, x.min, x.max, x.n];
  const ms = (x: number | null) => (x === null ? "never (timeout)" : `${x} ms`);
  const errors = Object.entries(r.commandErrors)
    .map(([k, v]) => `${k} x${v}`)
    .join(", ");
  return [
    `Round "${r.mode}": ${r.masters} masters, ${describeMode(r.mode, sb)}; commands ${r.mode === "failover" ? "sent and answered" : "delivered"} in ${r.commandsMs} ms${errors ? ` (replies other than OK: ${errors}; ${r.retried} retried)` : ""}. ` +
      `Sentinel aborts: ${
        Object.entries(r.sentinelAborts)
          .map(([k, v]) => `${k} ${v}`)
          .join(", ") || "none"
      }${r.mode === "failover" ? `; failovers asked for again after an abort: ${r.resentAfterAbort}` : ""}.`,
    ``,
    table(
      ["per master, ms from the first command", "p50", "p95", "p99", "min", "max", "n"],
      [
        row("first +switch-master (any Sentinel)", r.switchMs),
        row("+switch-master from a majority of the Sentinels", r.majoritySwitchMs),
        row("pod labels right (redis-role)", r.partsMs.labels),
        row("EndpointSlice right", r.partsMs.slice),
        row("ConfigMap right (host, pod, epoch)", r.partsMs.configMap),
        row("all three right", r.allRightMs),
        row("+switch-master -> all three right", r.switchToRightMs),
        row("project's share: a majority's +switch-master -> all three right", r.projectShareMs),
      ],
    ),
    ``,
    `Every master's objects right after ${ms(r.everyMasterRightMs)} (${r.converged}/${r.masters}); last +switch-master after ${ms(r.lastSwitchMs)} (${r.switched}/${r.masters}). ` +
      `Regressions (right, then wrong again): ${r.regressions}. After the round: quorum names the expected new master for ${r.verified.quorumIsTarget}/${r.masters}, ConfigMap epoch = quorum's for ${r.verified.configMapEpochIsQuorums}/${r.masters}; ` +
      `${r.streamMessages ?? "?"} events stored in REDIS_SENTINEL; the apiserver answered 429 ${r.apiserver429} times.`,
    ``,
    `Function counters during the round: ${Object.entries(r.functionCounters)
      .map(
        ([f, c]) =>
          `${f} ${
            Object.entries(c)
              .map(([k, v]) => `${k.replace("failover_", "").replace("_total", "")}=${v}`)
              .join(" ") || "-"
          }`,
      )
      .join("; ")}.`,
    ``,
    table(
      [
        "inside the pipeline (from the processes' own histograms: bucket upper bounds)",
        "n",
        "mean (ms)",
        "p50 <= (ms)",
        "p99 <= (ms)",
        "other",
      ],
      [
        ...r.relays.map((x, i) => [
          `sentinel-relay-${i}: Sentinel message received -> JetStream ack`,
          x.publishLatencyMs.count,
          x.publishLatencyMs.meanMs,
          atMost(x.publishLatencyMs, "p50AtMostMs"),
          atMost(x.publishLatencyMs, "p99AtMostMs"),
          `${x.received} received, ${x.published} stored, ${x.duplicates} duplicates, ${x.bufferDropped} dropped, peak buffer ${x.peakBuffered}; V8 heap at most ${x.peakHeapMiB.heapTotal} MiB reserved / ${x.peakHeapMiB.heapUsed} used, external ${x.peakHeapMiB.external}`,
        ]),
        ...Object.entries(r.functionPropagationMs).map(([f, x]) => [
          `${f}: relay received +switch-master -> writes acknowledged`,
          x.count,
          x.meanMs,
          atMost(x, "p50AtMostMs"),
          atMost(x, "p99AtMostMs"),
          r.functionHeapPeakMiB[f]
            ? `V8 heap at most ${r.functionHeapPeakMiB[f].heapTotal} MiB reserved / ${r.functionHeapPeakMiB[f].heapUsed} used, external ${r.functionHeapPeakMiB[f].external}`
            : "",
        ]),
        ...Object.entries(r.functionHeapPeakMiB)
          .filter(([f]) => !(f in r.functionPropagationMs))
          .map(([f, h]) => [
            `${f}: its process`,
            "",
            "",
            "",
            "",
            `V8 heap at most ${h.heapTotal} MiB reserved / ${h.heapUsed} used, external ${h.external}`,
          ]),
        ...Object.entries(r.writesMs.functions)
          .filter(([, x]) => x.count > 0)
          .map(([resource, x]) => [
            `apply ${resource}, as the function process timed it`,
            x.count,
            x.meanMs,
            atMost(x, "p50AtMostMs"),
            atMost(x, "p99AtMostMs"),
            r.writesMs.apiserver[resource]
              ? `the apiserver's own: n ${r.writesMs.apiserver[resource].n}, mean ${r.writesMs.apiserver[resource].meanMs} ms`
              : "",
          ]),
        ...Object.entries(r.apiserverInsideMs.etcd)
          .filter(([, x]) => x.count > 0)
          .map(([op, x]) => [`kube-apiserver: etcd ${op}`, x.count, x.meanMs, atMost(x, "p50AtMostMs"), atMost(x, "p99AtMostMs"), ""]),
        ...Object.entries(r.etcdInsideMs.requests)
          .filter(([, x]) => x.count > 0)
          .map(([type, x]) => [`etcd itself: ${type} requests`, x.count, x.meanMs, atMost(x, "p50AtMostMs"), atMost(x, "p99AtMostMs"), ""]),
        ...Object.entries(r.etcdInsideMs.applies)
          .filter(([, x]) => x.count > 0)
          .map(([op, x]) => [`etcd itself: apply ${op}`, x.count, x.meanMs, atMost(x, "p50AtMostMs"), atMost(x, "p99AtMostMs"), ""]),
        [
          "etcd itself: backend commits",
          r.etcdInsideMs.backendCommit.count,
          r.etcdInsideMs.backendCommit.meanMs,
          atMost(r.etcdInsideMs.backendCommit, "p50AtMostMs"),
          atMost(r.etcdInsideMs.backendCommit, "p99AtMostMs"),
          `slow applies (over 100 ms): ${r.etcdInsideMs.slowApplies}`,
        ],
        ...Object.entries(r.apiserverInsideMs.priorityQueue)
          .filter(([, x]) => x.count > 0)
          .map(([level, x]) => [
            `kube-apiserver: waiting in priority level ${level}'s queue`,
            x.count,
            x.meanMs,
            atMost(x, "p50AtMostMs"),
            atMost(x, "p99AtMostMs"),
            "",
          ]),
        ...Object.entries(r.functionPhasesMs).flatMap(([f, phases]) =>
          Object.entries(phases)
            .filter(([, x]) => x.count > 0)
            .map(([phase, x]) => [`${f}: phase ${phase}`, x.count, x.meanMs, atMost(x, "p50AtMostMs"), atMost(x, "p99AtMostMs"), ""]),
        ),
      ],
    ),
    ``,
    `Sentinel log lines during the round (3 Sentinels): ${SENTINEL_LOG_KEYS.map((k) => `${k} ${r.sentinelLog[k] ?? 0}`).join(", ")}.`,
    ``,
    `Function log lines during the round: ${Object.entries(r.functionLog)
      .map(
        ([f, c]) =>
          `${f}: ${
            Object.entries(c)
              .map(([k, v]) => `"${k}" ${v}`)
              .join(", ") || "-"
          }`,
      )
      .join("; ")}.`,
    ``,
    `Slowest masters from +switch-master to all right: ${slowest(r)}.`,
    ``,
    `Processes from the first command to every master right (${seconds(r.windowMs)} s; the whole machine was ${r.machineBusyPercent}% busy, all ${cpus().length} cores):`,
    ``,
    processTable(r.processes),
  ].join("\n");
}

function markdown(res: Results, s: Settings, sb: Sandbox): string {
  const n = res.settings.masters;
  const perProcess = Object.entries(res.settings.nodeOptionsByProcess).map(([name, o]) => `${name} "${o}"`);
  const nodeOptionsText = `${perProcess.join(", ")}${s.nodeOptions ? "" : ` (the image's "${IMAGE_NODE_OPTIONS}", its percentage taken of each one's Deployment's memory limit)`}`;
  const m = res.machine;
  const start = res.sandboxStart
    .map((a) => `${a.masters} masters: ${a.ok ? `started and settled in ${a.seconds} s` : `failed after ${a.seconds} s (${a.error})`}`)
    .join("; ");
  const cold = res.coldStart;
  const perFn = (x: Record<string, Record<string, number>>) =>
    Object.entries(x)
      .map(
        ([f, c]) =>
          `${f}: ${
            Object.entries(c)
              .map(([k, v]) => `${k.replace("failover_", "").replace("_total", "")} ${v}`)
              .join(", ") || "-"
          }`,
      )
      .join("; ");
  return [
    `# Many masters: ${n} masters failed over at once`,
    ``,
    `Goals (issue 13), each the worst over this run: the project's share (a majority of the Sentinels' +switch-master -> a master's labels, EndpointSlice and ConfigMap right) **p95 ${res.projectShareP95Ms} ms** (goal <= 1000); ` +
      `largest project process's RSS idle **${res.idleRssMb ?? "-"} MB** (goal < 80; the largest anonymous part ${res.idleRssAnonMb ?? "-"} MB) and at its peak **${res.peakRssMb} MB** (goal < 150); the apiserver answered **429 ${res.apiserver429} times** (goal 0).`,
    ``,
    `${res.when}, ${m.cpus} cores (${m.cpuModel}), ${m.memoryGiB} GiB, Node ${m.node}. \`npm run bench:masters${flagsOf(s)}\` (bench/many-masters.ts, issue #6); ${res.totalSeconds} s in all.`,
    ``,
    `Setup: ${n} masters${n !== s.masters ? ` (**${s.masters} requested, fell back**)` : ""} x 2 redis-server, 3 Sentinels (quorum ${sb.options.quorum}, down-after ${sb.options.downAfterMs} ms, failover-timeout ${sb.options.failoverTimeoutMs} ms), ` +
      `2 sentinel-relays, ${s.host ? "one functions host running" : "one process each for"} ${FUNCTIONS.join(", ")}, ${s.code === "dist" ? "running tsc's build (node dist/bin/failover.js, as the production image)" : "running the TypeScript sources (node bin/failover.ts, as the dev image)"} with NODE_OPTIONS ${nodeOptionsText}; ${s.controlPlaneNice !== 0 ? `**etcd, kube-apiserver and kube-controller-manager at niceness ${s.controlPlaneNice}** (a stand-in for a control plane on machines of its own), every other process at 0` : "every process at niceness 0 (the control plane shares the 2 cores with 400 redis-servers as an equal)"}; MASTERS maps master-<m> to Service / ConfigMap redis-<m>-master (${s.createService ? "Services created by master-endpoints" : "Services pre-created"}). Sandbox start: ${start}.`,
    ``,
    `"Right" per master = pod labels redis-role (master on the new master's pod only), the EndpointSlice of its Service listing exactly the new master, its ConfigMap naming the new master's host and pod with a newer epoch; watched from the benchmark's side. Times are from the first command (t0). RSS = VmRSS, CPU = utime + stime from /proc, "waited for a CPU" = the run-queue time of its threads (/proc/<pid>/task/*/schedstat, a lower bound: an ended thread takes its share along), sampled every ${s.sampleMs} ms.`,
    ``,
    `## Cold start`,
    ``,
    `Project ready in ${seconds(res.projectReadyMs)} s; every master's objects right ${cold.everyMasterRightMs === null ? "never (timeout)" : `${seconds(cold.everyMasterRightMs)} s`} after the project started; ${cold.rightWithin30s}/${n} masters were right within 30 s (the first resync runs at start, the next 30 s later).`,
    ``,
    `Function counters since start: ${perFn(cold.functionCounters)}.`,
    ``,
    `Function log lines since start: ${perFn(cold.functionLog)}.`,
    ``,
    ...res.rounds.flatMap((r) => [`## Round "${r.mode}"`, ``, roundReport(r, sb), ``]),
    ...(res.idle
      ? [
          `## Idle (${res.idle.ms / 1000} s, every master converged, resync every 30 s; the machine ${res.idle.machineBusyPercent}% busy)`,
          ``,
          processTable(res.idle.processes),
          ``,
          `V8 heap at the window's end, MiB reserved / used / external: ${Object.entries(res.idle.heapMiB)
            .map(([p, h]) => `${p} ${h.heapTotal} / ${h.heapUsed} / ${h.external}`)
            .join("; ")}.`,
          ``,
        ]
      : []),
  ].join("\n");
}

if (!inSandboxNamespace()) process.exit(reexecInSandbox());
await main();
