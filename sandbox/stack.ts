/**
 * The shipped stack on the sandbox's real node, driven as a user drives it: skaffold in a copy of
 * the checkout, kubectl, and the cluster's picture of the master read back from the apiserver.
 * Used by the tests on the node (test/integration/*-on-node, test/e2e, test/chaos) and the demo.
 */
import { execFile, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { CoreV1Api, DiscoveryV1Api } from "@kubernetes/client-node";
import { Redis } from "ioredis";
import type { V1Pod } from "@kubernetes/client-node";
import { binaryPath } from "./paths.ts";
import type { ServerFamily } from "./paths.ts";
import { startSandbox } from "./sandbox.ts";
import type { Sandbox } from "./sandbox.ts";
import { waitFor } from "./wait.ts";
import { REGISTRY } from "./addresses.ts";
import { Writer } from "./writer.ts";
import { fieldsToRecord } from "../shared/sentinel-quorum.ts";
import { serverIdentityOf } from "../shared/redis-info.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const run = promisify(execFile);

/** The namespace both overlays deploy into. */
export const NS = "redis";

export const ready = (p: V1Pod): boolean => p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;

/**
 * A sandbox with the real node, for deploying the stack: its own process pods go to namespace
 * `sandbox-processes`, and its redis and sentinel processes are stopped (skaffold gives
 * localhost:6379 to a forward only when no address of the machine has port 6379 taken).
 */
export async function startNodeSandbox(): Promise<Sandbox> {
  const sb = await startSandbox({ node: true, nats: false, masters: 1, redisPerMaster: 1, sentinels: 1, namespace: "sandbox-processes" });
  for (const p of [...sb.masters.flatMap((m) => m.redis.map((r) => r.process)), ...sb.sentinels.map((s) => s.process)]) await p.stop();
  return sb;
}

/** A copy of the checkout's files (tracked and new, not ignored ones), for skaffold to build and watch. */
export async function copyCheckout(): Promise<string> {
  const workdir = mkdtempSync(join(tmpdir(), "skaffold-e2e-"));
  const { stdout: files } = await run("git", ["ls-files", "-co", "--exclude-standard", "-z"], { cwd: ROOT, maxBuffer: 16 << 20 });
  await new Promise<void>((resolve, reject) => {
    const tar = spawn("bash", ["-c", `tar -C "${ROOT}" --null -T - -cf - | tar -C "${workdir}" -xf -`], {
      stdio: ["pipe", "ignore", "inherit"],
    });
    tar.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`copying the checkout: tar exited ${code}`))));
    tar.stdin.end(files);
  });
  return workdir;
}

/** A running skaffold command: its whole output so far, and its exit once it has one. */
export interface Skaffold {
  process: ChildProcess;
  output(): string;
  exited(): string | undefined;
  /** Resolves when the output contains `text`; rejects with the output's tail if skaffold exits first. */
  waitOutput(text: string, what: string, timeoutMs: number): Promise<void>;
  /** Ctrl-C (skaffold dev then deletes what it deployed), SIGKILL after `timeoutMs`. */
  interrupt(timeoutMs?: number): Promise<void>;
}

