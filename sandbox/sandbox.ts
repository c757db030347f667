/**
 * The sandbox: real redis-server / redis-sentinel (or valkey-server / valkey-sentinel) / nats-server / etcd / kube-apiserver /
 * kube-controller-manager processes on the addresses of a private network namespace, plus the
 * Node and Pod objects a kubelet would report. One call starts it, `stop()` stops everything.
 *
 *   const sb = await startSandbox({ masters: 1, redisPerMaster: 3, sentinels: 3 });
 *   await sb.master("mymaster").redis[0].process.kill();
 *   await sb.stop();
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { ConfigError, TimeoutError } from "../shared/errors.ts";
import { fieldsToRecord, majority, SentinelPool } from "../shared/sentinel-quorum.ts";
import type { MasterTruth } from "../shared/sentinel-quorum.ts";
import { inSandboxNamespace, redisIp, sentinelIp } from "./addresses.ts";
import { ControlPlane } from "./control-plane.ts";
import { SandboxNode } from "./node/node.ts";
import { applyHeadlessService, applyNamespace, applyNodes, applyPod, applyStatefulSet, setPodStatus } from "./cluster.ts";
import { NatsInstance } from "./nats.ts";
import { isNiceness } from "./process.ts";
import type { ManagedProcess } from "./process.ts";
import { RedisInstance, SentinelInstance } from "./redis.ts";
import { HaproxyInstance } from "./haproxy.ts";
import type { Address } from "./redis.ts";
import { binaryPath } from "./paths.ts";
import type { ServerFamily } from "./paths.ts";
import { waitFor } from "./wait.ts";
import type { WaitOptions } from "./wait.ts";
import { nodeIp, REDIS_PORT, SENTINEL_PORT } from "./addresses.ts";

export interface SandboxOptions {
  /** Number of master sets, or their names. Default 1 (`mymaster`). */
  masters?: number | string[];
  redisPerMaster?: number;
  sentinels?: number;
  /** Sentinel quorum; default a majority of the sentinels. */
  quorum?: number;
  downAfterMs?: number;
  failoverTimeoutMs?: number;
  /** Redis password (requirepass/masterauth); false for none. Default: random. */
  password?: string | false;
  /** Password of the Sentinels themselves; false for none. Default: random. */
  sentinelPassword?: string | false;
  /** NATS user `failover` with this password; false for no auth. Default: random. */
  natsPassword?: string | false;
  /** Namespace of the Pod objects. Default `redis`. */
  namespace?: string;
  /** Start NATS (default true). */
  nats?: boolean;
  /** Start etcd + apiserver + controller-manager and write the objects (default true). */
  kube?: boolean;
  /** Number of Node objects written by the sandbox for its processes' Pods (default 3). */
  nodes?: number;
  /**
   * Also run a real node (kubelet, containerd, kube-proxy, kube-scheduler, CoreDNS; sandbox/node/):
   * pods then really run, from images built on this machine. Default false. One at a time per machine.
   */
  node?: boolean;
  /** The server family: `redis` (redis-server / redis-sentinel 7, default) or `valkey` (valkey-server / valkey-sentinel 8). */
  server?: ServerFamily;
  /** Extra redis.conf directives for every redis. */
  redisConfig?: Record<string, string>;
  /** Extra sentinel.conf lines per master (e.g. a client-reconfig-script for the benchmark). */
  sentinelConfig?: (master: string) => string[];
  /**
   * Niceness of etcd, the apiserver and the controller-manager, added to this process's (e.g. -10:
   * a stand-in for a control plane on machines of its own, which a benchmark that loads the machine
   * may ask for; a negative one needs root, and the start fails without it). Default 0.
   */
  controlPlaneNice?: number;
  /** Keep the temp dir after stop (logs, configs). Default: keep only when FAILOVER_KEEP_DIR=1. */
  keepDir?: boolean;
}

