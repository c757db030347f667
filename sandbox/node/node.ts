/**
 * A real Kubernetes node inside the sandbox's network + PID namespace: containerd 2.x with runc and
 * the CNI bridge, the kubelet, kube-proxy (iptables), kube-scheduler, and CoreDNS serving
 * cluster.local behind Service `kube-dns`. Images come from archives built on this machine
 * (sandbox/images/build.sh), imported into containerd's `k8s.io` namespace; what skaffold builds is
 * pushed to the node's own registry (CNCF Distribution, plain HTTP on REGISTRY) and pulled from it.
 *
 * What stays off the machine: containerd, the kubelet and kube-proxy run in a mount namespace of
 * the node's own, with tmpfs on /run, /var/lib and /var/log (the paths they use whatever their
 * flags say: shim sockets, the device-plugin socket, the CNI cache, xtables.lock), so every mount
 * they make goes when the node stops. Every process of the node and every pod lives in a cgroup
 * tree of the node's own (cgroups.ts). One node at a time per machine: a lock says so clearly.
 */
import { execFile, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { CoreV1Api } from "@kubernetes/client-node";
import type { KubeConfig } from "@kubernetes/client-node";
import { ProcessStartError } from "../../shared/errors.ts";
import {
  BRIDGE_IP,
  COREDNS_IP,
  DNS_SERVICE_IP,
  NODE_POD_SUBNET,
  REAL_NODE_IP,
  REAL_NODE_NAME,
  REGISTRY,
  REGISTRY_IP,
  REGISTRY_PORT,
  SERVICE_CIDR,
} from "../addresses.ts";
import { apply } from "../cluster.ts";
import { httpsStatus } from "../control-plane.ts";
import type { ControlPlane } from "../control-plane.ts";
import { imageArchives } from "../images.ts";
import { assertFree } from "../net.ts";
import { binaryPath } from "../paths.ts";
import { writeKubeconfig } from "../pki.ts";
import { logTail, ManagedProcess } from "../process.ts";
import { waitFor } from "../wait.ts";
import { NodeCgroups, sweepStaleNodeCgroups } from "./cgroups.ts";
import {
  containerdConfig,
  cniConflist,
  COREDNS_READY_PORT,
  corefile,
  KUBE_PROXY_HEALTHZ_PORT,
  KUBE_PROXY_METRICS_PORT,
  KUBELET_HEALTHZ_PORT,
  KUBELET_PORT,
  kubeletConfig,
  kubeProxyConfig,
  registryConfig,
  registryHostsToml,
  resolvConf,
  SCHEDULER_PORT,
} from "./config.ts";
import type { NodePaths } from "./config.ts";

const run = promisify(execFile);

/** One node per machine: its bridge, iptables chains and the kubelet's fixed paths are shared. */
export const NODE_LOCK = "/tmp/failover-sandbox-node.lock";

/** True while a sandbox node (its holder process) holds NODE_LOCK. */
function nodeLockHeld(): boolean {
  return spawnSync("flock", ["--nonblock", "--conflict-exit-code", "75", NODE_LOCK, "true"]).status === 75;
}

/** The veths enslaved to `bridge` (their host-side names). */
async function vethsOn(bridge: string): Promise<string[]> {
  const out = await sh("ip", ["-o", "link", "show", "master", bridge, "type", "veth"]).catch(() => "");
  return out
    .split("\n")
    .map((line) => /^\d+:\s+([^@:\s]+)/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined);
}
const CNI_BIN_DIR = "/usr/lib/cni";
export const LOCAL_STORAGE_CLASS = "sandbox-local";
/** Enough for the shipped stack twice over (3 redis + NATS, or 3 NATS in production). */
export const LOCAL_VOLUMES = 8;
const CNI_PLUGINS = ["bridge", "host-local", "loopback", "portmap"];

/** A readiness check: the URL answers a plain HTTP GET with 200. */
const answers200 = (url: string) => async (): Promise<boolean> => (await httpStatus(url)) === 200;

/** Status code of a plain HTTP GET (0 on error). */
const httpStatus = (url: string): Promise<number> =>
  fetch(url, { signal: AbortSignal.timeout(2000) }).then(
    async (r) => {
      await r.body?.cancel();
      return r.status;
    },
    () => 0,
  );

/** Runs `ip`/`iptables`-like commands; throws with stderr. */
async function sh(command: string, args: string[]): Promise<string> {
  const { stdout } = await run(command, args, { maxBuffer: 16 << 20 });
  return stdout;
}

/** Figures of one start, in ms. */
export interface NodeStartFigures {
  containerdMs: number;
  imagesMs: number;
  nodeReadyMs: number;
  totalMs: number;
}

export class SandboxNode {
  readonly name = REAL_NODE_NAME;
  readonly ip = REAL_NODE_IP;
  readonly paths: NodePaths;
  readonly cgroups: NodeCgroups;
  readonly holder: ManagedProcess;
  readonly containerd: ManagedProcess;
  readonly kubelet: ManagedProcess;
  readonly kubeProxy: ManagedProcess;
  readonly scheduler: ManagedProcess;
  readonly coredns: ManagedProcess;
  readonly registry: ManagedProcess;
  figures: NodeStartFigures | undefined;
  readonly #kc: KubeConfig;
  #holderPid: number | undefined;
  #bridgeMade = false;
  #ipAdded = false;
  #proxyStarted = false;

  constructor(dir: string, controlPlane: ControlPlane, kc: KubeConfig) {
    this.#kc = kc;
    mkdirSync(dir, { recursive: true });
    const p: NodePaths = {
      dir,
      containerdRoot: join(dir, "containerd", "root"),
      containerdState: join(dir, "containerd", "state"),
      containerdSocket: join(dir, "containerd", "containerd.sock"),
      containerdConfig: join(dir, "containerd.toml"),
      cniConfDir: join(dir, "cni", "net.d"),
      cniBinDir: CNI_BIN_DIR,
      kubeletRoot: join(dir, "kubelet"),
      kubeletConfig: join(dir, "kubelet.json"),
      podLogs: join(dir, "pod-logs"),
      resolvConf: join(dir, "resolv.conf"),
      kubeProxyConfig: join(dir, "kube-proxy.json"),
      corefile: join(dir, "Corefile"),
      registryHosts: join(dir, "containerd", "certs.d"),
      registryRoot: join(dir, "registry"),
      registryConfig: join(dir, "registry.yaml"),
    };
    this.paths = p;
    this.cgroups = new NodeCgroups(`${process.pid}-${Date.now().toString(36)}`);
    const pki = controlPlane.pki;
    const kubeconfig = (who: "kubelet" | "kube-proxy" | "scheduler" | "coredns") =>
      writeKubeconfig(join(dir, `${who}.kubeconfig`), pki, controlPlane.server, { name: who, ...pki.clients[who] });
    for (const d of [p.containerdRoot, p.containerdState, p.cniConfDir, p.kubeletRoot, p.podLogs, p.registryRoot])
      mkdirSync(d, { recursive: true });
    const hosts = registryHostsToml();
    mkdirSync(join(p.registryHosts, hosts.dir), { recursive: true });
    writeFileSync(join(p.registryHosts, hosts.dir, "hosts.toml"), hosts.toml);
    writeFileSync(p.registryConfig, registryConfig(p.registryRoot));
    writeFileSync(p.containerdConfig, containerdConfig(p));
    writeFileSync(join(p.cniConfDir, "10-sandbox.conflist"), cniConflist());
    writeFileSync(p.kubeletConfig, kubeletConfig(p, { cgroupRoot: this.cgroups.root, clientCaFile: pki.caCert }));
    writeFileSync(p.kubeProxyConfig, kubeProxyConfig(kubeconfig("kube-proxy")));
    writeFileSync(p.corefile, corefile(kubeconfig("coredns")));
    writeFileSync(p.resolvConf, resolvConf());
    const kubeletKubeconfig = kubeconfig("kubelet");
    const schedulerKubeconfig = kubeconfig("scheduler");

    const pidFile = join(dir, "holder.pid");
    // flock holds the machine-wide lock for as long as the holder lives; unshare gives it a mount
    // namespace (shared propagation inside, so the kubelet's volume mounts reach containers; the
    // parent's mounts are private, so nothing propagates out), then tmpfs on the fixed paths.
    this.holder = new ManagedProcess({
      name: "node mount namespace",
      command: "flock",
      args: [
        "--nonblock",
        "--conflict-exit-code",
        "75",
        NODE_LOCK,
        "unshare",
        "--mount",
        "--propagation",
        "shared",
        "--",
        "bash",
        "-c",
        `set -e; for d in /run /var/lib /var/log; do mount -t tmpfs -o mode=0755 tmpfs-sandbox-node "$d"; done; echo $$ > ${pidFile}; exec sleep infinity`,
      ],
      logFile: join(dir, "holder.log"),
      ready: () => Promise.resolve(existsSync(pidFile) && readFileSync(pidFile, "utf8").trim() !== ""),
      readyTimeoutMs: 10_000,
    });
    // A process in the node's mount namespace and cgroup tree.
    const inNode = (
      name: string,
      command: string,
      args: string[],
      rest: Omit<ConstructorParameters<typeof ManagedProcess>[0], "name" | "command" | "args">,
    ) =>
      new ManagedProcess({
        name,
        command: "nsenter",
        args: ["--target", String(this.#holderPid ?? 0), "--mount", "--", command, ...args],
        ...rest,
        onSpawn: (pid) => this.cgroups.enter(pid, "node"),
      });
    const env = { ...process.env, PATH: `${join(binaryPath("containerd"), "..")}:/usr/sbin:/usr/bin:/sbin:/bin` };
    this.containerd = inNode("containerd", binaryPath("containerd"), ["--config", p.containerdConfig, "--log-level", "warn"], {
      logFile: join(dir, "containerd.log"),
      env,
      ready: async () =>
        existsSync(p.containerdSocket) &&
        (await this.ctr(["version"]).then(
          () => true,
          () => false,
        )),
      readyTimeoutMs: 30_000,
      stopTimeoutMs: 10_000,
    });
    this.kubelet = inNode(
      "kubelet",
      binaryPath("kubelet"),
      [
        `--config=${p.kubeletConfig}`,
        `--kubeconfig=${kubeletKubeconfig}`,
        `--root-dir=${p.kubeletRoot}`,
        `--cert-dir=${join(p.kubeletRoot, "pki")}`,
        `--hostname-override=${REAL_NODE_NAME}`,
        `--node-ip=${REAL_NODE_IP}`,
        "--v=1",
      ],
      {
        logFile: join(dir, "kubelet.log"),
        env,
        ready: answers200(`http://127.0.0.1:${KUBELET_HEALTHZ_PORT}/healthz`),
        readyTimeoutMs: 60_000,
        stopTimeoutMs: 10_000,
      },
    );
    this.kubeProxy = inNode("kube-proxy", binaryPath("kube-proxy"), [`--config=${p.kubeProxyConfig}`, "--v=1"], {
      logFile: join(dir, "kube-proxy.log"),
      env,
      ready: answers200(`http://${REAL_NODE_IP}:${KUBE_PROXY_HEALTHZ_PORT}/healthz`),
      readyTimeoutMs: 60_000,
    });
    this.scheduler = new ManagedProcess({
      name: "kube-scheduler",
      command: binaryPath("kube-scheduler"),
      args: [
        `--kubeconfig=${schedulerKubeconfig}`,
        `--authentication-kubeconfig=${schedulerKubeconfig}`,
        `--authorization-kubeconfig=${schedulerKubeconfig}`,
        "--leader-elect=false",
        "--bind-address=127.0.0.1",
        `--secure-port=${SCHEDULER_PORT}`,
        "--v=1",
      ],
      logFile: join(dir, "kube-scheduler.log"),
      ready: async () => (await httpsStatus(`https://127.0.0.1:${SCHEDULER_PORT}/healthz`, {})) === 200,
      readyTimeoutMs: 60_000,
    });
    this.coredns = new ManagedProcess({
      name: "coredns",
      command: binaryPath("coredns"),
      args: ["-conf", p.corefile],
      logFile: join(dir, "coredns.log"),
      ready: answers200(`http://${COREDNS_IP}:${COREDNS_READY_PORT}/ready`),
      readyTimeoutMs: 60_000,
    });
    this.registry = new ManagedProcess({
      name: "registry",
      command: binaryPath("registry"),
      args: ["serve", p.registryConfig],
      logFile: join(dir, "registry.log"),
      ready: answers200(`http://${REGISTRY}/v2/`),
      readyTimeoutMs: 30_000,
    });
  }

  /** Every process of the node, in start order. */
  get processes(): ManagedProcess[] {
    return [this.holder, this.containerd, this.registry, this.scheduler, this.kubelet, this.kubeProxy, this.coredns];
  }

  /**
   * Restarts the kubelet with exactly `featureGates` in its configuration (`{}`: the defaults). Its
   * pods keep running: containerd holds them, and the new kubelet takes them over.
   */
  async restartKubelet(featureGates: Record<string, boolean>): Promise<void> {
    await this.kubelet.stop();
    const config = JSON.parse(readFileSync(this.paths.kubeletConfig, "utf8")) as Record<string, unknown>;
    writeFileSync(this.paths.kubeletConfig, `${JSON.stringify({ ...config, featureGates }, null, 2)}\n`);
    await this.kubelet.start();
  }

  /** `ctr` against this node's containerd, namespace k8s.io. */
  async ctr(args: string[]): Promise<string> {
    return sh(binaryPath("ctr"), ["--address", this.paths.containerdSocket, "--namespace", "k8s.io", ...args]);
  }

  /** `crictl` against this node's containerd (for debugging). */
  async crictl(args: string[]): Promise<string> {
    return sh(binaryPath("crictl"), [
      "--runtime-endpoint",
      `unix://${this.paths.containerdSocket}`,
      "--image-endpoint",
      `unix://${this.paths.containerdSocket}`,
      ...args,
    ]);
  }

  /** Checks what the node needs from this machine; one clear error naming the missing piece. */
  #preflight(): void {
    const need = (ok: boolean, component: string, what: string) => {
      if (!ok) throw new ProcessStartError(component, what, "");
    };
    need(
      existsSync("/proc/sys/net/bridge/bridge-nf-call-iptables"),
      "kernel",
      "br_netfilter is missing (/proc/sys/net/bridge/bridge-nf-call-iptables); the node needs bridged traffic to pass iptables",
    );
    need(
      readFileSync("/proc/filesystems", "utf8").includes("overlay"),
      "kernel",
      "overlayfs is missing (/proc/filesystems); containerd's snapshotter needs it",
    );
    for (const plugin of CNI_PLUGINS)
      need(
        existsSync(join(CNI_BIN_DIR, plugin)),
        "cni",
        `plugin ${plugin} is missing in ${CNI_BIN_DIR}; run 'npm run setup' (Debian containernetworking-plugins)`,
      );
    for (const b of [
      "containerd",
      "containerd-shim-runc-v2",
      "ctr",
      "kubelet",
      "kube-proxy",
      "kube-scheduler",
      "coredns",
      "registry",
      "runc",
      "iptables",
      "conntrack",
    ] as const)
      binaryPath(b);
    need(
      !nodeLockHeld(),
      "node",
      `another sandbox node runs on this machine (lock ${NODE_LOCK} is held); one node at a time: stop it first`,
    );
  }

  async start(): Promise<void> {
    const t0 = performance.now();
    this.#preflight();
    const archives = imageArchives();
    await assertFree("kubelet", REAL_NODE_IP, KUBELET_PORT);
    await assertFree("kubelet healthz", "127.0.0.1", KUBELET_HEALTHZ_PORT);
    await assertFree("kube-proxy healthz", REAL_NODE_IP, KUBE_PROXY_HEALTHZ_PORT);
    await assertFree("kube-proxy metrics", "127.0.0.1", KUBE_PROXY_METRICS_PORT);
    await assertFree("kube-scheduler", "127.0.0.1", SCHEDULER_PORT);
    await assertFree("coredns", COREDNS_IP, 53);
    await assertFree("registry", REGISTRY_IP, REGISTRY_PORT);
    // Per network namespace: bridged pod traffic passes iptables (Services), and the node routes.
    writeFileSync("/proc/sys/net/bridge/bridge-nf-call-iptables", "1");
    writeFileSync("/proc/sys/net/ipv4/ip_forward", "1");
    await this.#makeBridge();
    sweepStaleNodeCgroups();
    this.cgroups.create();
    await this.holder.start();
    this.#holderPid = Number(readFileSync(join(this.paths.dir, "holder.pid"), "utf8").trim());
    // nsenter's --target (args[1]) is the holder's pid, known only now.
    for (const p of [this.containerd, this.kubelet, this.kubeProxy]) p.spec.args[1] = String(this.#holderPid);
    await this.containerd.start();
    const tContainerd = performance.now();
    // All at once: an import is mostly disk and containerd unpacking, which overlap well.
    await Promise.all(
      archives.map((image) =>
        this.ctr(["images", "import", "--platform", "linux/amd64", image.archive]).catch((err: unknown) => {
          throw new ProcessStartError(
            "containerd",
            `importing ${image.name} from ${image.archive} failed: ${(err as { stderr?: string }).stderr ?? String(err)}`,
            logTail(join(this.paths.dir, "containerd.log")),
            { cause: err },
          );
        }),
      ),
    );
    const tImages = performance.now();
    await this.#applyClusterDns();
    await this.#applyLocalVolumes();
    await this.registry.start();
    await this.scheduler.start();
    await this.coredns.start();
    await this.kubelet.start();
    await this.#waitNodeReady();
    const tReady = performance.now();
    this.#proxyStarted = true;
    await this.kubeProxy.start();
    this.figures = {
      containerdMs: tContainerd - t0,
      imagesMs: tImages - tContainerd,
      nodeReadyMs: tReady - tImages,
      totalMs: performance.now() - t0,
    };
  }

  /** The node's own address on lo (the kubelet checks that its node IP is an interface's), and the bridge. */
  async #makeBridge(): Promise<void> {
    await sh("ip", ["addr", "add", `${REAL_NODE_IP}/32`, "dev", "lo"]).catch((err: unknown) => {
      throw new ProcessStartError(
        "node",
        `cannot add ${REAL_NODE_IP} to lo (${(err as { stderr?: string }).stderr?.trim() ?? String(err)}); is another node running in this namespace?`,
        "",
        { cause: err },
      );
    });
    this.#ipAdded = true;
    await sh("ip", ["link", "add", "cni0", "type", "bridge"]).catch((err: unknown) => {
      throw new ProcessStartError(
        "cni",
        `cannot create bridge cni0 (${(err as { stderr?: string }).stderr?.trim() ?? String(err)}); is another node running in this namespace?`,
        "",
        { cause: err },
      );
    });
    this.#bridgeMade = true;
    await sh("ip", ["addr", "add", `${BRIDGE_IP}/${NODE_POD_SUBNET.split("/")[1]}`, "dev", "cni0"]);
    await sh("ip", ["link", "set", "cni0", "up"]);
    // From the sandbox namespace itself, ClusterIPs are routed to the bridge; kube-proxy DNATs them.
    await sh("ip", ["route", "add", SERVICE_CIDR, "dev", "cni0"]);
  }

  /** CoreDNS's RBAC (as the upstream deployment's), and Service kube-dns whose endpoint is the CoreDNS process. */
  async #applyClusterDns(): Promise<void> {
    const kc = this.#kc;
    await apply(kc, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: "system:coredns" },
      rules: [
        { apiGroups: [""], resources: ["endpoints", "services", "pods", "namespaces"], verbs: ["list", "watch"] },
        { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list", "watch"] },
      ],
    });
    await apply(kc, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: "system:coredns" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:coredns" },
      subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "system:coredns" }],
    });
    const ports = [
      { name: "dns", port: 53, protocol: "UDP" },
      { name: "dns-tcp", port: 53, protocol: "TCP" },
    ];
    await apply(kc, {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "kube-dns", namespace: "kube-system", labels: { "k8s-app": "kube-dns" } },
      spec: { clusterIP: DNS_SERVICE_IP, ports: ports.map((p) => ({ ...p, targetPort: 53 })) },
    });
    await apply(kc, {
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: {
        name: "kube-dns-sandbox",
        namespace: "kube-system",
        labels: { "kubernetes.io/service-name": "kube-dns", "endpointslice.kubernetes.io/managed-by": "sandbox.failover.io" },
      },
      addressType: "IPv4",
      endpoints: [{ addresses: [COREDNS_IP], conditions: { ready: true } }],
      ports,
    });
  }

  /**
   * Storage as a local cluster has it: a default StorageClass, here `sandbox-local` (no
   * provisioner, bound when the pod is scheduled) with LOCAL_VOLUMES `local` PersistentVolumes in
   * the sandbox dir, so StatefulSets' claims bind. A user's cluster brings its own default class.
   */
  async #applyLocalVolumes(): Promise<void> {
    await apply(this.#kc, {
      apiVersion: "storage.k8s.io/v1",
      kind: "StorageClass",
      metadata: { name: LOCAL_STORAGE_CLASS, annotations: { "storageclass.kubernetes.io/is-default-class": "true" } },
      provisioner: "kubernetes.io/no-provisioner",
      volumeBindingMode: "WaitForFirstConsumer",
      reclaimPolicy: "Retain",
    });
    for (let i = 0; i < LOCAL_VOLUMES; i++) {
      const path = join(this.paths.dir, "volumes", `pv-${i}`);
      mkdirSync(path, { recursive: true });
      await apply(this.#kc, {
        apiVersion: "v1",
        kind: "PersistentVolume",
        metadata: { name: `sandbox-local-${i}` },
        spec: {
          capacity: { storage: "20Gi" },
          accessModes: ["ReadWriteOnce"],
          persistentVolumeReclaimPolicy: "Retain",
          storageClassName: LOCAL_STORAGE_CLASS,
          local: { path },
          nodeAffinity: {
            required: {
              nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: [REAL_NODE_NAME] }] }],
            },
          },
        },
      });
    }
  }

  /** Ready as the kubelet's own heartbeats say (nothing here writes Node status). */
  async #waitNodeReady(): Promise<void> {
    const core = this.#kc.makeApiClient(CoreV1Api);
    await waitFor(
      `Node ${REAL_NODE_NAME} Ready`,
      async () =>
        (await core.readNode({ name: REAL_NODE_NAME })).status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
      { timeoutMs: 90_000, intervalMs: 200 },
    ).catch((err: unknown) => {
      throw new ProcessStartError(
        "kubelet",
        `the Node did not become Ready: ${(err as Error).message}`,
        logTail(join(this.paths.dir, "kubelet.log"), 30),
        { cause: err },
      );
    });
  }

  /**
   * Stops the node and undoes everything it made: processes, containers and shims, the mount
   * namespace (with every mount in it), cgroups, kube-proxy's chains, the bridge and its route.
   * Returns what could not be undone (empty when clean).
   */
  async stop(): Promise<string[]> {
    await this.kubelet.stop();
    await this.kubeProxy.stop();
    await this.coredns.stop();
    await this.registry.stop();
    await this.scheduler.stop();
    await this.containerd.stop();
    const left: string[] = [];
    // Containers and shims: SIGKILL everything left in the node's cgroups, then remove them.
    left.push(...(await this.cgroups.remove()));
    if (this.#holderPid !== undefined) {
      try {
        process.kill(this.#holderPid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await this.holder.stop();
    // The lock's last descriptor is the holder's: the kernel closes it only after tearing down the
    // holder's mount namespace (every mount of the node in it), which takes seconds on a loaded
    // machine. The node is stopped when the next one may start.
    await waitFor("the node lock to be free", () => !nodeLockHeld(), { timeoutMs: 60_000, intervalMs: 100 }).catch(() =>
      left.push(`lock ${NODE_LOCK} still held 60 s after the node's holder was killed`),
    );
    if (this.#proxyStarted) {
      await sh(binaryPath("kube-proxy"), ["--cleanup", "--v=0"]).catch((err: unknown) =>
        left.push(`kube-proxy --cleanup: ${(err as Error).message}`),
      );
      this.#proxyStarted = false;
    }
    if (this.#ipAdded) {
      await sh("ip", ["addr", "del", `${REAL_NODE_IP}/32`, "dev", "lo"]).catch((err: unknown) =>
        left.push(`${REAL_NODE_IP} on lo: ${(err as Error).message}`),
      );
      this.#ipAdded = false;
    }
    if (this.#bridgeMade) {
      // A pod's veth goes with its network namespace, and the kernel frees that namespace only once
      // nothing holds it: an orphaned TCP socket (a connection the killed pod left in FIN_WAIT or
      // LAST_ACK) holds it for as long as it retransmits. Deleting the bridge's side of each pair
      // removes both ends now.
      for (const veth of await vethsOn("cni0"))
        // Gone with its namespace meanwhile, or a real failure that the check below reports.
        await sh("ip", ["link", "del", veth]).catch(() => undefined);
      await sh("ip", ["link", "del", "cni0"]).catch((err: unknown) => left.push(`bridge cni0: ${(err as Error).message}`));
      this.#bridgeMade = false;
    }
    // Pods' veths go with their network namespaces, which the kernel frees once nothing holds them.
    await waitFor("the pods' veths to go", async () => (await sh("ip", ["-o", "link", "show", "type", "veth"])).trim() === "", {
      timeoutMs: 10_000,
      intervalMs: 100,
    }).catch(async () => left.push(`veths: ${(await sh("ip", ["-o", "link", "show", "type", "veth"])).trim()}`));
    return left;
  }
}
