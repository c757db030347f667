/**
 * One chaos scenario's world (process mode): the sandbox, the project (relay + functions), a
 * writer through redis-master that records every acknowledged write, and the referee
 * (test/support/referee.ts) judging what Kubernetes says against the servers. `finish()` stops the
 * writer and the referee and returns the report. Stand-ins of process mode: the writer reaches
 * redis-master through the in-process resolver (sandbox/service-resolver.ts), not kube-proxy, and
 * pod statuses are written by the sandbox. The same referee judges real pods in
 * test/integration/failover-on-node.test.ts.
 */
import { startSandbox } from "../../sandbox/sandbox.ts";
import type { Sandbox, SandboxOptions } from "../../sandbox/sandbox.ts";
import { startProject } from "../../sandbox/project.ts";
import type { Project, ProjectOptions } from "../../sandbox/project.ts";
import { ServiceResolver } from "../../sandbox/service-resolver.ts";
import { waitFor } from "../../sandbox/wait.ts";
import { Writer } from "../../sandbox/writer.ts";
import type { WriterOptions } from "../../sandbox/writer.ts";
import { Referee } from "../support/referee.ts";
import type { Violation } from "../support/referee.ts";

/** What the referee allows Kubernetes after a new master exists. */
export const GRACE_MS = 2000;

export interface Report {
  acknowledged: number;
  lost: number;
  lostIds: number[];
  /** Longest gap between two acknowledged writes (ms): time with no master reachable. */
  longestGapMs: number;
  violations: Violation[];
  /** Longest time Kubernetes named another host after a new master existed (ms). */
  longestLagMs: number;
}

export interface World {
  sb: Sandbox;
  project: Project;
  resolver: ServiceResolver;
  writer: Writer;
  referee: Referee;
  /** Kills the current master; resolves when the Sentinels named a new one and everything converged; restarts the old one as replica. */
  killMaster(): Promise<{ killedAt: number; from: string; to: string }>;
  finish(): Promise<Report>;
  stop(): Promise<void>;
}

export async function startWorld(
  options: { sandbox?: SandboxOptions; project?: ProjectOptions; writer?: Partial<WriterOptions> } = {},
): Promise<World> {
  const sb = await startSandbox(options.sandbox);
  let project: Project | undefined;
  let resolver: ServiceResolver | undefined;
  let referee: Referee | undefined;
  let writer: Writer | undefined;
  const stop = async () => {
    await writer?.stop();
    referee?.stop();
    resolver?.stop();
    await project?.stop();
    await sb.stop();
  };
  try {
    project = await startProject(sb, options.project);
    resolver = new ServiceResolver(sb.kubeConfig, sb.namespace, "redis-master");
    await resolver.start();
    const first = await sb.currentMaster("mymaster");
    await waitFor("redis-master to name the master", () => resolver!.address?.host === first.host, { timeoutMs: 60_000 });
    referee = new Referee({
      kc: sb.kubeConfig,
      namespace: sb.namespace,
      masterName: "mymaster",
      password: sb.password,
      sentinelPassword: sb.sentinelPassword,
      graceMs: GRACE_MS,
    });
    await referee.start();
    const r = resolver;
    writer = new Writer({ target: () => r.address, password: sb.password, keyPrefix: "chaos", ...options.writer });
    writer.start();
  } catch (err) {
    await stop();
    throw err;
  }
  const w = writer;
  const ref = referee;
  const res = resolver;
  return {
    sb,
    project,
    resolver: res,
    writer: w,
    referee: ref,
    async killMaster() {
      await sb.waitSettled();
      const old = await sb.currentMaster("mymaster");
      const killedAt = performance.now();
      await sb.redisAt(old.address)!.process.kill();
      const now = await sb.waitForNewMaster("mymaster", old.address);
      await waitFor("redis-master to follow", () => res.address?.host === now.host, { timeoutMs: 30_000, intervalMs: 10 });
      await waitFor("a write on the new master", () => w.firstAckAfter(killedAt, now.host), { timeoutMs: 30_000, intervalMs: 10 });
      await sb.redisAt(old.address)!.restart({ replicaOf: now.address });
      return { killedAt, from: old.host, to: now.host };
    },
    async finish() {
      await w.stop();
      const violations = ref.stop();
      const m = await sb.currentMaster("mymaster");
      const lost = await w.checkLost({ host: m.host, port: m.port }, sb.password);
      return {
        acknowledged: w.acks.length,
        lost: lost.length,
        lostIds: lost,
        longestGapMs: w.longestGapMs(),
        violations,
        longestLagMs: ref.longestLagMs,
      };
    },
    stop,
  };
}

/** Acknowledged writes lost, split by when they were acknowledged relative to the kills. */
export function lossWindow(writer: Writer, lost: number[], kills: number[]): { maxMsBeforeKill: number } {
  let max = 0;
  for (const id of lost) {
    const ack = writer.acks.find((a) => a.id === id);
    if (!ack) continue;
    const before = kills.filter((k) => k >= ack.at).map((k) => k - ack.at);
    max = Math.max(max, before.length ? Math.min(...before) : Number.POSITIVE_INFINITY);
  }
  return { maxMsBeforeKill: Math.round(max) };
}
