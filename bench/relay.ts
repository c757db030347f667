/**
 * `npm run bench:relay`: the relay's added latency and throughput, measured on real processes.
 * The message source is a plain redis-server that the relay subscribes to as if it were a Sentinel
 * (a Sentinel publishes only its own events, so it cannot be driven at a chosen rate); the path is
 * the relay's real one: PSUBSCRIBE -> parse -> CloudEvent -> JetStream publish with Nats-Msg-Id.
 * Latency = PUBLISH on redis to the event visible to a JetStream consumer; throughput = a burst of
 * N events until the last is stored, and the relay's CPU (utime + stime) per event of that burst.
 * Medians of repeated runs; prints a table, writes JSON.
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
import { natsOf } from "../sandbox/nats-client.ts";
import { processCpuMs } from "./lib/cpu-share.ts";
import { summarize, table } from "./lib/stats.ts";

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      events: { type: "string", default: "2000" },
      runs: { type: "string", default: "5" },
      concurrency: { type: "string", default: "1,64" },
    },
  });
  const perRun = Number(values.events);
  const runs = Number(values.runs);
  // PUBLISH_CONCURRENCY values compared in the same run (1 = one publish at a time, as before).
  const levels = values.concurrency.split(",").map(Number);
  if (levels.some((c) => !Number.isInteger(c) || c < 1))
    throw new Error(`--concurrency: expected integers >= 1, got ${values.concurrency}`);
  const sb = await startSandbox({ kube: false, masters: 1, redisPerMaster: 1, sentinels: 1 });
  const source = sb.masters[0]!.redis[0]!;
  const nc = await natsOf(sb);
  const pub = source.client();
  const latencies = new Map<number, number[]>(levels.map((c) => [c, []]));
  const throughputs = new Map<number, number[]>(levels.map((c) => [c, []]));
  // The relay's own CPU (utime + stime) per event of the burst: steadier than throughput on a shared machine.
  const cpuPerEvent = new Map<number, number[]>(levels.map((c) => [c, []]));
  try {
    const js = jetstream(nc);
    await pub.connect();
    const stored = new Map<string, number>();
    let seq = 0;
    let consuming = false;
    // Runs alternate between the levels, so a busy moment of the machine hits them alike.
    for (let run = 0; run < runs; run++) {
      for (const concurrency of levels) {
        const relay = failoverProcess({
          name: `sentinel-relay (PUBLISH_CONCURRENCY ${concurrency})`,
          args: ["relay"],
          env: {
            ...sandboxEnv(sb),
            SENTINELS: `${source.spec.ip}:6379`,
            SENTINEL_PASSWORD: sb.password ?? "",
            LOG_LEVEL: "warn",
            PUBLISH_CONCURRENCY: String(concurrency),
          },
          httpPort: 18080,
          logFile: join(sb.dir, `relay-${concurrency}.log`),
        });
        await relay.start();
        try {
          if (!consuming) {
            consuming = true;
            const consumer = await js.consumers.get("REDIS_SENTINEL", { filter_subjects: ["redis.sentinel.*.sdown"] });
            const messages = await consumer.consume();
            void (async () => {
              for await (const m of messages) {
                const raw = m.json<{ instance?: { name?: string } }>().instance?.name ?? "";
                if (!stored.has(raw)) stored.set(raw, performance.now());
              }
            })();
          }
          // Latency: one event at a time.
          for (let i = 0; i < 200; i++) {
            const name = `lat-${run}-${concurrency}-${i}-${seq++}`;
            const sentAt = performance.now();
            await pub.publish("+sdown", `master ${name} 198.18.1.10 6379`);
            await waitFor("stored", () => stored.has(name), { timeoutMs: 10_000, intervalMs: 1 });
            latencies.get(concurrency)!.push(stored.get(name)! - sentAt);
          }
          // Throughput: a burst (a failover storm of many masters).
          const t0 = performance.now();
          const cpu0 = processCpuMs(relay.pid);
          let last = "";
          for (let i = 0; i < perRun; i++) {
            last = `tp-${run}-${concurrency}-${i}-${seq++}`;
            void pub.publish("+sdown", `master ${last} 198.18.1.10 6379`);
          }
          await waitFor("burst stored", () => stored.has(last), { timeoutMs: 120_000, intervalMs: 5 });
          throughputs.get(concurrency)!.push(perRun / ((performance.now() - t0) / 1000));
          cpuPerEvent.get(concurrency)!.push(((processCpuMs(relay.pid) - cpu0) * 1000) / perRun);
        } finally {
          await relay.stop();
        }
      }
    }
    const rows: (string | number)[][] = [];
    const out: Record<string, unknown> = {};
    for (const c of levels) {
      const lat = summarize(latencies.get(c)!);
      const tp = summarize(throughputs.get(c)!);
      rows.push([`PUBLISH_CONCURRENCY ${c}: added latency, PUBLISH -> stored (ms)`, lat.p50, lat.p95, lat.p99, lat.min, lat.max]);
      const cpu = summarize(cpuPerEvent.get(c)!);
      rows.push([`PUBLISH_CONCURRENCY ${c}: burst throughput, events/s (per run)`, tp.p50, tp.p95, tp.p99, tp.min, tp.max]);
      rows.push([`PUBLISH_CONCURRENCY ${c}: the relay's CPU per burst event, µs (per run)`, cpu.p50, cpu.p95, cpu.p99, cpu.min, cpu.max]);
      out[String(c)] = { latencyMs: lat, throughputPerSecond: tp, cpuMicrosPerEvent: cpu };
    }
    const base = summarize(throughputs.get(levels[0]!)!).p50;
    const ratios = Object.fromEntries(levels.map((c) => [String(c), Math.round((summarize(throughputs.get(c)!).p50 / base) * 100) / 100]));
    console.log(`\nsentinel-relay on this machine: ${runs} runs per level of 200 single events + a burst of ${perRun}\n`);
    console.log(table(["measure", "p50", "p95", "p99", "min", "max"], rows));
    console.log(`\nburst throughput, median over PUBLISH_CONCURRENCY ${levels[0]}'s: ${JSON.stringify(ratios)}`);
    mkdirSync("bench/out", { recursive: true });
    writeFileSync(
      "bench/out/relay.json",
      `${JSON.stringify({ when: new Date().toISOString(), runs, burst: perRun, levels: out, throughputRatio: ratios }, null, 2)}\n`,
    );
    console.log("\nbench: wrote bench/out/relay.json");
  } finally {
    pub.disconnect();
    await nc.close();
    await sb.stop();
  }
}

if (!inSandboxNamespace()) process.exit(reexecInSandbox());
await main();
