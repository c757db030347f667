/**
 * Moving a running set from Redis 7 to Valkey 8 on the sandbox's real node, as a user would:
 * `skaffold run -p sandbox` (Redis), then `skaffold run -p sandbox,valkey` (components/valkey)
 * while a plain client writes through the `redis-master` ClusterIP (kube-proxy) and a
 * sentinel-aware ioredis writes beside it. Both StatefulSets roll (highest ordinal first); each
 * Valkey replica full-syncs from the Redis master (Valkey reads Redis 7.0's RDB), the master's
 * preStop hands over to a Valkey replica (CLIENT PAUSE WRITE, SENTINEL FAILOVER), and the
 * remaining Redis replicas continue from a Valkey master by partial resync. The one thing that
 * does not work is a Redis 7.0 replica full-syncing from a Valkey 8 master (Valkey writes RDB
 * format 11, Redis 7.0 reads up to 10): such a pod stays unready until the roll replaces it,
 * which the roll does next; no acknowledged write is lost either way.
 */
import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CoreV1Api } from "@kubernetes/client-node";
import type { Sandbox } from "../../sandbox/index.ts";
import {
  copyCheckout,
  NS,
  PASSWORD,
  SENTINEL_PASSWORD,
  serversOf,
  skaffoldRun,
  startNodeSandbox,
  startWriters,
  waitSettled,
} from "../../sandbox/stack.ts";

let sb: Sandbox;
let workdir: string | undefined;

beforeAll(async () => {
  sb = await startNodeSandbox();
  workdir = await copyCheckout();
  await skaffoldRun(sb, workdir, ["-p", "sandbox", "--tag", "migration"], "skaffold-run-redis.log");
  await waitSettled(sb);
}, 900_000);

afterAll(async () => {
  if (workdir) rmSync(workdir, { recursive: true, force: true });
  await sb?.stop();
  expect(sb?.nodeLeftovers ?? []).toEqual([]);
}, 300_000);

describe("a rolling migration from Redis 7 to Valkey 8 on real pods", () => {
  it("skaffold run -p sandbox,valkey over a running Redis set: every pod on Valkey, one master, no acknowledged write lost", async () => {
    const before = await serversOf(sb);
    for (const [pod, server] of Object.entries(before)) expect(server, pod).toMatch(/^redis 7\./);
    const clusterIp = (await sb.kubeConfig.makeApiClient(CoreV1Api).readNamespacedService({ name: "redis-master", namespace: NS })).spec!
      .clusterIP!;
    const writers = await startWriters(sb, {
      clusterIp,
      password: PASSWORD,
      sentinelPassword: SENTINEL_PASSWORD,
      keyPrefix: "migration",
      commandTimeoutMs: 1000,
    });
    const t0 = performance.now();
    // skaffold's own status check waits for both StatefulSets' rollouts.
    await skaffoldRun(sb, workdir!, ["-p", "sandbox,valkey", "--tag", "migration"], "skaffold-run-valkey.log", 900_000);
    const settled = await waitSettled(sb, 300_000);
    const migratedMs = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 1000));
    const { plainLost, awareLost, violations } = await writers.stop(settled.ipOf[settled.master]!);
    const after = await serversOf(sb);
    console.log(
      `[figure] Redis -> Valkey rolling migration (skaffold run -p sandbox,valkey): settled after ${Math.round(migratedMs)} ms; plain client via kube-proxy ${writers.plain.acks.length} acknowledged, ${plainLost.length} lost, longest gap ${writers.plain.longestGapMs()} ms; sentinel-aware ioredis ${writers.aware.acks.length} acknowledged, ${awareLost.length} lost, longest gap ${writers.aware.longestGapMs()} ms, client ends ${writers.aware.clientEnds}; master ${settled.master}; ${JSON.stringify(after)}`,
    );
    expect(Object.keys(after)).toHaveLength(6);
    for (const [pod, server] of Object.entries(after)) expect(server, pod).toMatch(/^valkey 8\./);
    expect(violations).toEqual([]);
    expect(plainLost).toEqual([]);
    expect(awareLost).toEqual([]);
    expect(writers.plain.acks.length).toBeGreaterThan(100);
    expect(writers.aware.acks.length).toBeGreaterThan(100);
    // The roll of six pods plus skaffold's status check: 112 s alone, longer under CI's load.
  }, 900_000);
});
