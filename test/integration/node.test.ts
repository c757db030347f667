/**
 * The sandbox's real node: kubelet + containerd + runc + the CNI bridge + kube-proxy + CoreDNS,
 * running pods from images built on this machine. Nothing here writes a Pod's or the Node's status:
 * every status, IP, restart and log comes from the kubelet.
 */
import { execFile, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createServer, connect } from "node:net";
import type { Server, Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CoreV1Api } from "@kubernetes/client-node";
import type { V1Pod } from "@kubernetes/client-node";
import { binaryPath, startSandbox, waitFor } from "../../sandbox/index.ts";
import type { Sandbox } from "../../sandbox/index.ts";
import { apply } from "../../sandbox/cluster.ts";
import { KUBERNETES_SERVICE_IP, REAL_NODE_NAME, REGISTRY } from "../../sandbox/addresses.ts";
import { PROJECT_IMAGE } from "../../sandbox/images.ts";
import { NODE_LOCK } from "../../sandbox/node/node.ts";
import { PAUSE_IMAGE } from "../../sandbox/node/config.ts";
import { hierarchies } from "../../sandbox/node/cgroups.ts";

const run = promisify(execFile);
const NS = "node-test";
const NODE_IMAGE = "docker.io/library/node:24-bookworm-slim";
const DISTROLESS = "gcr.io/distroless/nodejs24-debian12:nonroot";
const REDIS_IMAGE = "docker.io/library/redis:7.0.15-bookworm";
const NATS_IMAGE = "docker.io/library/nats:2.15.2-alpine";
/** A test listener in the sandbox namespace that pods can reach (198.18.0.0/16 is on lo). */
const LISTEN_IP = "198.18.0.3";

let sb: Sandbox;
let core: CoreV1Api;
let sandboxDir: string;

/** A TCP server in a pod: answers every connection with the pod's name, then closes. */
const nameServer = (port: number) => [
  "node",
  "-e",
  // A client that gives up resets its connection: ignore that, do not crash.
  `require("net").createServer((s) => s.on("error", () => {}).end(process.env.HOSTNAME + "\\n")).listen(${port}, () => console.log("listening"))`,
];

const restricted = (uid: number) => ({
  runAsNonRoot: true,
  runAsUser: uid,
  readOnlyRootFilesystem: true,
  allowPrivilegeEscalation: false,
  capabilities: { drop: ["ALL"] },
  seccompProfile: { type: "RuntimeDefault" },
});

async function createPod(name: string, spec: Record<string, unknown>, labels: Record<string, string> = {}): Promise<void> {
  await apply(sb.kubeConfig, {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: NS, labels: { test: name, ...labels } },
    spec: { terminationGracePeriodSeconds: 5, ...spec },
  });
}

async function pod(name: string): Promise<V1Pod> {
  return core.readNamespacedPod({ name, namespace: NS });
}

async function waitPhase(name: string, phase: "Running" | "Succeeded", timeoutMs = 60_000): Promise<V1Pod> {
  return waitFor(
    `pod ${name} ${phase}`,
    async () => {
      const p = await pod(name);
      if (p.status?.phase === "Failed") throw new Error(`pod ${name} failed: ${JSON.stringify(p.status.containerStatuses?.[0]?.state)}`);
      if (phase === "Running")
        return p.status?.phase === "Running" && p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True") ? p : undefined;
      return p.status?.phase === phase ? p : undefined;
    },
    { timeoutMs, intervalMs: 200 },
  );
}

/** Exit code and logs of a one-shot pod's container, as the kubelet reports them. */
async function finished(name: string): Promise<{ exitCode: number; logs: string }> {
  const p = await waitFor(
    `pod ${name} to finish`,
    async () => {
      const x = await pod(name);
      return x.status?.containerStatuses?.[0]?.state?.terminated ? x : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  );
  const logs = await sb.kubectl("logs", "-n", NS, name);
  return { exitCode: p.status!.containerStatuses![0]!.state!.terminated!.exitCode, logs };
}

async function exec(name: string, ...command: string[]): Promise<string> {
  return sb.kubectl("exec", "-n", NS, name, "--", ...command);
}

/** One TCP connection: what the server sent before closing. */
function fetchLine(host: string, port: number, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s: Socket = connect({ host, port });
    let data = "";
    s.setTimeout(timeoutMs, () => {
      s.destroy();
      reject(new Error(`timeout connecting to ${host}:${port}`));
    });
    s.on("data", (d: Buffer) => (data += d.toString()));
    s.on("end", () => resolve(data.trim()));
    s.on("error", reject);
  });
}

