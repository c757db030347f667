/**
 * The demo on real pods (the default of `npm run demo`): the dev overlay deployed onto the
 * sandbox's node as `skaffold run -p sandbox` does, a sentinel-unaware client writing through the
 * `redis-master` ClusterIP (kube-proxy), the master crashed (its redis SIGKILLed and its pod
 * force-deleted), and the live timeline: the Sentinels, the relay's publication, each function's
 * write, the client's first write on the new master, the old master back as a replica in a new
 * pod (through the init container). Stops everything it started (unless --keep).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Watch } from "@kubernetes/client-node";
import type { CoreV1Event, V1ConfigMap, V1EndpointSlice, V1Pod } from "@kubernetes/client-node";
import { connect } from "@nats-io/transport-node";
import { Redis } from "ioredis";
import { nsenter } from "../sandbox/cli.ts";
import { crasher } from "../sandbox/faults.ts";
import {
  NATS_PASSWORD,
  NS,
  onPod,
  PASSWORD,
  picture,
  podsIn,
  ready,
  SENTINEL_PASSWORD,
  sentinelPods,
  startDevStack,
  devProfiles,
  waitSettled,
} from "../sandbox/stack.ts";
import { waitFor } from "../sandbox/wait.ts";
import type { ServerFamily } from "../sandbox/paths.ts";
import { Writer } from "../sandbox/writer.ts";
import { waitForSignal } from "../shared/signals.ts";
import { median, Timeline } from "./timeline.ts";
import type { FailoverSummary } from "./timeline.ts";

export interface NodeDemoOptions {
  failovers: number;
  keep: boolean;
  out: string;
  /** `valkey`: the dev overlay with components/valkey (skaffold -p sandbox,valkey). */
  server: ServerFamily;
}

/** Every event of a watch, as it comes, until the returned abort is called. */
async function onEvents<T>(
  sb: Awaited<ReturnType<typeof startDevStack>>["sb"],
  path: string,
  query: Record<string, string>,
  fn: (obj: T) => void,
): Promise<() => void> {
  const abort = await new Watch(sb.kubeConfig).watch(
    path,
    query,
    (_phase: string, obj: T) => fn(obj),
    () => undefined,
  );
  return () => abort.abort();
}

