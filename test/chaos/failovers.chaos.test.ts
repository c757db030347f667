/**
 * The full chaos suite (`npm run test:chaos`, process mode: see harness.ts for its stand-ins), each
 * scenario on a fresh world: a client writing through redis-master with every acknowledged write
 * recorded, the referee judging Kubernetes against the servers. Figures are printed with
 * [figure]; loss is asserted only where the project promises it (zero), reported elsewhere.
 * Forged and replayed events are tested raw on real pods (test/integration/failover-on-node.test.ts).
 */
import { afterEach, describe, expect, it } from "vitest";
import { setTimeout as sleep } from "node:timers/promises";
import { redisCommand } from "../../sandbox/redis.ts";
import { waitFor } from "../../sandbox/wait.ts";
import { Writer } from "../../sandbox/writer.ts";
import { lossWindow, startWorld } from "./harness.ts";
import type { World } from "./harness.ts";

let world: World | undefined;
afterEach(async () => {
  await world?.stop();
  world = undefined;
});

const figure = (what: string) => console.log(`[figure] ${what}`);

describe("chaos", () => {
  it("master SIGKILL x20 in a row", async () => {
    world = await startWorld();
    const kills: number[] = [];
    for (let i = 0; i < 20; i++) kills.push((await world.killMaster()).killedAt);
    const r = await world.finish();
    const w = lossWindow(world.writer, r.lostIds, kills);
    figure(`SIGKILL x20: ${r.acknowledged} acknowledged, ${r.lost} lost (each at most ${w.maxMsBeforeKill} ms before a kill), longest gap without a master ${r.longestGapMs} ms, violations ${r.violations.length}`);
    expect(r.violations).toEqual([]);
  });

  for (const fence of [true, false]) {
    it(`master SIGSTOP beyond down-after, then resumed, ${fence ? "with" : "without"} fence-old-master`, async () => {
      world = await startWorld({ project: fence ? {} : { functions: ["label-master", "master-endpoints", "master-configmap", "kube-events"] } });
      const { sb } = world;
      await sb.waitSettled();
      const old = await sb.currentMaster("mymaster");
      // A client pinned to the old master (a long-lived connection made before the hang).
      const pinned = new Writer({ target: () => old.address, password: sb.password, keyPrefix: "pinned" });
      pinned.start();
      await waitFor("pinned writes", () => pinned.acks.length > 20);
      const oldRedis = sb.redisAt(old.address)!;
      oldRedis.process.pause();
      const now = await sb.waitForNewMaster("mymaster", old.address);
      await sleep(500);
      const resumedAt = performance.now();
      oldRedis.process.resume();
      // How long does the old master keep acknowledging writes as a master after it comes back?
      await waitFor("the old master to be a replica again", async () => /role:slave/.test(String(await redisCommand(old.address, sb.password, "INFO", "replication"))), { timeoutMs: 30_000, intervalMs: 20 });
      const demotedAt = performance.now();
      await sleep(500);
      await pinned.stop();
      const acceptedAfterResume = pinned.acks.filter((a) => a.sentAt >= resumedAt);
      const lastAccepted = acceptedAfterResume.at(-1);
      const windowMs = lastAccepted ? Math.round(lastAccepted.at - resumedAt) : 0;
      const lostPinned = await pinned.checkLost(now.address, sb.password);
      const r = await world.finish();
      figure(`SIGSTOP ${fence ? "with" : "without"} fence: old master demoted ${Math.round(demotedAt - resumedAt)} ms after resume; it acknowledged ${acceptedAfterResume.length} pinned writes for ${windowMs} ms after resume; pinned writes lost ${lostPinned.length}; redis-master client ${r.acknowledged} acknowledged, ${r.lost} lost, violations ${r.violations.length}`);
      expect(r.violations).toEqual([]);
      if (fence) {
        expect(demotedAt - resumedAt).toBeLessThan(3000);
        // The promise: the client through redis-master (250 ms deadline, shorter than the freeze) loses nothing.
        expect(r.lost).toBe(0);
      }
    });
  }

  for (const pauseFirst of [false, true]) {
    it(`manual SENTINEL FAILOVER ${pauseFirst ? "after CLIENT PAUSE WRITE" : "bare"}`, async () => {
      world = await startWorld();
      const { sb } = world;
      const ackedPerRound: number[] = [];
      for (let i = 0; i < 5; i++) {
        await sb.waitSettled();
        const old = await sb.currentMaster("mymaster");
        const before = world.writer.acks.length;
        if (pauseFirst) await redisCommand(old.address, sb.password, "CLIENT", "PAUSE", "10000", "WRITE");
        await sb.sentinels[0]!.command("SENTINEL", "FAILOVER", "mymaster");
        const now = await sb.waitForNewMaster("mymaster", old.address);
        await waitFor("redis-master to follow", () => world!.resolver.address?.host === now.host, { timeoutMs: 30_000 });
        if (pauseFirst) await redisCommand(old.address, sb.password, "CLIENT", "UNPAUSE").catch(() => undefined);
        await sleep(500);
        ackedPerRound.push(world.writer.acks.length - before);
      }
      const r = await world.finish();
      figure(`SENTINEL FAILOVER x5 ${pauseFirst ? "with CLIENT PAUSE WRITE first" : "bare"}: ${r.acknowledged} acknowledged (per round ${ackedPerRound.join(", ")}), ${r.lost} lost, longest gap ${r.longestGapMs} ms, violations ${r.violations.length}`);
      expect(r.violations).toEqual([]);
      expect(ackedPerRound.every((n) => n > 0)).toBe(true); // the client wrote through every round
      if (pauseFirst) expect(r.lost).toBe(0);
    });
  }

  for (const fenced of [false, true]) {
    it(`lost writes over 20 kills with ${fenced ? "min-replicas-to-write 1 + WAIT" : "the default config"}`, async () => {
      world = await startWorld({
        sandbox: fenced ? { redisConfig: { "min-replicas-to-write": "1", "min-replicas-max-lag": "2" } } : {},
        writer: fenced ? { waitReplicas: { replicas: 1, timeoutMs: 200 } } : {},
      });
      const kills: number[] = [];
      for (let i = 0; i < 20; i++) kills.push((await world.killMaster()).killedAt);
      const r = await world.finish();
      const w = lossWindow(world.writer, r.lostIds, kills);
      figure(`20 kills, ${fenced ? "min-replicas-to-write 1 + WAIT 1" : "default config"}: ${r.acknowledged} acknowledged, ${r.lost} lost (each at most ${w.maxMsBeforeKill} ms before a kill), longest gap ${r.longestGapMs} ms, violations ${r.violations.length}`);
      expect(r.violations).toEqual([]);
      // The promise is made for the fenced config only: a write counts as acknowledged once WAIT
      // saw a replica take it. With the default config the figure is reported, not asserted.
      if (fenced) expect(r.lostIds).toEqual([]);
    });
  }

  it("a sentinel killed during a failover, NATS killed during a failover, a function SIGKILLed mid-write, the apiserver stopped 10 s during a failover", async () => {
    // Resync ten minutes away: what converges here converged through the event path.
    world = await startWorld({ project: { resyncIntervalMs: 600_000 } });
    const { sb, project } = world;
    const converged = async (what: string) => {
      const m = await sb.currentMaster("mymaster");
      await waitFor(`${what}: redis-master on ${m.host}`, () => world!.resolver.address?.host === m.host, { timeoutMs: 60_000, intervalMs: 50 });
    };
    const times: Record<string, number> = {};
    const scenario = async (name: string, disturb: () => Promise<void>, restore: () => Promise<void>) => {
      await sb.waitSettled();
      const old = await sb.currentMaster("mymaster");
      const t0 = performance.now();
      await sb.redisAt(old.address)!.process.kill();
      await disturb();
      const now = await sb.waitForNewMaster("mymaster", old.address);
      await restore();
      await converged(name);
      times[name] = Math.round(performance.now() - t0);
      await sb.redisAt(old.address)!.restart({ replicaOf: now.address });
    };
    await scenario("sentinel killed", () => sb.sentinels[1]!.process.kill(), () => sb.sentinels[1]!.restart());
    await scenario("NATS killed", () => sb.nats!.process.kill(), () => sb.startNats());
    const fn = project.functions.get("master-endpoints")!;
    await scenario("master-endpoints SIGKILLed", () => fn.kill(), () => fn.start());
    await scenario(
      "apiserver stopped 10 s",
      () => sb.stopApiserver(),
      async () => {
        await sleep(10_000);
        await sb.startApiserver();
      },
    );
    const r = await world.finish();
    figure(`disturbed failovers, kill to redis-master on the new master: ${Object.entries(times).map(([k, v]) => `${k} ${v} ms`).join(", ")}; ${r.acknowledged} acknowledged, ${r.lost} lost, violations ${r.violations.length}`);
    expect(r.violations).toEqual([]);
  });

});
