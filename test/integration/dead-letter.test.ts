/**
 * The runtime gives up on an event after MAX_DELIVER deliveries and moves it to the dead-letter
 * stream (fed from JetStream's max-deliveries advisory), then keeps running.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { startSandbox, waitFor } from "../../sandbox/index.ts";
import type { Sandbox } from "../../sandbox/index.ts";
import { failoverProcess, sandboxEnv } from "../../sandbox/failover-process.ts";
import type { ManagedProcess } from "../../sandbox/process.ts";
import { natsOf } from "../../sandbox/nats-client.ts";
import { subjectCounts } from "../support/stream.ts";
import { publishEvent, switchEvent } from "../support/publish-event.ts";

let sb: Sandbox;
let fn: ManagedProcess;
let nc: NatsConnection;

beforeAll(async () => {
  sb = await startSandbox();
  // label-master pointed at a pod selector that matches nothing: every delivery fails, retryably.
  fn = failoverProcess({
    name: "label-master (no pods)",
    args: ["run", "label-master"],
    env: {
      ...sandboxEnv(sb),
      NAMESPACE: sb.namespace,
      MAX_DELIVER: "3",
      CONSUMER_PREFIX: "dlq-test-",
      POD_SELECTOR: "no-such-label=x",
      RESYNC_INTERVAL_MS: "600000",
    },
    httpPort: 18200,
    logFile: join(sb.dir, "dead-letter-fn.log"),
  });
  await fn.start();
  nc = await natsOf(sb);
});

afterAll(async () => {
  await nc?.close();
  await fn?.stop();
  await sb?.stop();
});

describe("dead letters", () => {
  it("moves an event that failed MAX_DELIVER times to the dead-letter stream, and keeps running", async () => {
    const m = await sb.currentMaster("mymaster");
    const other = sb.masters[0]!.redis.find((r) => r.spec.ip !== m.host)!.spec.ip;
    await publishEvent(nc, switchEvent("mymaster", other, m.host, m.epoch, `dlq-${Date.now()}`));
    await waitFor(
      "the event in the dead-letter stream",
      async () => ((await subjectCounts(nc, "REDIS_SENTINEL_DEADLETTER"))["deadletter.redis.sentinel.label-master"] ?? 0) >= 1,
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    const jsm = await jetstreamManager(nc);
    const dead = await jsm.streams.getMessage("REDIS_SENTINEL_DEADLETTER", { last_by_subj: "deadletter.redis.sentinel.label-master" });
    expect(dead?.header.get("failover-dead-letter-reason")).toBe("max-deliveries");
    expect(dead?.header.get("failover-original-subject")).toBe("redis.sentinel.mymaster.switch-master");
    expect(dead?.header.get("ce-type")).toBe("io.redis.sentinel.switch-master");
    const metrics = await (await fetch("http://127.0.0.1:18200/metrics")).text();
    expect(metrics).toMatch(/failover_dead_lettered_total\{fn="label-master",why="max-deliveries"\} 1/);
    expect(metrics).toMatch(/failover_retries_total\{fn="label-master"\} [2-9]/);
    expect((await fetch("http://127.0.0.1:18200/readyz")).ok).toBe(true);
  });
});
