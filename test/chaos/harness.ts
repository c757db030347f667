/**
 * One chaos scenario's world: the sandbox, the project (relay + functions), a writer through
 * redis-master that records every acknowledged write, and the checker watching what Kubernetes
 * says. `finish()` stops the writer and returns the checker's report.
 */
import { startSandbox } from "../../sandbox/sandbox.ts";
import type { Sandbox, SandboxOptions } from "../../sandbox/sandbox.ts";
import { startProject } from "../../sandbox/project.ts";
import type { Project, ProjectOptions } from "../../sandbox/project.ts";
import { ServiceResolver } from "../../sandbox/service-resolver.ts";
import { waitFor } from "../../sandbox/wait.ts";
import { Writer } from "../../sandbox/writer.ts";
import type { WriterOptions } from "../../sandbox/writer.ts";
import { Checker } from "./checker.ts";
import type { Report } from "./checker.ts";

export interface World {
  sb: Sandbox;
  project: Project;
  resolver: ServiceResolver;
  writer: Writer;
  checker: Checker;
  /** Kills the current master; resolves when the Sentinels named a new one and everything converged; restarts the old one as replica. */
  killMaster(): Promise<{ killedAt: number; from: string; to: string }>;
  finish(): Promise<Report>;
  stop(): Promise<void>;
}

export async function startWorld(options: { sandbox?: SandboxOptions; project?: ProjectOptions; writer?: Partial<WriterOptions> } = {}): Promise<World> {
  const sb = await startSandbox(options.sandbox);
  let project: Project | undefined;
  let resolver: ServiceResolver | undefined;
  let checker: Checker | undefined;
  let writer: Writer | undefined;
  const stop = async () => {
    await writer?.stop();
    await checker?.stop();
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
    checker = new Checker(sb, resolver);
    await checker.start();
    const r = resolver;
    writer = new Writer({ target: () => r.address, password: sb.password, keyPrefix: "chaos", ...options.writer });
    writer.start();
  } catch (err) {
    await stop();
    throw err;
  }
  const w = writer;
  const c = checker;
  const res = resolver;
  return {
    sb,
    project,
    resolver: res,
    writer: w,
    checker: c,
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
      await c.stop();
      return c.report(w, "mymaster");
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