/** `skaffold <args>` in `workdir` against the sandbox, pushing to the node's registry; output also in `<sb.dir>/<logName>`. */
export function skaffold(sb: Sandbox, workdir: string, args: string[], logName: string): Skaffold {
  const log = createWriteStream(join(sb.dir, logName));
  // skaffold leaves its own temporary folders behind when it is stopped: keep them in the sandbox's dir.
  const tmp = join(sb.dir, "skaffold-tmp");
  mkdirSync(tmp, { recursive: true });
  let output = "";
  let exited: string | undefined;
  const child = spawn(binaryPath("skaffold"), [...args, "--default-repo", REGISTRY, "--insecure-registry", REGISTRY], {
    cwd: workdir,
    env: {
      ...process.env,
      KUBECONFIG: sb.kubeconfigPath,
      PATH: `${join(binaryPath("kubectl"), "..")}:${process.env.PATH ?? ""}`,
      SKAFFOLD_UPDATE_CHECK: "false",
      SKAFFOLD_INTERACTIVE: "false",
      TMPDIR: tmp,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  for (const stream of [child.stdout, child.stderr]) {
    stream.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      log.write(chunk);
    });
  }
  const done = new Promise<void>((resolve) =>
    child.on("exit", (code, signal) => {
      exited = `skaffold ${args[0] ?? ""} exited (${code ?? signal})`;
      log.end();
      resolve();
    }),
  );
  return {
    process: child,
    output: () => output,
    exited: () => exited,
    waitOutput: (text, what, timeoutMs) =>
      waitFor(
        what,
        () => {
          if (output.includes(text)) return true;
          if (exited) throw new Error(`${exited} before ${what}:\n${output.slice(-4000)}`);
          return false;
        },
        { timeoutMs, intervalMs: 250 },
      ).then(
        () => undefined,
        (err: unknown) => {
          throw new Error(`${(err as Error).message}\n${output.slice(-4000)}`, { cause: err });
        },
      ),
    interrupt: async (timeoutMs = 120_000) => {
      if (exited) return;
      child.kill("SIGINT");
      await Promise.race([done, new Promise((r) => setTimeout(r, timeoutMs))]);
      if (!exited) child.kill("SIGKILL");
      await done;
    },
  };
}

/** Runs `skaffold run` to its end; returns its output, throws with the output's tail if it fails. */
export async function skaffoldRun(sb: Sandbox, workdir: string, args: string[], logName: string, timeoutMs = 600_000): Promise<string> {
  const s = skaffold(sb, workdir, ["run", ...args], logName);
  // The failure's message ends with skaffold's output: what it was still waiting for (its status check names the pod).
  const failed = (why: string, cause?: unknown) => new Error(`${why}:\n${s.output().slice(-4000)}`, { cause });
  await waitFor("skaffold run to finish", () => s.exited() !== undefined, { timeoutMs, intervalMs: 250 }).catch(async (err: unknown) => {
    await s.interrupt(5_000);
    throw failed((err as Error).message, err);
  });
  if (s.process.exitCode !== 0) throw failed(s.exited() ?? "skaffold run failed");
  return s.output();
}

export async function podsIn(sb: Sandbox, namespace = NS): Promise<V1Pod[]> {
  return (await sb.kubeConfig.makeApiClient(CoreV1Api).listNamespacedPod({ namespace })).items;
}

export interface MasterState {
  /** Pods labelled redis-role=master / replica. */
  masters: string[];
  replicas: string[];
  /** Addresses in the redis-master EndpointSlice(s). */
  sliceAddresses: string[];
  sliceTargets: string[];
  configMap: Record<string, string> | undefined;
  /** Every pod of the namespace (redis, sentinel, ...) with its pod IP. */
  podIPs: Record<string, string>;
}

export async function masterState(sb: Sandbox, ns = sb.namespace): Promise<MasterState> {
  const kc = sb.kubeConfig;
  // Every pod: only redis pods carry redis-role; the others are there for their IPs.
  const pods = await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: ns });
  const slices = await kc
    .makeApiClient(DiscoveryV1Api)
    .listNamespacedEndpointSlice({ namespace: ns, labelSelector: "kubernetes.io/service-name=redis-master" });
  const cm = await kc
    .makeApiClient(CoreV1Api)
    .readNamespacedConfigMap({ name: "redis-master", namespace: ns })
    .catch(() => undefined);
  const role = (r: string) =>
    pods.items
      .filter((p) => p.metadata?.labels?.["redis-role"] === r)
      .map((p) => p.metadata?.name ?? "")
      .sort();
  const endpoints = slices.items.flatMap((s) => s.endpoints ?? []);
  return {
    masters: role("master"),
    replicas: role("replica"),
    sliceAddresses: endpoints.flatMap((e) => e.addresses).sort(),
    sliceTargets: endpoints.map((e) => e.targetRef?.name ?? ""),
    configMap: cm?.data,
    podIPs: Object.fromEntries(pods.items.map((p) => [p.metadata?.name ?? "", p.status?.podIP ?? ""])),
  };
}

