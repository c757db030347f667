/**
 * The chaos suite on real pods (`npm run test:chaos`): the dev overlay on the sandbox's node
 * (node-world.ts), each scenario with a plain client through the `redis-master` ClusterIP
 * (kube-proxy) and a sentinel-aware ioredis, both with a 1 s command deadline, and the referee.
 * Every scenario asserts the referee saw no violation. Loss is asserted where the project
 * promises zero (the write fence + WAIT over the crashes, CLIENT PAUSE WRITE before SENTINEL
 * FAILOVER, a frozen master under fence-old-master) or bounded (a partitioned master under the
 * write fence: only writes acknowledged within min-replicas-max-lag of the cut); elsewhere it is
 * reported in a [figure] line. CHAOS_KILLS sets the crashes per config (default 20); `--server
 * valkey` (test/chaos/run.ts) deploys the Valkey component instead of Redis.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../../sandbox/index.ts";
import { crash, partition, setWriteFence } from "../../sandbox/faults.ts";
import {
  DOWN_AFTER_MS,
  mainPid,
  MAX_LAG_S,
  NS,
  onPod,
  picture,
  podsIn,
  ready,
  redisPods,
  sentinelPods,
  startDevStack,
  waitOneMaster,
  waitSettled,
} from "../../sandbox/stack.ts";
import type { DevStack } from "../../sandbox/stack.ts";
import { judge, summary } from "./node-world.ts";
import type { Writer } from "../../sandbox/writer.ts";
import { SERVER } from "../support/server-family.ts";

const KILLS = Number(process.env.CHAOS_KILLS ?? 20);
const figure = (what: string) => console.log(`[figure] ${what}`);

let world: DevStack;

beforeAll(async () => {
  world = await startDevStack("chaos", { server: SERVER });
  await waitSettled(world.sb);
}, 900_000);

afterAll(async () => {
  await world?.stop();
  expect(world?.sb.nodeLeftovers ?? []).toEqual([]);
}, 300_000);

/** Acknowledged writes lost, by when each was acknowledged relative to `t` (ms, max). */
function latestAfter(w: Writer, lost: number[], t: number): number {
  return Math.max(-Infinity, ...lost.map((id) => (w.acks.find((a) => a.id === id)?.at ?? t) - t));
}

async function scaleFunction(name: string, replicas: number): Promise<void> {
  await world.sb.kubectl("-n", NS, "scale", `deployment/${name}`, `--replicas=${replicas}`);
  await waitFor(
    `${name} at ${replicas}`,
    async () => {
      const pods = (await podsIn(world.sb)).filter((p) => p.metadata?.labels?.["app.kubernetes.io/name"] === name);
      return pods.length === replicas && pods.every((p) => ready(p) && !p.metadata?.deletionTimestamp);
    },
    { timeoutMs: 120_000, intervalMs: 250 },
  );
}

