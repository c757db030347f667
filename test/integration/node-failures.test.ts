/** Bad starts of the sandbox's node: one clear error naming the component, and nothing left behind. */
import { execFile, spawn } from "node:child_process";
import { createServer } from "node:net";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { livePids, REAL_NODE_IP, startSandbox, waitFor } from "../../sandbox/index.ts";
import { nodeCgroupTrees } from "../../sandbox/node/cgroups.ts";
import { NODE_LOCK } from "../../sandbox/node/node.ts";
import { ProcessStartError } from "../../shared/errors.ts";
import { sandboxProcesses } from "./global-setup.ts";

const run = promisify(execFile);

async function expectNothingLeft(): Promise<void> {
  expect(livePids()).toEqual([]);
  expect(sandboxProcesses()).toEqual([]);
  expect(nodeCgroupTrees()).toEqual([]);
  expect((await run("ip", ["-o", "link", "show"])).stdout).not.toMatch(/cni0|veth/);
  expect((await run("ip", ["route"])).stdout).not.toMatch(/198\.19\.128/);
}

describe("node start failures", () => {
  it("refuses a taken kubelet port, naming it, and undoes what it had started", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(10250, REAL_NODE_IP, resolve));
    try {
      const err = await startSandbox({ node: true, nats: false, masters: 1, redisPerMaster: 1, sentinels: 1 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProcessStartError);
      expect(String(err)).toMatch(/kubelet.*198\.18\.0\.254:10250 is already in use/);
    } finally {
      server.close();
    }
    await expectNothingLeft();
  });

  it("refuses to start while another node holds the machine's node lock, naming the lock", async () => {
    const holder = spawn("flock", [NODE_LOCK, "sleep", "60"], { stdio: "ignore" });
    try {
      await waitFor(
        "the lock to be held",
        async () =>
          (await run("flock", ["--nonblock", NODE_LOCK, "true"]).then(
            () => false,
            () => true,
          )) || undefined,
        { timeoutMs: 5_000 },
      );
      const err = await startSandbox({ node: true, nats: false, masters: 1, redisPerMaster: 1, sentinels: 1 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProcessStartError);
      expect(String(err)).toContain(`another sandbox node runs on this machine (lock ${NODE_LOCK} is held)`);
    } finally {
      holder.kill("SIGKILL");
    }
    await expectNothingLeft();
  });
});
