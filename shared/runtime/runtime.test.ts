/** The runtime's own loop, without NATS: requeues the function asked for, and the shutdown signal. */
import { setTimeout as sleep } from "node:timers/promises";
import { KubeConfig } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { runtimeConfig } from "./config.ts";
import { defineFunction } from "./define-function.ts";
import type { FunctionDefinition } from "./define-function.ts";
import { Kube } from "./kube.ts";
import { Runtime } from "./runtime.ts";
import { FakeSentinels } from "./testing/index.ts";

/** A Kube that is never called: these functions touch no object. */
function unusedKube(): Kube {
  const kc = new KubeConfig();
  kc.loadFromOptions({ clusters: [{ name: "none", server: "https://127.0.0.1:1" }], users: [{ name: "none" }], contexts: [{ name: "none", cluster: "none", user: "none" }], currentContext: "none" });
  return new Kube(kc);
}

let runtime: Runtime | undefined;
afterEach(async () => {
  await runtime?.stop();
  runtime = undefined;
});

function start(fn: FunctionDefinition, sentinels = new FakeSentinels({ truth: { name: "mymaster", host: "198.18.100.10", port: 6379, epoch: 3, votes: 3, asked: 3 } })) {
  const env = { SENTINELS: "127.0.0.1:1", MASTERS: '{"mymaster":{}}', RESYNC_INTERVAL_MS: "60000", QUORUM_WAIT_MS: "0" };
  runtime = new Runtime(runtimeConfig(env), [fn], { env, kube: unusedKube(), sentinels });
  return { runtime, sentinels };
}

describe("Runtime: requeue and shutdown", () => {
  it("runs a reconcile again, with no event, after the delay it returned, until it returns nothing", async () => {
    const runs: { at: number; event: unknown }[] = [];
    const fn = defineFunction({
      name: "waits-twice",
      on: ["switch-master"],
      reconcile(ctx) {
        runs.push({ at: performance.now(), event: ctx.event });
        return Promise.resolve(runs.length < 3 ? { requeueAfterMs: 40 } : undefined);
      },
    });
    const { runtime } = start(fn);
    await runtime.resync();
    await sleep(250);
    expect(runs).toHaveLength(3);
    expect(runs.every((r) => r.event === undefined)).toBe(true);
    expect(runs[1]!.at - runs[0]!.at).toBeGreaterThanOrEqual(35);
    const requeues = (await runtime.metrics.requeues.get()).values[0]?.value;
    expect(requeues).toBe(2);
  });

  it("fires ctx.signal on stop, so a reconcile that waits stops waiting, and runs no requeue after", async () => {
    let signal: AbortSignal | undefined;
    let runs = 0;
    const fn = defineFunction({
      name: "waits-long",
      on: ["switch-master"],
      async reconcile(ctx) {
        runs++;
        signal = ctx.signal;
        await sleep(60_000, undefined, { signal: ctx.signal }).catch(() => undefined);
        return { requeueAfterMs: 10 };
      },
    });
    const { runtime, sentinels } = start(fn);
    const pass = runtime.resync();
    await sleep(20);
    expect(signal?.aborted).toBe(false);
    const t0 = performance.now();
    await runtime.stop();
    await pass;
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(signal?.aborted).toBe(true);
    expect(sentinels.closed).toBe(true);
    await sleep(50);
    expect(runs).toBe(1);
  });
});
