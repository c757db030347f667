/** etcd + kube-apiserver + kube-controller-manager as real processes (envtest-like flags, RBAC on). */
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { getPriority } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../shared/errors.ts";
import { ManagedProcess, nicenessOf } from "./process.ts";
import { binaryPath } from "./paths.ts";
import { APISERVER_IP, APISERVER_PORT, KUBERNETES_SERVICE_IP, SERVICE_CIDR } from "./addresses.ts";
import { assertFree } from "./net.ts";
import { makePki, writeKubeconfig } from "./pki.ts";
import type { Pki } from "./pki.ts";

const ETCD_CLIENT_PORT = 2379;
/** etcd's client URL, where it serves /metrics too (inside the sandbox's network namespace). */
export const ETCD_URL = `http://127.0.0.1:${ETCD_CLIENT_PORT}`;
const ETCD_PEER_PORT = 2380;
const KCM_PORT = 10257;

/** GET over HTTPS with optional client certificate; resolves the status code (0 on error). */
export function httpsStatus(url: string, tls: { ca?: Buffer; cert?: Buffer; key?: Buffer }): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { ...tls, rejectUnauthorized: tls.ca !== undefined, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(0));
    req.end();
  });
}

export class ControlPlane {
  readonly dir: string;
  readonly #nice: number;
  readonly pki: Pki;
  readonly etcd: ManagedProcess;
  readonly apiserver: ManagedProcess;
  readonly controllerManager: ManagedProcess;
  /** Admin kubeconfig (system:masters), read by kubectl and @kubernetes/client-node. */
  readonly kubeconfigPath: string;
  readonly server = `https://${APISERVER_IP}:${APISERVER_PORT}`;

