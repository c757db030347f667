/**
 * A relay or function process started while NATS is away or still starting (a pod rolled beside
 * it) waits for it instead of exiting, becomes ready once JetStream answers, and stops at once on
 * SIGTERM while still waiting. Real nats-server: first one without JetStream on the sandbox's NATS
 * address (JetStream requests get no responders, as from a server still recovering its store),
 * then the sandbox's own.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { binaryPath, NATS_IP, NATS_MONITOR_PORT, NATS_PORT, startSandbox, waitFor } from "../../sandbox/index.ts";
import type { Sandbox } from "../../sandbox/index.ts";
import { failoverProcess, sandboxEnv } from "../../sandbox/failover-process.ts";
import { ManagedProcess } from "../../sandbox/process.ts";

let sb: Sandbox;
let noJetStream: ManagedProcess;
const started: ManagedProcess[] = [];

const retries = (logFile: string): number =>
  readFileSync(logFile, "utf8")
    .split("\n")
    .filter((l) => l.includes("nats not answering yet, retrying")).length;
/** `failover run label-master`, started once it serves /healthz (ready or not). */
const labelMaster = (name: string, httpPort: number, log: string) =>
  failoverProcess({
    name,
    args: ["run", "label-master"],
    env: { ...sandboxEnv(sb), NAMESPACE: sb.namespace, CONSUMER_PREFIX: "nats-away-" },
    httpPort,
    logFile: join(sb.dir, log),
    waitFor: "live",
  });
const readyz = async (port: number): Promise<number> => (await fetch(`http://127.0.0.1:${port}/readyz`)).status;

beforeAll(async () => {
  sb = await startSandbox();
  await sb.stopNats();
  const args = ["-a", NATS_IP, "-p", String(NATS_PORT), "-m", String(NATS_MONITOR_PORT), "-n", "no-jetstream"];
  if (sb.natsUser && sb.natsPassword) args.push("--user", sb.natsUser, "--pass", sb.natsPassword);
  noJetStream = new ManagedProcess({
    name: "nats-server without JetStream",
    command: binaryPath("nats-server"),
    args,
    logFile: join(sb.dir, "nats-no-jetstream.log"),
    ready: async () => (await fetch(`http://${NATS_IP}:${NATS_MONITOR_PORT}/healthz`)).ok,
  });
  await noJetStream.start();
});

afterAll(async () => {
  for (const p of started) await p.stop();
  await noJetStream?.stop();
  await sb?.stop();
});

describe("NATS away at start", () => {
  it("a relay and a function wait for JetStream instead of exiting, then become ready", async () => {
    const relay = failoverProcess({
      name: "relay (nats away)",
      args: ["relay"],
      env: sandboxEnv(sb),
      httpPort: 18210,
      logFile: join(sb.dir, "relay-nats-away.log"),
      waitFor: "live",
    });
    const fn = labelMaster("label-master (nats away)", 18211, "fn-nats-away.log");
    started.push(relay, fn);
    await Promise.all([relay.start(), fn.start()]);
    await waitFor("both retrying", () => retries(relay.spec.logFile) >= 3 && retries(fn.spec.logFile) >= 3, {
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    expect([relay.running, fn.running]).toEqual([true, true]);
    expect([await readyz(18210), await readyz(18211)]).toEqual([503, 503]);

    await noJetStream.stop();
    await sb.startNats();
    await waitFor("both ready", async () => (await readyz(18210)) === 200 && (await readyz(18211)) === 200, {
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    expect([relay.running, fn.running]).toEqual([true, true]);
  });

  it("stops at once on SIGTERM while still waiting for a first connection", async () => {
    await sb.stopNats();
    const fn = labelMaster("label-master (no nats)", 18212, "fn-no-nats.log");
    started.push(fn);
    await fn.start();
    const t0 = performance.now();
    await fn.stop();
    const took = performance.now() - t0;
    expect(fn.exitCode).toBe(0);
    expect(took).toBeLessThan(3_000); // its stopTimeoutMs (SIGKILL after) is 8 s
  });
});