export async function nodeDemo(o: NodeDemoOptions): Promise<void> {
  const started = performance.now();
  console.log(
    `demo: starting the sandbox's node (kubelet, containerd, kube-proxy, CoreDNS, a registry) and deploying the dev overlay with skaffold run -p ${devProfiles(o.server)} ...`,
  );
  const stack = await startDevStack("demo", { server: o.server });
  const { sb } = stack;
  const cleanups: (() => Promise<void> | void)[] = [];
  try {
    const first = await waitSettled(sb);
    console.log(
      `demo: ready in ${((performance.now() - started) / 1000).toFixed(1)} s: ${(await podsIn(sb)).filter(ready).length} pods Ready in namespace ${NS}; master ${first.master} (${first.ipOf[first.master]})`,
    );
    const writer = new Writer({
      target: () => ({ host: stack.clusterIp, port: 6379 }),
      password: PASSWORD,
      keyPrefix: "demo",
      commandTimeoutMs: 1000,
    });
    writer.start();
    cleanups.push(() => writer.stop());
    await waitFor("the client's first writes", () => writer.acks.length > 10, { timeoutMs: 30_000 });
    console.log(`demo: a client without Sentinel support writes through the redis-master ClusterIP ${stack.clusterIp}:6379 (kube-proxy)\n`);

    const summaries: FailoverSummary[] = [];
    for (let n = 1; n <= o.failovers; n++) {
      const before = await waitSettled(sb);
      const oldIp = before.ipOf[before.master]!;
      const sentinels = await Promise.all(
        sentinelPods(before).map(async (name) => {
          const c = new Redis({ host: before.ipOf[name]!, port: 26379, password: SENTINEL_PASSWORD, lazyConnect: true });
          c.on("error", () => undefined);
          await c.connect();
          await c.psubscribe("+sdown", "+odown", "+switch-master");
          return { name, c };
        }),
      );
      const nc = await connect({
        servers: `${(await podsIn(sb)).find((p) => p.metadata?.labels?.["app.kubernetes.io/name"] === "nats")!.status!.podIP!}:4222`,
        user: "failover",
        pass: NATS_PASSWORD,
      });
      const crash = await crasher(sb, before.master);
      const tl = new Timeline(performance.now());
      let newIp: string | undefined;
      for (const { name, c } of sentinels) {
        c.on("pmessage", (_p: string, channel: string, message: string) => {
          if (channel === "+sdown" && message.startsWith("master")) tl.add(`+sdown (first: ${name})`, message, "+sdown");
          if (channel === "+odown") tl.add(`+odown (${name})`, message, "+odown");
          if (channel === "+switch-master") {
            newIp ??= message.split(" ")[3];
            tl.add(`+switch-master (first: ${name})`, message, "+switch-master");
          }
        });
      }
      const relayed = nc.subscribe("redis.sentinel.*.switch-master");
      void (async () => {
        for await (const m of relayed)
          tl.add("relay: published to JetStream", `${m.subject} (CloudEvent ${m.headers?.get("ce-id").slice(0, 12) ?? "?"})`, "relay");
      })();
      const marks: Record<string, number> = {};
      const mark = (key: string, step: string, detail: string) => {
        marks[key] ??= performance.now();
        tl.add(step, detail, key, marks[key]);
      };
      const stops = [
        await onEvents<V1Pod>(sb, `/api/v1/namespaces/${NS}/pods`, { labelSelector: "app.kubernetes.io/name=redis" }, (p) => {
          if (newIp && p.status?.podIP === newIp && p.metadata?.labels?.["redis-role"] === "master")
            mark("labels", "label-master: redis-role=master", `pod ${p.metadata.name}`);
        }),
        await onEvents<V1EndpointSlice>(
          sb,
          `/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices`,
          { labelSelector: "kubernetes.io/service-name=redis-master" },
          (s) => {
            const addresses = (s.endpoints ?? []).flatMap((e) => e.addresses);
            if (newIp && addresses.length === 1 && addresses[0] === newIp)
              mark("slice", "master-endpoints: EndpointSlice", `redis-master -> ${newIp}`);
          },
        ),
        await onEvents<V1ConfigMap>(sb, `/api/v1/namespaces/${NS}/configmaps`, { fieldSelector: "metadata.name=redis-master" }, (cm) => {
          if (newIp && cm.data?.host === newIp) mark("cm", "master-configmap: ConfigMap", `host ${newIp} epoch ${cm.data.epoch ?? "?"}`);
        }),
        await onEvents<CoreV1Event>(sb, `/api/v1/namespaces/${NS}/events`, {}, (e) => {
          if (e.reason === "MasterSwitched" && e.involvedObject.kind === "Pod")
            mark("event", "kube-events: Event MasterSwitched", `on pod ${e.involvedObject.name}`);
        }),
      ];
      console.log(`failover ${n}/${o.failovers}: crash of the master ${before.master} (${oldIp}): redis SIGKILLed, pod force-deleted`);
      tl.startSpinner("failing over");
      const killAt = await crash();
      tl.add("crash", `${before.master} ${oldIp} SIGKILL + pod deleted`, "crash", killAt);
      const to = await waitFor("+switch-master", () => newIp, { timeoutMs: 60_000, intervalMs: 5 });
      const ack = await waitFor("the client's first write after the crash", () => writer.firstAckAfter(killAt), {
        timeoutMs: 60_000,
        intervalMs: 5,
      });
      tl.add("client: first write acknowledged", `through the ClusterIP (${writer.failures} failed attempts so far)`, "ack", ack.at);
      await waitFor("labels, EndpointSlice and ConfigMap written", () => marks.labels && marks.slice && marks.cm, {
        timeoutMs: 30_000,
        intervalMs: 5,
      });
      await waitFor(
        "the old master back as a replica",
        async () => {
          const p = await picture(sb);
          const ip = p.ipOf[before.master];
          if (!ip || ip === oldIp) return false;
          const role = (await onPod(ip, 6379, (r) => r.call("ROLE")).catch(() => [])) as string[];
          if (role[0] === "slave" && role[1] === to)
            mark("replica", "old master: a replica of the new one", `${before.master} ${ip} (a new pod, the init container chose replica)`);
          return role[0] === "slave";
        },
        { timeoutMs: 120_000, intervalMs: 100 },
      );
      tl.stopSpinner();
      for (const s of stops) s();
      relayed.unsubscribe();
      await nc.close();
      for (const { c } of sentinels) c.disconnect();
      // Both on the timeline's clock (ms since it started, just before the kill).
      const switchAt = tl.entries.find((e) => e.step.startsWith("+switch-master"))?.atMs ?? Number.NaN;
      const writtenAt = Math.max(
        ...["label-master", "master-endpoints", "master-configmap"].map(
          (f) => tl.entries.find((e) => e.step.startsWith(f))?.atMs ?? Number.NaN,
        ),
      );
      summaries.push({
        n,
        from: oldIp,
        to,
        unavailabilityMs: Math.round(ack.at - killAt),
        propagationMs: Math.round(writtenAt - switchAt),
        timeline: tl.entries,
      });
      mkdirSync(o.out, { recursive: true });
      writeFileSync(join(o.out, `failover-${n}.svg`), tl.toSvg(`failover ${n}: ${oldIp} -> ${to} (real pods)`));
      console.log("");
    }
    await writer.stop();
    const now = await waitSettled(sb);
    const lost = await writer.checkLost({ host: now.ipOf[now.master]!, port: 6379 }, PASSWORD);
    console.log(
      `topology (kubectl get pods -L redis-role):\n${(await sb.kubectl("-n", NS, "get", "pods", "-l", "app.kubernetes.io/name=redis", "-o", "wide", "-L", "redis-role")).trimEnd().replace(/^/gm, "  ")}\n`,
    );
    console.log(`summary over ${o.failovers} failover(s), real pods:
  write unavailability (crash -> first acknowledged write through the ClusterIP): median ${median(summaries.map((s) => s.unavailabilityMs))} ms
  propagation (+switch-master -> labels, EndpointSlice and ConfigMap all written, seen by a watch): median ${median(summaries.map((s) => s.propagationMs))} ms
  writes acknowledged ${writer.acks.length}, found afterwards ${writer.acks.length - lost.length}, lost ${lost.length}`);
    writeFileSync(
      join(o.out, "timeline.json"),
      `${JSON.stringify({ mode: "node", failovers: summaries, acknowledged: writer.acks.length, lost: lost.length }, null, 2)}\n`,
    );
    console.log(`  timeline: ${join(o.out, "timeline.json")} and ${join(o.out, "failover-*.svg")}`);
    if (o.keep) {
      console.log(
        `\n--keep: the node and the stack stay up (dir ${sb.dir}). From another shell:\n  ${nsenter()} env KUBECONFIG=${sb.kubeconfigPath} kubectl get pods -n ${NS} -o wide -L redis-role\nCtrl-C stops everything.`,
      );
      await waitForSignal();
      console.log("demo: stopping ...");
    }
  } finally {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
    await stack.stop();
  }
}