describe("chaos on real pods", () => {
  for (const fenced of [false, true]) {
    it(
      `${KILLS} crashes of the master (SIGKILL + pod force-deleted), ${fenced ? "write fence + WAIT 1" : "the default config (no write fence)"}`,
      async () => {
        const { sb } = world;
        const j = await judge(world, {
          keyPrefix: `crash-${fenced ? "fenced" : "default"}`,
          waitReplicas: fenced ? { replicas: 1, timeoutMs: 200 } : undefined,
        });
        const times: number[] = [];
        let awareStuck = 0;
        const stuckDetail: string[] = [];
        try {
          for (let i = 0; i < KILLS; i++) {
            const before = await waitSettled(sb);
            await setWriteFence(sb, fenced);
            const at = await crash(sb, before.master);
            const now = await waitOneMaster(sb, `a new master after crash ${i + 1}`, { not: before.master, timeoutMs: 60_000 });
            // The project's promise: the plain client through the ClusterIP writes again.
            await waitFor(`the plain client acknowledged after crash ${i + 1}`, () => j.plain.firstAckAfter(at) !== undefined, {
              timeoutMs: 30_000,
            }).catch((err: unknown) => {
              throw new Error(
                `${(err as Error).message}: last ack ${Math.round((j.plain.acks.at(-1)?.at ?? 0) - at)} ms after the crash, ${j.plain.failures} failures; new master ${now.master} ${now.ipOf[now.master]}`,
                { cause: err },
              );
            });
            // The reference, reported, not asserted: sentinel-aware ioredis 6.0.0 with its
            // FailoverDetector can end itself during a crash (sandbox/writer.ts clientEnds); the
            // writer then makes a new client, and a crash after which it still wrote nothing
            // within 30 s is counted with why.
            const awareFailures = j.aware.failures;
            if (
              !(await waitFor("the sentinel-aware client acknowledged after the crash", () => j.aware.firstAckAfter(at) !== undefined, {
                timeoutMs: 30_000,
              }).then(
                () => true,
                () => false,
              ))
            ) {
              awareStuck++;
              const last = j.aware.acks.at(-1);
              stuckDetail.push(
                `crash ${i + 1}: last ack sent ${last ? Math.round(last.sentAt - at) : "-"} ms / acknowledged ${last ? Math.round(last.at - at) : "-"} ms from the crash, ${j.aware.failures - awareFailures} failed commands since, the last: ${j.aware.lastError ?? "none"}, client ${j.aware.clientStatus}`,
              );
            }
            times.push(Math.round(j.plain.firstAckAfter(at)!.at - at));
            expect(now.master).not.toBe(before.master);
          }
        } finally {
          await setWriteFence(sb, true).catch(() => undefined);
        }
        const r = await j.finish();
        times.sort((a, b) => a - b);
        figure(
          `${KILLS} crashes, ${fenced ? "write fence + WAIT 1" : "default config"}: plain via kube-proxy ${summary(j.plain, r.plainLost)}; sentinel-aware ${summary(j.aware, r.awareLost)}; crash to the plain client's first write acknowledged after it: median ${times[times.length >> 1]} ms, max ${times.at(-1)} ms; crashes after which the sentinel-aware client wrote nothing for 30 s: ${awareStuck}${stuckDetail.length ? ` (${stuckDetail.join("; ")})` : ""}; the sentinel-aware ioredis ended itself ${j.aware.clientEnds} times (a new client was made each time); referee lag at most ${j.referee.longestLagMs} ms`,
        );
        expect(r.violations).toEqual([]);
        expect(r.twoMasters).toEqual([]);
        if (fenced) {
          expect(r.plainLost).toEqual([]);
          expect(r.awareLost).toEqual([]);
        }
      },
      KILLS * 90_000,
    ); // a crash cycle takes 40-60 s once every Sentinel must relearn the set
  }

  for (const fence of [true, false]) {
    it(`the master frozen past down-after and resumed, ${fence ? "with" : "without"} fence-old-master`, async () => {
      const { sb } = world;
      const before = await waitSettled(sb);
      if (!fence) await scaleFunction("fence-old-master", 0);
      const j = await judge(world, { keyPrefix: `freeze-${fence}` });
      let demotedMs: number | undefined;
      let frozenMs: number | undefined;
      try {
        const pid = await mainPid(sb, before.master, "redis");
        const frozenAt = performance.now();
        process.kill(pid, "SIGSTOP");
        try {
          await waitOneMaster(sb, "a new master while the old one is frozen", { not: before.master, timeoutMs: 60_000 });
          await waitFor(
            "both writers acknowledged by the new master",
            () => j.plain.firstAckAfter(frozenAt) !== undefined && j.aware.firstAckAfter(frozenAt) !== undefined,
            { timeoutMs: 30_000 },
          );
        } finally {
          process.kill(pid, "SIGCONT");
        }
        const resumedAt = performance.now();
        frozenMs = Math.round(resumedAt - frozenAt);
        await waitFor(
          "the old master a replica again",
          async () => ((await onPod(before.ipOf[before.master]!, 6379, (r) => r.call("ROLE")).catch(() => [])) as string[])[0] === "slave",
          { timeoutMs: 60_000, intervalMs: 20 },
        );
        demotedMs = Math.round(performance.now() - resumedAt);
      } finally {
        if (!fence) await scaleFunction("fence-old-master", 1);
      }
      const r = await j.finish();
      figure(
        `freeze ${fence ? "with" : "without"} fence-old-master: frozen ${frozenMs} ms, old master a replica ${demotedMs} ms after resume; plain via kube-proxy ${summary(j.plain, r.plainLost)}; sentinel-aware ${summary(j.aware, r.awareLost)}`,
      );
      expect(r.violations).toEqual([]);
      if (fence) {
        expect(demotedMs).toBeLessThan(5000);
        expect(r.plainLost).toEqual([]);
        expect(r.awareLost).toEqual([]);
      }
    });
  }

  for (const pauseFirst of [false, true]) {
    it(`SENTINEL FAILOVER x5 ${pauseFirst ? "after CLIENT PAUSE WRITE on the master" : "bare"}`, async () => {
      const { sb } = world;
      const j = await judge(world, { keyPrefix: `manual-${pauseFirst}` });
      const perRound: number[] = [];
      for (let i = 0; i < 5; i++) {
        const before = await waitSettled(sb);
        const acked = j.plain.acks.length;
        const old = before.ipOf[before.master]!;
        if (pauseFirst) await onPod(old, 6379, (r) => r.call("CLIENT", "PAUSE", "10000", "WRITE"));
        await waitFor(
          "Sentinel to accept SENTINEL FAILOVER",
          () =>
            onPod(before.ipOf["sentinel-0"]!, 26379, (r) => r.call("SENTINEL", "FAILOVER", "mymaster")).then(
              () => true,
              (err: unknown) => {
                if (err instanceof Error && err.message.startsWith("INPROG")) return false; // the reply's error code
                throw err;
              },
            ),
          { timeoutMs: 60_000, intervalMs: 250 },
        );
        await waitOneMaster(sb, `a new master after SENTINEL FAILOVER ${i + 1}`, { not: before.master, timeoutMs: 60_000 });
        if (pauseFirst) await onPod(old, 6379, (r) => r.call("CLIENT", "UNPAUSE")).catch(() => undefined);
        await waitFor("the plain client writing again", () => j.plain.acks.length > acked + 10, { timeoutMs: 30_000 });
        perRound.push(j.plain.acks.length - acked);
      }
      const r = await j.finish();
      figure(
        `SENTINEL FAILOVER x5 ${pauseFirst ? "after CLIENT PAUSE WRITE" : "bare"}: plain via kube-proxy ${summary(j.plain, r.plainLost)}; sentinel-aware ${summary(j.aware, r.awareLost)}`,
      );
      expect(r.violations).toEqual([]);
      if (pauseFirst) {
        expect(r.plainLost).toEqual([]);
        expect(r.awareLost).toEqual([]);
      }
    });
  }

  for (const fenced of [false, true]) {
    it(`the master partitioned from the Sentinels and the replicas (its clients still reach it) for 3 x down-after, ${fenced ? "write fence on" : "no write fence"}`, async () => {
      const { sb } = world;
      const before = await waitSettled(sb);
      await setWriteFence(sb, fenced);
      const j = await judge(world, { keyPrefix: `partition-${fenced}` });
      const peers = [...sentinelPods(before), ...redisPods(before).filter((p) => p !== before.master)].map((p) => before.ipOf[p]!);
      const cut = await partition(sb, before.master, "redis", peers);
      const cutAt = performance.now();
      try {
        await waitOneMaster(sb, "a new master while the old one is cut off", { not: before.master, timeoutMs: 60_000 });
        await new Promise((r) => setTimeout(r, Math.max(0, 3 * DOWN_AFTER_MS - (performance.now() - cutAt))));
      } finally {
        await cut.heal();
        await setWriteFence(sb, true).catch(() => undefined);
      }
      const r = await j.finish();
      const late = { plain: latestAfter(j.plain, r.plainLost, cutAt), aware: latestAfter(j.aware, r.awareLost, cutAt) };
      figure(
        `partition of the master, ${fenced ? "write fence on" : "no write fence"}: plain via kube-proxy ${summary(j.plain, r.plainLost)} (the last lost one acknowledged ${Math.round(late.plain)} ms after the cut); sentinel-aware ${summary(j.aware, r.awareLost)} (${Math.round(late.aware)} ms); referee lag at most ${j.referee.longestLagMs} ms`,
      );
      expect(r.violations).toEqual([]);
      if (fenced) {
        // The fence refuses writes once no replica counts as good: a replica's lag is whole
        // seconds since its last REPLCONF ACK (sent once a second), good while <= max-lag, and
        // Redis recounts its good replicas once a second. So the last write the cut-off master
        // can acknowledge comes at most max-lag + 1 (rounding) + 1 (ack period) + 1 (recount)
        // seconds after the cut.
        const bound = (MAX_LAG_S + 3) * 1000;
        expect(late.plain).toBeLessThanOrEqual(bound);
        expect(late.aware).toBeLessThanOrEqual(bound);
      }
    });
  }

  it("one Sentinel cut off from the others and from redis: no failover without a majority", async () => {
    const { sb } = world;
    const before = await waitSettled(sb);
    const j = await judge(world, { keyPrefix: "lonely-sentinel" });
    const peers = [...sentinelPods(before).filter((s) => s !== "sentinel-0"), ...redisPods(before)].map((p) => before.ipOf[p]!);
    const cut = await partition(sb, "sentinel-0", "sentinel", peers);
    try {
      await new Promise((r) => setTimeout(r, 3 * DOWN_AFTER_MS));
      expect((await picture(sb)).labelled).toEqual([before.master]);
    } finally {
      await cut.heal();
    }
    const r = await j.finish();
    figure(`one Sentinel cut off for ${3 * DOWN_AFTER_MS} ms: master unchanged; plain via kube-proxy ${summary(j.plain, r.plainLost)}`);
    expect(r.master.master).toBe(before.master);
    expect(r.violations).toEqual([]);
    expect(r.plainLost).toEqual([]);
  });

  it("the relay and the functions cut off from NATS during a failover: the resync heals", async () => {
    const { sb } = world;
    const before = await waitSettled(sb);
    const nats = (await podsIn(sb)).find((p) => p.metadata?.labels?.["app.kubernetes.io/name"] === "nats")!.status!.podIP!;
    const fnPods = (await podsIn(sb)).filter((p) => p.metadata?.labels?.["app.kubernetes.io/component"] === "function" && ready(p));
    const cuts = await Promise.all(fnPods.map((p) => partition(sb, p.metadata!.name!, "function", [nats])));
    const t0 = performance.now();
    let healedMs: number | undefined;
    try {
      await waitFor(
        "Sentinel to accept SENTINEL FAILOVER",
        () =>
          onPod(before.ipOf["sentinel-0"]!, 26379, (r) => r.call("SENTINEL", "FAILOVER", "mymaster")).then(
            () => true,
            () => false,
          ),
        { timeoutMs: 60_000, intervalMs: 250 },
      );
      await waitOneMaster(sb, "every picture on the new master, NATS unreachable", { not: before.master, timeoutMs: 90_000 });
      healedMs = Math.round(performance.now() - t0);
    } finally {
      for (const c of cuts) await c.heal();
    }
    figure(
      `the relay and function pods (${fnPods.length}) cut off from NATS during SENTINEL FAILOVER: every picture on the new master after ${healedMs} ms (resync every 30 s)`,
    );
    await waitSettled(sb);
  });
});
