/**
 * The chaos suite's short scenario, part of `npm test`: one master SIGKILL while a plain client
 * writes through redis-master (checker on) and a sentinel-aware ioredis client writes beside it.
 * Part of the failover core: it runs on both server families. The full suite is `npm run test:chaos`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWorld, lossWindow } from "../chaos/harness.ts";
import type { World } from "../chaos/harness.ts";
import { Writer } from "../../sandbox/writer.ts";
import { waitFor } from "../../sandbox/wait.ts";
import { SERVER } from "../support/server-family.ts";

let world: World;
let sentinelAware: Writer;

beforeAll(async () => {
  world = await startWorld({ sandbox: { server: SERVER } });
  const { sb } = world;
  sentinelAware = new Writer({
    target: () => undefined,
    sentinel: { sentinels: sb.sentinels.map((s) => s.address), name: "mymaster", password: sb.sentinelPassword },
    password: sb.password,
    keyPrefix: "chaos-sentinel",
  });
  sentinelAware.start();
});

afterAll(async () => {
  await sentinelAware?.stop();
  await world?.stop();
});

describe("chaos (short): one master kill, checker on", () => {
  it("keeps redis-master truthful, recovers writes through it and through Sentinel, and loses only writes of the replication window", async () => {
    await new Promise((r) => setTimeout(r, 1000));
    const { killedAt } = await world.killMaster();
    // A write sent after the kill can only have been acknowledged by another master (the client
    // does not say which server it reached: its acks name it "sentinel-aware").
    await waitFor("the sentinel-aware client's first write after the kill", () => sentinelAware.firstAckAfter(killedAt), {
      timeoutMs: 30_000,
      intervalMs: 10,
    });
    await new Promise((r) => setTimeout(r, 1000));
    await sentinelAware.stop();
    const report = await world.finish();
    const window = lossWindow(world.writer, report.lostIds, [killedAt]);
    const m = await world.sb.currentMaster("mymaster");
    const sentinelLost = await sentinelAware.checkLost({ host: m.host, port: m.port }, world.sb.password);
    const sentinelWindow = lossWindow(sentinelAware, sentinelLost, [killedAt]);
    console.log(
      `[figure] chaos short (${SERVER}): through redis-master ${report.acknowledged} writes acknowledged, ${report.lost} lost (acknowledged at most ${window.maxMsBeforeKill} ms before the kill), longest gap ${report.longestGapMs} ms, violations ${report.violations.length}; through Sentinel (ioredis) ${sentinelAware.acks.length} acknowledged, ${sentinelLost.length} lost, longest gap ${sentinelAware.longestGapMs()} ms, client ends ${sentinelAware.clientEnds}`,
    );
    expect(report.violations).toEqual([]);
    expect(report.acknowledged).toBeGreaterThan(100);
    expect(report.longestGapMs).toBeLessThan(10_000);
    expect(sentinelAware.acks.length).toBeGreaterThan(100);
    expect(sentinelAware.longestGapMs()).toBeLessThan(10_000);
    // Sentinel replication is asynchronous: only writes acknowledged just before the kill may be lost.
    expect(window.maxMsBeforeKill).toBeLessThanOrEqual(1000);
    expect(sentinelWindow.maxMsBeforeKill).toBeLessThanOrEqual(1000);
  });
});
