/**
 * What the function pods themselves say about a stretch of a run, read before and after it:
 * where each event's time went inside them (failover_event_phase_seconds: delivery, lane,
 * verify, converge) and how often the kernel throttled their CPU (the CFS quota of their pod's
 * cgroup on this node, cpu.stat: nr_periods, nr_throttled, throttled_time).
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { CoreV1Api } from "@kubernetes/client-node";
import type { KubeConfig } from "@kubernetes/client-node";
import { controllerMount, podCgroup } from "./cpu-share.ts";
import { histogram, histogramDelta, quantileBound, scrape, total } from "./prom-scrape.ts";
import type { Histogram, PromSeries } from "./prom-scrape.ts";

export const PHASES = ["delivery", "lane", "verify", "converge"] as const;
const PHASE_METRIC = "failover_event_phase_seconds";

export interface FunctionPod {
  pod: string;
  fn: string;
  ip: string;
  uid: string;
}

/** The running function pods of `namespace` (label app.kubernetes.io/component=function). */
export async function functionPods(kc: KubeConfig, namespace: string): Promise<FunctionPod[]> {
  const list = await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace, labelSelector: "app.kubernetes.io/component=function" });
  return list.items
    .filter((p) => p.status?.phase === "Running" && p.status.podIP && !p.metadata?.deletionTimestamp)
    .map((p) => ({
      pod: p.metadata!.name!,
      fn: p.metadata!.labels!["app.kubernetes.io/name"]!,
      ip: p.status!.podIP!,
      uid: p.metadata!.uid!,
    }));
}

export interface CpuStat {
  periods: number;
  throttledPeriods: number;
  throttledMs: number;
}

/** cgroup v1 cpu.stat text: nr_periods, nr_throttled, throttled_time (ns). */
export function parseCpuStat(text: string): CpuStat {
  const v = Object.fromEntries(text.split("\n").map((l) => l.trim().split(/\s+/) as [string, string]));
  return {
    periods: Number(v.nr_periods ?? 0),
    throttledPeriods: Number(v.nr_throttled ?? 0),
    throttledMs: Number(v.throttled_time ?? 0) / 1e6,
  };
}

/**
 * The pod's cpu.stat in the node's cgroup tree (the kubelet's cgroupfs layout:
 * `<root>/kubepods[/burstable|/besteffort]/pod<uid>`), its own and its containers' summed: a
 * container limit throttles in the container's cgroup, the pod's sum of limits in the pod's.
 */
export function podCpuStat(cgroupRoot: string, uid: string): CpuStat | undefined {
  const mount = controllerMount("cpu");
  const dir = mount === undefined ? undefined : podCgroup(mount, cgroupRoot, uid);
  if (dir === undefined) return undefined;
  const dirs = [
    dir,
    ...readdirSync(dir)
      .map((e) => join(dir, e))
      .filter((d) => statSync(d).isDirectory()),
  ];
  return dirs
    .map((d) => parseCpuStat(readFileSync(join(d, "cpu.stat"), "utf8")))
    .reduce((a, b) => ({
      periods: a.periods + b.periods,
      throttledPeriods: a.throttledPeriods + b.throttledPeriods,
      throttledMs: a.throttledMs + b.throttledMs,
    }));
}

export interface PodSnapshot {
  metrics: PromSeries[];
  cpu: CpuStat | undefined;
}

/** Every function pod's metrics and cpu.stat now, by pod name. */
export async function snapshot(pods: FunctionPod[], cgroupRoot: string): Promise<Map<string, PodSnapshot>> {
  const out = new Map<string, PodSnapshot>();
  await Promise.all(
    pods.map(async (p) => out.set(p.pod, { metrics: await scrape(`http://${p.ip}:8080/metrics`), cpu: podCpuStat(cgroupRoot, p.uid) })),
  );
  return out;
}

export interface PhaseFigure {
  n: number;
  /** Exact: the histogram's sum over its count. */
  meanMs: number;
  /** Upper bounds of the buckets holding the p50 and the p99. */
  p50BoundMs: number;
  p99BoundMs: number;
}

