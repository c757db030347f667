/**
 * Where the machine's CPU goes over a stretch of a run, by component: every pod of the node by its
 * app.kubernetes.io/name (cpuacct.usage of its pod cgroup: all its containers), and of it the
 * containers' main processes (`pod <app>: main processes and their children`: each container's
 * pid 1 as crictl reports it with its descendants, live or reaped, such as redis' RDB and AOF
 * rewrite forks or the child of `node --watch`; not the exec probes, which runc starts in the
 * container's cgroup but outside that tree, so they count in the pod's figure only), the node's and the
 * control plane's processes (utime + stime of each), the rest of the node's own cgroup (shims,
 * runc, exec probes), this process, and the whole machine's busy time. Read before and after, as
 * CPU ms per round.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CoreV1Api } from "@kubernetes/client-node";
import { procStat } from "../../sandbox/process.ts";
import type { Sandbox } from "../../sandbox/sandbox.ts";
import { containerProcesses } from "../../sandbox/stack.ts";
import { hierarchies } from "../../sandbox/node/cgroups.ts";
import { machineTicks } from "./proc-sampler.ts";

/** Kernel clock ticks per second (USER_HZ), 100 on Linux. */
const USER_HZ = 100;

/** utime + stime of one process, ms (with `children`, plus cutime + cstime: the children it has reaped); 0 when it is gone. */
export function processCpuMs(pid: number | undefined, o: { children?: boolean } = {}): number {
  if (pid === undefined) return 0;
  try {
    const rest = procStat(pid); // utime is field 14, stime 15, cutime 16, cstime 17
    const ticks = Number(rest[11]) + Number(rest[12]) + (o.children ? Number(rest[13]) + Number(rest[14]) : 0);
    return (ticks * 1000) / USER_HZ;
  } catch {
    return 0;
  }
}

/** The live descendants of `pid` (from /proc/<pid>/task/<tid>/children), depth first; none when it is gone. */
function descendants(pid: number): number[] {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const children = tasks.flatMap((tid) => {
    try {
      return readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").split(" ").filter(Boolean).map(Number);
    } catch {
      return [];
    }
  });
  return children.flatMap((c) => [c, ...descendants(c)]);
}

/**
 * CPU of a process tree, ms: `pid` and its live descendants (utime + stime of each), and what each
 * of them reaped (cutime + cstime), so a process that runs the work in a child (`node --watch`)
 * or forks it (redis' RDB and AOF rewrite) counts it, and nothing counts twice.
 */
export function processTreeCpuMs(pid: number): number {
  return [pid, ...descendants(pid)].reduce((sum, p) => sum + processCpuMs(p, { children: true }), 0);
}

/** Where the cgroup v1 hierarchy holding `controller` is mounted (cpu and cpuacct share one here). */
export function controllerMount(controller: string): string | undefined {
  return hierarchies().find((h) => h.key.split(",").includes(controller))?.mount;
}

/** cpuacct.usage of a cgroup directory, ms; 0 when it is gone. */
function cgroupCpuMs(dir: string): number {
  try {
    return Number(readFileSync(join(dir, "cpuacct.usage"), "utf8")) / 1e6;
  } catch {
    return 0;
  }
}

/** The pod cgroup of pod `uid` in the node's tree (the kubelet's cgroupfs layout: `<root>/kubepods[/burstable|/besteffort]/pod<uid>`), if there is one. */
export function podCgroup(mount: string, root: string, uid: string): string | undefined {
  for (const qos of ["", "burstable", "besteffort"]) {
    const dir = join(mount, root, "kubepods", qos, `pod${uid}`);
    if (existsSync(dir)) return dir;
  }
  return undefined;
}

/** CPU ms used so far, by component. */
export async function cpuByComponent(sb: Sandbox, namespace: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const add = (name: string, ms: number) => (out[name] = (out[name] ?? 0) + ms);
  const mount = controllerMount("cpuacct");
  const node = sb.node;
  if (mount && node) {
    const pods = await sb.kubeConfig.makeApiClient(CoreV1Api).listNamespacedPod({ namespace });
    const appOf = new Map(pods.items.map((p) => [p.metadata!.name!, p.metadata?.labels?.["app.kubernetes.io/name"] ?? p.metadata!.name!]));
    for (const p of pods.items) {
      const dir = podCgroup(mount, node.cgroups.root, p.metadata!.uid!);
      if (dir) add(`pod ${appOf.get(p.metadata!.name!)}`, cgroupCpuMs(dir));
    }
    for (const c of await containerProcesses(sb, namespace))
      add(`pod ${appOf.get(c.pod) ?? c.pod}: main processes and their children`, processTreeCpuMs(c.pid));
    const own = [node.kubelet, node.containerd, node.kubeProxy].map((x) => processCpuMs(x.pid));
    add("node: kubelet", own[0]!);
    add("node: containerd", own[1]!);
    add("node: kube-proxy", own[2]!);
    const leaf = join(mount, node.cgroups.root, "node");
    if (existsSync(leaf)) add("node: shims, runc, exec probes", cgroupCpuMs(leaf) - own.reduce((a, b) => a + b, 0));
    add("kube-scheduler", processCpuMs(node.scheduler.pid));
    add("coredns", processCpuMs(node.coredns.pid));
  }
  const cp = sb.controlPlane;
  if (cp) {
    add("kube-apiserver", processCpuMs(cp.apiserver.pid));
    add("etcd", processCpuMs(cp.etcd.pid));
    add("kube-controller-manager", processCpuMs(cp.controllerManager.pid));
  }
  const self = process.cpuUsage();
  add("bench (this process)", (self.user + self.system) / 1000);
  add("machine: busy", (machineTicks().busy * 1000) / USER_HZ);
  return out;
}

/** CPU ms per round of each component between two readings, largest first. */
export function cpuPerRound(before: Record<string, number>, after: Record<string, number>, rounds: number): [string, number][] {
  return Object.keys(after)
    .map((k): [string, number] => [k, Math.round(((after[k]! - (before[k] ?? 0)) / rounds) * 10) / 10])
    .sort((a, b) => b[1] - a[1]);
}
