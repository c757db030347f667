/**
 * `npm run sandbox`: starts the whole stack, prints where everything listens and how to reach it,
 * and stops everything on Ctrl-C / SIGTERM. Re-executes itself inside the sandbox namespace.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { inSandboxNamespace } from "./addresses.ts";
import { startSandbox } from "./sandbox.ts";

if (!inSandboxNamespace()) {
  const wrapper = join(dirname(fileURLToPath(import.meta.url)), "setup", "in-sandbox-netns.sh");
  const r = spawnSync("bash", [wrapper, process.execPath, fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: "inherit" });
  process.exit(r.status ?? 1);
}

const started = Date.now();
console.log("sandbox: starting etcd, kube-apiserver, kube-controller-manager, nats-server, redis x3, sentinel x3 ...");
const sb = await startSandbox({ keepDir: true });
const m = await sb.currentMaster(sb.masters[0]!.name);
const nsenter = `nsenter --target ${process.pid} --net`;
console.log(`sandbox: ready in ${((Date.now() - started) / 1000).toFixed(1)} s (dir ${sb.dir})

  kube-apiserver   ${sb.controlPlane?.server}   kubeconfig ${sb.kubeconfigPath}
  nats             ${sb.nats?.url}  user ${sb.natsUser} password ${sb.natsPassword}  monitoring ${sb.nats?.monitorUrl}
${sb.masters.flatMap((ms) => ms.redis.map((r) => `  redis            ${r.spec.ip}:6379   pod ${sb.podOf(r)}${r.spec.ip === m.address.host ? "   (master)" : ""}`)).join("\n")}
${sb.sentinels.map((s) => `  sentinel         ${s.spec.ip}:26379`).join("\n")}

  redis password   ${sb.password}
  sentinel password ${sb.sentinelPassword}

From another shell (the sandbox has a network namespace of its own):
  ${nsenter} ${sb.controlPlane ? `kubectl --kubeconfig ${sb.kubeconfigPath} get pods -n ${sb.namespace} -o wide` : ""}
  ${nsenter} redis-cli -h ${m.address.host} -a ${sb.password} --no-auth-warning info replication
  ${nsenter} redis-cli -h ${sb.sentinels[0]!.spec.ip} -p 26379 -a ${sb.sentinelPassword} --no-auth-warning sentinel masters

Ctrl-C stops everything.`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  console.log("sandbox: stopping ...");
  await sb.stop();
  console.log("sandbox: stopped");
  process.exit(0);
};
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