const percentile = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!;

beforeAll(async () => {
  const t0 = performance.now();
  sb = await startSandbox({ node: true, masters: 1, redisPerMaster: 1, sentinels: 1, nats: false });
  const f = sb.node!.figures!;
  console.log(
    `[figure] sandbox start with the node (warm binaries and images): ${Math.round(performance.now() - t0)} ms; node ${Math.round(f.totalMs)} ms (containerd ${Math.round(f.containerdMs)}, image import ${Math.round(f.imagesMs)}, kubelet to Node Ready ${Math.round(f.nodeReadyMs)})`,
  );
  core = sb.kubeConfig.makeApiClient(CoreV1Api);
  sandboxDir = sb.dir;
  await apply(sb.kubeConfig, { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } });
  await waitFor("ServiceAccount default", () => core.readNamespacedServiceAccount({ name: "default", namespace: NS }).then(() => true), {
    timeoutMs: 30_000,
  });
}, 600_000);

afterAll(async () => {
  const node = sb?.node;
  // Something outside the node holds a running pod's network namespace, as an orphaned TCP socket
  // of a killed pod does while it retransmits: the namespace outlives the node, its veth must not.
  let netnsHolder: ChildProcess | undefined;
  let heldDuringStop: boolean | undefined;
  try {
    if (node) {
      const pods = JSON.parse(await node.crictl(["pods", "--state", "ready", "-o", "json"])) as { items: { id: string }[] };
      const inspect = JSON.parse(await node.crictl(["inspectp", pods.items[0]!.id])) as { info: { pid: number } };
      netnsHolder = spawn("nsenter", [`--net=/proc/${inspect.info.pid}/ns/net`, "--", "sleep", "300"], { stdio: "ignore" });
    }
  } finally {
    try {
      await sb?.stop();
      heldDuringStop = netnsHolder !== undefined && netnsHolder.exitCode === null && netnsHolder.signalCode === null;
    } finally {
      netnsHolder?.kill("SIGKILL");
    }
  }
  if (!node) return;
  expect(heldDuringStop, "a pod's network namespace was held from outside the node while it stopped").toBe(true);
  // Nothing of the node is left: processes, its mount namespace, cgroups, chains, bridge, veths.
  expect(sb.nodeLeftovers).toEqual([]);
  expect(node.processes.filter((p) => p.running).map((p) => p.name)).toEqual([]);
  expect(node.cgroups.pids()).toEqual([]);
  for (const { mount } of hierarchies()) expect(existsSync(`${mount}${node.cgroups.root}`), `${mount}${node.cgroups.root}`).toBe(false);
  expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(sandboxDir);
  expect((await run("ip", ["-o", "link", "show"])).stdout).not.toMatch(/cni0|veth/);
  expect((await run("iptables-save", [])).stdout).not.toMatch(/KUBE-SVC|KUBE-SERVICES/);
  // The lock is free again.
  expect(
    await run("flock", ["--nonblock", NODE_LOCK, "true"]).then(
      () => 0,
      () => 1,
    ),
  ).toBe(0);
});

