/**
 * `npm run bench:pleg`: how soon Kubernetes shows that a redis container died, by how the kubelet
 * learns of it. pod-loss-failover acts on what the pod's status says (a container stopped in a pod
 * being deleted, CrashLoopBackOff), and that status is only as fresh as the kubelet's pod
 * lifecycle event generator (PLEG): the generic one relists the runtime's containers once a second;
 * the evented one (feature gate EventedPLEG, alpha) asks for a relist on containerd's container
 * events. (A pod force-deleted is gone from the API at once, with no PLEG in the path: that is what
 * `npm run bench` measures.)
 *
 * On the sandbox's real node, in alternating phases (generic, evented, generic, ...: the kubelet is
 * restarted with the other configuration, its pods keep running), `--pods` fresh redis pods per
 * phase (fresh: the kubelet's restart back-off is per pod and container), each SIGKILLed once, a
 * few hundred ms apart so the kills fall anywhere in the relist period. Measured from the kill to
 * the first watch event in which the container is no longer running (from the bench's own watch,
 * as pod-loss-failover's watch would see it). Writes bench/pleg.json and bench/PLEG.md.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, release, totalmem } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { CoreV1Api } from "@kubernetes/client-node";
import type { V1Pod } from "@kubernetes/client-node";
import { inSandboxNamespace } from "../sandbox/addresses.ts";
import { reexecInSandbox } from "../sandbox/cli.ts";
import { applyNamespace } from "../sandbox/cluster.ts";
import { mainPid, startNodeSandbox } from "../sandbox/stack.ts";
import type { Sandbox } from "../sandbox/index.ts";
import { waitFor } from "../sandbox/wait.ts";
import { summarize, table } from "./lib/stats.ts";
import type { Summary } from "./lib/stats.ts";
import { ObjectWatch } from "./lib/watch-state.ts";

const NS = "pleg-bench";
const IMAGE = "redis:7.0.15-bookworm";
const MODES = { generic: {}, evented: { EventedPLEG: true } } as const;
type Mode = keyof typeof MODES;

/** The redis container's status in `pod`. */
const redisStatus = (pod: V1Pod | undefined) => pod?.status?.containerStatuses?.find((c) => c.name === "redis");
const runningReady = (pod: V1Pod | undefined) => Boolean(redisStatus(pod)?.state?.running && redisStatus(pod)?.ready);

