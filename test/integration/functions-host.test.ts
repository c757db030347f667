/**
 * The functions host (components/functions-host) on real processes: every base function in ONE
 * process, authenticated as ServiceAccount functions-host with that component's Role (reads and
 * `impersonate` only), acting as each function's own ServiceAccount, against real Sentinels, NATS
 * and kube-apiserver. A failover converges through it; each write is authorized as the function
 * that makes it, proven by taking one function's impersonation away (its writes are then denied,
 * the others' are not) and giving it back. The same component on the real node: failover-on-node.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSandbox, waitFor } from "../../sandbox/index.ts";
import type { Sandbox } from "../../sandbox/index.ts";
import { DEFAULT_FUNCTIONS, startProject } from "../../sandbox/project.ts";
import type { Project } from "../../sandbox/project.ts";
import { HOST_NAME } from "../../shared/runtime/manifests.ts";
import { convergedOn, eventsFor, masterState } from "../support/kube-state.ts";

let sb: Sandbox;
let project: Project;

beforeAll(async () => {
  sb = await startSandbox();
  project = await startProject(sb, { host: true, resyncIntervalMs: 3000 });
});

afterAll(async () => {
  await project?.stop();
  await sb?.stop();
});

/** The host's /metrics: counter `name` of `fn` with `label`="`value`". */
async function counter(name: string, fn: string, label: string, value: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${project.httpPort(fn)}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && l.includes(`fn="${fn}"`) && l.includes(`${label}="${value}"`));
  return Number(line?.split(" ").at(-1) ?? 0);
}

/** failover_events_handled_total of `fn` with `result`. */
const handled = (fn: string, result: string) => counter("failover_events_handled_total", fn, "result", result);

const can = (sa: string, ...args: string[]) =>
  sb.kubectl("auth", "can-i", ...args, "-n", sb.namespace, "--as", `system:serviceaccount:${sb.namespace}:${sa}`).then(
    (o) => o.trim(),
    (e: { stdout?: string }) => (e.stdout ?? "").trim(),
  );

async function converged(what: string) {
  const m = await sb.currentMaster("mymaster");
  const pod = sb.podOf(sb.redisAt(m.address)!);
  await waitFor(
    `${what}: objects converged on ${pod} (${m.host}) at epoch ${m.epoch}`,
    async () => convergedOn(await masterState(sb), pod, m.host, m.epoch),
    {
      timeoutMs: 20_000,
      intervalMs: 100,
    },
  );
  return { m, pod };
}

describe("the functions host: every base function in one process", () => {
  it("runs them all in one process, which converges at start and after a failover, each function acting on the event", async () => {
    expect(new Set(DEFAULT_FUNCTIONS.map((fn) => project.functions.get(fn))).size).toBe(1);
    await converged("start");
    const before = Object.fromEntries(await Promise.all(DEFAULT_FUNCTIONS.map(async (fn) => [fn, await handled(fn, "ok")] as const)));
    await sb.killMaster("mymaster");
    const { pod } = await converged("after the kill");
    for (const fn of ["label-master", "master-endpoints", "master-configmap", "kube-events", "fence-old-master"]) {
      await waitFor(`${fn} to have handled the failover's event`, async () => (await handled(fn, "ok")) > before[fn]!, {
        timeoutMs: 10_000,
      });
    }
    await waitFor("kube-events' MasterSwitched Event on the new master's pod", async () =>
      (await eventsFor(sb, pod)).some((e) => e.reason === "MasterSwitched"),
    );
  });

  it("may itself only read and impersonate: every write is its function's own, under that function's Role", async () => {
    expect(await can(HOST_NAME, "list", "pods")).toBe("yes");
    expect(await can(HOST_NAME, "patch", "pods")).toBe("no");
    expect(await can(HOST_NAME, "patch", "configmaps/redis-master")).toBe("no");
    expect(await can(HOST_NAME, "create", "events.events.k8s.io")).toBe("no");
    expect(await can(HOST_NAME, "impersonate", "serviceaccounts/label-master")).toBe("yes");
    expect(await can(HOST_NAME, "impersonate", "serviceaccounts/default")).toBe("no");
    expect(await can(HOST_NAME, "impersonate", "users/admin")).toBe("no");
  });

  it("a function it may not impersonate is denied its writes (the others are not), and converges once it may again", async () => {
    const role = `role/${HOST_NAME}`;
    const names = JSON.parse(
      await sb.kubectl("-n", sb.namespace, "get", role, "-o", "jsonpath={.rules[?(@.resources[0]=='serviceaccounts')].resourceNames}"),
    ) as string[];
    expect(names).toContain("label-master");
    const index = (await sb.kubectl("-n", sb.namespace, "get", role, "-o", "jsonpath={.rules[*].resources[0]}"))
      .split(" ")
      .indexOf("serviceaccounts");
    const setNames = (list: string[]) =>
      sb.kubectl(
        "-n",
        sb.namespace,
        "patch",
        role,
        "--type=json",
        "-p",
        JSON.stringify([{ op: "replace", path: `/rules/${index}/resourceNames`, value: list }]),
      );
    await setNames(names.filter((n) => n !== "label-master"));
    try {
      const denied = await counter("failover_reconcile_failures_total", "label-master", "error", "RbacError");
      const { now } = await sb.killMaster("mymaster");
      const pod = sb.podOf(sb.redisAt(now.address)!);
      await waitFor(
        "the EndpointSlice and the ConfigMap on the new master",
        async () => {
          const s = await masterState(sb);
          return s.sliceAddresses.join() === now.host && s.configMap?.host === now.host;
        },
        { timeoutMs: 20_000, intervalMs: 100 },
      );
      // Denied on the event, or on the run it requeued while the master's EndpointSlice still named
      // the old master (label-master relabels after it).
      await waitFor(
        "label-master's write denied (RbacError)",
        async () => (await counter("failover_reconcile_failures_total", "label-master", "error", "RbacError")) > denied,
        {
          timeoutMs: 10_000,
        },
      );
      // two resyncs (every 3 s) later, still not labelled: nobody else may write the label
      await new Promise((r) => setTimeout(r, 7000));
      expect((await masterState(sb)).masters).not.toContain(pod);
    } finally {
      await setNames(names);
    }
    await converged("label-master impersonated again (its resync)");
  });
});
