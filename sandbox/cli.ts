/**
 * `npm run sandbox` (`node sandbox/cli.ts`): starts the whole stack, prints where everything listens
 * and how to reach it, and stops everything on Ctrl-C / SIGTERM. Re-executes itself inside the
 * sandbox namespace when started outside it.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { DNS_SERVICE_IP, inSandboxNamespace, POD_CIDR, REGISTRY, SERVICE_CIDR } from "./addresses.ts";
import { binaryPath, serverFamily } from "./paths.ts";
import { startSandbox } from "./sandbox.ts";
import { devProfiles } from "./stack.ts";
import type { Sandbox } from "./sandbox.ts";
import { waitForSignal } from "../shared/signals.ts";

/** Re-runs the current command line inside the sandbox namespace; returns its exit code. */
export function reexecInSandbox(): number {
  const wrapper = join(dirname(fileURLToPath(import.meta.url)), "setup", "in-sandbox-netns.sh");
  const r = spawnSync("bash", [wrapper, process.execPath, ...process.argv.slice(1)], { stdio: "inherit" });
  return r.status ?? 1;
}

/** The prefix that runs a command in the sandbox's network namespace from another shell. */
export const nsenter = (): string => `nsenter --target ${process.env.FAILOVER_NETNS_PID ?? process.pid} --net`;

/** The commands to poke at a running sandbox from another shell. */
export function howToReach(sb: Sandbox, masterHost: string): string {
  const lines = [
    `  ${nsenter()} ${sb.controlPlane ? `kubectl --kubeconfig ${sb.kubeconfigPath} get pods -n ${sb.namespace} -o wide -L redis-role` : ""}`,
    `  ${nsenter()} ${sb.options.server}-cli -h ${masterHost} -a ${sb.password} --no-auth-warning info replication`,
    `  ${nsenter()} ${sb.options.server}-cli -h ${sb.sentinels[0]!.spec.ip} -p 26379 -a ${sb.sentinelPassword} --no-auth-warning sentinel masters`,
  ];
  return lines.join("\n");
}

/** `skaffold dev` against the sandbox's node, as a user types it. */
export function skaffoldCommand(sb: Sandbox): string {
  const kubectlDir = dirname(binaryPath("kubectl"));
  return `${nsenter()} env KUBECONFIG=${sb.kubeconfigPath} PATH=${kubectlDir}:$PATH ${binaryPath("skaffold")} dev -p ${devProfiles(sb.options.server)} --default-repo ${REGISTRY} --insecure-registry ${REGISTRY} --port-forward=user`;
}

/** Blocks until SIGINT/SIGTERM, then stops the sandbox. */
export async function stopOnSignal(sb: Sandbox): Promise<void> {
  await waitForSignal();
  console.log("sandbox: stopping ...");
  await sb.stop();
  console.log("sandbox: stopped");
}

export async function main(args: string[]): Promise<number | void> {
  const { values } = parseArgs({
    args,
    options: { node: { type: "boolean", default: false }, server: { type: "string", default: "redis" } },
  });
  const server = serverFamily(values.server, "--server");
  if (!inSandboxNamespace()) return reexecInSandbox();
  const started = Date.now();
  const node = values.node ? ", and a real node (containerd, kubelet, kube-proxy, kube-scheduler, CoreDNS)" : "";
  console.log(`sandbox: starting etcd, kube-apiserver, kube-controller-manager, nats-server, ${server} x3, sentinel x3${node} ...`);
  // With the node, namespace redis is left to the stack a user deploys (skaffold dev -p sandbox).
  const sb = await startSandbox({ keepDir: true, server, node: values.node, ...(values.node ? { namespace: "sandbox-processes" } : {}) });
  const m = await sb.currentMaster(sb.masters[0]!.name);
  const redis = sb.masters.flatMap((ms) =>
    ms.redis.map((r) => `  redis             ${r.spec.ip}:6379   pod ${sb.podOf(r)}${r.spec.ip === m.address.host ? "   (master)" : ""}`),
  );
  console.log(`sandbox: ready in ${((Date.now() - started) / 1000).toFixed(1)} s (logs and configs in ${sb.dir})

  kube-apiserver    ${sb.controlPlane?.server}   kubeconfig ${sb.kubeconfigPath}
${sb.node ? `  node              ${sb.node.name} ${sb.node.ip}   pods ${POD_CIDR}   Services ${SERVICE_CIDR}   DNS ${DNS_SERVICE_IP}   crictl --runtime-endpoint unix://${sb.node.paths.containerdSocket}\n` : ""}  nats              ${sb.nats?.url}   user ${sb.natsUser} password ${sb.natsPassword}   monitoring ${sb.nats?.monitorUrl}
${redis.join("\n")}
${sb.sentinels.map((s) => `  sentinel          ${s.spec.ip}:26379`).join("\n")}

  redis password    ${sb.password}
  sentinel password ${sb.sentinelPassword}

From another shell (the sandbox has a network namespace of its own):
${howToReach(sb, m.address.host)}

${sb.node ? `\nDeploy the stack onto the node (from this checkout; the images are built with buildah, pushed to its registry):\n  ${skaffoldCommand(sb)}\n` : ""}
Ctrl-C stops everything.`);
  await stopOnSignal(sb);
}

// `node sandbox/cli.ts` runs it directly.
if (process.argv[1] === fileURLToPath(import.meta.url)) process.exitCode = (await main(process.argv.slice(2))) ?? 0;
