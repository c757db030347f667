/** Where the sandbox's binaries are: Debian's for Redis and Valkey, the setup's Go-build cache for the rest. */
import { accessSync, constants, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError, MissingBinaryError } from "../shared/errors.ts";

const toolsDir = join(dirname(fileURLToPath(import.meta.url)), "tools");

export function cacheDir(): string {
  return process.env.FAILOVER_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "failover-functions");
}

/** The version that sandbox/tools/<dir>/go.mod pins for `module`. */
export function pinnedVersion(dir: string, module: string): string {
  const gomod = readFileSync(join(toolsDir, dir, "go.mod"), "utf8");
  for (const line of gomod.split("\n")) {
    const words = line.trim().split(/\s+/);
    if (words[0] === "require" && words[1] === module && words[2]) return words[2];
    if (words[0] === module && words[1]?.startsWith("v")) return words[1];
  }
  throw new MissingBinaryError(module, `no version pinned in sandbox/tools/${dir}/go.mod`);
}

/** binary -> [tools dir, module, cache directory name] (build-binaries.sh builds the same). */
const goBuilt = {
  "kube-apiserver": ["kubernetes", "k8s.io/kubernetes", "kubernetes"],
  "kube-controller-manager": ["kubernetes", "k8s.io/kubernetes", "kubernetes"],
  kubectl: ["kubernetes", "k8s.io/kubernetes", "kubernetes"],
  kubelet: ["kubernetes", "k8s.io/kubernetes", "kubernetes-node"],
  "kube-proxy": ["kubernetes", "k8s.io/kubernetes", "kubernetes-node"],
  "kube-scheduler": ["kubernetes", "k8s.io/kubernetes", "kubernetes-node"],
  etcd: ["etcd", "go.etcd.io/etcd/server/v3", "etcd"],
  "nats-server": ["nats", "github.com/nats-io/nats-server/v2", "nats"],
  skaffold: ["skaffold", "github.com/GoogleContainerTools/skaffold/v2", "skaffold"],
  containerd: ["containerd", "github.com/containerd/containerd/v2", "containerd"],
  "containerd-shim-runc-v2": ["containerd", "github.com/containerd/containerd/v2", "containerd"],
  ctr: ["containerd", "github.com/containerd/containerd/v2", "containerd"],
  coredns: ["coredns", "github.com/coredns/coredns", "coredns"],
  crictl: ["cri-tools", "sigs.k8s.io/cri-tools", "cri-tools"],
  registry: ["registry", "github.com/distribution/distribution/v3", "registry"],
} as const;

export type GoBinary = keyof typeof goBuilt;
export type Binary = GoBinary | ServerBinary | "redis-cli" | "valkey-cli" | "haproxy" | "runc" | "iptables" | "conntrack" | "buildah";

/** The two server families the sandbox runs: Redis 7 (Debian bookworm) and Valkey 8 (bookworm-backports). */
export const SERVER_FAMILIES = ["redis", "valkey"] as const;
export type ServerFamily = (typeof SERVER_FAMILIES)[number];
export type ServerBinary = `${ServerFamily}-${"server" | "sentinel"}`;

/** `value` (default `redis`) as a server family; a ConfigError naming `what` (a flag or variable) otherwise. */
export function serverFamily(value: string | undefined, what: string): ServerFamily {
  const family = SERVER_FAMILIES.find((f) => f === (value ?? "redis"));
  if (!family) throw new ConfigError(what, `expected one of ${SERVER_FAMILIES.join(", ")}, got ${JSON.stringify(value)}`);
  return family;
}

/** The server or Sentinel binary of a family: `redis-server`, `valkey-sentinel`, ... */
export function serverBinary(family: ServerFamily, role: "server" | "sentinel"): ServerBinary {
  return `${family}-${role}`;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Absolute path of a binary; throws MissingBinaryError naming the setup step when absent. */
export function binaryPath(name: Binary): string {
  if (name in goBuilt) {
    const [dir, module, cacheName] = goBuilt[name as GoBinary];
    const path = join(cacheDir(), "bin", `${cacheName}-${pinnedVersion(dir, module)}`, name);
    if (!executable(path)) throw new MissingBinaryError(name, `expected at ${path}; run 'npm run setup'`);
    return path;
  }
  for (const dir of ["/usr/bin", "/usr/sbin", "/usr/local/bin"]) {
    const path = join(dir, name);
    if (executable(path)) return path;
  }
  throw new MissingBinaryError(name, "install the Debian package with 'npm run setup'");
}