  /**
   * `realNode`: a kubelet runs (sandbox/node/): the node-lifecycle controller then runs too (it
   * lifts the kubelet's `not-ready` taint once the Node is Ready), with a grace period of an hour so
   * that it leaves the sandbox's kubelet-less Node objects Ready.
   * `nice`: etcd, the apiserver and the controller-manager run at this niceness (relative to this
   * process's, `nice -n`: every thread), e.g. -10 to stand in for a control plane on machines of its own.
   */
  constructor(dir: string, options: { namespace: string; realNode?: boolean; nice?: number }) {
    this.dir = dir;
    this.#nice = options.nice ?? 0;
    // nice(1) execs the binary: same pid, every thread it starts inherits the niceness.
    const niced = (binary: string, args: string[]) =>
      this.#nice !== 0 ? { command: "nice", args: ["-n", String(this.#nice), binary, ...args] } : { command: binary, args };
    // The `kubernetes` Service's ClusterIP too: pods reach the apiserver through it (kube-proxy).
    this.pki = makePki(join(dir, "pki"), [APISERVER_IP, KUBERNETES_SERVICE_IP]);
    this.kubeconfigPath = writeKubeconfig(
      join(dir, "kubeconfig"),
      this.pki,
      this.server,
      { name: "sandbox-admin", ...this.pki.clients.admin },
      options.namespace,
    );
    const kcmKubeconfig = writeKubeconfig(join(dir, "controller-manager.kubeconfig"), this.pki, this.server, {
      name: "system:kube-controller-manager",
      ...this.pki.clients["controller-manager"],
    });
    const etcdUrl = ETCD_URL;
    const peerUrl = `http://127.0.0.1:${ETCD_PEER_PORT}`;
    this.etcd = new ManagedProcess({
      name: "etcd",
      ...niced(binaryPath("etcd"), [
        "--name=sandbox",
        `--data-dir=${join(dir, "etcd")}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=sandbox=${peerUrl}`,
        // A throwaway store: no fsync makes every apiserver write cheaper on a small machine.
        "--unsafe-no-fsync",
        "--log-level=warn",
      ]),
      logFile: join(dir, "etcd.log"),
      ready: async () => (await fetch(`${etcdUrl}/health`).then((r) => r.json() as Promise<{ health?: string }>)).health === "true",
      readyTimeoutMs: 20_000,
    });
    const tls = {
      ca: readFileSync(this.pki.caCert),
      cert: readFileSync(this.pki.clients.admin.cert),
      key: readFileSync(this.pki.clients.admin.key),
    };
    this.apiserver = new ManagedProcess({
      name: "kube-apiserver",
      ...niced(binaryPath("kube-apiserver"), [
        `--etcd-servers=${etcdUrl}`,
        `--bind-address=${APISERVER_IP}`,
        `--advertise-address=${APISERVER_IP}`,
        `--secure-port=${APISERVER_PORT}`,
        `--cert-dir=${join(dir, "pki")}`,
        `--tls-cert-file=${this.pki.serverCert}`,
        `--tls-private-key-file=${this.pki.serverKey}`,
        `--client-ca-file=${this.pki.caCert}`,
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        `--service-account-key-file=${this.pki.saPub}`,
        `--service-account-signing-key-file=${this.pki.saKey}`,
        `--service-cluster-ip-range=${SERVICE_CIDR}`,
        // Node: the sandbox node's kubelet acts as system:node:<name>, limited to its own pods.
        "--authorization-mode=Node,RBAC",
        "--enable-admission-plugins=NodeRestriction",
        `--kubelet-client-certificate=${this.pki.clients["apiserver-kubelet-client"].cert}`,
        `--kubelet-client-key=${this.pki.clients["apiserver-kubelet-client"].key}`,
        // exec/logs/port-forward reach the kubelet by its InternalIP (there is no DNS for node names).
        "--kubelet-preferred-address-types=InternalIP",
        "--allow-privileged=true",
        "--v=1",
      ]),
      logFile: join(dir, "kube-apiserver.log"),
      ready: async () => (await httpsStatus(`${this.server}/readyz`, tls)) === 200,
      readyTimeoutMs: 90_000,
      stopTimeoutMs: 10_000,
    });
    this.controllerManager = new ManagedProcess({
      name: "kube-controller-manager",
      ...niced(binaryPath("kube-controller-manager"), [
        `--kubeconfig=${kcmKubeconfig}`,
        `--authentication-kubeconfig=${kcmKubeconfig}`,
        `--authorization-kubeconfig=${kcmKubeconfig}`,
        "--bind-address=127.0.0.1",
        `--secure-port=${KCM_PORT}`,
        "--leader-elect=false",
        // Each controller acts as its own ServiceAccount with the bootstrap RBAC roles, as in a
        // real cluster (the controller-manager's own identity may not write EndpointSlices).
        "--use-service-account-credentials=true",
        ...(options.realNode
          ? ["--controllers=*", "--node-monitor-grace-period=1h"]
          : // No kubelet heartbeats the Nodes: without this the node-lifecycle controller marks every
            // pod NotReady after the grace period (~50 s).
            ["--controllers=*,-node-lifecycle-controller"]),
        `--root-ca-file=${this.pki.caCert}`,
        `--service-account-private-key-file=${this.pki.saKey}`,
        `--cluster-signing-cert-file=${this.pki.caCert}`,
        `--cluster-signing-key-file=${this.pki.caKey}`,
        "--v=1",
      ]),
      logFile: join(dir, "kube-controller-manager.log"),
      ready: async () => (await httpsStatus(`https://127.0.0.1:${KCM_PORT}/healthz`, {})) === 200,
      readyTimeoutMs: 60_000,
    });
  }

  async start(): Promise<void> {
    await assertFree("etcd", "127.0.0.1", ETCD_CLIENT_PORT);
    await assertFree("kube-apiserver", APISERVER_IP, APISERVER_PORT);
    await assertFree("kube-controller-manager", "127.0.0.1", KCM_PORT);
    await this.etcd.start();
    await this.apiserver.start();
    await this.controllerManager.start();
    if (this.#nice === 0) return;
    // nice(1) adds to this process's niceness, and runs the command anyway when it may not lower it
    // (not root): refuse instead of measuring what was not asked for.
    const expected = Math.min(19, Math.max(-20, getPriority() + this.#nice));
    for (const p of [this.etcd, this.apiserver, this.controllerManager]) {
      const actual = p.pid === undefined ? undefined : nicenessOf(p.pid);
      if (actual !== expected)
        throw new ConfigError("controlPlaneNice", `${p.name} runs at niceness ${actual}, not ${expected} (a negative niceness needs root)`);
    }
  }

  /** Stops the apiserver alone (etcd keeps the state): the "apiserver down" scenario. */
  stopApiserver(): Promise<void> {
    return this.apiserver.stop();
  }

  startApiserver(): Promise<void> {
    return this.apiserver.start();
  }

  async stop(): Promise<void> {
    await this.controllerManager.stop();
    await this.apiserver.stop();
    await this.etcd.stop();
  }
}
