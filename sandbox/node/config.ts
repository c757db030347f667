/**
 * The configuration files of the sandbox's node, rendered from its paths and addresses: containerd
 * (CRI), the CNI bridge, the kubelet, kube-proxy and CoreDNS. Pure functions: the values that
 * matter on this machine are explained where they are set.
 */
import {
  BRIDGE_IP,
  COREDNS_IP,
  DNS_SERVICE_IP,
  NODE_POD_SUBNET,
  POD_CIDR,
  REAL_NODE_IP,
  REAL_NODE_NAME,
  REGISTRY,
  REGISTRY_IP,
  REGISTRY_PORT,
} from "../addresses.ts";

/** Every path of one node, all under the sandbox's own directory. */
export interface NodePaths {
  dir: string;
  containerdRoot: string;
  containerdState: string;
  containerdSocket: string;
  containerdConfig: string;
  cniConfDir: string;
  cniBinDir: string;
  kubeletRoot: string;
  kubeletConfig: string;
  podLogs: string;
  resolvConf: string;
  kubeProxyConfig: string;
  corefile: string;
  /** containerd's registry hosts directory (`<host:port>/hosts.toml`). */
  registryHosts: string;
  registryRoot: string;
  registryConfig: string;
}

/** The pause image containerd keeps pinned (image garbage collection never removes it). */
export const PAUSE_IMAGE = "registry.k8s.io/pause:3.10.1";

export const KUBELET_PORT = 10250;
export const KUBELET_HEALTHZ_PORT = 10248;
export const KUBE_PROXY_HEALTHZ_PORT = 10256;
export const KUBE_PROXY_METRICS_PORT = 10249;
export const SCHEDULER_PORT = 10259;
export const COREDNS_READY_PORT = 8181;

/** kube-proxy's minSyncPeriod: the upstream default, so the measured delay is a real cluster's. */
export const KUBE_PROXY_MIN_SYNC = "1s";

export function containerdConfig(p: NodePaths): string {
  return `version = 3
root = "${p.containerdRoot}"
state = "${p.containerdState}"
# Snapshotters this machine cannot use (no btrfs/zfs/devmapper) stay off, so start-up is quiet.
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.blockfile", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "${p.containerdSocket}"

[ttrpc]
  address = "${p.containerdSocket}.ttrpc"

[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.registry]
    # Per-registry hosts.toml files: the sandbox registry is plain HTTP (registryHostsToml).
    config_path = "${p.registryHosts}"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "${PAUSE_IMAGE}"

[plugins.'io.containerd.cri.v1.runtime']
  # Root here lacks CAP_SYS_RESOURCE: runc cannot write a negative oom_score_adj, and fails every
  # sandbox with "can't get final child's PID from pipe: EOF" unless the score is restricted.
  restrict_oom_score_adj = true
  disable_apparmor = true
  # Pods' network namespaces are bind mounts under the state dir, not /run/netns of the machine.
  netns_mounts_under_state_dir = true
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
        # cgroupfs, as the kubelet: the machine's cgroups are v1 and not systemd's to hand out.
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["${p.cniBinDir}"]
    conf_dir = "${p.cniConfDir}"

[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = "127.0.0.1"
`;
}

/** The bridge network: `cni0` on 198.19.0.1, pods from the node's /24, no masquerade (nothing leaves). */
export function cniConflist(): string {
  return `${JSON.stringify(
    {
      cniVersion: "1.0.0",
      name: "sandbox",
      plugins: [
        {
          type: "bridge",
          bridge: "cni0",
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: { type: "host-local", ranges: [[{ subnet: NODE_POD_SUBNET, gateway: BRIDGE_IP }]], routes: [{ dst: "0.0.0.0/0" }] },
        },
        { type: "portmap", capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  )}\n`;
}

