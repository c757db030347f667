/** The runtime's own loop, without NATS: requeues the function asked for, and the shutdown signal. */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError } from "../errors.ts";
import { runtimeConfig } from "./config.ts";
import { defineFunction } from "./define-function.ts";
import type { FunctionDefinition } from "./define-function.ts";
import { DirectAccess } from "../kube-access.ts";
import { Kube } from "./kube.ts";
import { Runtime } from "./runtime.ts";
import type { MasterTruth } from "../sentinel-quorum.ts";
import { FakeSentinels, switchMasterEvent } from "./testing/index.ts";

/** A Kube that is never called: these functions touch no object. */
function unusedKube(): Kube {
  return new Kube(new DirectAccess({ server: "https://127.0.0.1:1" }));
}

let runtime: Runtime | undefined;
afterEach(async () => {
  await runtime?.stop();
  runtime = undefined;
});

const truth = { name: "mymaster", host: "198.18.100.10", port: 6379, epoch: 3, votes: 3, asked: 3 };
const noop = defineFunction({ name: "noop", on: ["switch-master"], reconcile: () => Promise.resolve() });

function start(fn: FunctionDefinition, sentinels = new FakeSentinels({ truth }), masters = '{"mymaster":{}}') {
  // NATS_URL names a port nothing listens on: these tests end before the runtime would connect
  const env = {
    SENTINELS: "127.0.0.1:1,127.0.0.1:2,127.0.0.1:3",
    MASTERS: masters,
    RESYNC_INTERVAL_MS: "60000",
    QUORUM_WAIT_MS: "0",
    HTTP_HOST: "127.0.0.1",
    HTTP_PORT: "0",
    NATS_URL: "nats://127.0.0.1:1",
  };
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

describe("Runtime start: MASTERS against what the Sentinels monitor", () => {
  it("fails the start naming a master no Sentinel monitors and what they do monitor", async () => {
    const { runtime } = start(noop, new FakeSentinels({ truth, monitors: [["mymaster"], ["mymaster"], undefined] }), '{"nosuch":{}}');
    const err = await runtime.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toBe('MASTERS: master "nosuch" not monitored by any Sentinel; the Sentinels monitor "mymaster"');
  });

  it("waits unready, saying so, while the Sentinels do not answer; a stop ends the wait", async () => {
    const { runtime } = start(noop, new FakeSentinels({ truth, monitors: [undefined, undefined, undefined] }));
    const started = runtime.start().catch((e: unknown) => e);
    await sleep(50);
    const readyz = await fetch(`http://127.0.0.1:${runtime.httpPort}/readyz`);
    expect(readyz.status).toBe(503);
    expect(await readyz.json()).toMatchObject({ ready: false, waitingFor: "sentinels" });
    await runtime.stop();
    expect(await started).toBeInstanceOf(Error);
  });
});

describe("Runtime.reconcile: an event the Sentinels contradict", () => {
  it("converges to their truth and reports the event contradicted (suspicious counter unchanged in kind)", async () => {
    const seen: string[] = [];
    const fn = defineFunction({
      name: "records",
      on: ["switch-master"],
      reconcile: (_ctx, master) => Promise.resolve(void seen.push(master.host)),
    });
    const { runtime } = start(fn);
    const stale = await runtime.reconcile(fn, "mymaster", switchMasterEvent({ from: "198.18.100.10", to: "198.18.100.11", epoch: 2 }));
    const agreeing = await runtime.reconcile(fn, "mymaster", switchMasterEvent({ from: "198.18.100.11", to: "198.18.100.10", epoch: 3 }));
    expect([stale.contradicted, agreeing.contradicted]).toEqual([true, false]);
    expect(seen).toEqual(["198.18.100.10", "198.18.100.10"]);
    const suspicious = (await runtime.metrics.suspicious.get()).values.map((v) => [v.labels.kind, v.value]);
    expect(suspicious).toEqual([["stale", 1]]);
  });
});

describe("Runtime.reconcile: several functions in one process", () => {
  it("verify the same event once between them, and each observes its verify and converge phases", async () => {
    class CountingSentinels extends FakeSentinels {
      asked = 0;
      override async master(name: string): Promise<MasterTruth> {
        this.asked++;
        await sleep(20);
        return super.master(name);
      }
    }
    const sentinels = new CountingSentinels({ truth });
    const a = defineFunction({ name: "a", on: ["switch-master"], reconcile: () => Promise.resolve() });
    const b = defineFunction({ name: "b", on: ["switch-master"], reconcile: () => Promise.resolve() });
    const env = { SENTINELS: "127.0.0.1:1,127.0.0.1:2,127.0.0.1:3", MASTERS: '{"mymaster":{}}', HTTP_HOST: "127.0.0.1", HTTP_PORT: "0" };
    runtime = new Runtime(runtimeConfig(env), [a, b], { env, kube: unusedKube(), sentinels });
    const event = switchMasterEvent({ from: "198.18.100.11", to: "198.18.100.10", epoch: 3 });
    await Promise.all([runtime.reconcile(a, "mymaster", event), runtime.reconcile(b, "mymaster", event)]);
    expect(sentinels.asked).toBe(1);
    // a resync (no event) asks again: nothing is cached
    await runtime.reconcile(a, "mymaster", undefined);
    expect(sentinels.asked).toBe(2);
    const counts = (await runtime.metrics.phase.get()).values
      .filter((v) => v.metricName === "failover_event_phase_seconds_count")
      .map((v) => `${v.labels.fn}/${v.labels.phase}=${v.value}`)
      .sort();
    expect(counts).toEqual(["a/converge=1", "a/verify=1", "b/converge=1", "b/verify=1"]);
  });
});

describe("Runtime: whose permissions a function's Kubernetes calls use (FUNCTION_IDENTITY)", () => {
  // A stand-in apiserver (plain HTTP): records who each call impersonates, answers 201.
  async function recordingApiserver() {
    const seen: (string | undefined)[] = [];
    const server = createServer((req, res) => {
      const header = req.headers["impersonate-user"];
      seen.push(Array.isArray(header) ? header.join() : header);
      req.resume();
      req.on("end", () => res.writeHead(201, { "content-type": "application/json" }).end("{}"));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return {
      seen,
      kube: new Kube(new DirectAccess({ server: url, insecureSkipTlsVerify: true, token: "t" })),
      close: () => {
        server.closeAllConnections();
        return new Promise((r) => server.close(r));
      },
    };
  }
  const writesAnEvent = (name: string) =>
    defineFunction({
      name,
      on: ["switch-master"],
      async reconcile(ctx) {
        await ctx.kube.createEvent({ metadata: { name: `e-${name}`, namespace: "redis" }, eventTime: new Date() });
      },
    });

  it.each([
    ["impersonate", ["system:serviceaccount:redis:a", "system:serviceaccount:redis:b"]],
    ["process", [undefined, undefined]],
  ] as const)("%s: the writes carry %j", async (identity, expected) => {
    const api = await recordingApiserver();
    try {
      const env = {
        SENTINELS: "127.0.0.1:1,127.0.0.1:2,127.0.0.1:3",
        MASTERS: '{"mymaster":{}}',
        HTTP_HOST: "127.0.0.1",
        HTTP_PORT: "0",
        NAMESPACE: "redis",
        FUNCTION_IDENTITY: identity,
      };
      runtime = new Runtime(runtimeConfig(env), [writesAnEvent("a"), writesAnEvent("b")], {
        env,
        kube: api.kube,
        sentinels: new FakeSentinels({ truth }),
      });
      await runtime.reconcile(runtime.functions[0]!, "mymaster", undefined);
      await runtime.reconcile(runtime.functions[1]!, "mymaster", undefined);
      expect(api.seen).toEqual(expected);
    } finally {
      await api.close();
    }
  });

  it("refuses an unknown identity, naming FUNCTION_IDENTITY", () => {
    expect(() => runtimeConfig({ SENTINELS: "s1,s2,s3", FUNCTION_IDENTITY: "host" })).toThrow(ConfigError);
    expect(() => runtimeConfig({ SENTINELS: "s1,s2,s3", FUNCTION_IDENTITY: "host" })).toThrow(/^FUNCTION_IDENTITY: /);
  });
});