describe("the node", () => {
  it("is Ready from the kubelet's own heartbeats (its Lease renews), at the pinned version, with the pause image pinned", async () => {
    const first = await core.readNode({ name: REAL_NODE_NAME });
    const ready = first.status!.conditions!.find((c) => c.type === "Ready")!;
    expect(ready).toMatchObject({ status: "True", reason: "KubeletReady" });
    expect(first.status!.nodeInfo!.kubeletVersion).toBe("v1.37.2");
    expect(first.status!.nodeInfo!.containerRuntimeVersion).toMatch(/^containerd:\/\/2\./);
    expect(first.status!.addresses).toContainEqual({ type: "InternalIP", address: sb.node!.ip });
    // The kubelet renews its Lease every few seconds: the heartbeat is alive, not written once.
    const lease = async () =>
      JSON.parse(await sb.kubectl("get", "lease", "-n", "kube-node-lease", REAL_NODE_NAME, "-o", "json")) as {
        spec: { renewTime: string };
      };
    // The kubelet creates its Lease once it sees its Node (a few seconds after registering).
    const before = (await waitFor("the kubelet's Lease", lease, { timeoutMs: 30_000, intervalMs: 500 })).spec.renewTime;
    await waitFor("the kubelet to renew its Lease", async () => (await lease()).spec.renewTime !== before, {
      timeoutMs: 30_000,
      intervalMs: 500,
    });
    // The pause image is pinned: the kubelet's image garbage collection never removes it.
    const images = JSON.parse(await sb.node!.crictl(["images", "-o", "json"])) as { images: { repoTags: string[]; pinned: boolean }[] };
    expect(images.images.find((i) => i.repoTags.includes(PAUSE_IMAGE))).toMatchObject({ pinned: true });
  });

  it("runs a pod from each stand-in image, as the image's user, with runAsNonRoot and a read-only root", async () => {
    await createPod("img-node", {
      restartPolicy: "Never",
      containers: [
        {
          name: "c",
          image: NODE_IMAGE,
          command: [
            "sh",
            "-c",
            'echo "$(node --version) $(npm --version) uid=$(id -u)"; touch /x 2>/dev/null && echo writable || echo read-only',
          ],
          securityContext: restricted(1000),
        },
      ],
    });
    await createPod("img-distroless", {
      restartPolicy: "Never",
      containers: [
        {
          name: "c",
          image: DISTROLESS,
          args: [
            "-e",
            'let w = "writable"; try { require("fs").writeFileSync("/x", "y"); } catch (e) { w = e.code; } console.log(process.version, "uid=" + process.getuid(), w, require("fs").existsSync("/bin/sh") ? "shell" : "no-shell")',
          ],
          securityContext: restricted(65532),
        },
      ],
    });
    await createPod("img-redis", {
      restartPolicy: "Never",
      containers: [
        { name: "c", image: REDIS_IMAGE, command: ["sh", "-c", "redis-server --version; id -u; id -un"], securityContext: restricted(999) },
      ],
    });
    await createPod("img-nats", { restartPolicy: "Never", containers: [{ name: "c", image: NATS_IMAGE, args: ["--version"] }] });
    const node = await finished("img-node");
    expect(node).toEqual({ exitCode: 0, logs: expect.stringMatching(/^v24\.21\.0 \d+\.\d+\.\d+ uid=1000\nread-only\n$/) as unknown });
    const distroless = await finished("img-distroless");
    expect(distroless).toEqual({ exitCode: 0, logs: "v24.21.0 uid=65532 EROFS no-shell\n" });
    const redis = await finished("img-redis");
    expect(redis.exitCode).toBe(0);
    expect(redis.logs).toMatch(/^Redis server v=7\.0\.15 .*\n999\nredis\n$/);
    const nats = await finished("img-nats");
    expect(nats).toEqual({ exitCode: 0, logs: expect.stringMatching(/v2\.15\.2/) as unknown });
    // runAsNonRoot is enforced by the kubelet: an image whose user is root is refused.
    await createPod("img-root", {
      restartPolicy: "Never",
      containers: [{ name: "c", image: NATS_IMAGE, args: ["--version"], securityContext: { runAsNonRoot: true } }],
    });
    const refused = await waitFor(
      "the kubelet to refuse a root container",
      async () =>
        (await pod("img-root")).status?.containerStatuses?.[0]?.state?.waiting?.reason === "CreateContainerConfigError" ? true : undefined,
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    expect(refused).toBe(true);
  });

  it("runs both targets of the project's image: dev under node, production distroless with no shell", async () => {
    await createPod("project-dev", {
      restartPolicy: "Never",
      containers: [{ name: "c", image: PROJECT_IMAGE.dev, imagePullPolicy: "Never", args: ["--help"], securityContext: restricted(1000) }],
    });
    await createPod("project-production", {
      restartPolicy: "Never",
      containers: [
        { name: "c", image: PROJECT_IMAGE.production, imagePullPolicy: "Never", args: ["--help"], securityContext: restricted(65532) },
      ],
    });
    for (const name of ["project-dev", "project-production"]) {
      const r = await finished(name);
      expect(r, name).toEqual({ exitCode: 0, logs: expect.stringMatching(/^usage: failover <command>/) as unknown });
    }
    await createPod("project-production-shell", {
      restartPolicy: "Never",
      containers: [
        {
          name: "c",
          image: PROJECT_IMAGE.production,
          imagePullPolicy: "Never",
          command: ["/bin/sh", "-c", "true"],
          securityContext: restricted(65532),
        },
      ],
    });
    const noShell = await waitFor(
      "the production image to have no shell",
      async () => {
        const s = (await pod("project-production-shell")).status?.containerStatuses?.[0]?.state;
        return s?.terminated ?? (s?.waiting?.reason === "RunContainerError" || s?.waiting?.reason === "StartError" ? s.waiting : undefined);
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    expect(JSON.stringify(noShell)).toMatch(/no such file or directory|exit code 12[78]|"exitCode":12[78]/);
  });
});

describe("DNS and Services through kube-proxy", () => {
  beforeAll(async () => {
    for (const name of ["web-a", "web-b"]) {
      await createPod(
        name,
        {
          containers: [
            {
              name: "c",
              image: NODE_IMAGE,
              command: nameServer(8080),
              readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
              securityContext: restricted(1000),
            },
          ],
        },
        { app: "web" },
      );
    }
    await apply(sb.kubeConfig, {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "web", namespace: NS },
      spec: { selector: { app: "web", test: "web-a" }, ports: [{ port: 80, targetPort: 8080 }] },
    });
    await apply(sb.kubeConfig, {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "handmade", namespace: NS },
      spec: { ports: [{ name: "tcp", port: 80, targetPort: 8080 }] },
    });
    // A headless StatefulSet, for <pod>.<service> names.
    await apply(sb.kubeConfig, {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "db", namespace: NS },
      spec: { clusterIP: "None", selector: { app: "db" }, ports: [{ port: 8080 }] },
    });
    await apply(sb.kubeConfig, {
      apiVersion: "apps/v1",
      kind: "StatefulSet",
      metadata: { name: "db", namespace: NS },
      spec: {
        serviceName: "db",
        replicas: 1,
        selector: { matchLabels: { app: "db" } },
        template: {
          metadata: { labels: { app: "db" } },
          spec: {
            terminationGracePeriodSeconds: 1,
            containers: [{ name: "c", image: NODE_IMAGE, command: nameServer(8080), securityContext: restricted(1000) }],
          },
        },
      },
    });
    await createPod("client", {
      containers: [{ name: "c", image: NODE_IMAGE, command: ["sleep", "3600"], securityContext: restricted(1000) }],
    });
    for (const name of ["web-a", "web-b", "client"]) await waitPhase(name, "Running");
    await waitFor(
      "db-0 Running",
      async () => (await core.readNamespacedPod({ name: "db-0", namespace: NS }).catch(() => undefined))?.status?.phase === "Running",
      { timeoutMs: 60_000, intervalMs: 200 },
    );
  }, 180_000);

  it("resolves kubernetes.default and a StatefulSet pod's name from inside a pod (CoreDNS behind kube-dns)", async () => {
    const resolve = (name: string) =>
      exec("client", "node", "-e", `require("dns").promises.resolve4(${JSON.stringify(name)}).then((a) => console.log(a.join(",")))`);
    expect((await resolve("kubernetes.default.svc.cluster.local")).trim()).toBe(KUBERNETES_SERVICE_IP);
    const db0 = await core.readNamespacedPod({ name: "db-0", namespace: NS });
    expect((await resolve(`db-0.db.${NS}.svc.cluster.local`)).trim()).toBe(db0.status!.podIP);
    // The pod's resolv.conf points at the kube-dns ClusterIP, with the cluster search path.
    const resolvConf = await exec("client", "cat", "/etc/resolv.conf");
    expect(resolvConf).toMatch(/^nameserver 198\.19\.128\.10$/m);
    expect(resolvConf).toMatch(new RegExp(`^search ${NS}\\.svc\\.cluster\\.local svc\\.cluster\\.local cluster\\.local$`, "m"));
  });

  it("reaches the apiserver from a pod through the kubernetes Service, verifying its certificate", async () => {
    const version = await exec(
      "client",
      "env",
      "NODE_EXTRA_CA_CERTS=/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
      "node",
      "-e",
      'fetch("https://kubernetes.default.svc/version").then((r) => r.json()).then((j) => console.log(j.gitVersion))',
    );
    expect(version.trim()).toBe("v1.37.2");
  });

  it("reaches a selector Service's ClusterIP from a pod (by name) and from the sandbox namespace", async () => {
    const svc = await core.readNamespacedService({ name: "web", namespace: NS });
    const ip = svc.spec!.clusterIP!;
    expect(ip).toMatch(/^198\.19\.(1[2-9]\d|2\d\d)\./);
    const fromPod = await exec("client", "node", "-e", 'require("net").connect(80, "web").on("data", (d) => process.stdout.write(d))');
    expect(fromPod.trim()).toBe("web-a");
    expect(await waitFor("the ClusterIP from the sandbox namespace", () => fetchLine(ip, 80), { timeoutMs: 10_000 })).toBe("web-a");
  });

  it("routes a selectorless Service to the EndpointSlice written by hand, and new connections follow a rewrite", async () => {
    const ip = (await core.readNamespacedService({ name: "handmade", namespace: NS })).spec!.clusterIP!;
    const podIp = async (name: string) => (await pod(name)).status!.podIP!;
    const slice = async (target: string) =>
      apply(sb.kubeConfig, {
        apiVersion: "discovery.k8s.io/v1",
        kind: "EndpointSlice",
        metadata: {
          name: "handmade-1",
          namespace: NS,
          labels: { "kubernetes.io/service-name": "handmade", "endpointslice.kubernetes.io/managed-by": "test.failover.io" },
        },
        addressType: "IPv4",
        endpoints: [{ addresses: [await podIp(target)], conditions: { ready: true } }],
        ports: [{ name: "tcp", port: 8080, protocol: "TCP" }],
      });
    await slice("web-a");
    expect(
      await waitFor("handmade -> web-a", async () => ((await fetchLine(ip, 80).catch(() => "")) === "web-a" ? "web-a" : undefined), {
        timeoutMs: 15_000,
      }),
    ).toBe("web-a");
    // Each rewrite: time until the first new connection lands on the new pod (kube-proxy's delay).
    // Rewrites are 1.5 s apart, as failovers are seconds apart: kube-proxy's minSyncPeriod (1 s) has
    // passed, so this is the delay a failover sees, not the rate limit of back-to-back changes.
    const delays: number[] = [];
    let target = "web-a";
    for (let i = 0; i < 10; i++) {
      target = target === "web-a" ? "web-b" : "web-a";
      await sleep(1500);
      const t0 = performance.now();
      await slice(target);
      let last = "";
      await waitFor(
        `handmade -> ${target}`,
        async () => ((last = await fetchLine(ip, 80, 500).catch((e: unknown) => String(e))) === target ? true : undefined),
        { timeoutMs: 10_000, intervalMs: 5 },
      ).catch(async (err: unknown) => {
        const nat = await run("iptables-save", ["-t", "nat"]).then((r) =>
          r.stdout
            .split("\n")
            .filter((l) => l.includes("handmade"))
            .join("\n"),
        );
        const slices = await sb.kubectl("get", "endpointslices", "-n", NS, "-o", "yaml");
        throw new Error(`rewrite ${i} to ${target}: the last connection said ${JSON.stringify(last)}\n${nat}\n${slices}`, { cause: err });
      });
      delays.push(performance.now() - t0);
      // Once switched, every new connection goes to the new pod.
      for (let k = 0; k < 5; k++) expect(await fetchLine(ip, 80)).toBe(target);
    }
    const fromPod = await exec("client", "node", "-e", 'require("net").connect(80, "handmade").on("data", (d) => process.stdout.write(d))');
    expect(fromPod.trim()).toBe(target);
    // The servers never restarted: every answer came from the pod the slice named.
    for (const name of ["web-a", "web-b"]) expect((await pod(name)).status!.containerStatuses![0]!.restartCount, name).toBe(0);
    console.log(
      `[figure] kube-proxy (iptables, minSyncPeriod 1s): EndpointSlice write -> first new connection on the new pod, 10 rewrites: p50 ${Math.round(percentile(delays, 50))} ms, max ${Math.round(Math.max(...delays))} ms`,
    );
  });
});