export interface MasterSet {
  name: string;
  /** StatefulSet (and headless Service) name of its redis pods. */
  statefulSet: string;
  redis: RedisInstance[];
}

/** The quorum's master (see shared/sentinel-quorum.ts), with its address as one field. */
export interface QuorumMaster extends MasterTruth {
  address: Address;
}

const secret = () => randomBytes(12).toString("hex");

export class Sandbox {
  readonly dir: string;
  readonly options: Required<Omit<SandboxOptions, "masters" | "password" | "sentinelPassword" | "natsPassword" | "quorum">> & {
    quorum: number;
  };
  readonly password: string | undefined;
  readonly sentinelPassword: string | undefined;
  readonly natsUser: string | undefined;
  readonly natsPassword: string | undefined;
  readonly masters: MasterSet[];
  readonly sentinels: SentinelInstance[];
  readonly nats: NatsInstance | undefined;
  readonly controlPlane: ControlPlane | undefined;
  /** The real node, when started with `node: true`. */
  readonly node: SandboxNode | undefined;
  /** What the node's stop could not undo (empty when clean); set by stop(). */
  nodeLeftovers: string[] = [];
  readonly haproxies: HaproxyInstance[] = [];
  #kc: KubeConfig | undefined;
  #stopped = false;

  constructor(options: SandboxOptions, dir: string) {
    const masterNames = Array.isArray(options.masters)
      ? options.masters
      : (options.masters ?? 1) === 1
        ? ["mymaster"]
        : Array.from({ length: options.masters as number }, (_, m) => `master-${m}`);
    const sentinels = options.sentinels ?? 3;
    this.options = {
      redisPerMaster: options.redisPerMaster ?? 3,
      sentinels,
      quorum: options.quorum ?? majority(sentinels),
      // Not 1000: a Sentinel that learns a failover from another re-links to the new master on its
      // 1 s reconnect period, while the other Sentinels' down-votes about the old master still
      // count for 5 s; at down-after 1000 it declares the new master ODOWN at once and fails it over
      // again, losing what was written to it (measured: 400 of 8069 acknowledged writes over 8 kills
      // at 1000 ms, 0 at 2000 ms).
      downAfterMs: options.downAfterMs ?? 2000,
      failoverTimeoutMs: options.failoverTimeoutMs ?? 5000,
      namespace: options.namespace ?? "redis",
      nats: options.nats ?? true,
      kube: options.kube ?? true,
      nodes: options.nodes ?? 3,
      node: options.node ?? false,
      server: options.server ?? "redis",
      redisConfig: options.redisConfig ?? {},
      sentinelConfig: options.sentinelConfig ?? (() => []),
      controlPlaneNice: options.controlPlaneNice ?? 0,
      keepDir: options.keepDir ?? process.env.FAILOVER_KEEP_DIR === "1",
    };
    if (masterNames.length === 0) throw new ConfigError("masters", "at least one master is needed");
    if (!isNiceness(this.options.controlPlaneNice))
      throw new ConfigError("controlPlaneNice", `${this.options.controlPlaneNice} is not a niceness (an integer from -20 to 19)`);
    for (const name of masterNames) {
      if (!/^[A-Za-z0-9._-]+$/.test(name))
        throw new ConfigError("masters", `master name ${JSON.stringify(name)} must match [A-Za-z0-9._-]+`);
    }
    this.dir = dir;
    this.password = options.password === false ? undefined : (options.password ?? secret());
    this.sentinelPassword = options.sentinelPassword === false ? undefined : (options.sentinelPassword ?? secret());
    this.natsUser = options.natsPassword === false ? undefined : "failover";
    this.natsPassword = options.natsPassword === false ? undefined : (options.natsPassword ?? secret());
    this.masters = masterNames.map((name, m) => {
      const statefulSet = masterNames.length === 1 ? "redis" : `redis-${m}`;
      const first = { host: redisIp(m, 0), port: REDIS_PORT };
      const redis = Array.from(
        { length: this.options.redisPerMaster },
        (_, i) =>
          new RedisInstance({
            server: this.options.server,
            master: name,
            index: i,
            ip: redisIp(m, i),
            dir: join(dir, "redis", `${statefulSet}-${i}`),
            password: this.password,
            replicaOf: i === 0 ? undefined : first,
            extraConfig: this.options.redisConfig,
          }),
      );
      return { name, statefulSet, redis };
    });
    this.sentinels = Array.from(
      { length: sentinels },
      (_, j) =>
        new SentinelInstance({
          server: this.options.server,
          index: j,
          ip: sentinelIp(j),
          dir: join(dir, "sentinel", `sentinel-${j}`),
          masters: this.masters.map((ms) => ({ name: ms.name, address: ms.redis[0]!.address })),
          quorum: this.options.quorum,
          downAfterMs: this.options.downAfterMs,
          failoverTimeoutMs: this.options.failoverTimeoutMs,
          redisPassword: this.password,
          sentinelPassword: this.sentinelPassword,
          extraConfig: this.options.sentinelConfig,
        }),
    );
    this.nats = this.options.nats
      ? new NatsInstance({ dir: join(dir, "nats"), user: this.natsUser, password: this.natsPassword })
      : undefined;
    this.controlPlane = this.options.kube
      ? new ControlPlane(join(dir, "kube"), {
          namespace: this.options.namespace,
          realNode: this.options.node,
          nice: this.options.controlPlaneNice,
        })
      : undefined;
    if (this.options.node && !this.controlPlane) throw new ConfigError("node", "a real node needs Kubernetes (kube: true)");
    this.node = this.options.node && this.controlPlane ? new SandboxNode(join(dir, "node"), this.controlPlane, this.kubeConfig) : undefined;
  }