const ms = (s: number) => Math.round(s * 1000 * 10) / 10;

/** A histogram of seconds (a delta with count > 0) as milliseconds: the exact mean, the p50 and p99 buckets' bounds. */
export function histogramFigure(h: Histogram): PhaseFigure {
  return { n: h.count, meanMs: ms(h.sum / h.count), p50BoundMs: ms(quantileBound(h, 0.5)), p99BoundMs: ms(quantileBound(h, 0.99)) };
}

/**
 * Per function and phase, what changed between two snapshots (pods missing from either are left
 * out). By the series' own `fn` label: a functions host's one pod holds several functions.
 */
export function phaseFigures(
  pods: FunctionPod[],
  before: Map<string, PodSnapshot>,
  after: Map<string, PodSnapshot>,
): Record<string, Partial<Record<(typeof PHASES)[number], PhaseFigure>>> {
  const out: Record<string, Partial<Record<(typeof PHASES)[number], PhaseFigure>>> = {};
  for (const p of pods) {
    const b = before.get(p.pod);
    const a = after.get(p.pod);
    if (!b || !a) continue;
    const fns = new Set(a.metrics.filter((s) => s.name.startsWith(PHASE_METRIC) && s.labels.fn).map((s) => s.labels.fn!));
    for (const fn of fns) {
      for (const phase of PHASES) {
        const h = histogramDelta(histogram(b.metrics, PHASE_METRIC, { fn, phase }), histogram(a.metrics, PHASE_METRIC, { fn, phase }));
        if (h.count > 0) (out[fn] ??= {})[phase] = histogramFigure(h);
      }
    }
  }
  return out;
}

/** Per function, the CFS throttling between two snapshots. */
export function throttling(
  pods: FunctionPod[],
  before: Map<string, PodSnapshot>,
  after: Map<string, PodSnapshot>,
): Record<string, CpuStat> {
  const out: Record<string, CpuStat> = {};
  for (const p of pods) {
    const b = before.get(p.pod)?.cpu;
    const a = after.get(p.pod)?.cpu;
    if (!b || !a) continue;
    const t = (out[p.fn] ??= { periods: 0, throttledPeriods: 0, throttledMs: 0 });
    t.periods += a.periods - b.periods;
    t.throttledPeriods += a.throttledPeriods - b.throttledPeriods;
    t.throttledMs = Math.round((t.throttledMs + a.throttledMs - b.throttledMs) * 10) / 10;
  }
  return out;
}

const REQUEST_METRIC = "failover_kube_request_seconds";

/**
 * The functions' Kubernetes requests between two snapshots, as the functions timed them
 * (failover_kube_request_seconds, every pod's summed), per `verb resource` that succeeded, and the
 * connections they opened to the apiserver meanwhile (each a TCP and TLS handshake).
 */
export function kubeRequests(
  before: Map<string, PodSnapshot>,
  after: Map<string, PodSnapshot>,
): { requestsMs: Record<string, PhaseFigure>; connectionsOpened: number } {
  const all = (m: Map<string, PodSnapshot>) => [...m.values()].flatMap((p) => p.metrics);
  const [b, a] = [all(before), all(after)];
  const requestsMs: Record<string, PhaseFigure> = {};
  const kinds = new Set(
    a.filter((s) => s.name === `${REQUEST_METRIC}_count` && s.labels.code === "ok").map((s) => `${s.labels.verb} ${s.labels.resource}`),
  );
  for (const kind of [...kinds].sort()) {
    const [verb, resource] = kind.split(" ") as [string, string];
    const labels = { verb, resource, code: "ok" };
    const h = histogramDelta(histogram(b, REQUEST_METRIC, labels), histogram(a, REQUEST_METRIC, labels));
    if (h.count > 0) requestsMs[kind] = histogramFigure(h);
  }
  const connections = "failover_kube_connections_opened_total";
  return { requestsMs, connectionsOpened: total(a, connections) - total(b, connections) };
}
