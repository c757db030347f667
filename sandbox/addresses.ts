/**
 * The sandbox's address plan, all inside its own network namespace, all in 198.18.0.0/15 (the
 * benchmarking range, so Kubernetes accepts them in EndpointSlices; never 10/8, 172.16/12 or
 * 192.168/16). The processes' half is on `lo`; the other half is routed to the node's bridge:
 *   198.18.0.0/16        on lo (PROCESS_CIDR):
 *     198.18.0.1           kube-apiserver (etcd and the controller-manager stay on 127.0.0.1)
 *     198.18.0.2           nats-server (4222, monitoring 8222)
 *     198.18.0.10+j        sentinel j (26379)
 *     198.18.0.5           the node's image registry (5000; skaffold pushes, containerd pulls)
 *     198.18.0.53          CoreDNS (the node's cluster DNS, behind Service kube-dns)
 *     198.18.0.200+n       Node n's InternalIP (Node objects written by the sandbox)
 *     198.18.0.254         the real node's InternalIP (kubelet, kube-proxy)
 *     198.18.(1+m).(10+i)  redis i of master m (6379), m < 255
 *   198.19.0.0/17        pods of the real node (POD_CIDR; its bridge `cni0` is 198.19.0.1)
 *   198.19.128.0/17      Service ClusterIPs (SERVICE_CIDR; 198.19.128.1 `kubernetes`, .10 `kube-dns`)
 */
export const APISERVER_IP = "198.18.0.1";
export const NATS_IP = "198.18.0.2";
export const REDIS_PORT = 6379;
export const SENTINEL_PORT = 26379;
export const NATS_PORT = 4222;
export const NATS_MONITOR_PORT = 8222;
export const APISERVER_PORT = 6443;
export const PROCESS_CIDR = "198.18.0.0/16";
export const POD_CIDR = "198.19.0.0/17";
/** The one node's share of POD_CIDR (host-local IPAM of the bridge). */
export const NODE_POD_SUBNET = "198.19.0.0/24";
export const BRIDGE_IP = "198.19.0.1";
export const SERVICE_CIDR = "198.19.128.0/17";
export const KUBERNETES_SERVICE_IP = "198.19.128.1";
export const DNS_SERVICE_IP = "198.19.128.10";
export const COREDNS_IP = "198.18.0.53";
export const REGISTRY_IP = "198.18.0.5";
export const REGISTRY_PORT = 5000;
/** The sandbox registry as skaffold's --default-repo names it (plain HTTP: --insecure-registry). */
export const REGISTRY = `${REGISTRY_IP}:${REGISTRY_PORT}`;
export const REAL_NODE_IP = "198.18.0.254";
export const REAL_NODE_NAME = "sandbox-node-0";

export function sentinelIp(j: number): string {
  if (j < 0 || j > 150) throw new RangeError(`sentinel index ${j} out of range 0..150`);
  return `198.18.0.${10 + j}`;
}

export function nodeIp(n: number): string {
  if (n < 0 || n > 50) throw new RangeError(`node index ${n} out of range 0..50`);
  return `198.18.0.${200 + n}`;
}

export function redisIp(master: number, i: number): string {
  if (i < 0 || i > 200) throw new RangeError(`redis index ${i} out of range 0..200`);
  if (master < 0 || master > 254) throw new RangeError(`master index ${master} out of range 0..254`);
  return `198.18.${1 + master}.${10 + i}`;
}

/** True when this process runs where 198.18.0.0/16 is local (inside the sandbox namespace). */
export function inSandboxNamespace(): boolean {
  return process.env.FAILOVER_NETNS === "1";
}
