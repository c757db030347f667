/**
 * `npm run bench:apply`: one server-side apply, the functions' write, as the project sends it
 * (`Kube.apply` with the access a function process loads, shared/kube-access.ts: undici with the
 * kubeconfig's credentials, the answer parsed as plain JSON) against `@kubernetes/client-node`'s
 * own `KubernetesObjectApi.patch` (its model classes serialize the body and deserialize the
 * answer), on a real kube-apiserver (the sandbox's control plane, no node), each over its own
 * keep-alive connection pool, warmed before the first batch. Per path and object: latency p50/p99/mean, the apiserver's own mean
 * for the same requests (apiserver_request_duration_seconds, verb APPLY, read from its /metrics
 * around each batch), and the CPU this process spent per call. Batches alternate between the two
 * paths, so a busy moment of the machine hits both alike. Prints a table, writes bench/apply.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { KubernetesObjectApi, PatchStrategy } from "@kubernetes/client-node";
import type { KubernetesObject } from "@kubernetes/client-node";
import { inSandboxNamespace } from "../sandbox/addresses.ts";
import { reexecInSandbox } from "../sandbox/cli.ts";
import { startSandbox } from "../sandbox/sandbox.ts";
import { loadKubeAccess } from "../shared/kube-access.ts";
import { loadKubeConfig } from "../shared/kube-config.ts";
import { Kube } from "../shared/runtime/kube.ts";
import { histogram, histogramDelta, parsePrometheusText } from "./lib/prom-scrape.ts";
import { summarize, table } from "./lib/stats.ts";
import type { Summary } from "./lib/stats.ts";

type Path = "project" | "clientNode";
const PATHS: Record<Path, string> = {
  project: "Kube.apply (undici, plain JSON)",
  clientNode: "client-node KubernetesObjectApi.patch",
};
const FIELD_MANAGER = "bench-apply";

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { calls: { type: "string", default: "200" }, batches: { type: "string", default: "6" } } });
  const calls = Number(values.calls);
  const batches = Number(values.batches);
  if (!Number.isInteger(calls) || calls < 1 || !Number.isInteger(batches) || batches < 2 || batches % 2 !== 0)
    throw new Error("bench:apply: --calls must be a whole number >= 1, --batches an even number >= 2");
  const sb = await startSandbox({ nats: false, masters: 1, redisPerMaster: 1, sentinels: 1 });
  try {
    process.env.KUBECONFIG = sb.kubeconfigPath;
    const kc = loadKubeConfig();
    const kube = new Kube(loadKubeAccess());
    const objects = KubernetesObjectApi.makeApiClient(kc);
    const namespace = sb.namespace;
    const pod = sb.podOf(sb.masters[0]!.redis[0]!);
    // What label-master and master-configmap write: a label and an annotation on a Pod; a ConfigMap's data.
    const bodies: Record<"pod" | "configMap", (i: number) => KubernetesObject> = {
      pod: (i) => ({
        apiVersion: "v1",
        kind: "Pod",
        metadata: {
          name: pod,
          namespace,
          labels: { "redis-role": i % 2 ? "master" : "replica" },
          annotations: { "failover.io/epoch": String(i) },
        },
      }),
      configMap: (i) =>
        ({
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: "bench-apply", namespace },
          data: { epoch: String(i) },
        }) as KubernetesObject,
    };
    const send: Record<Path, (o: KubernetesObject) => Promise<unknown>> = {
      project: (o) => kube.apply(o, FIELD_MANAGER),
      clientNode: (o) => objects.patch(o, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply),
    };
    const apiserver = async () => parsePrometheusText(await sb.kubectl("get", "--raw", "/metrics"));
    const resourceOf = { pod: "pods", configMap: "configmaps" } as const;
    // Warm both paths (the pool's connection, client-node's discovery of v1).
    for (const what of ["pod", "configMap"] as const) for (const p of Object.keys(PATHS) as Path[]) await send[p](bodies[what](0));

    const latency = new Map<string, number[]>();
    const cpuMs = new Map<string, number>();
    const serverMs = new Map<string, { sum: number; count: number }>();
    let i = 1;
    for (let batch = 0; batch < batches; batch++) {
      // ABBA order over the batches.
      const order: Path[] = batch % 2 === 0 ? ["project", "clientNode"] : ["clientNode", "project"];
      for (const what of ["pod", "configMap"] as const) {
        for (const p of order) {
          const key = `${what} ${p}`;
          const before = await apiserver();
          const cpu = process.cpuUsage();
          const xs = latency.get(key) ?? [];
          for (let c = 0; c < calls; c++) {
            const t = performance.now();
            await send[p](bodies[what](i++));
            xs.push(performance.now() - t);
          }
          const used = process.cpuUsage(cpu);
          latency.set(key, xs);
          cpuMs.set(key, (cpuMs.get(key) ?? 0) + (used.user + used.system) / 1000);
          const labels = { verb: "APPLY", resource: resourceOf[what] };
          const h = histogramDelta(
            histogram(before, "apiserver_request_duration_seconds", labels),
            histogram(await apiserver(), "apiserver_request_duration_seconds", labels),
          );
          const s = serverMs.get(key) ?? { sum: 0, count: 0 };
          serverMs.set(key, { sum: s.sum + h.sum * 1000, count: s.count + h.count });
        }
      }
    }
    const round = (x: number) => Math.round(x * 100) / 100;
    const results: Record<string, { latencyMs: Summary; apiserverMeanMs: number; clientCpuMsPerCall: number }> = {};
    for (const [key, xs] of latency) {
      const s = serverMs.get(key)!;
      results[key] = {
        latencyMs: summarize(xs),
        apiserverMeanMs: round(s.sum / s.count),
        clientCpuMsPerCall: round(cpuMs.get(key)! / xs.length),
      };
    }
    const ratio = (what: "pod" | "configMap", f: (r: (typeof results)[string]) => number) =>
      round(f(results[`${what} clientNode`]!) / f(results[`${what} project`]!));
    const out = {
      when: new Date().toISOString(),
      path: "the sandbox's kube-apiserver (no node), this process in the sandbox's network namespace; one warm keep-alive pool per path",
      settings: { callsPerBatch: calls, batches },
      results,
      clientNodeOverProject: {
        podP50: ratio("pod", (r) => r.latencyMs.p50),
        configMapP50: ratio("configMap", (r) => r.latencyMs.p50),
        podCpu: ratio("pod", (r) => r.clientCpuMsPerCall),
        configMapCpu: ratio("configMap", (r) => r.clientCpuMsPerCall),
      },
    };
    const md = table(
      ["object", "path", "n", "p50 ms", "p99 ms", "mean ms", "apiserver mean ms", "client CPU ms per call"],
      Object.entries(results).map(([key, r]) => {
        const [what, p] = key.split(" ") as ["pod" | "configMap", Path];
        return [what, PATHS[p], r.latencyMs.n, r.latencyMs.p50, r.latencyMs.p99, r.latencyMs.mean, r.apiserverMeanMs, r.clientCpuMsPerCall];
      }),
    );
    console.log(`\n${md}\n\nclient-node / project: ${JSON.stringify(out.clientNodeOverProject)}`);
    mkdirSync("bench", { recursive: true });
    writeFileSync(join("bench", "apply.json"), `${JSON.stringify(out, null, 2)}\n`);
    console.log("bench:apply: wrote bench/apply.json");
  } finally {
    await sb.stop();
  }
}

if (!inSandboxNamespace()) process.exit(reexecInSandbox());
await main();
