/**
 * The relay on real processes: 3 Sentinels, 2 relay processes, NATS JetStream. One failover must
 * leave exactly one switch-master CloudEvent in the stream, whatever happens to a relay or NATS.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import { startSandbox, waitFor } from "../../sandbox/index.ts";
import type { Sandbox } from "../../sandbox/index.ts";
import { startRelays } from "../../sandbox/failover-process.ts";
import type { ManagedProcess } from "../../sandbox/process.ts";
import { natsOf } from "../../sandbox/nats-client.ts";
import { storedEvents, subjectCounts } from "../../test/support/stream.ts";
import { SERVER } from "../../test/support/server-family.ts";

const SUBJECT = "redis.sentinel.mymaster.switch-master";
let sb: Sandbox;
let relays: ManagedProcess[] = [];
let nc: NatsConnection;

beforeAll(async () => {
  sb = await startSandbox({ kube: false, server: SERVER });
  relays = await startRelays(sb, { count: 2 });
  nc = await natsOf(sb);
});

afterAll(async () => {
  await nc?.close();
  await Promise.all(relays.map((r) => r.stop()));
  await sb?.stop();
});

async function failover(): Promise<{ host: string; epoch: number }> {
  const { now } = await sb.killMaster("mymaster");
  return { host: now.host, epoch: now.epoch };
}

/**
 * The stored switch-master events once the one for `epoch` is there (and the late copies had
 * time to arrive). Sentinel may fail over again on its own; every failover must appear once.
 */
async function switchEventsUpTo(epoch: number) {
  await waitFor(
    `the switch-master of epoch ${epoch} in the stream`,
    async () => (await storedEvents(nc, "REDIS_SENTINEL", SUBJECT)).some((e) => e.data.epoch === epoch),
    { timeoutMs: 30_000 },
  );
  // Give the late Sentinels and the other relay time to try (they must be deduplicated).
  await new Promise((r) => setTimeout(r, 2000));
  const events = await storedEvents(nc, "REDIS_SENTINEL", SUBJECT);
  const epochs = events.map((e) => e.data.epoch);
  expect(new Set(epochs).size, `one event per failover: ${JSON.stringify(events.map((e) => [e.data.raw, e.data.epoch]))}`).toBe(
    events.length,
  );
  return events;
}

describe("sentinel-relay", () => {
  it("is ready with a quorum of Sentinels and NATS, and serves metrics", async () => {
    const ready = await (await fetch("http://127.0.0.1:18080/readyz")).json();
    expect(ready).toMatchObject({ ready: true, sentinelsSubscribed: 3, sentinelsKnown: 3, nats: true });
    expect(await (await fetch("http://127.0.0.1:18081/metrics")).text()).toMatch(/relay_publish_latency_seconds_bucket/);
  });

  it("stores exactly one switch-master per failover, with the new address and epoch, from 3 Sentinels x 2 relays", async () => {
    const now = await failover();
    const events = await switchEventsUpTo(now.epoch);
    expect(events).toHaveLength(1);
    const e = events[0]!;
    expect(e.data.newMaster).toEqual({ host: now.host, port: 6379 });
    expect(e.data.epoch).toBe(now.epoch);
    expect(e.attributes.configepoch).toBe(String(now.epoch));
    expect(e.attributes).toMatchObject({ type: "io.redis.sentinel.switch-master", subject: "mymaster", specversion: "1.0" });
    // Both relays heard all three Sentinels: JetStream dropped the other five copies.
    const dup = await Promise.all(
      [18080, 18081].map(
        async (p) =>
          (await (await fetch(`http://127.0.0.1:${p}/metrics`)).text()).match(
            /relay_duplicates_dropped_total\{event="\+switch-master"\} (\d+)/,
          )?.[1] ?? "0",
      ),
    );
    expect(dup.map(Number).reduce((a, b) => a + b)).toBe(5);
    // Per-Sentinel events stay distinct: each Sentinel's +sdown of the old master is its own event.
    const counts = await subjectCounts(nc, "REDIS_SENTINEL");
    expect(counts["redis.sentinel.mymaster.sdown"]).toBeGreaterThanOrEqual(3);
  });

  it("still stores exactly one when a relay is killed and restarted mid-failover", async () => {
    const old = await sb.currentMaster("mymaster");
    await sb.redisAt(old.address)!.process.kill();
    await relays[0]!.kill();
    await new Promise((r) => setTimeout(r, 1500));
    await relays[0]!.start();
    const now = await sb.waitForNewMaster("mymaster", old.address);
    await sb.redisAt(old.address)!.restart({ replicaOf: now.address });
    const events = await switchEventsUpTo(now.epoch);
    const mine = events.filter((e) => e.data.epoch === now.epoch);
    expect(mine).toHaveLength(1);
    expect(mine[0]!.data.newMaster?.host).toBe(now.host);
  });

  it("loses no switch-master when NATS restarts during a failover (buffered, published on reconnect)", async () => {
    await sb.waitSettled();
    const old = await sb.currentMaster("mymaster");
    await sb.stopNats();
    await sb.redisAt(old.address)!.process.kill();
    const now = await sb.waitForNewMaster("mymaster", old.address);
    await waitFor("relays to report not ready", async () => (await fetch("http://127.0.0.1:18080/readyz")).status === 503, {
      timeoutMs: 15_000,
    });
    await sb.startNats();
    await sb.redisAt(old.address)!.restart({ replicaOf: now.address });
    const events = await switchEventsUpTo(now.epoch);
    const mine = events.filter((e) => e.data.epoch === now.epoch);
    expect(mine).toHaveLength(1);
    expect(mine[0]!.data.newMaster?.host).toBe(now.host);
    await waitFor("relays ready again", async () => (await fetch("http://127.0.0.1:18080/readyz")).ok, { timeoutMs: 15_000 });
  });
});