  /** Every process of the sandbox, in start order. */
  get processes(): ManagedProcess[] {
    return [
      ...this.haproxies.map((h) => h.process),
      ...(this.controlPlane ? [this.controlPlane.etcd, this.controlPlane.apiserver, this.controlPlane.controllerManager] : []),
      ...(this.node?.processes ?? []),
      ...(this.nats ? [this.nats.process] : []),
      ...this.masters.flatMap((ms) => ms.redis.map((r) => r.process)),
      ...this.sentinels.map((s) => s.process),
    ];
  }

  get namespace(): string {
    return this.options.namespace;
  }

  /** Admin kubeconfig path (throws when started with kube: false). */
  get kubeconfigPath(): string {
    if (!this.controlPlane) throw new ConfigError("kube", "this sandbox runs without Kubernetes");
    return this.controlPlane.kubeconfigPath;
  }

  /** A KubeConfig for the admin user (system:masters). */
  get kubeConfig(): KubeConfig {
    if (!this.#kc) {
      this.#kc = new KubeConfig();
      this.#kc.loadFromFile(this.kubeconfigPath);
    }
    return this.#kc;
  }

  master(name: string): MasterSet {
    const ms = this.masters.find((m) => m.name === name);
    if (!ms) throw new ConfigError("master", `no master named ${name} in this sandbox (${this.masters.map((m) => m.name).join(", ")})`);
    return ms;
  }

  /** The redis instance listening on `address`, if any. */
  redisAt(address: Address): RedisInstance | undefined {
    return this.masters.flatMap((m) => m.redis).find((r) => r.address.host === address.host && r.address.port === address.port);
  }

  /** Sentinel addresses, for clients. */
  get sentinelAddresses(): Address[] {
    return this.sentinels.map((s) => s.address);
  }

  async start(): Promise<void> {
    if (this.controlPlane) await this.controlPlane.start();
    if (this.node) await this.node.start();
    if (this.nats) await this.nats.start();
    await Promise.all(this.masters.flatMap((ms) => ms.redis.map((r) => r.start())));
    await Promise.all(this.sentinels.map((s) => s.start()));
    if (this.controlPlane) await this.writeClusterObjects();
    await this.waitSettled();
  }