async function phase(sb: Sandbox, watch: ObjectWatch<V1Pod>, mode: Mode, round: number, pods: number): Promise<number[]> {
  const core = sb.kubeConfig.makeApiClient(CoreV1Api);
  await sb.node!.restartKubelet(MODES[mode]);
  const names = Array.from({ length: pods }, (_, i) => `redis-${mode}-${round}-${i}`);
  for (const name of names)
    await core.createNamespacedPod({
      namespace: NS,
      body: {
        metadata: { name, labels: { app: "pleg-bench" } },
        spec: {
          terminationGracePeriodSeconds: 0,
          automountServiceAccountToken: false,
          containers: [
            {
              name: "redis",
              image: IMAGE,
              args: ["--save", "", "--appendonly", "no"],
              readinessProbe: { tcpSocket: { port: 6379 }, periodSeconds: 1 },
            },
          ],
        },
      },
    });
  await waitFor(`${pods} redis pods running and ready (${mode})`, () => names.every((n) => runningReady(watch.objects.get(n))), {
    timeoutMs: 180_000,
    intervalMs: 200,
  });
  const samples: number[] = [];
  for (const name of names) {
    const pid = await mainPid(sb, name, "redis", NS);
    const killedAt = performance.now();
    process.kill(pid, "SIGKILL");
    const seen = await waitFor(
      `${name}'s death in its status (${mode})`,
      () => watch.firstAfter(killedAt, (objects) => !redisStatus(objects.get(name))?.state?.running),
      { timeoutMs: 30_000, intervalMs: 5 },
    );
    samples.push(seen - killedAt);
    // A kill anywhere in the next relist period, not in step with it.
    await sleep(150 + Math.random() * 400);
  }
  await core.deleteCollectionNamespacedPod({ namespace: NS, labelSelector: "app=pleg-bench", gracePeriodSeconds: 0 });
  await waitFor("the phase's pods gone", () => watch.objects.size === 0, { timeoutMs: 120_000, intervalMs: 200 });
  return samples;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      pods: { type: "string", default: "25" },
      rounds: { type: "string", default: "2" },
      out: { type: "string", default: "bench" },
    },
  });
  const pods = Number(values.pods);
  const rounds = Number(values.rounds);
  if (!Number.isInteger(pods) || pods < 1 || !Number.isInteger(rounds) || rounds < 1)
    throw new Error("bench:pleg: --pods and --rounds must be whole numbers >= 1");
  console.log(`bench:pleg: the sandbox's real node; ${rounds} rounds of ${pods} kills per PLEG (generic, evented, alternating)`);
  const sb = await startNodeSandbox();
  const watch = new ObjectWatch<V1Pod>(sb.kubeConfig, `/api/v1/namespaces/${NS}/pods`);
  try {
    await applyNamespace(sb.kubeConfig, NS);
    await watch.start();
    const samples: Record<Mode, number[]> = { generic: [], evented: [] };
    for (let round = 0; round < rounds; round++) {
      for (const mode of Object.keys(MODES) as Mode[]) {
        const got = await phase(sb, watch, mode, round, pods);
        samples[mode].push(...got);
        const s = summarize(got);
        console.log(`round ${round + 1}/${rounds}, ${mode}: kill -> status not running p50 ${s.p50} ms, max ${s.max} ms (n ${s.n})`);
      }
    }
    // The kubelet took the gate (it logs the gates it was given); the figures show whether it acted on it.
    const kubeletLog = readFileSync(join(sb.node!.paths.dir, "kubelet.log"), "utf8");
    const eventedStarted = kubeletLog.includes('featureGates={"EventedPLEG":true}');
    const figures = Object.fromEntries((Object.keys(MODES) as Mode[]).map((m) => [m, summarize(samples[m])])) as Record<Mode, Summary>;
    const tailOf = (s: Summary) => (s.n >= 100 ? { p99: s.p99 } : { max: s.max });
    const results = {
      when: new Date().toISOString(),
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), kernel: release() },
      path: "the sandbox's real node (kubelet, containerd); kill = SIGKILL of the redis container's main process; seen = the bench's pod watch",
      settings: { podsPerPhase: pods, rounds, image: IMAGE, featureGates: MODES },
      killToStatusMs: Object.fromEntries(
        (Object.keys(MODES) as Mode[]).map((m) => [m, { n: figures[m].n, p50: figures[m].p50, ...tailOf(figures[m]) }]),
      ),
      /** Generic p50 over evented p50. */
      eventedSpeedup: Math.round((figures.generic.p50 / figures.evented.p50) * 100) / 100,
      kubeletLogShowsEventedPlegGate: eventedStarted,
      samples,
    };
    const md = [
      `# How soon Kubernetes shows a container's death (real node)`,
      ``,
      `${results.when}; ${results.machine.cpus} cores, Linux ${results.machine.kernel}. ${results.path}. ${rounds} rounds of ${pods} fresh redis pods per PLEG, alternating.`,
      ``,
      table(
        ["kubelet PLEG", "n", "p50 (ms)", "tail (ms)"],
        (Object.keys(MODES) as Mode[]).map((m) => [
          m === "generic" ? "generic (relist every 1 s)" : "evented (EventedPLEG: relist on containerd's events)",
          figures[m].n,
          figures[m].p50,
          figures[m].n >= 100 ? `p99 ${figures[m].p99}` : `max ${figures[m].max}`,
        ]),
      ),
      ``,
      `Generic p50 over evented p50: **${results.eventedSpeedup}**. The kubelet's log shows it took the EventedPLEG gate: ${eventedStarted}.`,
      ``,
    ].join("\n");
    console.log(`\n${md}`);
    mkdirSync(values.out, { recursive: true });
    writeFileSync(join(values.out, "pleg.json"), `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(join(values.out, "PLEG.md"), md);
  } finally {
    watch.stop();
    await sb.stop();
  }
}

if (!inSandboxNamespace()) process.exit(reexecInSandbox());
await main();
