/**
 * Faults done to the stack on the sandbox's node, as they happen to real pods: a crash (the redis
 * process SIGKILLed and its pod force-deleted: a new pod, through the init container), a partition
 * (iptables rules in a pod's own network namespace), the write fence switched at run time.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { Sandbox } from "./sandbox.ts";
import { mainPid, NS, onPod, picture, redisPods } from "./stack.ts";

const run = promisify(execFile);

/** min-replicas-to-write on every redis pod (1: the base's write fence; 0: the default config of Redis). */
export async function setWriteFence(sb: Sandbox, on: boolean): Promise<void> {
  const p = await picture(sb);
  await Promise.all(
    redisPods(p).map((n) => onPod(p.ipOf[n]!, 6379, (r) => r.call("CONFIG", "SET", "min-replicas-to-write", on ? "1" : "0"))),
  );
}

/**
 * A crash, ready to happen: the pod's redis process found now; calling the result SIGKILLs it and
 * force-deletes the pod at once (no preStop; the StatefulSet makes a new pod through the init
 * container), and resolves with the moment of the kill.
 */
export async function crasher(sb: Sandbox, pod: string): Promise<() => Promise<number>> {
  const pid = await mainPid(sb, pod, "redis");
  return async () => {
    const at = performance.now();
    process.kill(pid, "SIGKILL");
    await sb.kubectl("-n", NS, "delete", "pod", pod, "--grace-period=0", "--force", "--wait=false");
    return at;
  };
}

/** A crash of `pod`'s redis now (see crasher); resolves with the moment of the kill. */
export async function crash(sb: Sandbox, pod: string): Promise<number> {
  return (await crasher(sb, pod))();
}

/**
 * Drops every packet between `pod` and `peers` (both directions) inside `pod`'s own network
 * namespace, with iptables rules that `heal()` removes (the namespace goes with the pod anyway).
 */
export async function partition(sb: Sandbox, pod: string, container: string, peers: string[]): Promise<{ heal(): Promise<void> }> {
  const pid = await mainPid(sb, pod, container);
  const rules = peers.flatMap((ip) => [
    ["INPUT", "-s", ip],
    ["OUTPUT", "-d", ip],
  ]);
  const ipt = (op: "-I" | "-D", rule: string[]) =>
    run("nsenter", ["-t", String(pid), "-n", "iptables", "-w", op, rule[0]!, ...rule.slice(1), "-j", "DROP"]);
  const added: string[][] = [];
  try {
    for (const r of rules) {
      await ipt("-I", r);
      added.push(r);
    }
  } catch (err) {
    for (const r of added) await ipt("-D", r).catch(() => undefined);
    throw err;
  }
  let healed = false;
  return {
    heal: async () => {
      if (healed) return;
      healed = true;
      // The pod may be gone (then so are its namespace and rules); otherwise every rule must go.
      for (const r of added) {
        await ipt("-D", r).catch((err: unknown) => {
          if (alive(pid)) throw err;
        });
      }
    },
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