  /** Nodes, namespace, and a StatefulSet-owned Pod per redis and sentinel process. */
  private async writeClusterObjects(): Promise<void> {
    const kc = this.kubeConfig;
    const ns = this.namespace;
    // With a real node, the scheduler must never place a pod on a Node no kubelet runs.
    const nodes = await applyNodes(kc, this.options.nodes, { unschedulable: this.node !== undefined });
    await applyNamespace(kc, ns);
    const node = (i: number) => nodes[i % nodes.length]!;
    for (const ms of this.masters) {
      const labels = { "redis.failover.io/master": ms.name };
      await applyHeadlessService(kc, ns, ms.statefulSet, "redis", REDIS_PORT);
      for (const r of ms.redis) {
        await applyPod(kc, {
          namespace: ns,
          statefulSet: ms.statefulSet,
          ordinal: r.spec.index,
          node: node(r.spec.index),
          ip: r.spec.ip,
          app: "redis",
          labels,
          containerPort: REDIS_PORT,
        });
      }
      await applyStatefulSet(kc, ns, ms.statefulSet, "redis", labels, ms.redis.length, REDIS_PORT);
    }
    await applyHeadlessService(kc, ns, "sentinel", "sentinel", SENTINEL_PORT);
    for (const s of this.sentinels) {
      await applyPod(kc, {
        namespace: ns,
        statefulSet: "sentinel",
        ordinal: s.spec.index,
        node: node(s.spec.index),
        ip: s.spec.ip,
        app: "sentinel",
        labels: {},
        containerPort: SENTINEL_PORT,
      });
    }
    await applyStatefulSet(kc, ns, "sentinel", "sentinel", {}, this.sentinels.length, SENTINEL_PORT);
  }

  /** The pod name of a redis instance. */
  podOf(r: RedisInstance): string {
    return `${this.master(r.spec.master).statefulSet}-${r.spec.index}`;
  }