describe("the kubelet's lifecycle", () => {
  it("starts a one-pod Deployment applied with kubectl", async () => {
    const manifest = JSON.stringify({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "one", namespace: NS },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: "one" } },
        template: {
          metadata: { labels: { app: "one" } },
          spec: {
            containers: [
              {
                name: "c",
                image: NODE_IMAGE,
                command: nameServer(8080),
                readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
                securityContext: restricted(1000),
              },
            ],
          },
        },
      },
    });
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) => {
      const p = spawn(binaryPath("kubectl"), ["--kubeconfig", sb.kubeconfigPath, "apply", "-f", "-"], {
        stdio: ["pipe", "ignore", "inherit"],
      });
      p.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`kubectl apply exited ${code}`))));
      p.stdin.end(manifest);
    });
    await sb.kubectl("rollout", "status", "-n", NS, "deployment/one", "--timeout=60s");
    console.log(`[figure] kubectl apply of a one-pod Deployment -> rolled out (pod Ready): ${Math.round(performance.now() - t0)} ms`);
    const pods = await core.listNamespacedPod({ namespace: NS, labelSelector: "app=one" });
    expect(pods.items).toHaveLength(1);
    expect(pods.items[0]!.spec!.nodeName).toBe(REAL_NODE_NAME);
  });

  it("restarts a container whose process is killed", async () => {
    await createPod("crash", {
      containers: [{ name: "c", image: NODE_IMAGE, command: nameServer(8080), securityContext: restricted(1000) }],
    });
    const before = await waitPhase("crash", "Running");
    const containerId = before.status!.containerStatuses![0]!.containerID!.replace("containerd://", "");
    const info = JSON.parse(await sb.node!.crictl(["inspect", containerId])) as { info: { pid: number } };
    process.kill(info.info.pid, "SIGKILL");
    const after = await waitFor(
      "the kubelet to restart the container",
      async () => {
        const p = await pod("crash");
        const cs = p.status?.containerStatuses?.[0];
        return cs && cs.restartCount >= 1 && cs.state?.running ? cs : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    expect(after.lastState?.terminated?.exitCode).toBe(137);
    expect(after.containerID).not.toBe(before.status!.containerStatuses![0]!.containerID);
  });

  it("runs a deleted pod's preStop before SIGTERM", async () => {
    const events: string[] = [];
    const server: Server = createServer((s) => s.on("data", (d: Buffer) => events.push(d.toString().trim())));
    await new Promise<void>((resolve) => server.listen(7070, LISTEN_IP, resolve));
    try {
      const say = (what: string) => `require("net").connect(7070, "${LISTEN_IP}", function () { this.end("${what}"); })`;
      await createPod("graceful", {
        terminationGracePeriodSeconds: 20,
        containers: [
          {
            name: "c",
            image: NODE_IMAGE,
            // On SIGTERM: report it, then let the event loop empty (the process ends by itself).
            command: [
              "node",
              "-e",
              `const t = setInterval(() => {}, 1000); process.on("SIGTERM", () => { ${say("sigterm")}.on("close", () => clearInterval(t)); }); console.log("up")`,
            ],
            lifecycle: {
              preStop: { exec: { command: ["node", "-e", `${say("prestop-start")}; setTimeout(() => { ${say("prestop-end")}; }, 1500)`] } },
            },
            securityContext: restricted(1000),
          },
        ],
      });
      await waitPhase("graceful", "Running");
      await sb.kubectl("delete", "pod", "-n", NS, "graceful", "--wait=true", "--timeout=60s");
      await waitFor("the pod's messages", () => (events.includes("sigterm") ? true : undefined), { timeoutMs: 10_000 });
      expect(events).toEqual(["prestop-start", "prestop-end", "sigterm"]);
    } finally {
      server.close();
    }
  });
});

