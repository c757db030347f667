/**
 * The chaos suite's world on the sandbox's real node: the dev overlay deployed once by
 * `skaffold run -p sandbox` (down-after 3 s, failover-timeout 10 s, the write fence on), and per
 * scenario two writers (a plain client through the `redis-master` ClusterIP via kube-proxy, a
 * sentinel-aware ioredis asking the Sentinel pods) with the referee judging Kubernetes against the
 * servers. What a scenario does to the stack is real: a crash is the redis process SIGKILLed and
 * its pod force-deleted (a new pod, through the init container), a freeze is SIGSTOP on the
 * container's process, a partition is iptables rules in a pod's own network namespace.
 */
import { execFile } from "node:child_process";
import { rmSync } from "node:fs";
import { promisify } from "node:util";
import { CoreV1Api } from "@kubernetes/client-node";
import { Redis } from "ioredis";
import { waitFor } from "../../sandbox/index.ts";
import type { Sandbox } from "../../sandbox/index.ts";
import { Referee } from "../support/referee.ts";
import type { Violation } from "../support/referee.ts";
import { copyCheckout, mainPid, NS, picture, podsIn, ready, skaffoldRun, startNodeSandbox, startWriters, waitOneMaster } from "../support/stack.ts";
import type { Picture } from "../support/stack.ts";
import type { Writer } from "../../sandbox/writer.ts";

const run = promisify(execFile);

// overlays/dev's generated credentials.
export const PASSWORD = "dev-redis-password-change-me";
export const SENTINEL_PASSWORD = "dev-sentinel-password-change-me";
/** What the referee allows Kubernetes after a new master exists. */
export const GRACE_MS = 2000;
/** overlays/dev's down-after-milliseconds and the base's min-replicas-max-lag. */
export const DOWN_AFTER_MS = 3000;
export const MAX_LAG_S = 3;

export interface NodeWorld {
  sb: Sandbox;
  clusterIp: string;
  stop(): Promise<void>;
}

export async function startNodeWorld(): Promise<NodeWorld> {
  const sb = await startNodeSandbox();
  let workdir: string | undefined;
  try {
    workdir = await copyCheckout();
    await skaffoldRun(sb, workdir, ["-p", "sandbox", "--tag", "chaos"], "skaffold-run-chaos.log");
    const clusterIp = (await sb.kubeConfig.makeApiClient(CoreV1Api).readNamespacedService({ name: "redis-master", namespace: NS })).spec!.clusterIP!;
    const wd = workdir;
    return {
      sb,
      clusterIp,
      stop: async () => {
        rmSync(wd, { recursive: true, force: true });
        await sb.stop();
      },
    };
  } catch (err) {
    if (workdir) rmSync(workdir, { recursive: true, force: true });
    await sb.stop();
    throw err;
  }
}

