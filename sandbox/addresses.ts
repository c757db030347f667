/**
 * The sandbox's address plan, all on `lo` of its own network namespace (198.18.0.0/15, the
 * benchmarking range, so Kubernetes accepts them in EndpointSlices):
 *   198.18.0.1          kube-apiserver (etcd and the controller-manager stay on 127.0.0.1)
 *   198.18.0.2          nats-server (4222, monitoring 8222)
 *   198.18.0.10+j       sentinel j (26379)
 *   198.18.0.200+n      Node n's InternalIP
 *   198.18.(1+m).(10+i) redis i of master m (6379), m < 255
 *   198.19.(m-254).(10+i) for m >= 255
 */
export const APISERVER_IP = "198.18.0.1";
export const NATS_IP = "198.18.0.2";
export const REDIS_PORT = 6379;
export const SENTINEL_PORT = 26379;
export const NATS_PORT = 4222;
export const NATS_MONITOR_PORT = 8222;
export const APISERVER_PORT = 6443;

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
  if (master < 0 || master > 508) throw new RangeError(`master index ${master} out of range 0..508`);
  return master < 255 ? `198.18.${1 + master}.${10 + i}` : `198.19.${master - 254}.${10 + i}`;
}

/** True when this process runs where 198.18.0.0/15 is local (inside the sandbox namespace). */
export function inSandboxNamespace(): boolean {
  return process.env.FAILOVER_NETNS === "1";
}