export function kubeletConfig(p: NodePaths, opts: { cgroupRoot: string; clientCaFile: string }): string {
  return `${JSON.stringify(
    {
      apiVersion: "kubelet.config.k8s.io/v1beta1",
      kind: "KubeletConfiguration",
      // The machine's cgroups are v1: Kubernetes 1.35+ refuses them unless told.
      failCgroupV1: false,
      cgroupDriver: "cgroupfs",
      // Every pod cgroup lives below the sandbox's own root (see cgroups.ts), never the machine's.
      cgroupRoot: opts.cgroupRoot,
      cgroupsPerQOS: true,
      enforceNodeAllocatable: ["pods"],
      containerRuntimeEndpoint: `unix://${p.containerdSocket}`,
      address: REAL_NODE_IP,
      port: 10250,
      readOnlyPort: 0,
      healthzBindAddress: "127.0.0.1",
      healthzPort: KUBELET_HEALTHZ_PORT,
      // The apiserver (and only holders of a certificate from the sandbox CA) may use the kubelet API.
      authentication: { anonymous: { enabled: false }, webhook: { enabled: false }, x509: { clientCAFile: opts.clientCaFile } },
      authorization: { mode: "AlwaysAllow" },
      clusterDomain: "cluster.local",
      clusterDNS: [DNS_SERVICE_IP],
      resolvConf: p.resolvConf,
      podLogsDir: p.podLogs,
      failSwapOn: false,
      // No registry: an image garbage-collected here could never be pulled again.
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      evictionHard: { "memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%", "nodefs.inodesFree": "1%" },
      serializeImagePulls: false,
      // Faster than the defaults (10 s / 1 min), so tests see status and ConfigMap changes sooner.
      nodeStatusUpdateFrequency: "5s",
      syncFrequency: "10s",
      rotateCertificates: false,
      serverTLSBootstrap: false,
      shutdownGracePeriod: "0s",
    },
    null,
    2,
  )}\n`;
}

export function kubeProxyConfig(kubeconfig: string): string {
  return `${JSON.stringify(
    {
      apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
      kind: "KubeProxyConfiguration",
      clientConnection: { kubeconfig },
      hostnameOverride: REAL_NODE_NAME,
      bindAddress: REAL_NODE_IP,
      healthzBindAddress: `${REAL_NODE_IP}:${KUBE_PROXY_HEALTHZ_PORT}`,
      metricsBindAddress: `127.0.0.1:${KUBE_PROXY_METRICS_PORT}`,
      clusterCIDR: POD_CIDR,
      mode: "iptables",
      iptables: { minSyncPeriod: KUBE_PROXY_MIN_SYNC, syncPeriod: "30s", masqueradeAll: false, localhostNodePorts: false },
      // conntrack's table size and timeouts are the machine's (global), not the sandbox's: leave them.
      conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: "0s", tcpCloseWaitTimeout: "0s" },
      nodePortAddresses: ["primary"],
    },
    null,
    2,
  )}\n`;
}

/** CoreDNS: cluster.local (and reverse zones) from the apiserver; no forwarder, nothing leaves. */
export function corefile(kubeconfig: string): string {
  return `.:53 {
    bind ${COREDNS_IP}
    errors
    health ${COREDNS_IP}:8080
    ready ${COREDNS_IP}:${COREDNS_READY_PORT}
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig ${kubeconfig}
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }
    cache 5
    loadbalance
}
`;
}

/** containerd's hosts.toml for the sandbox registry: plain HTTP, as kind's local-registry recipe sets it. */
export function registryHostsToml(): { dir: string; toml: string } {
  return {
    dir: REGISTRY,
    toml: `server = "http://${REGISTRY}"\n\n[host."http://${REGISTRY}"]\n  capabilities = ["pull", "resolve"]\n`,
  };
}

/**
 * The CNCF Distribution registry's configuration: blobs on disk in the sandbox dir, deletes on (so
 * a test can remove what it pushed), quiet logs, no auth (it listens on the sandbox's own network).
 */
export function registryConfig(rootDir: string): string {
  return `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${rootDir}
  delete:
    enabled: true
http:
  addr: ${REGISTRY_IP}:${REGISTRY_PORT}
`;
}

/** The resolv.conf the kubelet gives pods with dnsPolicy Default: the sandbox's DNS, no upstream. */
export function resolvConf(): string {
  return `nameserver ${COREDNS_IP}\n`;
}
