/**
 * `npm run demo` (`node demo/main.ts`): the whole mission on this machine. By default on real pods
 * (demo/on-node.ts: the dev overlay on the sandbox's node, the client through kube-proxy, a crash
 * of the master pod). `--processes`: the faster process mode below: the sandbox with the relay
 * and the functions as real processes, a sentinel-unaware writer that connects through
 * `redis-master` as the in-process resolver follows its EndpointSlice (a stand-in for kube-proxy),
 * the master's process SIGKILLed. Both print the live timeline, the topology and a summary, and
 * stop everything they started (unless --keep).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { CoreV1Api } from "@kubernetes/client-node";
import type { V1ConfigMap, V1Pod } from "@kubernetes/client-node";
import { connect } from "@nats-io/transport-node";
import { inSandboxNamespace } from "../sandbox/addresses.ts";
import { howToReach, reexecInSandbox } from "../sandbox/cli.ts";
import { waitForSignal } from "../shared/signals.ts";
import { startSandbox } from "../sandbox/sandbox.ts";
import { serverFamily } from "../sandbox/paths.ts";
import type { Sandbox } from "../sandbox/sandbox.ts";
import { ServiceResolver } from "../sandbox/service-resolver.ts";
import { waitFor } from "../sandbox/wait.ts";
import { Writer } from "../sandbox/writer.ts";
import { startProject } from "../sandbox/project.ts";
import { ObjectWatch } from "../bench/lib/watch-state.ts";
import { nodeDemo } from "./on-node.ts";
import { median, Timeline } from "./timeline.ts";
import type { FailoverSummary } from "./timeline.ts";

async function topology(sb: Sandbox): Promise<string> {
  const pods = await sb.kubeConfig
    .makeApiClient(CoreV1Api)
    .listNamespacedPod({ namespace: sb.namespace, labelSelector: "app.kubernetes.io/name=redis" });
  const rows = [["NAME", "IP", "REDIS-ROLE (label)", "ROLE (INFO replication)"]];
  for (const p of pods.items.sort((a, b) => (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? ""))) {
    const r = sb.redisAt({ host: p.status?.podIP ?? "", port: 6379 });
    const role = r?.process.running
      ? await r.replicationInfo().then(
          (i) => i.role ?? "?",
          () => "down",
        )
      : "down";
    rows.push([p.metadata?.name ?? "", p.status?.podIP ?? "", p.metadata?.labels?.["redis-role"] ?? "<none>", role]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => `  ${r.map((c, i) => c.padEnd(widths[i]!)).join("   ")}`).join("\n");
}

export async function main(args: string[]): Promise<number | void> {
  if (!inSandboxNamespace()) return reexecInSandbox();
  const { values } = parseArgs({
    args,
    options: {
      failovers: { type: "string", default: "1" },
      "down-after": { type: "string", default: "2000" },
      keep: { type: "boolean", default: false },
      out: { type: "string", default: "demo-out" },
      processes: { type: "boolean", default: false },
      server: { type: "string", default: "redis" },
    },
  });
  const failovers = Number(values.failovers);
  const server = serverFamily(values.server, "--server");
  if (!values.processes) {
    if (!Number.isInteger(failovers) || failovers < 1) throw new Error(`--failovers: expected a positive integer, got ${values.failovers}`);
    return nodeDemo({ failovers, keep: values.keep, out: values.out, server });
  }
  const downAfterMs = Number(values["down-after"]);
  if (!Number.isInteger(failovers) || failovers < 1) throw new Error(`--failovers: expected a positive integer, got ${values.failovers}`);
  if (!Number.isInteger(downAfterMs) || downAfterMs < 100)
    throw new Error(`--down-after: expected an integer >= 100 (ms), got ${values["down-after"]}`);

  const started = performance.now();
  console.log(
    `demo: starting the sandbox: etcd, kube-apiserver, kube-controller-manager, nats-server, ${server} x3, sentinel x3 (down-after ${downAfterMs} ms)`,
  );
  const sb = await startSandbox({ downAfterMs, keepDir: values.keep, server });
  const cleanups: (() => Promise<void> | void)[] = [];
  try {
    console.log(`demo: starting sentinel-relay x2 and the functions as processes, applying Services/RBAC/ConfigMap`);
    const project = await startProject(sb);
    cleanups.push(() => project.stop());
    const kc = sb.kubeConfig;
    const ns = sb.namespace;
    const masterName = sb.masters[0]!.name;
    const resolver = new ServiceResolver(kc, ns, "redis-master");
    await resolver.start();
    cleanups.push(() => resolver.stop());
    const first = await sb.currentMaster(masterName);
    await waitFor("redis-master to name the master", () => resolver.address?.host === first.host, { timeoutMs: 60_000 });
    const writer = new Writer({ target: () => resolver.address, password: sb.password, keyPrefix: "demo" });
    writer.start();
    cleanups.push(() => writer.stop());
    console.log(
      `demo: ready in ${((performance.now() - started) / 1000).toFixed(1)} s; a client writes through redis-master (now ${first.host})\n`,
    );

    // Observers for the timeline: every Sentinel's channels, the relay's publications, the objects.
    const sentinelSubs = await Promise.all(
      sb.sentinels.map(async (s) => {
        const c = s.client();
        await c.connect();
        await c.psubscribe("+sdown", "+odown", "+switch-master");
        return c;
      }),
    );
    cleanups.push(() => sentinelSubs.forEach((c) => c.disconnect()));
    const nc = await connect({ servers: sb.nats!.url, user: sb.natsUser, pass: sb.natsPassword });
    cleanups.push(() => nc.close());
    const pods = new ObjectWatch<V1Pod>(kc, `/api/v1/namespaces/${ns}/pods`, { labelSelector: "app.kubernetes.io/name=redis" });
    const cms = new ObjectWatch<V1ConfigMap>(kc, `/api/v1/namespaces/${ns}/configmaps`, { fieldSelector: "metadata.name=redis-master" });
    await pods.start();
    await cms.start();
    cleanups.push(
      () => pods.stop(),
      () => cms.stop(),
    );

    const summaries: FailoverSummary[] = [];
    for (let n = 1; n <= failovers; n++) {
      const old = await sb.currentMaster(masterName);
      const oldRedis = sb.redisAt({ host: old.host, port: old.port })!;
      const killAt = performance.now();
      const tl = new Timeline(killAt);
      console.log(`failover ${n}/${failovers}: SIGKILL the master ${old.host} (${sb.podOf(oldRedis)})`);
      let newHost: string | undefined;
      const onSentinel = (index: number) => (_p: string, channel: string, message: string) => {
        if (channel === "+sdown" && message.startsWith("master")) tl.add(`+sdown (first: sentinel-${index})`, message, "+sdown");
        if (channel === "+odown") tl.add(`+odown (sentinel-${index})`, message, "+odown");
        if (channel === "+switch-master") {
          newHost ??= message.split(" ")[3];
          tl.add(`+switch-master (sentinel-${index})`, message, "+switch-master");
        }
      };
      const listeners = sentinelSubs.map((c, i) => {
        const l = onSentinel(i);
        c.on("pmessage", l);
        return () => c.off("pmessage", l);
      });
      const relaySub = nc.subscribe("redis.sentinel.*.switch-master");
      void (async () => {
        for await (const m of relaySub)
          tl.add("relay published switch-master", `${m.subject} id ${m.headers?.get("ce-id").slice(0, 12) ?? "?"}`);
      })();
      tl.add("kill", `${old.host} SIGKILL`, "kill", killAt);
      tl.startSpinner("failing over");
      await oldRedis.process.kill();
      const host = await waitFor("+switch-master", () => newHost, { timeoutMs: 60_000, intervalMs: 5 });
      const podOf = (objs: Map<string, V1Pod>, h: string) => [...objs.values()].find((p) => p.status?.podIP === h);
      const seen = await waitFor(
        "labels, EndpointSlice, ConfigMap and a write on the new master",
        () => {
          const labelsAt = pods.firstAfter(killAt, (o) => podOf(o, host)?.metadata?.labels?.["redis-role"] === "master");
          const sliceAt = resolver.changes.find((c) => c.at >= killAt && c.addresses.join() === host)?.at;
          const cmAt = cms.firstAfter(killAt, (o) => o.get("redis-master")?.data?.host === host);
          const ackAt = writer.firstAckAfter(killAt, host)?.at;
          if (labelsAt)
            tl.add("label-master: redis-role=master", `pod ${podOf(pods.objects, host)?.metadata?.name ?? "?"}`, "labels", labelsAt);
          if (sliceAt) tl.add("master-endpoints: EndpointSlice", `redis-master -> ${host}`, "slice", sliceAt);
          if (cmAt)
            tl.add("master-configmap: ConfigMap", `host ${host} epoch ${cms.objects.get("redis-master")?.data?.epoch ?? "?"}`, "cm", cmAt);
          if (ackAt)
            tl.add("client: first write on new master", `through redis-master (${writer.failures} failed attempts so far)`, "ack", ackAt);
          return labelsAt && sliceAt && cmAt && ackAt ? { labelsAt, sliceAt, cmAt, ackAt } : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 5 },
      );
      const { labelsAt, sliceAt, cmAt, ackAt } = seen;
      tl.stopSpinner();
      relaySub.unsubscribe();
      for (const off of listeners) off();
      const switchAt = tl.entries.find((e) => e.step.startsWith("+switch-master"))?.atMs ?? Number.NaN;
      const written = Math.max(labelsAt, cmAt, sliceAt) - killAt;
      summaries.push({
        n,
        from: old.host,
        to: host,
        unavailabilityMs: Math.round(ackAt - killAt),
        propagationMs: Math.round(written - switchAt),
        timeline: tl.entries,
      });
      mkdirSync(values.out, { recursive: true });
      writeFileSync(join(values.out, `failover-${n}.svg`), tl.toSvg(`failover ${n}: ${old.host} -> ${host}`));
      console.log(`  old master ${old.host} restarts and rejoins as a replica ...`);
      await oldRedis.restart({ replicaOf: { host, port: 6379 } });
      await sb.waitSettled({ timeoutMs: 30_000 });
      console.log("");
    }

    await writer.stop();
    const now = await sb.currentMaster(masterName);
    const lost = await writer.checkLost({ host: now.host, port: now.port }, sb.password);
    console.log(`topology (kubectl get pods -L redis-role):\n${await topology(sb)}\n`);
    console.log(`summary over ${failovers} failover(s):
  write unavailability (kill -> first acknowledged write through redis-master): median ${median(summaries.map((s) => s.unavailabilityMs))} ms
  propagation (+switch-master -> labels, EndpointSlice and ConfigMap all written): median ${median(summaries.map((s) => s.propagationMs))} ms
  writes acknowledged ${writer.acks.length}, found afterwards ${writer.acks.length - lost.length}, lost ${lost.length}`);
    writeFileSync(
      join(values.out, "timeline.json"),
      `${JSON.stringify({ downAfterMs, failovers: summaries, acknowledged: writer.acks.length, lost: lost.length }, null, 2)}\n`,
    );
    console.log(`  timeline: ${join(values.out, "timeline.json")} and ${join(values.out, "failover-*.svg")}`);
    if (values.keep) {
      console.log(
        `\n--keep: the sandbox and the functions stay up (dir ${sb.dir}). From another shell:\n${howToReach(sb, now.host)}\nCtrl-C stops everything.`,
      );
      await waitForSignal();
      console.log("demo: stopping ...");
    }
  } finally {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
    await sb.stop();
  }
}

if (process.argv[1] === new URL(import.meta.url).pathname) process.exitCode = (await main(process.argv.slice(2))) ?? 0;