  /**
   * Deletes a redis instance's Pod at once (grace period 0, as a force delete: what Kubernetes shows when
   * a pod goes without its preStop) and resolves with a function that brings it back as a node
   * would: the StatefulSet controller's new Pod bound to the same Node (the scheduler's part), then
   * Running and Ready at the same address (the kubelet's). The process is left as it is.
   */
  async deleteRedisPod(r: RedisInstance): Promise<() => Promise<void>> {
    const name = this.podOf(r);
    const namespace = this.namespace;
    const core = this.kubeConfig.makeApiClient(CoreV1Api);
    const { uid, node } = await core
      .readNamespacedPod({ name, namespace })
      .then((p) => ({ uid: p.metadata?.uid, node: p.spec?.nodeName ?? "" }));
    await core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 });
    return async () => {
      const recreated = await waitFor(`${name} recreated by its StatefulSet`, async () => {
        const p = await core.readNamespacedPod({ name, namespace }).catch(() => undefined);
        return p && p.metadata?.uid !== uid ? p : undefined;
      });
      if (!recreated.spec?.nodeName) {
        await core.createNamespacedPodBinding({
          name,
          namespace,
          body: { metadata: { name }, target: { apiVersion: "v1", kind: "Node", name: node } },
        });
      }
      await this.setRedisPodReady(r, true);
    };
  }

  /** Reschedules a replica's pod: its process restarts on `ip` (replicating from the master) and its Pod reports the new podIP. */
  async moveRedis(r: RedisInstance, ip: string): Promise<void> {
    const m = await this.currentMaster(r.spec.master);
    await r.moveTo(ip, m.address);
    await this.setRedisPodReady(r, true);
  }

  /** Marks a redis pod Ready or NotReady (a kubelet's view), keeping its address. */
  async setRedisPodReady(r: RedisInstance, ready: boolean): Promise<void> {
    await setPodStatus(this.kubeConfig, this.namespace, this.podOf(r), {
      ip: r.spec.ip,
      nodeIp: nodeIp(r.spec.index % this.options.nodes),
      ready,
      app: "redis",
    });
  }

  /** Waits until every Sentinel knows every replica and the other Sentinels, and every replica follows the quorum's master. */
  async waitSettled(opts: WaitOptions = { timeoutMs: 30_000 }): Promise<void> {
    const others = this.sentinels.length - 1;
    const running = this.sentinels.filter((s) => s.process.running);
    let reason = "";
    const not = (why: string) => {
      reason = why;
      return false;
    };
    await waitFor(
      "Sentinels to discover each other and every replica",
      async () => {
        const views = new Map<string, { ip: string; epoch: number }>();
        for (const s of running) {
          const masters = (await s.command("SENTINEL", "MASTERS")) as string[][];
          if (masters.length !== this.masters.length) return not(`sentinel ${s.spec.ip} monitors ${masters.length} masters`);
          for (const fields of masters) {
            const info = fieldsToRecord(fields);
            const ms = this.masters.find((m) => m.name === info.name);
            if (!ms) return not(`sentinel ${s.spec.ip} monitors unknown master ${info.name}`);
            const liveReplicas = ms.redis.filter((r) => r.process.running).length - 1;
            if (Number(info["num-other-sentinels"]) < others - (this.sentinels.length - running.length))
              return not(`sentinel ${s.spec.ip} knows ${info["num-other-sentinels"]} other sentinels`);
            if (Number(info["num-slaves"]) < liveReplicas)
              return not(`sentinel ${s.spec.ip} knows ${info["num-slaves"]} replicas of ${ms.name}`);
            if (String(info.flags) !== "master") return not(`sentinel ${s.spec.ip} flags ${ms.name} ${info.flags}`);
            views.set(`${s.spec.ip}/${ms.name}`, { ip: String(info.ip), epoch: Number(info["config-epoch"]) });
          }
        }
        for (const ms of this.masters) {
          // Every live replica replicates, link up, from the master the Sentinels name (not from a
          // dead or previous one: killing the master then would lose everything written since).
          const m = await this.currentMaster(ms.name);
          // Every running Sentinel has learnt the last failover: one that has not may start its own
          // (a second failover, seconds later, in the middle of whatever comes next).
          for (const s of running) {
            const v = views.get(`${s.spec.ip}/${ms.name}`);
            if (v && (v.ip !== m.host || v.epoch !== m.epoch))
              return not(`sentinel ${s.spec.ip} names ${v.ip} at epoch ${v.epoch}, the quorum ${m.host} at epoch ${m.epoch}`);
          }
          for (const r of ms.redis.filter((x) => x.process.running)) {
            const info = await r.replicationInfo();
            if (r.spec.ip === m.host) {
              if (info.role !== "master") return not(`${r.spec.ip} is named master but says ${info.role}`);
            } else if (info.role !== "slave" || info.master_link_status !== "up" || info.master_host !== m.host) {
              return not(`${r.spec.ip} says ${info.role} of ${info.master_host} link ${info.master_link_status}, the master is ${m.host}`);
            }
          }
        }
        return true;
      },
      { intervalMs: 100, ...opts },
    ).catch((err: unknown) => {
      throw new TimeoutError(`the sandbox to settle (last: ${reason})`, opts.timeoutMs ?? 10_000, { cause: err });
    });
  }

  /**
   * Asks every running Sentinel for the master of `name` and returns the address a quorum
   * agrees on, with its config epoch. Throws NoQuorumError when there is none.
   */
  async currentMaster(name: string): Promise<QuorumMaster> {
    const pool = new SentinelPool({
      sentinels: this.sentinels.filter((s) => s.process.running && !s.process.paused).map((s) => s.address),
      password: this.sentinelPassword,
      quorum: this.options.quorum,
    });
    try {
      const truth = await pool.master(name);
      return { ...truth, address: { host: truth.host, port: truth.port } };
    } finally {
      pool.close();
    }
  }

  /** Waits until a quorum of Sentinels names a master of `name` different from `previous`. */
  async waitForNewMaster(name: string, previous: Address, opts: WaitOptions = { timeoutMs: 30_000 }): Promise<QuorumMaster> {
    return waitFor(
      `a new master of ${name}`,
      async () => {
        const m = await this.currentMaster(name);
        return m.address.host !== previous.host || m.address.port !== previous.port ? m : undefined;
      },
      { intervalMs: 50, ...opts },
    );
  }

  /**
   * SIGKILLs the current master of `name`, waits for the Sentinels to name another, and restarts
   * the killed one as a replica of it (as its pod would come back).
   */
  async killMaster(name: string): Promise<{ old: QuorumMaster; now: QuorumMaster; killedAt: number }> {
    const old = await this.currentMaster(name);
    const killedAt = performance.now();
    await this.redisAt(old.address)!.process.kill();
    const now = await this.waitForNewMaster(name, old.address);
    await this.redisAt(old.address)!.restart({ replicaOf: now.address });
    return { old, now, killedAt };
  }

  async stopNats(): Promise<void> {
    await this.nats?.stop();
  }

  async startNats(): Promise<void> {
    await this.nats?.start();
  }

  async stopApiserver(): Promise<void> {
    await this.controlPlane?.stopApiserver();
  }

  async startApiserver(): Promise<void> {
    await this.controlPlane?.startApiserver();
  }

  /**
   * Starts HAProxy in front of one master's redis processes, configured as the redis-ha chart
   * does (the polling-proxy approach the benchmark compares against). Stopped with the sandbox.
   */
  async startHaproxy(master: string, options: { checkInterval?: string; checkFall?: number } = {}): Promise<HaproxyInstance> {
    const ms = this.master(master);
    const h = new HaproxyInstance({
      dir: join(this.dir, "haproxy", ms.statefulSet),
      master,
      redis: ms.redis.map((r) => r.address),
      sentinels: this.sentinelAddresses,
      password: this.password,
      sentinelPassword: this.sentinelPassword,
      ...options,
    });
    this.haproxies.push(h);
    await h.start();
    return h;
  }

  /** Runs kubectl with the admin kubeconfig; resolves stdout. */
  async kubectl(...args: string[]): Promise<string> {
    const { stdout } = await promisify(execFile)(binaryPath("kubectl"), ["--kubeconfig", this.kubeconfigPath, ...args], {
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  }

  /** Stops every process (sentinels first, so no failover starts while redis stops). Idempotent. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await Promise.all(this.haproxies.map((h) => h.stop()));
    await Promise.all(this.sentinels.map((s) => s.process.stop()));
    await Promise.all(this.masters.flatMap((ms) => ms.redis.map((r) => r.process.stop())));
    await this.nats?.stop();
    if (this.node) this.nodeLeftovers = await this.node.stop();
    await this.controlPlane?.stop();
    if (!this.options.keepDir) rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Starts a sandbox; on any failure, stops what was started and rethrows (no strays).
 * Must run inside the sandbox network namespace (`npm test` and `npm run sandbox` enter it).
 */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  if (!inSandboxNamespace()) {
    throw new ConfigError(
      "FAILOVER_NETNS",
      "the sandbox needs its own network namespace; run through `npm test`, `npm run sandbox` or `bash sandbox/setup/in-sandbox-netns.sh <command>`",
    );
  }
  const dir = mkdtempSync(join(tmpdir(), "failover-sandbox-"));
  let sandbox: Sandbox | undefined;
  try {
    sandbox = new Sandbox(options, dir);
    await sandbox.start();
    return sandbox;
  } catch (err) {
    if (sandbox) await sandbox.stop().catch(() => undefined);
    else rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