/** A short-lived connection to a pod's redis (6379) or sentinel (26379). */
export async function onPod<T>(host: string, port: 6379 | 26379, fn: (r: Redis) => Promise<T>, timeoutMs = 2000): Promise<T> {
  const r = new Redis({ host, port, password: port === 6379 ? PASSWORD : SENTINEL_PASSWORD, lazyConnect: true, connectTimeout: timeoutMs, commandTimeout: timeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on("error", () => undefined);
  try {
    await r.connect();
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

const redisPods = (p: Picture) => Object.keys(p.ipOf).filter((n) => /^redis-\d$/.test(n)).sort();
const sentinelPods = (p: Picture) => Object.keys(p.ipOf).filter((n) => /^sentinel-\d$/.test(n)).sort();

/**
 * Settled: every redis and sentinel pod Ready, one master in every picture, every Sentinel naming
 * it, and the master serving both replicas with their links up.
 */
export async function waitSettled(sb: Sandbox, timeoutMs = 180_000): Promise<Picture & { master: string }> {
  return waitFor(
    "the stack settled (all pods Ready, one master everywhere, Sentinels agreeing, two replicas online)",
    async () => {
      const pods = (await podsIn(sb)).filter((p) => /^(redis|sentinel)-\d$/.test(p.metadata?.name ?? ""));
      if (pods.length !== 6 || !pods.every((p) => ready(p) && !p.metadata?.deletionTimestamp)) return undefined;
      const p = await picture(sb);
      const m = p.labelled[0];
      if (!m || p.labelled.length !== 1 || p.endpoints.length !== 1 || p.endpoints[0] !== p.ipOf[m] || p.configMapPod !== m) return undefined;
      const host = p.ipOf[m]!;
      const named = await Promise.all(sentinelPods(p).map((s) => onPod(p.ipOf[s]!, 26379, (r) => r.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster")).catch(() => undefined)));
      if (!named.every((n) => (n as string[] | undefined)?.[0] === host)) return undefined;
      const info = await onPod(host, 6379, (r) => r.call("INFO", "replication")).catch(() => "");
      const online = String(info).match(/^slave\d+:.*state=online/gm)?.length ?? 0;
      return online === 2 ? { ...p, master: m } : undefined;
    },
    { timeoutMs, intervalMs: 250 },
  );
}

/** min-replicas-to-write on every redis pod (1: the base's write fence; 0: the default config of Redis). */
export async function setWriteFence(sb: Sandbox, on: boolean): Promise<void> {
  const p = await picture(sb);
  await Promise.all(redisPods(p).map((n) => onPod(p.ipOf[n]!, 6379, (r) => r.call("CONFIG", "SET", "min-replicas-to-write", on ? "1" : "0"))));
}

/** A crash: the master's redis SIGKILLed and its pod force-deleted at once (no preStop; the StatefulSet makes a new pod through the init container). */
export async function crash(sb: Sandbox, pod: string): Promise<number> {
  const pid = await mainPid(sb, pod, "redis");
  const at = performance.now();
  process.kill(pid, "SIGKILL");
  await sb.kubectl("-n", NS, "delete", "pod", pod, "--grace-period=0", "--force", "--wait=false");
  return at;
}

/**
 * Drops every packet between `pod` and `peers` (both directions) inside `pod`'s own network
 * namespace, with iptables rules that `heal()` removes (the namespace goes with the pod anyway).
 */
export async function partition(sb: Sandbox, pod: string, container: string, peers: string[]): Promise<{ heal(): Promise<void> }> {
  const pid = await mainPid(sb, pod, container);
  const rules = peers.flatMap((ip) => [["INPUT", "-s", ip], ["OUTPUT", "-d", ip]]);
  const ipt = (op: "-I" | "-D", rule: string[]) => run("nsenter", ["-t", String(pid), "-n", "iptables", "-w", op, rule[0]!, ...rule.slice(1), "-j", "DROP"]);
  const added: string[][] = [];
  try {
    for (const r of rules) {
      await ipt("-I", r);
      added.push(r);
    }
  } catch (err) {
    for (const r of added) await ipt("-D", r).catch(() => undefined);
    throw err;
  }
  let healed = false;
  return {
    heal: async () => {
      if (healed) return;
      healed = true;
      // The pod may be gone (then so are its namespace and rules); otherwise every rule must go.
      for (const r of added) {
        await ipt("-D", r).catch((err: unknown) => {
          if (alive(pid)) throw err;
        });
      }
    },
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface Judged {
  plain: Writer;
  aware: Writer;
  referee: Referee;
  /** Stops both writers and the referee; lost = acknowledged writes missing from the master then. */
  finish(): Promise<{ plainLost: number[]; awareLost: number[]; violations: Violation[]; twoMasters: string[]; master: Picture & { master: string } }>;
}

/** Two writers and the referee, for one scenario. */
export async function judge(world: NodeWorld, o: { keyPrefix: string; commandTimeoutMs?: number; waitReplicas?: { replicas: number; timeoutMs: number } }): Promise<Judged> {
  const { sb } = world;
  const referee = new Referee({ kc: sb.kubeConfig, namespace: NS, masterName: "mymaster", password: PASSWORD, sentinelPassword: SENTINEL_PASSWORD, graceMs: GRACE_MS });
  await referee.start();
  const writers = await startWriters(sb, { clusterIp: world.clusterIp, password: PASSWORD, sentinelPassword: SENTINEL_PASSWORD, keyPrefix: o.keyPrefix, commandTimeoutMs: o.commandTimeoutMs ?? 1000, waitReplicas: o.waitReplicas });
  await waitFor("both writers acknowledged", () => writers.plain.acks.length > 20 && writers.aware.acks.length > 20, { timeoutMs: 30_000 });
  return {
    plain: writers.plain,
    aware: writers.aware,
    referee,
    finish: async () => {
      const master = await waitSettled(sb);
      const { plainLost, awareLost, violations: twoMasters } = await writers.stop(master.ipOf[master.master]!);
      return { plainLost, awareLost, violations: referee.stop(), twoMasters, master };
    },
  };
}

/** "n acknowledged, m lost, longest gap g ms" for a [figure] line. */
export const summary = (w: Writer, lost: number[]): string => `${w.acks.length} acknowledged, ${lost.length} lost, longest gap ${w.longestGapMs()} ms`;

export { redisPods, sentinelPods, waitOneMaster };
