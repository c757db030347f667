/** Bad input to the sandbox: a clear error naming the process, and nothing left running. */
import { createServer } from "node:net";
import { getPriority } from "node:os";
import { describe, expect, it } from "vitest";
import { livePids, NATS_IP, nicenessOf, startSandbox } from "../../sandbox/index.ts";
import { ConfigError, ProcessStartError } from "../../shared/errors.ts";
import { sandboxProcesses } from "./global-setup.ts";

describe("sandbox start failures", () => {
  it("names a redis that dies while starting, shows its log, and stops what it had started", async () => {
    const err = await startSandbox({ kube: false, redisConfig: { "no-such-directive": "1" } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProcessStartError);
    expect((err as ProcessStartError).process).toMatch(/^redis mymaster\/\d/);
    expect((err as ProcessStartError).message).toMatch(/no-such-directive/);
    expect(livePids()).toEqual([]);
    expect(sandboxProcesses()).toEqual([]);
  });

  it("refuses a port that is taken, naming it", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(4222, NATS_IP, resolve));
    try {
      const err = await startSandbox({ kube: false }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProcessStartError);
      expect(String(err)).toMatch(/nats-server.*198\.18\.0\.2:4222 is already in use/);
      expect(sandboxProcesses()).toEqual([]);
    } finally {
      server.close();
    }
  });

  it("refuses a control-plane niceness that is none, naming the option, before starting anything", async () => {
    const err = await startSandbox({ controlPlaneNice: 25 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).key).toBe("controlPlaneNice");
    expect(sandboxProcesses()).toEqual([]);
  });
});

describe("sandbox settings", () => {
  it("runs etcd, the apiserver and the controller-manager at the niceness asked for, the rest as before", async () => {
    const sb = await startSandbox({ redisPerMaster: 1, sentinels: 1, nats: false, controlPlaneNice: 5 });
    try {
      const cp = sb.controlPlane!;
      expect([cp.etcd, cp.apiserver, cp.controllerManager].map((p) => nicenessOf(p.pid!))).toEqual(
        [5, 5, 5].map((n) => Math.min(19, n + getPriority())),
      );
      expect(nicenessOf(sb.masters[0]!.redis[0]!.process.pid!)).toBe(getPriority());
    } finally {
      await sb.stop();
    }
    expect(sandboxProcesses()).toEqual([]);
  });
});
