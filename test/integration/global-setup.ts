/**
 * Integration tests need real servers: a missing binary or running outside the sandbox namespace
 * is a setup failure with a clear message, never a skip. After the run, no process that the
 * sandbox starts may be left (the run has a PID namespace of its own, so /proc shows only ours).
 */
import { readdirSync, readFileSync } from "node:fs";
import { binaryPath } from "../../sandbox/paths.ts";
import { procStat } from "../../sandbox/process.ts";
import { inSandboxNamespace } from "../../sandbox/addresses.ts";
import { nodeCgroupTrees, sweepStaleNodeCgroups } from "../../sandbox/node/cgroups.ts";

const SANDBOX_COMMANDS = [
  "redis-server",
  "redis-sentinel",
  "valkey-server",
  "valkey-sentinel",
  "nats-server",
  "etcd",
  "kube-apiserver",
  "kube-controller",
  "haproxy",
  // the node: its daemons, containerd's shims (comm is cut at 15 characters) and the pause process
  "containerd",
  "kubelet",
  "kube-proxy",
  "kube-scheduler",
  "coredns",
  "pause",
  "registry",
  // skaffold dev (skaffold-on-node.test.ts) and the port-forwards it runs
  "skaffold",
  "kubectl",
];

/** Processes (pid, command) of the sandbox's kinds visible in /proc. */
export function sandboxProcesses(): { pid: number; comm: string }[] {
  const out: { pid: number; comm: string }[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const comm = readFileSync(`/proc/${entry}/comm`, "utf8").trim();
      const state = procStat(Number(entry))[0];
      if (state !== "Z" && SANDBOX_COMMANDS.some((c) => comm.startsWith(c))) out.push({ pid: Number(entry), comm });
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

export function setup(): () => void {
  if (!inSandboxNamespace()) {
    throw new Error(
      "integration tests must run inside the sandbox namespace: use `npm test` (or `bash sandbox/setup/in-sandbox-netns.sh npm run test:integration`)",
    );
  }
  for (const b of [
    "redis-server",
    "redis-sentinel",
    "valkey-server",
    "valkey-sentinel",
    "nats-server",
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kubectl",
    "kubelet",
    "kube-proxy",
    "kube-scheduler",
    "containerd",
    "containerd-shim-runc-v2",
    "ctr",
    "coredns",
    "runc",
    "registry",
    "skaffold",
    "buildah",
  ] as const) {
    binaryPath(b); // throws MissingBinaryError naming `npm run setup`
  }
  // A run killed before it could clean up leaves empty node cgroups (its processes died with its PID namespace).
  sweepStaleNodeCgroups();
  const before = sandboxProcesses();
  if (before.length > 0) throw new Error(`sandbox processes already running before the tests: ${JSON.stringify(before)}`);
  return () => {
    const left = sandboxProcesses();
    if (left.length > 0) throw new Error(`the tests left sandbox processes running: ${JSON.stringify(left)}`);
    const cgroups = nodeCgroupTrees();
    if (cgroups.length > 0) throw new Error(`the tests left node cgroups: ${JSON.stringify(cgroups)}`);
  };
}