/** The cluster's picture of the master: labels, the EndpointSlice's addresses, the ConfigMap. */
export interface Picture {
  labelled: string[];
  endpoints: string[];
  configMapPod: string | undefined;
  ipOf: Record<string, string>;
}

export async function picture(sb: Sandbox, namespace = NS): Promise<Picture> {
  const s = await masterState(sb, namespace);
  return { labelled: s.masters, endpoints: s.sliceAddresses, configMapPod: s.configMap?.pod, ipOf: s.podIPs };
}

/** One master in every picture (labels, EndpointSlice, ConfigMap), other than `not` if given. */
export async function waitOneMaster(
  sb: Sandbox,
  what: string,
  opts: { not?: string; timeoutMs?: number } = {},
): Promise<Picture & { master: string }> {
  return waitFor(
    what,
    async () => {
      const now = await picture(sb);
      const m = now.labelled[0];
      return m &&
        m !== opts.not &&
        now.labelled.length === 1 &&
        now.endpoints.length === 1 &&
        now.endpoints[0] === now.ipOf[m] &&
        now.configMapPod === m
        ? { ...now, master: m }
        : undefined;
    },
    { timeoutMs: opts.timeoutMs ?? 90_000, intervalMs: 100 },
  );
}

/** Samples the picture every 100 ms until stopped; what it returns lists every moment with two masters or two endpoints. */
export function watchForTwoMasters(sb: Sandbox): { stop(): Promise<string[]> } {
  const violations: string[] = [];
  let sampling = true;
  const loop = (async () => {
    while (sampling) {
      const now = await picture(sb).catch(() => undefined);
      if (now && (now.labelled.length > 1 || now.endpoints.length > 1))
        violations.push(JSON.stringify({ labelled: now.labelled, endpoints: now.endpoints }));
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    stop: async () => {
      sampling = false;
      await loop;
      return violations;
    },
  };
}

/** Every running container of the node in `namespace`: pod, container and its main process's pid (this PID namespace). */
export async function containerProcesses(sb: Sandbox, namespace = NS): Promise<{ pod: string; container: string; pid: number }[]> {
  const listed = JSON.parse(await sb.node!.crictl(["ps", "-o", "json", "--label", `io.kubernetes.pod.namespace=${namespace}`])) as {
    containers: { id: string; metadata: { name: string }; labels: Record<string, string> }[];
  };
  const found = await Promise.all(
    listed.containers.map(async (c) => {
      const inspected = JSON.parse(await sb.node!.crictl(["inspect", c.id])) as { info: { pid: number } };
      return { pod: c.labels["io.kubernetes.pod.name"] ?? "?", container: c.metadata.name, pid: inspected.info.pid };
    }),
  );
  // A container between exit and restart reports pid 0, and kill(0) would signal this process's
  // whole group: only real pids.
  return found.filter((c) => Number.isInteger(c.pid) && c.pid > 1);
}

/** The main process of `pod`'s container `container` (pid in this PID namespace). */
export async function mainPid(sb: Sandbox, pod: string, container: string, namespace = NS): Promise<number> {
  const found = (await containerProcesses(sb, namespace)).find((c) => c.pod === pod && c.container === container);
  if (!found) throw new Error(`no running container ${container} in pod ${pod}`);
  return found.pid;
}

/**
 * A plain client writing through the `redis-master` ClusterIP (kube-proxy) and, in the same
 * failover, a sentinel-aware ioredis asking the Sentinel pods, with the two-masters watch running.
 * `stop` stops all three and checks both writers' acknowledged writes on `master`.
 */
export async function startWriters(
  sb: Sandbox,
  opts: {
    clusterIp: string;
    password: string;
    sentinelPassword: string;
    keyPrefix: string;
    commandTimeoutMs: number;
    waitReplicas?: { replicas: number; timeoutMs: number };
  },
): Promise<{
  plain: Writer;
  aware: Writer;
  stop(master: string): Promise<{ plainLost: number[]; awareLost: number[]; violations: string[] }>;
}> {
  const ipOf = (await picture(sb)).ipOf;
  const sentinels = [0, 1, 2].map((j) => ({ host: ipOf[`sentinel-${j}`]!, port: 26379 }));
  const { password, keyPrefix, commandTimeoutMs, waitReplicas } = opts;
  const plain = new Writer({ target: () => ({ host: opts.clusterIp, port: 6379 }), password, keyPrefix, commandTimeoutMs, waitReplicas });
  const aware = new Writer({
    target: () => undefined,
    sentinel: { sentinels, name: "mymaster", password: opts.sentinelPassword },
    password,
    keyPrefix: `${keyPrefix}-aware`,
    commandTimeoutMs,
    waitReplicas,
  });
  const watch = watchForTwoMasters(sb);
  plain.start();
  aware.start();
  return {
    plain,
    aware,
    stop: async (master) => {
      await Promise.all([plain.stop(), aware.stop()]);
      const violations = await watch.stop();
      const at = { host: master, port: 6379 };
      return { plainLost: await plain.checkLost(at, password), awareLost: await aware.checkLost(at, password), violations };
    },
  };
}

/** overlays/dev's generated credentials. */
export const PASSWORD = "dev-redis-password-change-me";
export const SENTINEL_PASSWORD = "dev-sentinel-password-change-me";
export const NATS_PASSWORD = "dev-nats-password-change-me";
/** overlays/dev's down-after-milliseconds and the base's min-replicas-max-lag. */
export const DOWN_AFTER_MS = 3000;
export const MAX_LAG_S = 3;

/** The dev overlay deployed on the sandbox's node by `skaffold run -p sandbox` (`-p sandbox,valkey` for Valkey). */
export interface DevStack {
  sb: Sandbox;
  clusterIp: string;
  stop(): Promise<void>;
}

/**
 * The skaffold profiles that deploy the dev overlay on the sandbox's node for a server family, and
 * with `host` the built-in functions in one process (profile `host`: overlays/dev-host). `valkey`
 * and `host` each set the manifests: they do not combine.
 */
export function devProfiles(server: ServerFamily, options: { host?: boolean } = {}): string {
  if (options.host && server === "valkey") throw new Error("the skaffold profiles valkey and host do not combine (each sets the overlay)");
  return server === "valkey" ? "sandbox,valkey" : options.host ? "sandbox,host" : "sandbox";
}

export async function startDevStack(tag: string, options: { server?: ServerFamily; host?: boolean } = {}): Promise<DevStack> {
  const sb = await startNodeSandbox();
  let workdir: string | undefined;
  try {
    workdir = await copyCheckout();
    await skaffoldRun(sb, workdir, ["-p", devProfiles(options.server ?? "redis", options), "--tag", tag], `skaffold-run-${tag}.log`);
    const clusterIp = (await sb.kubeConfig.makeApiClient(CoreV1Api).readNamespacedService({ name: "redis-master", namespace: NS })).spec!
      .clusterIP!;
    const wd = workdir;
    return {
      sb,
      clusterIp,
      stop: async () => {
        rmSync(wd, { recursive: true, force: true });
        await sb.stop();
      },
    };
  } catch (err) {
    if (workdir) rmSync(workdir, { recursive: true, force: true });
    await sb.stop();
    throw err;
  }
}

/** A short-lived connection to a pod's redis (6379) or sentinel (26379). */
export async function onPod<T>(host: string, port: 6379 | 26379, fn: (r: Redis) => Promise<T>, timeoutMs = 2000): Promise<T> {
  const r = new Redis({
    host,
    port,
    password: port === 6379 ? PASSWORD : SENTINEL_PASSWORD,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  r.on("error", () => undefined);
  try {
    await r.connect();
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

export const redisPods = (p: Picture) =>
  Object.keys(p.ipOf)
    .filter((n) => /^redis-\d$/.test(n))
    .sort();
export const sentinelPods = (p: Picture) =>
  Object.keys(p.ipOf)
    .filter((n) => /^sentinel-\d$/.test(n))
    .sort();

/**
 * Settled: every redis and sentinel pod Ready, one master in every picture, every Sentinel naming
 * it, and the master serving both replicas with their links up.
 */
export async function waitSettled(sb: Sandbox, timeoutMs = 180_000): Promise<Picture & { master: string }> {
  return waitFor(
    "the stack settled (all pods Ready, one master everywhere, two replicas online, every Sentinel agreeing and knowing the whole set)",
    async () => {
      const pods = (await podsIn(sb)).filter((p) => /^(redis|sentinel)-\d$/.test(p.metadata?.name ?? ""));
      if (pods.length !== 6 || !pods.every((p) => ready(p) && !p.metadata?.deletionTimestamp)) return undefined;
      const p = await picture(sb);
      const m = p.labelled[0];
      if (!m || p.labelled.length !== 1 || p.endpoints.length !== 1 || p.endpoints[0] !== p.ipOf[m] || p.configMapPod !== m)
        return undefined;
      const host = p.ipOf[m]!;
      const named = await Promise.all(
        sentinelPods(p).map((s) =>
          onPod(p.ipOf[s]!, 26379, (r) => r.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster")).catch(() => undefined),
        ),
      );
      if (!named.every((n) => (n as string[] | undefined)?.[0] === host)) return undefined;
      const info = await onPod(host, 6379, (r) => r.call("INFO", "replication")).catch(() => "");
      const online = String(info).match(/^slave\d+:.*state=online/gm)?.length ?? 0;
      if (online !== 2) return undefined;
      // Every Sentinel knows the whole set: the two others, and exactly the two replica pods, none
      // down (a Sentinel just reset by sentinel-reset relearns them within ~10 s; a failover
      // led by one that has not cannot find a replica to promote).
      const replicaIps = redisPods(p)
        .filter((r) => r !== m)
        .map((r) => p.ipOf[r]!)
        .sort();
      const knows = await Promise.all(
        sentinelPods(p).map((s) =>
          onPod(p.ipOf[s]!, 26379, async (r) => {
            const master = fieldsToRecord(await r.call("SENTINEL", "MASTER", "mymaster"));
            const replicas = ((await r.call("SENTINEL", "REPLICAS", "mymaster")) as unknown[]).map(fieldsToRecord);
            const listed = replicas.map((x) => x.ip ?? "").sort();
            return (
              master["num-other-sentinels"] === "2" &&
              JSON.stringify(listed) === JSON.stringify(replicaIps) &&
              replicas.every((x) => !(x.flags ?? "").includes("s_down"))
            );
          }).catch(() => false),
        ),
      );
      return knows.every(Boolean) ? { ...p, master: m } : undefined;
    },
    { timeoutMs, intervalMs: 250 },
  );
}

/** What every redis and Sentinel pod runs, read from the server (`INFO server`): pod name -> `valkey 8.0.1`, `redis 7.0.15`. */
export async function serversOf(sb: Sandbox): Promise<Record<string, string>> {
  const p = await picture(sb);
  const pods = [...redisPods(p).map((n) => [n, 6379] as const), ...sentinelPods(p).map((n) => [n, 26379] as const)];
  const answers = await Promise.all(
    pods.map(async ([name, port]) => {
      const id = await onPod(p.ipOf[name]!, port, serverIdentityOf).catch((err: unknown) => ({
        family: "unreachable",
        version: String(err),
      }));
      return [name, `${id.family} ${id.version}`] as const;
    }),
  );
  return Object.fromEntries(answers);
}
