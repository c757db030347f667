/**
 * `npm run bench:relay`: the relay's added latency and throughput, measured on real processes.
 * The message source is a plain redis-server that the relay subscribes to as if it were a Sentinel
 * (a Sentinel publishes only its own events, so it cannot be driven at a chosen rate); the path is
 * the relay's real one: PSUBSCRIBE -> parse -> CloudEvent -> JetStream publish with Nats-Msg-Id.
 * Latency = PUBLISH on redis to the event visible to a JetStream consumer; throughput = a burst of
 * N events until the last is stored. Medians of repeated runs; prints a table, writes JSON.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { jetstream } from "@nats-io/jetstream";
import { inSandboxNamespace } from "../sandbox/addresses.ts";
import { reexecInSandbox } from "../sandbox/cli.ts";
import { failoverProcess, sandboxEnv } from "../sandbox/failover-process.ts";
import { startSandbox } from "../sandbox/sandbox.ts";
import { waitFor } from "../sandbox/wait.ts";
import { natsOf } from "../test/support/stream.ts";
import { summarize, table } from "./lib/stats.ts";

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { events: { type: "string", default: "2000" }, runs: { type: "string", default: "5" } } });
  const perRun = Number(values.events);
  const runs = Number(values.runs);
  const sb = await startSandbox({ kube: false, masters: 1, redisPerMaster: 1, sentinels: 1 });
  const source = sb.masters[0]!.redis[0]!;
  const relay = failoverProcess({
    name: "sentinel-relay",
    args: ["relay"],
    env: { ...sandboxEnv(sb), SENTINELS: `${source.spec.ip}:6379`, SENTINEL_PASSWORD: sb.password ?? "", LOG_LEVEL: "warn" },
    httpPort: 18080,
    logFile: join(sb.dir, "relay.log"),
  });
  try {
    await relay.start();
    const nc = await natsOf(sb);
    const js = jetstream(nc);
    const pub = source.client();
    await pub.connect();
    const sent = new Map<string, number>();
    const stored = new Map<string, number>();
    const consumer = await js.consumers.get("REDIS_SENTINEL", { filter_subjects: ["redis.sentinel.*.sdown"] });
    const messages = await consumer.consume();
    void (async () => {
      for await (const m of messages) {
        const raw = (m.json<{ instance?: { name?: string } }>()).instance?.name ?? "";
        if (!stored.has(raw)) stored.set(raw, performance.now());
      }
    })();
    const latencies: number[] = [];
    const throughputs: number[] = [];
    let seq = 0;
    for (let run = 0; run < runs; run++) {
      // Latency: one event at a time.
      for (let i = 0; i < 200; i++) {
        const name = `lat-${run}-${i}-${seq++}`;
        sent.set(name, performance.now());
        await pub.publish("+sdown", `master ${name} 198.18.1.10 6379`);
        await waitFor("stored", () => stored.has(name), { timeoutMs: 10_000, intervalMs: 1 });
        latencies.push(stored.get(name)! - sent.get(name)!);
      }
      // Throughput: a burst.
      const t0 = performance.now();
      let last = "";
      for (let i = 0; i < perRun; i++) {
        last = `tp-${run}-${i}-${seq++}`;
        void pub.publish("+sdown", `master ${last} 198.18.1.10 6379`);
      }
      await waitFor("burst stored", () => stored.has(last), { timeoutMs: 120_000, intervalMs: 5 });
      throughputs.push(perRun / ((performance.now() - t0) / 1000));
    }
    messages.stop();
    pub.disconnect();
    await nc.close();
    const lat = summarize(latencies);
    const tp = summarize(throughputs);
    console.log(`\nsentinel-relay on this machine: ${runs} runs of 200 single events + a burst of ${perRun}\n`);
    console.log(table(["measure", "p50", "p95", "p99", "min", "max"], [
      ["added latency, PUBLISH -> stored in JetStream (ms)", lat.p50, lat.p95, lat.p99, lat.min, lat.max],
      ["throughput, events/s (per run)", tp.p50, tp.p95, tp.p99, tp.min, tp.max],
    ]));
    mkdirSync("bench/out", { recursive: true });
    writeFileSync("bench/out/relay.json", `${JSON.stringify({ when: new Date().toISOString(), runs, burst: perRun, latencyMs: lat, throughputPerSecond: tp }, null, 2)}\n`);
    console.log("\nbench: wrote bench/out/relay.json");
  } finally {
    await relay.stop();
    await sb.stop();
  }
}

if (!inSandboxNamespace()) process.exit(reexecInSandbox());
await main();