describe("what a user sees when a deployment is wrong (README: Troubleshooting)", () => {
  /** The first waiting reason and message of a pod's (init) container, as the kubelet reports them. */
  const waiting = async (name: string, init = false) =>
    waitFor(
      `pod ${name} to report why its container waits`,
      async () => {
        const st = await pod(name);
        const cs = (init ? st.status?.initContainerStatuses : st.status?.containerStatuses)?.[0];
        const w = cs?.state?.waiting ?? cs?.state?.terminated ?? cs?.lastState?.terminated;
        return w?.reason && w.reason !== "ContainerCreating" && w.reason !== "PodInitializing"
          ? { reason: w.reason, message: w.message ?? "" }
          : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );

  it("a missing Secret: CreateContainerConfigError naming the Secret", async () => {
    await createPod("no-secret", {
      containers: [
        {
          name: "c",
          image: NODE_IMAGE,
          command: ["sleep", "60"],
          env: [{ name: "REDIS_PASSWORD", valueFrom: { secretKeyRef: { name: "redis-auth", key: "password" } } }],
          securityContext: restricted(1000),
        },
      ],
    });
    expect(await waiting("no-secret")).toEqual({ reason: "CreateContainerConfigError", message: 'secret "redis-auth" not found' });
  });

  it("a wrong image name: ErrImagePull / ImagePullBackOff naming the image, and an event", async () => {
    const image = `${REGISTRY}/failover-functions:no-such-tag`;
    await createPod("bad-image", { containers: [{ name: "c", image, securityContext: restricted(1000) }] });
    const w = await waiting("bad-image");
    expect(["ErrImagePull", "ImagePullBackOff"]).toContain(w.reason);
    expect(w.message).toContain(image);
    const described = await sb.kubectl("describe", "pod", "-n", NS, "bad-image");
    expect(described).toMatch(/Failed to pull image ".*no-such-tag"/);
  });

  it("a PVC that cannot bind: the pod stays Pending, unschedulable, and the claim's event names the missing StorageClass", async () => {
    await apply(sb.kubeConfig, {
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name: "no-class", namespace: NS },
      spec: { storageClassName: "fast-ssd", accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
    });
    await createPod("unbound", {
      containers: [
        {
          name: "c",
          image: NODE_IMAGE,
          command: ["sleep", "60"],
          volumeMounts: [{ name: "data", mountPath: "/data" }],
          securityContext: restricted(1000),
        },
      ],
      volumes: [{ name: "data", persistentVolumeClaim: { claimName: "no-class" } }],
    });
    const scheduled = await waitFor(
      "the scheduler to give up on the pod",
      async () => (await pod("unbound")).status?.conditions?.find((c) => c.type === "PodScheduled" && c.status === "False"),
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    expect(scheduled.reason).toBe("Unschedulable");
    expect(scheduled.message).toContain("unbound immediate PersistentVolumeClaims");
    await waitFor(
      "the claim's event",
      async () => (await sb.kubectl("describe", "pvc", "-n", NS, "no-class")).includes('storageclass.storage.k8s.io "fast-ssd" not found'),
      { timeoutMs: 30_000 },
    );
    expect((await pod("unbound")).status?.phase).toBe("Pending");
  });

  it("an init container refusing its config: Init:Error, and one log line naming the variable", async () => {
    // The sentinel init container without the downward-API variables the manifests give it.
    await createPod("bad-init", {
      restartPolicy: "Never",
      initContainers: [{ name: "init", image: PROJECT_IMAGE.production, args: ["init", "sentinel"], securityContext: restricted(65532) }],
      containers: [{ name: "c", image: NODE_IMAGE, command: ["true"], securityContext: restricted(1000) }],
    });
    const w = await waiting("bad-init", true);
    expect(w.reason).toBe("Error");
    const logs = (await sb.kubectl("logs", "-n", NS, "bad-init", "-c", "init")).trim().split("\n");
    expect(logs).toEqual(["failover init sentinel: POD_NAME: Invalid input: expected string, received undefined (missing)"]);
  });
});
