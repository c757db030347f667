/**
 * The chaos suite's world on the sandbox's real node: the dev overlay deployed once
 * (sandbox/stack.ts: down-after 3 s, failover-timeout 10 s, the write fence on), and per scenario
 * two writers (a plain client through the `redis-master` ClusterIP via kube-proxy, a
 * sentinel-aware ioredis asking the Sentinel pods) with the referee judging Kubernetes against the
 * servers. The faults are real (sandbox/faults.ts).
 */
import { waitFor } from "../../sandbox/index.ts";
import { PASSWORD, SENTINEL_PASSWORD, startWriters, waitSettled } from "../../sandbox/stack.ts";
import type { DevStack, Picture } from "../../sandbox/stack.ts";
import type { Writer } from "../../sandbox/writer.ts";
import { stackReferee } from "../support/referee.ts";
import type { Referee } from "../support/referee.ts";
import type { Violation } from "../support/referee.ts";

/** What the referee allows Kubernetes after a new master exists. */
export const GRACE_MS = 2000;

export interface Judged {
  plain: Writer;
  aware: Writer;
  referee: Referee;
  /** Stops both writers and the referee; lost = acknowledged writes missing from the master then. */
  finish(): Promise<{
    plainLost: number[];
    awareLost: number[];
    violations: Violation[];
    twoMasters: string[];
    master: Picture & { master: string };
  }>;
}

/** Two writers and the referee, for one scenario. */
export async function judge(
  world: DevStack,
  o: { keyPrefix: string; commandTimeoutMs?: number; waitReplicas?: { replicas: number; timeoutMs: number } },
): Promise<Judged> {
  const { sb } = world;
  const referee = stackReferee(sb.kubeConfig, GRACE_MS);
  await referee.start();
  const writers = await startWriters(sb, {
    clusterIp: world.clusterIp,
    password: PASSWORD,
    sentinelPassword: SENTINEL_PASSWORD,
    keyPrefix: o.keyPrefix,
    commandTimeoutMs: o.commandTimeoutMs ?? 1000,
    waitReplicas: o.waitReplicas,
  });
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
export const summary = (w: Writer, lost: number[]): string =>
  `${w.acks.length} acknowledged, ${lost.length} lost, longest gap ${w.longestGapMs()} ms`;
